/**
 * Tab completion from the command specs: command names, group
 * subcommands, enum choices and `key=` options. Returns what node's
 * readline completer expects: [candidates, the word being completed].
 */
import type { Session } from './session.ts';

export function complete(s: Session, line: string): [string[], string] {
  const reg = s.registry;
  const words = line.split(/\s+/);
  const cur = words[words.length - 1] ?? '';
  const before = words.slice(0, -1).filter(Boolean);
  const pick = (cands: string[]): [string[], string] => {
    const hits = [...new Set(cands)].filter((c) => c.startsWith(cur)).sort();
    return [hits, cur];
  };
  if (before.length === 0) return pick(reg.topWords());
  const first = before[0]!.split('/')[0]!;
  let spec = reg.get(first);
  let argIndex = before.length - 1;
  if (reg.isGroup(first)) {
    if (before.length === 1) return pick(reg.subcommands(first));
    spec = reg.get(`${first} ${before[1]}`);
    argIndex = before.length - 2;
  }
  if (!spec) return [[], cur];
  const cands: string[] = [];
  const positional = before.slice(reg.isGroup(first) ? 2 : 1).filter((w) => !w.includes('='));
  const a = spec.args[Math.min(argIndex, positional.length)];
  if (a?.choices) cands.push(...a.choices);
  if (a?.kind === 'device') cands.push(...s.machine.pciFunctions().map((f) => f.name));
  for (const o of spec.opts ?? []) {
    if (cur.startsWith(`${o.name}=`) && o.choices) cands.push(...o.choices.map((c) => `${o.name}=${c}`));
    else cands.push(`${o.name}=`);
  }
  return pick(cands);
}
