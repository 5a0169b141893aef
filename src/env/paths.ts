/**
 * Where the lab keeps its files. XDG state directory ($XDG_STATE_HOME, else
 * ~/.local/state) via xdg-basedir; DMA_LAB_STATE_DIR overrides it (tests use
 * that to stay out of the user's home). What can be rebuilt at any time
 * (the lesson catalog, notebook/catalog.ts) goes to the XDG cache directory
 * ($XDG_CACHE_HOME, else ~/.cache); DMA_LAB_CACHE_DIR overrides it.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { xdgCache, xdgState } from 'xdg-basedir';

export function stateDir(): string {
  const o = process.env.DMA_LAB_STATE_DIR;
  if (o) return o;
  return join(xdgState ?? join(homedir(), '.local', 'state'), 'dma-lab');
}

export const historyFile = (): string => join(stateDir(), 'repl_history');

export function cacheDir(): string {
  const o = process.env.DMA_LAB_CACHE_DIR;
  if (o) return o;
  return join(xdgCache ?? join(homedir(), '.cache'), 'dma-lab');
}
