/**
 * Home: what the lab is, the lessons with minutes and progress, and the
 * machines for free exploration. ↑↓ choose, ⏎ opens. The most recently
 * opened lesson is selected at start, so ⏎ continues where you were.
 */
import { visible } from '../inspect/view.ts';
import { Box, Text, useInput } from 'ink';
import type { LessonEntry } from '../notebook/library.ts';
import type { ProgressStore } from '../notebook/progress.ts';
import { standing, standingText } from '../notebook/progress.ts';
import { wrapSpans, type DocLine } from '../notebook/prose.ts';
import type { PresetInfo } from '../scenarios/catalog.ts';
import { dispatch, splitKeys } from './keys.ts';
import { StyledLine } from './StyledLine.tsx';
import { Footer } from './Footer.tsx';
import { HelpOverlay } from './HelpOverlay.tsx';
import { useTerminalSize, type Size } from './hooks/useTerminalSize.ts';
import { useViewState } from './hooks/useViewState.ts';

export type HomeTarget = { kind: 'lesson'; entry: LessonEntry } | { kind: 'machine'; preset: PresetInfo };

export interface HomeProps {
  lessons: LessonEntry[];
  presets: readonly PresetInfo[];
  store: ProgressStore;
  message?: DocLine;
  onOpen(t: HomeTarget): void;
  onQuit(): void;
  size?: Size;
}

function initialIndex(lessons: LessonEntry[], store: ProgressStore): number {
  let best = -1;
  let when = '';
  lessons.forEach((e, i) => {
    const t = store.lesson(e.id)?.lastOpened ?? '';
    if (t > when) {
      when = t;
      best = i;
    }
  });
  return Math.max(0, best);
}

export function Home({ lessons, presets, store, message, onOpen, onQuit, size: sizeOverride }: HomeProps) {
  const size = useTerminalSize(sizeOverride);
  const [st, set] = useViewState<{ sel: number; help: number | undefined }>(() => ({ sel: initialIndex(lessons, store), help: undefined }));
  const { sel, help } = st;
  const items: HomeTarget[] = [...lessons.map((entry) => ({ kind: 'lesson' as const, entry })), ...presets.map((preset) => ({ kind: 'machine' as const, preset }))];
  const width = size.columns;
  const frame = Math.max(3, size.rows - 1);

  useInput((text, k) => {
    for (const [input, key] of splitKeys(text, k)) onKey(input, key);
  });
  function onKey(input: string, key: Parameters<Parameters<typeof useInput>[0]>[1]): void {
    if (st.help !== undefined) {
      if (key.upArrow) set({ help: Math.max(0, st.help - 1) });
      else if (key.downArrow) set({ help: st.help + 1 });
      else set({ help: undefined });
      return;
    }
    dispatch('home', input, key, { empty: true }, {
      quit: onQuit,
      help: () => set({ help: 0 }),
      'home.up': () => set((s) => ({ sel: (s.sel + items.length - 1) % items.length })),
      'home.down': () => set((s) => ({ sel: (s.sel + 1) % items.length })),
      'home.open': () => items[st.sel] && onOpen(items[st.sel]!),
    });
  }

  if (help !== undefined) {
    return (
      <Box flexDirection="column" width={width} height={frame}>
        <HelpOverlay mode="home" width={width} rows={frame} scroll={help} />
      </Box>
    );
  }

  const top: DocLine[] = [
    [{ text: 'dma-lab', style: 'heading' }, { text: '  a lab for how devices reach memory: DMA, IOMMUs, the Linux DMA API, virtio rings', style: 'dim' }],
    [],
  ];
  const list: DocLine[] = [];
  let selRow = 0;
  const idW = Math.max(8, ...lessons.map((e) => e.id.length), ...presets.map((p) => p.name.length));
  list.push([{ text: 'Lessons', style: 'strong' }]);
  if (!lessons.length) list.push([{ text: '  (no lessons installed)', style: 'dim' }]);
  lessons.forEach((e, i) => {
    const st = e.diagnostics.length ? `broken: dma-lab lint ${e.file}` : standingText(standing(e.lesson, store.lesson(e.id)));
    const mins = e.lesson.meta.minutes ? `${e.lesson.meta.minutes} min` : '';
    if (i === sel) selRow = list.length;
    const titleW = Math.max(10, width - idW - 38);
    const t = visible(e.lesson.meta.title);
    const title = t.length > titleW ? t.slice(0, titleW - 1) + '…' : t;
    list.push([
      { text: i === sel ? '▶ ' : '  ', style: i === sel ? 'select' : undefined },
      { text: e.id.padEnd(idW + 2), style: 'name' },
      { text: title.padEnd(titleW + 2) },
      { text: mins.padStart(7) + '  ', style: 'dim' },
      { text: st, style: e.diagnostics.length ? 'bad' : 'dim' },
    ]);
  });
  list.push([]);
  list.push([{ text: 'Machines', style: 'strong' }, { text: ' for free exploration: the input line and the panes, no lesson', style: 'dim' }]);
  presets.forEach((p, j) => {
    const i = lessons.length + j;
    if (i === sel) selRow = list.length;
    list.push([{ text: i === sel ? '▶ ' : '  ', style: i === sel ? 'select' : undefined }, { text: p.name.padEnd(idW + 2), style: 'name' }, { text: p.summary }]);
  });
  const cur = items[sel];
  const about: DocLine[] = [[]];
  if (cur?.kind === 'lesson') {
    const m = cur.entry.lesson.meta;
    about.push(...wrapSpans([{ text: m.summary, style: 'em' }], width - 2, [{ text: '  ' }]));
    about.push([{ text: `  machine ${m.machine}${m.prerequisites.length ? ` · after ${m.prerequisites.join(', ')}` : ''}`, style: 'dim' }]);
  } else if (cur) about.push(...wrapSpans([{ text: cur.preset.description, style: 'dim' }], width - 2, [{ text: '  ' }]));
  const status: DocLine = message ?? [];
  // the list scrolls so the selection stays in view; the rest keeps its place
  const listRows = Math.max(3, frame - top.length - about.length - 2);
  const start = Math.max(0, Math.min(selRow - Math.floor(listRows / 2), list.length - listRows));
  const shownList = list.slice(start, start + listRows);
  const body = [...top, ...shownList, ...about];
  const rows = body.slice(0, frame - 2);
  while (rows.length < frame - 2) rows.push([]);
  return (
    <Box flexDirection="column" width={width} height={frame}>
      {rows.map((l, i) => (
        <StyledLine key={i} line={l} width={width} />
      ))}
      <StyledLine line={status} width={width} />
      <Footer mode="home" width={width} />
    </Box>
  );
}
