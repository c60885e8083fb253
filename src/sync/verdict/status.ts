// `status`: per file, what is in the ConfigMap, what is published, what Envoy runs, and Envoy's last
// verdict. Read live where possible (the ConfigMap volume, the target directory, Envoy's admin API),
// and from the watcher's state file (state.ts) for the verdicts and addresses.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAdminAddress } from '../envoy/subscriptions.js';
import { EnvoyAdmin } from '../envoy/admin.js';
import { readSnapshot, isReservedName } from '../volume/snapshot.js';
import { contentVersion, publishable, sha256, versionOf } from '../envoy/version-stamp.js';
import { readState, refusedLast, stateDir, STATE_FILE } from './state.js';
import type { RefusalWhy, VerdictState } from './state.js';
import { validateConfigFile } from '../envoy/gate.js';
import { refusedUnused } from './unused-refused.js';
import { markRefusedReaders } from './status-readers.js';
import type { WithReader } from './messages.js';
import { runsOfRefused, type RunsOfRefused } from './status-applied.js';

export interface FileStatus {
  file: string;
  /** Version of the ConfigMap's content (as it would be stamped), `sha256:<12>` for other files; undefined if the key is gone. */
  configMap?: string;
  /** The ConfigMap content is what Envoy refused, held back by `watch` (see `refusedPublished`). */
  held: boolean;
  /**
   * Set with `held` when the refused content is itself what is published (refusedStaysPublished):
   * Envoy refused it and no version of the file was accepted before, so nothing accepted came before
   * it to put back, and the file stays on disk.
   */
  refusedPublished?: true;
  /** Set with `refusedPublished` when the refused content is also the last accepted one (an Envoy started since refused it: refused-kept.ts). */
  refusedAccepted?: true;
  /** Set with `held` when Envoy took the content but it went back with this CDS file, which Envoy refused (clusters-gone.ts). */
  heldWith?: string;
  /** The ConfigMap content is a file Envoy reads only when it builds its reader, held back by `watch` until that changes: why. */
  heldBack?: string;
  /** The ConfigMap content the validation gate refuses (`watch` never publishes it): where and why. */
  invalid?: { message: string; line?: number; column?: number };
  published?: string;
  /** Envoy has a subscription on this file (a path_config_source names it). */
  subscribed?: boolean;
  /**
   * What Envoy reports running now, or last seen (`live: false`); `runs`: of a refused LDS or CDS
   * file that stays published, the listeners or clusters Envoy runs as the file has them, although
   * its version is not the subscription's (status-applied.ts).
   */
  envoy?: { version: string; live: boolean; at?: string; runs?: RunsOfRefused };
  /**
   * A file Envoy reads through another (a Lua script or `direct_response` body a resource reads
   * once, a certificate a Secret reads): no subscription of its own reports a version, so what
   * Envoy runs is the version accepted with its reader (runsWithReader).
   */
  withReader?: WithReader;
  verdict?: VerdictState['files'][string]['verdict'];
  /** No verdict yet, and Envoy refuses these files, which read it through a Secret or a resource (status-readers.ts). */
  readerRefused?: string[];
  /**
   * With `held`: why Envoy refused the ConfigMap's content, as kept with the refusal (state.ts
   * RefusalWhy), when the last verdict is not that refusal (a restarted watcher judged the
   * rolled-back file since).
   */
  refusal?: RefusalWhy & { version?: string };
  /** Its key is gone, and Envoy refused it, never took it and no published file names it (unused-refused.ts): not a refusal now. */
  unused?: true;
  /** The verdict is about a version that is neither published nor in the ConfigMap now. */
  verdictEarlier?: boolean;
}

export interface Status {
  targetDir: string;
  sourceDir: string;
  admin?: string;
  /** Why Envoy's admin API was not asked or did not answer. */
  adminProblem?: string;
  /** Why the ConfigMap volume could not be read. */
  sourceProblem?: string;
  /**
   * `--source api`: the watcher reads the ConfigMap from the API (the volume may lag), so the
   * CONFIGMAP column is what it last read there: that read's resourceVersion and time.
   */
  fromApi?: { resourceVersion?: string; at: string };
  watcherPid: number;
  /** Whether a `watch` process with that pid runs (seen from this PID namespace: run status in the watcher's container). */
  watcherRunning?: boolean;
  updatedAt: string;
  files: FileStatus[];
}

/**
 * WithReader for a published file with no `version_info` (`readThrough`) from its state entry;
 * undefined for any other file, and for one nothing judged (Envoy reads it through nothing). Pure.
 */
export function runsWithReader(recorded: VerdictState['files'][string] | undefined, readThrough: boolean): WithReader | undefined {
  if (!readThrough || recorded === undefined) return undefined;
  const accepted = recorded.accepted;
  if (accepted?.sha256 !== undefined) return { accepted: accepted.version ?? contentVersion(accepted.sha256), at: accepted.at };
  return recorded.verdict === undefined ? undefined : { none: true };
}

/**
 * The one rule for a refusal that nothing was put back for: the ConfigMap's content is the one
 * Envoy refused and it is what is published (no version of the file was accepted before it; the
 * verdict's line and Event say so too, messages.ts firstRefusedMessage).
 */
export function refusedStaysPublished(f: { held: boolean; published?: string | undefined; configMap?: string | undefined }): boolean {
  return f.held && f.published !== undefined && f.published === f.configMap;
}

export class NoStateError extends Error {
  override name = 'NoStateError';
}

/** Gathers the status of `targetDir`. Throws NoStateError if no watcher ever wrote state there. */
export async function gatherStatus(targetDir: string, opts: { timeoutMs?: number } = {}): Promise<Status> {
  const state = await readState(targetDir);
  if (state === undefined) {
    throw new NoStateError(`no verdict state at ${join(stateDir(targetDir), STATE_FILE)}: is 'watch' running with --to ${targetDir}? (it writes the state as it starts)`);
  }
  const names = new Set(Object.keys(state.files));
  const source = new Map<string, Buffer>();
  let sourceProblem: string | undefined;
  // From the API, what the watcher read (and judged) is the ConfigMap; the volume may lag it.
  const fromApi = state.configMap;
  if (fromApi !== undefined) {
    for (const name of Object.keys(fromApi.files)) names.add(name);
  } else {
    try {
      for (const [name, content] of (await readSnapshot(state.sourceDir)).files) {
        source.set(name, content);
        names.add(name);
      }
    } catch (err) {
      sourceProblem = (err as Error).message;
    }
  }
  for (const name of await readdir(targetDir)) if (!isReservedName(name)) names.add(name);

  const live = new Map<string, string>();
  let answered = false;
  let adminProblem: string | undefined = state.admin === undefined ? 'the watcher has no admin address' : undefined;
  if (state.admin !== undefined) {
    const prefixes = [...new Set(Object.values(state.files).flatMap((f) => (f.subscriptions ?? []).map((s) => s.statPrefix)))];
    const admin = new EnvoyAdmin(parseAdminAddress(state.admin));
    try {
      // Asked with no prefixes too (before Envoy's first answer the state names no subscription):
      // an Envoy not up yet is said, not left as '-' everywhere.
      for (const [prefix, stats] of await admin.subscriptionStats(prefixes, opts.timeoutMs ?? 2000)) live.set(prefix, stats.versionText);
      answered = true;
    } catch (err) {
      adminProblem = `Envoy admin ${state.admin} unreachable: ${(err as Error).message}`;
    } finally {
      admin.close();
    }
  }

  const files: FileStatus[] = [];
  for (const file of [...names].sort()) {
    const recorded = state.files[file];
    const content = source.get(file);
    const wouldPublish = fromApi !== undefined ? fromApi.files[file] : content === undefined ? undefined : publishable(file, content);
    // The ConfigMap's version as it would be stamped; `sha256:<12>` for a file that carries none.
    const configMap = wouldPublish === undefined ? undefined : (wouldPublish.version ?? contentVersion(wouldPublish.sha256));
    const publishedContent = await readFile(join(targetDir, file)).catch(() => undefined);
    const publishedVersion = publishedContent === undefined ? undefined : versionOf(file, publishedContent);
    const published = publishedContent === undefined ? undefined : (publishedVersion ?? contentVersion(sha256(publishedContent)));
    const heldBack = wouldPublish !== undefined && recorded?.heldBack?.sha256 === wouldPublish.sha256 && configMap !== published ? recorded.heldBack.message : undefined;
    // Held back is refused too when Envoy refused this content with its reader (only the reader went back).
    const refusedWithReader = heldBack !== undefined && refusedLast(recorded, configMap);
    const held = wouldPublish !== undefined && (recorded?.refused?.sha256 === wouldPublish.sha256 || refusedWithReader);
    // The gate's word on content that is not published: the watcher logged it, status says it too.
    const unpublished = configMap !== published && !held;
    const gate = content === undefined || !unpublished ? undefined : await validateConfigFile(file, content);
    const invalid = fromApi !== undefined
      ? (unpublished ? fromApi.files[file]?.invalid : undefined)
      : gate?.ok === false ? { message: gate.error.message, ...(gate.error.line === undefined ? {} : { line: gate.error.line }), ...(gate.error.column === undefined ? {} : { column: gate.error.column }) } : undefined;
    const verdictVersion = recorded?.verdict?.version;
    const verdictEarlier = verdictVersion !== undefined && verdictVersion !== published && verdictVersion !== configMap;
    // The refusal holding the content back, and why Envoy refused it, when the last verdict no longer says it.
    const kept = !held ? undefined : refusedWithReader && recorded?.refusedWithReader?.version === configMap ? recorded?.refusedWithReader?.why : recorded?.refused?.why;
    const saidByVerdict = recorded?.verdict?.outcome === 'rejected' && !verdictEarlier;
    const refusal = kept === undefined || saidByVerdict ? undefined : { ...kept, ...(configMap === undefined ? {} : { version: configMap }) };
    // Envoy answered without any subscription of the file (a restarted Envoy that has not opened
    // it): it runs none of it now, whatever an earlier process ran.
    // A file with no version_info (a certificate or key a Secret reads, a Lua script) has no
    // subscription of its own: the Secret's version_text is not its version, so Envoy's column says
    // the version accepted with its reader (runsWithReader).
    const readThrough = publishedContent !== undefined && publishedVersion === undefined;
    const subscriptions = readThrough ? [] : (recorded?.subscriptions ?? []);
    const liveVersion = subscriptions.map((s) => live.get(s.statPrefix)).find((v) => v !== undefined) ?? (answered && subscriptions.length > 0 ? '' : undefined);
    const envoy = liveVersion !== undefined
      ? { version: liveVersion, live: true }
      : recorded?.envoy === undefined || readThrough ? undefined : { version: recorded.envoy.version, live: false, at: recorded.envoy.at };
    const withReader = envoy === undefined ? runsWithReader(recorded, readThrough) : undefined;
    // Refused and still published: which of its listeners or clusters Envoy runs all the same.
    const runs = envoy?.live === true && publishedContent !== undefined && refusedStaysPublished({ held, published, configMap }) ? await runsOfRefused(state.admin, subscriptions.map((s) => s.statPrefix), publishedContent, publishedVersion, opts.timeoutMs ?? 2000) : undefined;
    files.push({
      file,
      held,
      ...(withReader === undefined ? {} : { withReader }),
      ...(refusedStaysPublished({ held, published, configMap }) ? { refusedPublished: true as const, ...(recorded?.accepted?.sha256 === recorded?.refused?.sha256 ? { refusedAccepted: true as const } : {}) } : {}),
      ...(held && recorded?.refused?.withRefused !== undefined ? { heldWith: recorded.refused.withRefused } : {}),
      subscribed: subscriptions.length > 0,
      ...(invalid === undefined ? {} : { invalid }),
      ...(heldBack === undefined ? {} : { heldBack }),
      ...(configMap === undefined ? {} : { configMap }),
      ...(published === undefined ? {} : { published }),
      ...(envoy === undefined ? {} : { envoy: { ...envoy, ...(runs === undefined ? {} : { runs }) } }),
      ...(recorded?.verdict === undefined ? {} : { verdict: recorded.verdict, ...(verdictEarlier ? { verdictEarlier } : {}) }),
      ...(refusal === undefined ? {} : { refusal }),
      ...(configMap === undefined && refusedUnused(recorded) ? { unused: true as const } : {}),
    });
  }
  await markRefusedReaders(targetDir, files); // a file read through one Envoy refuses: said, not `-`
  return {
    targetDir,
    sourceDir: state.sourceDir,
    ...(state.admin === undefined ? {} : { admin: state.admin }),
    ...(adminProblem === undefined ? {} : { adminProblem }),
    ...(sourceProblem === undefined ? {} : { sourceProblem }),
    ...(fromApi === undefined ? {} : { fromApi: { ...(fromApi.resourceVersion === undefined ? {} : { resourceVersion: fromApi.resourceVersion }), at: fromApi.at } }),
    watcherPid: state.pid,
    watcherRunning: await isWatchProcess(state.pid),
    updatedAt: state.updatedAt,
    files,
  };
}

/** Whether `pid` is a running `watch` (its /proc cmdline; without /proc, whether the pid exists). */
async function isWatchProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdline = await readFile(`/proc/${String(pid)}/cmdline`, 'utf8').catch(() => undefined);
  return cmdline === undefined || cmdline.split('\0').includes('watch');
}
