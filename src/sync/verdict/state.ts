// What the watcher knows about Envoy's verdicts, kept in the target directory (the emptyDir Envoy
// reads, so it survives a watcher restart and `status` finds it with `kubectl exec`):
//   <target>/..envoy-xds-verdict/state.json       per file: ConfigMap, published, Envoy, verdict
//   <target>/..envoy-xds-verdict/accepted/<file>  the last version Envoy accepted (a hard link if it can)
//   <target>/..envoy-xds-verdict/refused/<file>   the last version Envoy refused, for the operator
//   <target>/..envoy-xds-verdict/refused/..sha256-<12 hex>/<file>  each of the last few refused (refused-versions.ts)
//   <target>/..envoy-xds-verdict/store-read.json  the last-accepted store as `copy` read it, until the watcher takes it (store-handoff.ts)
// (accepted/ and refused/ kept by kept.ts).
// A `..` name is never a ConfigMap key, so Envoy never watches these and `watch` never publishes them.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { XdsType } from '../envoy/subscriptions.js';
import type { ConfigMapRead } from './configmap-read.js';
import { STATE_DIR } from './state-dir.js';
import { stateFsOf } from './state-fs.js';
import type { StateFs, StateTarget } from './state-fs.js';
import type { VerdictFacts } from './verdict.js';

export { STATE_DIR };
export const STATE_FILE = 'state.json';

/**
 * Why Envoy refused a content (its reason, or where its log says it; the `validate` that names the
 * field), kept with the refusal that holds the content back: the verdict that first said it is
 * replaced when a restarted watcher judges the rolled-back file on disk, and `status` still owes
 * the operator the reason (WHY ENVOY REFUSED).
 */
export type RefusalWhy = Pick<VerdictFacts, 'reason' | 'reasonPossiblyEarlier' | 'reasonFromCounters' | 'envoyLog' | 'schema' | 'validate'>;

/** The RefusalWhy fields of a verdict's facts, only those set. Pure. */
export function refusalWhy(facts: VerdictFacts): RefusalWhy {
  const { reason, reasonPossiblyEarlier, reasonFromCounters, envoyLog, schema, validate } = facts;
  return {
    ...(reason === undefined ? {} : { reason }),
    ...(reasonPossiblyEarlier === undefined ? {} : { reasonPossiblyEarlier }),
    ...(reasonFromCounters === undefined ? {} : { reasonFromCounters }),
    ...(envoyLog === undefined ? {} : { envoyLog }),
    ...(schema === undefined || validate === undefined ? {} : { schema, validate }),
  };
}

export interface FileState {
  /** What `watch` last renamed into the target (version as Envoy will report it; source sha256). */
  published?: { version?: string; sha256: string; at: string };
  /** The last version Envoy accepted (sha256 of the published content, absent in states written before it was kept); its content is `accepted/<file>`. */
  accepted?: { version?: string; sha256?: string; at: string };
  /** The version Envoy last reported running (`<prefix>.version_text`). */
  envoy?: { version: string; at: string };
  /** Content Envoy refused and that `watch` holds back until the ConfigMap changes (`refused/<file>`). */
  refused?: {
    version?: string;
    sha256: string;
    at: string;
    /**
     * Set by `copy` from the last-accepted store (store-seed.ts): another Pod's Envoy refused
     * it (that Pod's name); held only until this Envoy runs the accepted version, then retried once.
     */
    fromStore?: string;
    /** Why Envoy refused it (absent for a refusal from the store: another Pod's Envoy said it there). */
    why?: RefusalWhy;
    /** The other keys whose change could change the refusal (refusal-cause.ts); absent: any key. */
    dependsOn?: string[];
    /** Envoy took it, but it went back with this CDS file, which Envoy refused (clusters-gone.ts). */
    withRefused?: string;
  };
  /**
   * The ConfigMap's content of a file Envoy reads only when it builds its reader (a Lua script),
   * held back because its reader did not change with it (publish/read-once.ts): why, in words.
   */
  heldBack?: { sha256: string; message: string; at: string };
  /** Envoy's last verdict on the file (verdict.ts). */
  verdict?: VerdictFacts & { version?: string; at: string };
  /**
   * A file Envoy reads once: the content Envoy last refused with its reader (`reader`, the file
   * judged), kept apart from `verdict`, which a restarted watcher's judging of the rolled-back file
   * on disk replaces. Cleared when Envoy accepts that content.
   */
  refusedWithReader?: { version: string; reader: string; at: string; why?: RefusalWhy };
  /**
   * A file Envoy reads once: the content published with its reader file and put back because Envoy
   * kept a reader as it runs (verdict/reader-kept.ts), and what holding it back says. Cleared when
   * Envoy accepts a content of the file.
   */
  keptByReader?: { sha256: string; message: string; at: string };
  subscriptions?: { type: XdsType; statPrefix: string }[];
}

export interface VerdictState {
  /** Written by this pid. */
  pid: number;
  sourceDir: string;
  targetDir: string;
  /** `HOST:PORT` or `unix:PATH`, or undefined when the watcher has no admin address. */
  admin?: string;
  updatedAt: string;
  files: Record<string, FileState>;
  /** `--source api`: the ConfigMap as the last pass read it from the API (configmap-read.ts); absent when it read the volume. */
  configMap?: ConfigMapRead;
}

/** ms between looks at whether the verdicts in flight are in, while a state write waits for them. */
const BUSY_RECHECK_MS = 5;

export function stateDir(targetDir: string): string {
  return join(targetDir, STATE_DIR);
}

export async function readState(targetDir: string): Promise<VerdictState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir(targetDir), STATE_FILE), 'utf8')) as VerdictState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Replaces state.json by rename, so `status` never reads half a file. `fs`: the target's state file operations (state-fs.ts). */
export async function writeState(targetDir: string, state: VerdictState, fs: StateFs = stateFsOf(targetDir)): Promise<void> {
  const dir = stateDir(targetDir);
  await fs.mkdir(dir);
  const temp = join(dir, `.${STATE_FILE}.tmp`); // one watcher per target: a fixed name leaves no litter
  await fs.writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await fs.rename(temp, join(dir, STATE_FILE));
}

/** Content of `accepted/<name>`, or undefined if Envoy never accepted a version of it. */
export async function acceptedCopy(targetDir: string, name: string): Promise<Buffer | undefined> {
  try {
    return await readFile(join(stateDir(targetDir), 'accepted', name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function refusedPath(targetDir: string, name: string): string {
  return join(stateDir(targetDir), 'refused', name);
}

/**
 * Writes state.json soon after a change: at most once per `delayMs` (50 ms), so a burst of
 * publishes costs one write; writes never overlap. `current` gives the state to write, at the time
 * of the write. While `busy` (a verdict in flight: Envoy is loading what was just renamed, on the
 * same CPUs), the write waits for it to end, `maxDelayMs` (1 s) at most after it was asked for: a
 * write (clone, JSON, mkdir, write, rename: 0.5-1 ms of this thread and the thread pool) then lands
 * after Envoy's verdict, not in the middle of its reload.
 */
export class StateWriter {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private askedAt = 0;
  private readonly targetDir: string;
  private readonly fs: StateFs;

  /** `target`: the target directory, or it with its state file operations (state-fs.ts; the watcher's, one per target). */
  constructor(
    target: string | StateTarget,
    private readonly current: () => VerdictState,
    private readonly onError: (err: unknown) => void,
    private readonly busy: () => boolean = () => false,
    private readonly delayMs = 50,
    private readonly maxDelayMs = 1000,
  ) {
    this.targetDir = typeof target === 'string' ? target : target.targetDir;
    this.fs = typeof target === 'string' ? stateFsOf(target) : target.fs;
  }

  /** Writes within `delayMs`, or once not busy (`maxDelayMs` at most). */
  save(): void {
    if (this.timer !== undefined) return;
    this.askedAt = performance.now();
    this.arm(this.delayMs);
  }

  /** Writes what is pending now and waits for every write. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.writeNow();
    }
    await this.writing;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.busy() && performance.now() - this.askedAt < this.maxDelayMs) this.arm(BUSY_RECHECK_MS);
      else this.writeNow();
    }, ms);
  }

  private writeNow(): void {
    const snapshot = structuredClone(this.current());
    this.writing = this.writing.then(() => writeState(this.targetDir, snapshot, this.fs)).catch(this.onError);
  }
}

/**
 * Whether Envoy's last verdict on a file refused the content named `version` (as the verdict
 * lines name it: the stamped version, or `sha256:<12>` for a file with no version_info), or
 * refused it with its reader (a file Envoy reads once), whatever was judged since. Pure.
 */
export function refusedLast(entry: FileState | undefined, version: string | undefined): boolean {
  if (version !== undefined && entry?.refusedWithReader?.version === version) return true;
  return entry?.verdict?.outcome === 'rejected' && entry.verdict.version === version;
}

/**
 * Records the read-once files a pass holds back (`held`: name, sha256 of the content, why) and
 * forgets those it no longer holds. Returns whether the state changed.
 */
export function recordHeldBack(state: VerdictState, held: readonly { name: string; sha256: string; message: string }[]): boolean {
  let changed = false;
  for (const [name, entry] of Object.entries(state.files)) {
    if (entry.heldBack === undefined || held.some((file) => file.name === name)) continue;
    delete entry.heldBack;
    changed = true;
  }
  for (const file of held) {
    const entry = (state.files[file.name] ??= {});
    if (entry.heldBack?.sha256 === file.sha256) continue;
    entry.heldBack = { sha256: file.sha256, message: file.message, at: new Date().toISOString() };
    changed = true;
  }
  return changed;
}
