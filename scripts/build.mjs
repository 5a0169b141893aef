// Build the installed `dma-lab`: one esbuild bundle of src/cli/entry.ts
// (ESM, code-split so the Ink UI and the REPL load only when used).
// Why a bundle: PLATFORM.md measured an Ink app at 0.40 s bundled against
// 0.79 s unbundled and 1.66 s through tsx. Type checking is `npm run typecheck`.
import { build } from 'esbuild';
import { readFileSync, readdirSync, realpathSync, rmSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { patchInkOutput } from './ink-output-patch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outdir = join(root, 'dist');
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

// Ink imports react-devtools-core only in its dev mode, but a bundler makes
// the import static: replace it with an empty module (PLATFORM.md).
const emptyDevtools = {
  name: 'empty-react-devtools',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'empty' }));
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export default {}; export const connectToDevTools = () => {};', loader: 'js' }));
  },
};

// The build's id: a hash of every source file and the lockfile. The lesson
// catalog (src/notebook/catalog.ts) caches parses under it, so a new build
// never reads entries an older parser wrote.
const hash = createHash('sha256');
for (const f of readdirSync(join(root, 'src'), { recursive: true }).map(String).sort()) {
  if (/\.tsx?$/.test(f)) hash.update(f).update(readFileSync(join(root, 'src', f)));
}
hash.update(readFileSync(join(root, 'package-lock.json')));
const buildId = hash.digest('hex').slice(0, 16);

// What the home screen lists of the machine presets, evaluated once here so
// the UI can draw home before it loads the machine model (src/scenarios/catalog.ts).
const tmp = mkdtempSync(join(tmpdir(), 'dma-lab-build-'));
let presets;
try {
  await build({ absWorkingDir: root, entryPoints: ['src/scenarios/index.ts'], outfile: join(tmp, 'presets.mjs'), bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  const { PRESETS } = await import(pathToFileURL(join(tmp, 'presets.mjs')).href);
  presets = PRESETS.map((p) => ({ name: p.name, summary: p.summary, description: p.description }));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// string-width compiles /^\p{RGI_Emoji}$/v (20-50 ms) the first time it meets
// a non-ASCII line, which home's first frame has ('▶', '…', '⏎'): put
// src/ui/text-width.ts in front of the copy Ink, cli-truncate and
// widest-line import. It answers only where it gives string-width's exact
// result (test/ui/text-width.test.ts) and asks string-width otherwise.
// wrap-ansi's older copy measures differently and is left alone.
const topStringWidth = join(root, 'node_modules', 'string-width', 'index.js');
const fastStringWidth = {
  name: 'fast-string-width',
  setup(b) {
    b.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData?.real) return undefined;
      const real = await b.resolve('string-width', { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: { real: true } });
      if (real.errors.length || realpathSync(real.path) !== realpathSync(topStringWidth)) return undefined;
      return { path: real.path, namespace: 'fast-string-width' };
    });
    b.onLoad({ filter: /.*/, namespace: 'fast-string-width' }, (args) => ({
      contents: [
        `import real from ${JSON.stringify(args.path)};`,
        `import { fastWidth } from ${JSON.stringify(join(root, 'src/ui/text-width.ts'))};`,
        'export default function stringWidth(s, o) { const w = fastWidth(s, o); return w === undefined ? real(s, o) : w; }',
      ].join('\n'),
      resolveDir: root,
      loader: 'js',
    }));
  },
};

// yoga-layout (Ink's layout engine) carries its WebAssembly as a base64 data:
// URL and, when `fetch` exists, fetches that URL to decode it: on Node this
// loads undici and its fetch machinery first, 30-50 ms of every UI start.
// Its own fallback (atob) decodes the same bytes at once: take it. If a new
// yoga-layout no longer has this code, the build says so and leaves it as is.
const YOGA_FETCH = 'function ya(){return w||"function"!=typeof fetch?';
const yogaNoFetch = {
  name: 'yoga-no-fetch',
  setup(b) {
    b.onLoad({ filter: /yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (text.split(YOGA_FETCH).length !== 2) {
        return { contents: text, loader: 'js', warnings: [{ text: 'yoga-layout changed: its wasm is decoded through fetch again (scripts/build.mjs, yogaNoFetch)' }] };
      }
      return { contents: text.replace(YOGA_FETCH, 'function ya(){return w||!0?'), loader: 'js' };
    });
  },
};

// Ink's Output keeps its caches across frames and reuses unchanged rows
// (scripts/ink-output-patch.mjs says why and how; same output, tested).
const inkOutput = {
  name: 'ink-output-across-frames',
  setup(b) {
    b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]output\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const patched = patchInkOutput(text);
      if (patched === undefined) return { contents: text, loader: 'js', warnings: [{ text: "ink's output.js changed: its caches are per frame again (scripts/ink-output-patch.mjs)" }] };
      return { contents: patched, loader: 'js' };
    });
  },
};

await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/entry.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  define: {
    __DMA_LAB_VERSION__: JSON.stringify(pkg.version),
    __DMA_LAB_BUILD__: JSON.stringify(buildId),
    __DMA_LAB_PRESETS__: JSON.stringify(presets),
    'process.env.NODE_ENV': '"production"',
  },
  // CommonJS dependencies (pretty-repl and its highlighter) use require(),
  // __filename and __dirname: give every ESM chunk its own.
  banner: {
    js: [
      "import { createRequire as __dmaLabCreateRequire } from 'node:module';",
      "import { fileURLToPath as __dmaLabFileURLToPath } from 'node:url';",
      'const require = __dmaLabCreateRequire(import.meta.url);',
      'const __filename = __dmaLabFileURLToPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
  plugins: [emptyDevtools, fastStringWidth, yogaNoFetch, inkOutput],
  logLevel: 'warning',
});
writeFileSync(join(outdir, 'BUILD'), `dma-lab ${pkg.version}\n`);
