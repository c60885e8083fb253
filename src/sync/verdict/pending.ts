// What the tracker (tracker.ts) keeps per publish waiting for its verdict, and the steps of a poll
// that need no IO beyond their arguments: the stats scopes of a file, the subscriptions Envoy no
// longer uses, and the judgement of a file a Secret reads.
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { FoundFile } from '../publish/target.js';
import { ofSameProcess } from './envoy-process.js';
import type { InFlight } from './in-flight.js';
import type { Judgement } from './judge.js';
import type { RefusedBefore } from './refusal-cause.js';

export interface Pending extends InFlight {
  file: string;
  /** The published content (renamed again when a refusal is tried once more, in-flight.ts). */
  content: Buffer;
  version: string | undefined;
  /** The version Envoy ran for this file when it was published (its readers must reload it). */
  previousVersion: string | undefined;
  sha256: string;
  ino: number;
  at: number;
  /** Wall-clock ms of the publish (to tell Envoy's error states of this publish from older ones). */
  publishedAtMs: number;
  /** Envoy's counters just before the rename (undefined: not read; the last poll's then). */
  baseline: EnvoyCounters | undefined;
  /** The ConfigMap it was published from (key → sha256 of its content); a refusal holds it next to those (holds.ts). */
  configMap?: ReadonlyMap<string, string>;
  /** The files this content names (its RDS file, a secret's certificates, ...). */
  names: string[];
  /** Found at start: the deadline moves to `timeoutMs` after Envoy's first `update_attempt`. */
  initial: boolean;
  /** Found at start (`initial` stays true for good): Envoy loaded it with its bootstrap, before any baseline. */
  foundAtStart?: boolean;
  deadline: number;
  /**
   * performance.now() once every rename of its pass was done: Envoy's answer to a request sent
   * later comes after Envoy handled all of them (see `noteGone`).
   */
  renamedBy: number;
  /** `gone` was decided (at the first answer to a request sent after `renamedBy`). */
  goneChecked: boolean;
  /** Subscriptions that read the previous version and did not reload: Envoy no longer has them. */
  gone: Set<string>;
  /** A file a Secret reads (a certificate, a key): judged through that Secret (judgeSecretFile). */
  secret?: SecretFile;
  /**
   * A file a resource reads once (a Lua script: publish/read-once.ts), published with the file
   * holding that resource: its verdict is that publish's (`file`, `sha256`), read-once-verdict.ts.
   */
  reader?: { file: string; sha256: string; resources?: readonly string[] };
  /** Envoy refused this content before, in the same publish, while other files were on their way (in-flight.ts): the verdict reports it. */
  refusedBefore?: RefusedBefore;
  /** Renamed again after a refusal (`retried`): the subscriptions its first rename opened (judge.ts `opened`). */
  opened?: ReadonlySet<string>;
  /** The resource names of the previous version (read once from its accepted copy, judge-one.ts leftoverScopes). */
  previousResources?: ReadonlySet<string>;
  /**
   * Judged with a pass that renamed other files, not this one (newly-read.ts): its subscriptions
   * reload only when one opens anew; an SDS file's Secret re-reads its files (sds-reread.ts).
   */
  notRenamed?: true;
  /** Its refused content stays published and is judged again (refused-kept.ts): undecided by the deadline, the refusal stands (no `unknown` line). */
  refusedKept?: true;
}

/**
 * A publish of `file` waiting for its verdict, judged against `baseline`, due by `deadline`, with
 * `inFlight` the other files then pending (and `retried`: the same content renamed again after a
 * refusal while they were on their way). Nothing of it decided yet.
 */
export function newPending(
  file: { name: string; content: Buffer; version: string | undefined; sha256: string; ino: number; at: number; publishedAtMs?: number; configMap?: ReadonlyMap<string, string> },
  opts: Pick<Pending, 'previousVersion' | 'baseline' | 'names' | 'deadline' | 'initial' | 'inFlight' | 'retried' | 'notRenamed' | 'refusedKept'> & { secret?: SecretFile | undefined; reader?: Pending['reader']; refusedBefore?: RefusedBefore | undefined; opened?: ReadonlySet<string> | undefined },
): Pending {
  return {
    file: file.name,
    content: file.content,
    version: file.version,
    sha256: file.sha256,
    ino: file.ino,
    at: file.at,
    publishedAtMs: file.publishedAtMs ?? performance.timeOrigin + file.at,
    ...(file.configMap === undefined ? {} : { configMap: file.configMap }),
    previousVersion: opts.previousVersion,
    baseline: opts.baseline,
    names: opts.names,
    deadline: opts.deadline,
    initial: opts.initial,
    foundAtStart: opts.initial,
    renamedBy: performance.now(),
    goneChecked: false,
    gone: new Set(),
    inFlight: opts.inFlight,
    inFlightAccepted: false,
    retried: opts.retried,
    ...(opts.secret === undefined ? {} : { secret: opts.secret }),
    ...(opts.reader === undefined ? {} : { reader: opts.reader }),
    ...(opts.refusedBefore === undefined ? {} : { refusedBefore: opts.refusedBefore }),
    ...(opts.opened === undefined ? {} : { opened: opts.opened }),
    ...(opts.notRenamed === true ? { notRenamed: true } : {}),
    ...(opts.refusedKept === true ? { refusedKept: true } : {}),
  };
}

/** What judges a file a Secret reads: the files holding the Secret and the certificates Envoy should serve once it took it. */
export interface SecretFile {
  sdsFiles: string[];
  /** Serial numbers (lower-case hex) of the Secret's certificate files as published; read at the first poll. */
  serials?: string[];
}

interface SecretReaders {
  isRead(name: string): boolean;
  secretReaders(name: string): { sdsFiles: string[] };
}

/** How a file a Secret reads (and no xDS subscription) is judged: through the files holding the Secret; undefined for others. */
export function secretFileOf(subscriptions: SecretReaders, name: string): SecretFile | undefined {
  if (subscriptions.isRead(name)) return undefined;
  const { sdsFiles } = subscriptions.secretReaders(name);
  return sdsFiles.length > 0 ? { sdsFiles } : undefined;
}

/**
 * The files among `names` that `judged` keeps and that are in `dir` (certificates, keys, Lua
 * scripts: not configuration files, so publish/target.ts configFilesIn leaves them out). Found at
 * start, they are judged like the xDS files: that first verdict keeps the copy a refused change goes back to.
 */
export async function dataFilesIn(dir: string, names: readonly string[], judged: (name: string) => boolean): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  for (const name of new Set(names)) {
    if (!judged(name)) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info?.isFile() !== true) continue;
    found.push({ name, content: await readFile(join(dir, name)), ino: info.ino, mtimeMs: info.mtimeMs });
  }
  return found;
}

// Envoy's main thread handles both the inotify descriptors of its file subscriptions and the admin
// API: each file subscription and each SDS file watch has its own watcher on the main dispatcher
// (`FilesystemSubscriptionImpl`, `SdsApi::onWatchUpdate` with TRY_ASSERT_MAIN_THREAD in
// source/common/secret/sds_api.cc), and the admin listener is added to the main thread's
// connection handler (`admin_->addListenerToHandler(handler_.get())`, source/server/server.cc).
// A rename makes every watcher's descriptor ready inside rename(2); a request sent afterwards makes
// the admin socket ready later, and the event loop handles ready descriptors in that order, each
// callback to its end (a reload counts update_attempt, a secret's re-read rebuilds its TLS
// contexts or counts key_rotation_failed, synchronously). So Envoy's answer to a request sent
// after a pass's renames already reflects every one of them.
/** The stats scopes Envoy has that read `file` (`attributed`: scope → file), and those reading the files it names. */
export function scopesOf(attributed: ReadonlyMap<string, string>, file: string, names: readonly string[]): { own: string[]; named: Map<string, string> } {
  const own: string[] = [];
  const named = new Map<string, string>();
  for (const [prefix, owner] of attributed) {
    if (owner === file) own.push(prefix);
    else if (names.includes(owner)) named.set(prefix, owner);
  }
  return { own, named };
}

/**
 * At Envoy's first answer to a request sent after the pass's renames: a subscription of the file
 * that read it before the rename (it is in the baseline) and has counted no update_attempt since
 * no longer watches it (Envoy keeps the stats of a subscription it dropped, e.g. the old scope of
 * a renamed route configuration). Marks them in `pending.gone` (once); returns them.
 */
export function noteGone(pending: Pending, own: readonly string[], counters: EnvoyCounters): string[] {
  if (pending.goneChecked) return [];
  pending.goneChecked = true;
  const gone: string[] = [];
  const baseline = ofSameProcess(pending.baseline, counters);
  for (const prefix of own) {
    const before = baseline?.subscriptions.get(prefix);
    const now = counters.subscriptions.get(prefix);
    if (before === undefined || now?.attempt !== before.attempt) continue;
    pending.gone.add(prefix);
    gone.push(prefix);
  }
  return gone;
}

/**
 * A file a Secret reads (Envoy re-reads it on its own, SdsApi in source/common/secret/sds_api.cc):
 * accepted once Envoy rebuilt a TLS context from a secret since the rename
 * (`ssl_context_update_by_sds`) and serves the Secret's certificates as published (`serving`:
 * `/certs` lists them); rejected when Envoy counted `key_rotation_failed` on the Secret's SDS
 * subscription (`sds`) and, in an answer to a request sent after all renames of the pass
 * (`afterRenames`), does not serve them. Envoy re-reads both files on the rename of either, so a
 * new certificate renamed before its key counts one failure in between (measured on 1.40); by an
 * answer sent after both renames Envoy has read the pair as published. Envoy's config dump is no
 * help here: it shows the bytes Envoy read, refused or not (measured on 1.40).
 */
export async function judgeSecretFile(
  pending: Pending & { secret: SecretFile },
  serials: readonly string[],
  sds: readonly string[],
  counters: EnvoyCounters,
  afterRenames: boolean,
  serving: () => Promise<boolean>,
): Promise<Judgement> {
  const failures = (envoy: EnvoyCounters | undefined): number => sds.reduce((sum, prefix) => sum + (envoy?.subscriptions.get(prefix)?.keyRotationFailed ?? 0), 0);
  const baseline = ofSameProcess(pending.baseline, counters); // a restarted Envoy counts from zero
  const rebuilt = counters.sslContextUpdates > (baseline?.sslContextUpdates ?? 0);
  const failed = failures(counters) > failures(baseline);
  const served = (rebuilt || failed) && serials.length > 0 && (await serving());
  if (rebuilt && (served || serials.length === 0)) return { outcome: 'accepted', subscriptions: [...sds] };
  // Envoy rebuilds the TLS contexts in the callback that re-read the files, or counts the failure
  // there: answering after all renames, a failure and no rebuild since means the files as
  // published were refused, whatever /certs lists (measured on 1.40: a new pair while another
  // secret of the same TLS context, its CA, is refused is listed by /certs and not served).
  if (!failed || !afterRenames || (served && rebuilt) || sds[0] === undefined) return { outcome: undefined, waiting: [...sds] };
  return { outcome: 'rejected', subscription: sds[0], kind: 'rejected' };
}

/** Serial numbers (lower-case hex) of the PEM certificates `files` in `dir`, as published now. */
export async function certificateSerials(dir: string, files: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const name of files) {
    const pem = await readFile(join(dir, name)).catch(() => undefined);
    if (pem === undefined) continue;
    try {
      out.push(new X509Certificate(pem).serialNumber.toLowerCase());
    } catch {
      // not a PEM certificate Node reads: judged by the counters alone
    }
  }
  return out;
}
