// What the verdicts of one watcher said of Envoy's `server.dynamic_unknown_fields`, and what they
// must not say again (state across verdicts; unknown-fields.ts decides each verdict's count, purely):
// the count already said and of which Envoy process, what the watcher's own rollbacks made Envoy
// count, and the files Envoy loaded at the watcher's start or at its own restart. conclude.ts asks it
// for each accepted verdict.
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { IgnoredWhen } from './messages.js';
import type { Pending } from './pending.js';
import { ownReload } from './put-back.js';
import { ignoredAmong, ignoredUnknownFields } from './unknown-fields.js';
import type { OwnReload, Reported } from './unknown-fields.js';

/** What an accepted verdict says Envoy ignored: Envoy's count, and the files it may be of when it is not the file's own alone. */
export interface IgnoredSaid {
  ignored: number;
  among: { files: readonly string[]; when: IgnoredWhen } | undefined;
}

/** The fields of a verdict's log line and Event for `said` (none when Envoy ignored nothing). */
export function ignoredFieldsOf({ ignored, among }: IgnoredSaid): { ignoredFields?: number; ignoredAmong?: string[]; ignoredWhen?: IgnoredWhen } {
  return ignored > 0 ? { ignoredFields: ignored, ...(among === undefined ? {} : { ignoredAmong: [...among.files], ignoredWhen: among.when }) } : {};
}

export class UnknownFieldsSaid {
  /** `server.dynamic_unknown_fields` already reported in a verdict, and of which Envoy process (envoy-process.ts). */
  private reported: Reported | undefined;
  /** What Envoy counted in `server.dynamic_unknown_fields` for the watcher's own rollbacks (the last few, of the current process). */
  private ownReloads: OwnReload[] = [];
  /** The xDS files Envoy loaded with its bootstrap, before the watcher read any counters (set by `foundAtStart`). */
  private atStart: readonly string[] = [];
  /** The xDS files a restarted Envoy loaded at its start (set by `envoyRestarted`). */
  private atRestart: readonly string[] = [];

  /** The files found at start on a fresh Pod (Conclusions.foundAtStart says why they count). */
  foundAtStart(files: readonly string[]): void {
    this.atStart = [...files];
  }

  /** The files a restarted Envoy loaded at its start (Conclusions.envoyRestarted). */
  envoyRestarted(loaded: readonly string[]): void {
    this.atRestart = [...loaded];
  }

  /**
   * After a rollback's rename (IO: one counters request, put-back.ts ownReload): what Envoy counted
   * for it is the watcher's own. `before`: the answer the refusal was decided on.
   */
  async rolledBack(admin: EnvoyAdmin | undefined, before: EnvoyCounters | undefined): Promise<void> {
    const reload = await ownReload(admin, before);
    if (reload !== undefined) this.ownReloads = [...this.ownReloads.filter((r) => r.epoch === reload.epoch).slice(-7), reload];
  }

  /**
   * What the accepted verdict of `pending` says Envoy ignored, from `now` (the answer it was decided
   * on; undefined: Envoy did not answer), counted per load, not per file; said once (the count is
   * then reported). A file found at start has no baseline: Envoy loaded it before anything was read
   * (counted from zero).
   */
  accepted(pending: Pending, now: EnvoyCounters | undefined): IgnoredSaid {
    const { file } = pending;
    const atStart = pending.foundAtStart === true && this.atStart.includes(file);
    const fields = ignoredUnknownFields({ baseline: pending.baseline, now, atStart, reported: this.reported, ownReloads: this.ownReloads });
    this.reported = fields.reported;
    // Several files loaded at start, or with this one in its change: Envoy's one counter does not
    // say which one holds the fields, so they are the change's (or the start's), never its own.
    const among = ignoredAmong({ file, ignored: fields.ignored, atStart, sinceStart: fields.sinceStart, startFiles: this.atStart, restartFiles: this.atRestart, inFlight: pending.inFlight });
    return { ignored: fields.ignored, among };
  }
}
