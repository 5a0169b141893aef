/** The package version: injected by the build, read from package.json in development. */
import { readFileSync } from 'node:fs';

declare const __DMA_LAB_VERSION__: string | undefined;

export function version(): string {
  if (typeof __DMA_LAB_VERSION__ === 'string') return __DMA_LAB_VERSION__;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
