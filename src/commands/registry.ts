/**
 * The command registry bound to the lab's Session: what commands import.
 * The definitions are in command-types.ts, generic in the session type.
 */
import type { Session } from './session.ts';
import { RegistryFor, type CommandSpecFor } from './command-types.ts';

export type { ArgKind, ArgSpec, OptSpec, ParsedArgs, CommandResult } from './command-types.ts';
export type CommandSpec = CommandSpecFor<Session>;
export class Registry extends RegistryFor<Session> {}
