#!/usr/bin/env node
// The installed command: runs the built bundle (never tsx; see README, "Start-up").
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('dma-lab: the built program (dist/cli.js) is missing: run `npm run build` in the dma-lab folder (`npm install` does it for you)\n');
  process.exit(1);
}
await import(bundle.href);
