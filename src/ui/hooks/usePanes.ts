/**
 * The inspector's panes: memory (a hexdump around the last command's
 * focus), the DMA trace, then the lesson's own front-matter panes. Only the
 * pane on screen is produced, again after every command (nb.version).
 */
import { useMemo } from 'react';
import type { Line } from '../../inspect/view.ts';
import { commandPane, memoryPane } from '../../commands/panes.ts';
import type { Notebook } from '../../notebook/engine.ts';

export interface PaneDef {
  title: string;
  /** A look-only command; none for the built-in memory and walk panes. */
  run?: string;
  /** Built-in panes: the memory around the last focus, the last walk. */
  kind?: 'memory' | 'walk';
}

export function usePanes(nb: Notebook, pane: number, scroll: number, box: { width: number; rows: number }) {
  // Built-ins, then the lesson's panes, or (exploring a machine) the preset's.
  const paneDefs: PaneDef[] = useMemo(
    () => [{ title: 'memory', kind: 'memory' }, { title: 'DMA trace', run: 'trace show 8' }, { title: 'last walk', kind: 'walk' }, ...(nb.lesson?.meta.panes ?? nb.session.system.preset.panes ?? [])],
    [nb],
  );
  const paneIdx = Math.min(pane, paneDefs.length - 1);
  const paneBody = Math.max(0, box.rows - 1);
  const paneView: { title: string; lines: Line[]; top: number } = useMemo(() => {
    const d = paneDefs[paneIdx]!;
    // A diagnosis step hides the model's ground truth: the trace and the last walk show where each access really went.
    if (nb.session.diagnosis && (d.kind === 'walk' || /^(trace|walk|devdma)\b/.test(d.run ?? ''))) {
      return { title: d.title, lines: [[{ text: `${d.title}: hidden in a diagnosis step (it shows where DMA really went, which a running kernel cannot see)`, style: 'dim' }]], top: 0 };
    }
    if (d.kind === 'walk') {
      const w = nb.lastWalk;
      const lines: Line[] = w ? [[{ text: w.line, style: 'key' }], ...w.lines] : [[{ text: 'no walk yet: walk DEV IOVA shows every level of a translation (each device access is also in the DMA trace)', style: 'dim' }]];
      return { title: w ? `last walk: ${w.line}` : 'last walk', lines, top: Math.max(0, Math.min(scroll, lines.length - paneBody)) };
    }
    if (!d.run) {
      // the memory pane scrolls through memory itself
      const p = memoryPane(nb.session, nb.focus, { rows: paneBody, width: box.width, scroll });
      return { title: p.title, lines: p.lines, top: 0 };
    }
    const p = commandPane(nb.session, d.title, d.run);
    return { title: d.title, lines: p.lines, top: Math.max(0, Math.min(scroll, p.lines.length - paneBody)) };
  }, [nb, nb.version, nb.session, nb.session.diagnosis, paneIdx, scroll, paneBody, box.width]);
  return { paneDefs, paneIdx, paneBody, paneView };
}
