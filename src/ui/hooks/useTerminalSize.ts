/** The terminal's size, updated on resize. ink-testing-library's stdout has no rows: 24 then. */
import { useEffect, useState } from 'react';
import { useStdout } from 'ink';

export interface Size {
  columns: number;
  rows: number;
}

export function useTerminalSize(override?: Size): Size {
  const { stdout } = useStdout();
  const read = (): Size => override ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 };
  const [size, setSize] = useState<Size>(read);
  useEffect(() => {
    if (override) return;
    const on = (): void => setSize(read());
    stdout.on('resize', on);
    return () => void stdout.off('resize', on);
  }, [stdout, override?.columns, override?.rows]);
  return override ?? size;
}
