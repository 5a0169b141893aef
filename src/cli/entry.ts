/** Process entry: run main, set the exit code, and keep stack traces away from users. */
import { main } from './main.ts';

// A reader that goes away (`dma-lab run x.dma | head`) closes stdout: stop
// quietly, as cat would, instead of dying with an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`dma-lab: internal error: ${e instanceof Error ? e.message : String(e)} (a bug; DMA_LAB_DEBUG=1 shows where)\n`);
    if (process.env.DMA_LAB_DEBUG && e instanceof Error) process.stderr.write(String(e.stack) + '\n');
    process.exitCode = 70;
  },
);
