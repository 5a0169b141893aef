// Build the installed `dma-lab`: one esbuild bundle of src/cli/entry.ts
// (ESM, code-split so the Ink UI and the REPL load only when used).
// Why a bundle: PLATFORM.md measured an Ink app at 0.40 s bundled against
// 0.79 s unbundled and 1.66 s through tsx. Type checking is `npm run typecheck`.
import { build } from 'esbuild';
import { readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

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
  define: { __DMA_LAB_VERSION__: JSON.stringify(pkg.version), 'process.env.NODE_ENV': '"production"' },
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
  plugins: [emptyDevtools],
  logLevel: 'warning',
});
writeFileSync(join(outdir, 'BUILD'), `dma-lab ${pkg.version}\n`);
