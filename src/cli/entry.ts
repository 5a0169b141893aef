/** Process entry: run main, set the exit code, and keep stack traces away from users. */
import { main } from './main.ts';

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
