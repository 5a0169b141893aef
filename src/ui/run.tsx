/**
 * The terminal UI's entry. This issue ships the home screen placeholder;
 * the notebook (lessons, panes, input line) is issue 4.
 */
import { render } from 'ink';
import { Home } from './Home.tsx';

export async function runTui(o: { color: boolean }): Promise<number> {
  const app = render(<Home color={o.color} />, { exitOnCtrlC: true });
  await app.waitUntilExit();
  return 0;
}
