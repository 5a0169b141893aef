/**
 * View state that key handlers read and write synchronously. Ink calls the
 * input handler once per key, and several keys can arrive in one read (a
 * paste, a fast typist, tmux send-keys): with plain useState every handler
 * of that batch sees the state from before the batch (`j j` moved one cell;
 * text typed just before ⏎ was lost). The state lives in a ref, updated at
 * once; a tick re-renders.
 */
import { useRef, useState } from 'react';

export function useViewState<T extends object>(init: () => T): [T, (patch: Partial<T> | ((s: T) => Partial<T>)) => void] {
  const ref = useRef<T | null>(null);
  if (ref.current === null) ref.current = init();
  const [, setTick] = useState(0);
  const st = ref.current;
  const set = (patch: Partial<T> | ((s: T) => Partial<T>)): void => {
    Object.assign(st, typeof patch === 'function' ? patch(st) : patch);
    setTick((t) => t + 1);
  };
  return [st, set];
}
