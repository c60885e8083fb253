// What the watcher does when Envoy restarted under it (envoy-process.ts tells): says it once, with
// what the new Envoy loaded at start (the published files, read from its own version_text), records
// that as what Envoy runs (none of a file it did not load), and ends what the verdicts kept of the
// old process (conclude.ts).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { sha256, versionOf } from '../envoy/version-stamp.js';
import type { PublishedFile } from '../publish/syncer.js';
import { configFilesIn } from '../publish/target.js';
import type { FoundFile } from '../publish/target.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import { attribute } from './attribution.js';
import type { FileFacts } from './attribution.js';
import type { Conclusions } from './conclude.js';
import type { Restart } from './envoy-process.js';
import { refusedKeptOnDisk } from './refused-kept.js';
import type { VerdictState } from './state.js';

/** A file Envoy reads and the version it reported for it at the restart ('' when it has loaded none yet). */
export interface LoadedAtStart {
  file: string;
  version: string;
  /** The version the watcher last saw Envoy accept for it, when that is not the one loaded. */
  lastAccepted?: string;
  /** Envoy refused what it read of the file at start (update_rejected or update_failure, no version). */
  refused?: true;
}

/**
 * What Envoy loaded at start, from its first answer after the restart: each file Envoy reads
 * (`files`) with the version its subscriptions report, matched by version (unique per content,
 * attribution.ts). `accepted`: the version last accepted per file.
 */
export function loadedAtStart(reading: EnvoyCounters, files: readonly FileFacts[], accepted: (file: string) => string | undefined): LoadedAtStart[] {
  const byFile = new Map<string, string>();
  const refused = new Set<string>();
  for (const [prefix, file] of attribute(reading.subscriptions, files)) {
    const counters = reading.subscriptions.get(prefix);
    const version = counters?.versionText ?? '';
    if (version !== '' || !byFile.has(file)) byFile.set(file, version);
    if (counters !== undefined && counters.rejected + counters.failure > 0) refused.add(file);
  }
  return files.map(({ name }) => {
    const version = byFile.get(name) ?? '';
    const last = accepted(name);
    return {
      file: name,
      version,
      ...(last !== undefined && version !== '' && last !== version ? { lastAccepted: last } : {}),
      ...(version === '' && refused.has(name) ? { refused: true as const } : {}),
    };
  });
}

/**
 * The files to judge again once Envoy restarted: those whose last verdict is `unknown` (Envoy did
 * not answer, e.g. it was down when they were published) or that were published and got no verdict
 * since, those last accepted that the new Envoy refused at start (`refusedAtStart`: a listener
 * routing to a cluster a cds.yaml edit removed since, routes-stranded.ts), and those whose refused
 * content stays published that the new Envoy took at start (`takenAtStart`: file → the version its
 * subscription reports; an address in use then free again). The new Envoy loaded them at start, and
 * nothing said whether it took them. Files with a verdict pending (`pending`) are judged already.
 */
export function judgeAgainAfterRestart(state: VerdictState, pending: (file: string) => boolean, refusedAtStart: readonly string[] = [], takenAtStart: ReadonlyMap<string, string> = new Map()): string[] {
  return Object.entries(state.files)
    .filter(([file, entry]) => {
      if (pending(file)) return false;
      // The new Envoy refused what the old one took (a cluster it routes to is gone): its verdict is refused now.
      if (refusedAtStart.includes(file) && acceptedOnDisk(entry)) return true;
      // The new Envoy took the content refused before, which stays published: its verdict is accepted now (trial: status said
      // "refused by an Envoy started since" and exited 1 for good while Envoy ran it).
      if (takenAfterRefusal(entry, takenAtStart.get(file))) return true;
      if (entry.verdict?.outcome === 'unknown') return true;
      return entry.published?.version !== undefined && entry.verdict?.version !== entry.published.version;
    })
    .map(([file]) => file)
    .sort();
}

/** Whether Envoy loaded at start (`loaded`: the version its subscription reports) the refused content that stays published. Pure. */
function takenAfterRefusal(entry: VerdictState['files'][string] | undefined, loaded: string | undefined): boolean {
  return refusedKeptOnDisk(entry) && entry?.refused?.version !== undefined && loaded === entry.refused.version;
}

/**
 * Whether what is published is the version last accepted, as the last verdict says: accepted, or a
 * refusal that put that version back (rolled back, or gone back with a refused cds.yaml). Trial 5:
 * after a rollback and the ConfigMap set back to the published version, a restarted Envoy's refusal
 * of it at start went unjudged (the last verdict, the rollback's, was not `accepted`), and `status`
 * exited 0. Pure.
 */
export function acceptedOnDisk(entry: VerdictState['files'][string] | undefined): boolean {
  const verdict = entry?.verdict;
  return verdict?.outcome === 'accepted' || (verdict?.outcome === 'rejected' && verdict.rolledBack);
}

/**
 * The log line's message; `again`: the files judged again (judgeAgainAfterRestart), `refusedAgain`
 * those of them last accepted and refused at start, `takenAgain` those refused before that it took
 * at start (subsets, in its order).
 */
export function restartMessage(restart: Restart, loaded: readonly LoadedAtStart[], again: readonly string[] = [], refusedAgain: readonly string[] = [], takenAgain: readonly string[] = []): string {
  const files = loaded.map((l) =>
    l.version === ''
      ? `${l.file} (${l.refused === true ? 'refused it' : 'not loaded yet'})`
      : `${l.file} version ${l.version}${l.lastAccepted === undefined ? '' : ` (not the last accepted, ${l.lastAccepted})`}`,
  );
  const what = files.length === 0 ? 'no file the watcher publishes' : files.join(', ');
  const unjudged = again.filter((file) => !refusedAgain.includes(file) && !takenAgain.includes(file));
  const judged = `${unjudged.length === 0 ? '' : `; judging ${unjudged.join(', ')} again (no verdict on the version published)`}${refusedAgain.length === 0 ? '' : `; judging ${refusedAgain.join(', ')} again (accepted before, refused by this Envoy at start)`}${takenAgain.length === 0 ? '' : `; judging ${takenAgain.join(', ')} again (refused before, loaded by this Envoy at start)`}`;
  return `Envoy restarted (${restart.why}): it counts from zero again; at start it loaded ${what}. Verdicts from now on compare only what this Envoy counted${judged}`;
}

/** Says the restart, records what Envoy runs now; returns the files to judge again (judgeAgainAfterRestart). */
export function envoyRestarted(
  ctx: { logger: Logger; state: VerdictState; files: readonly FileFacts[]; conclusions: Conclusions; pending: (file: string) => boolean; save: () => void },
  reading: EnvoyCounters,
  restart: Restart,
): string[] {
  const { state } = ctx;
  const loaded = loadedAtStart(reading, ctx.files, (file) => state.files[file]?.accepted?.version);
  const at = new Date().toISOString();
  // What this process runs of each file, none ('') included: what the old one ran ended with it.
  for (const { file, version } of loaded) {
    const entry = state.files[file];
    if (entry !== undefined) entry.envoy = { version, at };
  }
  ctx.conclusions.envoyRestarted(loaded.map((l) => l.file));
  const refusedAtStart = loaded.filter((l) => l.refused === true).map((l) => l.file);
  const takenAtStart = new Map(loaded.filter((l) => l.version !== '').map((l) => [l.file, l.version]));
  const again = judgeAgainAfterRestart(state, ctx.pending, refusedAtStart, takenAtStart);
  const refusedAgain = again.filter((file) => refusedAtStart.includes(file) && acceptedOnDisk(state.files[file]));
  const takenAgain = again.filter((file) => !refusedAgain.includes(file) && takenAfterRefusal(state.files[file], takenAtStart.get(file)));
  ctx.logger.info(
    {
      event: 'envoy-restarted',
      why: restart.why,
      ...(restart.startedAtMs === undefined ? {} : { startedAt: new Date(restart.startedAtMs).toISOString() }),
      ...(restart.previousStartedAtMs === undefined ? {} : { previousStartedAt: new Date(restart.previousStartedAtMs).toISOString() }),
      loaded,
      ...(again.length === 0 ? {} : { judgeAgain: again }),
    },
    restartMessage(restart, loaded, again, refusedAgain, takenAgain),
  );
  ctx.save();
  return again;
}

/**
 * The files of `names` in `targetDir` as published files to judge (none pending): what
 * judgeAgainAfterRestart chose; read by the new Envoy when it started (`startedAtMs`, epoch ms),
 * not before (their `publishedAtMs`: refused-kept.ts dependencyTakenSince). Never rejects.
 */
export async function filesToJudgeAgain(targetDir: string, names: readonly string[], pending: (file: string) => boolean, startedAtMs?: number): Promise<PublishedFile[]> {
  const files = await configFilesIn(targetDir).catch(() => []);
  return files
    .filter(({ name }) => names.includes(name) && !pending(name))
    .map((found) => ({ ...foundAsPublished(found, 'xds'), publishedAtMs: Math.max(found.mtimeMs, startedAtMs ?? 0) }));
}

/**
 * A file `configFilesIn` found as a published file, judged as found at start (at the watcher's
 * start: tracker.ts; once a restarted Envoy loaded it: filesToJudgeAgain): its content as published, its
 * version (`versionOf` unless given), `at` now and its mtime as the publish time; no ConfigMap
 * (found on disk, not published by a pass of this watcher).
 */
export function foundAsPublished(found: FoundFile, kind: PublishedFile['kind'], version = versionOf(found.name, found.content)): PublishedFile {
  return { name: found.name, sha256: sha256(found.content), content: found.content, version, kind, ino: found.ino, at: performance.now(), publishedAtMs: found.mtimeMs };
}
