/** Colouring of the input line as it is typed (pretty-repl's colorize hook). */
export function colorizeInput(line: string): string {
  const hash = line.indexOf('#');
  const code = hash >= 0 ? line.slice(0, hash) : line;
  const comment = hash >= 0 ? `\x1b[2m${line.slice(hash)}\x1b[22m` : '';
  let first = true;
  const out = code.replace(/(\s+)|([^\s]+)/g, (m, ws: string | undefined) => {
    if (ws) return m;
    if (first) {
      first = false;
      return `\x1b[35m${m}\x1b[39m`;
    }
    if (/^[A-Za-z_][\w.-]*=/.test(m)) {
      const eq = m.indexOf('=');
      return `\x1b[36m${m.slice(0, eq + 1)}\x1b[39m${m.slice(eq + 1)}`;
    }
    if (/^(0x[0-9a-f_]+|[0-9][0-9_]*[kmgt]?)$/i.test(m)) return `\x1b[33m${m}\x1b[39m`;
    return m;
  });
  return out + comment;
}
