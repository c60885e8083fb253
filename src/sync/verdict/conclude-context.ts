// What writing a verdict needs, whichever verdict it is: the one a publish gets (conclude.ts
// ConcludeContext) and the one a publish replaced before its verdict gets (superseded-report.ts
// SupersededContext). Types only: both extend it, neither imports the other for it.
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { KeptVersions } from './kept.js';
import type { StateWriter, VerdictState } from './state.js';
import type { VerdictListener } from './verdict.js';

/** The log, the state entry and its file, the listeners (Events, the last-accepted store), Envoy's admin API and the kept copies. */
export interface VerdictContext {
  logger: Logger;
  state: VerdictState;
  stateFile: StateWriter;
  listeners: readonly VerdictListener[];
  /** The admin API of the Envoy judged (tracker.ts); undefined when the watcher has no admin address. */
  admin: () => EnvoyAdmin | undefined;
  /** Envoy's path of a published file (for the log line to grep), when the bootstrap names it. */
  pathOf: (name: string) => string;
  /** The versions kept under the state directory (kept.ts): the watcher's, one per target. */
  kept: KeptVersions;
}
