/**
 * Where the lab keeps its files. XDG state directory ($XDG_STATE_HOME, else
 * ~/.local/state) via xdg-basedir; DMA_LAB_STATE_DIR overrides it (tests use
 * that to stay out of the user's home).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { xdgState } from 'xdg-basedir';

export function stateDir(): string {
  const o = process.env.DMA_LAB_STATE_DIR;
  if (o) return o;
  return join(xdgState ?? join(homedir(), '.local', 'state'), 'dma-lab');
}

export const historyFile = (): string => join(stateDir(), 'repl_history');
