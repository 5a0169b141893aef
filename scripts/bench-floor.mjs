// The floor for the UI start-up figure (issue 15): a minimal Ink app (one
// box, one line) bundled at bench time from the project's own ink and react
// with the same esbuild settings as scripts/build.mjs (one ESM bundle,
// minified, react-devtools-core replaced by an empty module, a createRequire
// banner). bench/ui.ts measures it exactly as it measures the home screen:
// from the tmux spawn until its text is on screen.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FLOOR_TEXT = 'floor ready';

/** Build the floor app into `dir`; returns the path of the bundle to run with node. */
export async function buildFloor(root, dir) {
  const src = join(dir, 'floor.jsx');
  writeFileSync(
    src,
    [
      "import React from 'react';",
      "import { render, Box, Text } from 'ink';",
      // Mark the first frame as the UI does (src/ui/timing.ts), for the in-process figure.
      "import { appendFileSync } from 'node:fs';",
      'const file = process.env.DMA_LAB_TIMING; let first = true;',
      "const onRender = () => { if (file && first) { first = false; appendFileSync(file, JSON.stringify({ mark: 'first-frame', screen: 'floor', ms: +performance.now().toFixed(1) }) + '\\n'); } };",
      `render(<Box borderStyle="round"><Text>${FLOOR_TEXT}</Text></Box>, { onRender });`,
    ].join('\n'),
  );
  const out = join(dir, 'floor.mjs');
  const emptyDevtools = {
    name: 'empty-react-devtools',
    setup(b) {
      b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'empty' }));
      b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export default {}; export const connectToDevTools = () => {};', loader: 'js' }));
    },
  };
  await build({
    absWorkingDir: root,
    entryPoints: [src],
    outfile: out,
    nodePaths: [join(root, 'node_modules')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    plugins: [emptyDevtools],
    logLevel: 'warning',
  });
  return out;
}
