// What the tracker (tracker.ts) keeps per publish waiting for its verdict, and the steps of a poll
// that need no IO beyond their arguments: the stats scopes of a file, the subscriptions Envoy no
// longer uses, and the judgement of a file a Secret reads.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { InFlight } from './in-flight.js';
import type { Judgement } from './judge.js';

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
  /** The files this content names (its RDS file, a secret's certificates, ...). */
  names: string[];
  /** Found at start: the deadline moves to `timeoutMs` after Envoy's first `update_attempt`. */
  initial: boolean;
  deadline: number;
  /** Polls each subscription has been waited for while another one already runs the version. */
  waited: Map<string, number>;
  /** Subscriptions given up on: they read the previous version and never reloaded (gone from Envoy's config). */
  gone: Set<string>;
  /** A file a Secret reads (a certificate, a key): judged through that Secret (judgeSecretFile). */
  secret?: SecretFile;
}

/** What judges a file a Secret reads: the files holding the Secret and the certificates Envoy should serve once it took it. */
export interface SecretFile {
  sdsFiles: string[];
  /** Serial numbers (lower-case hex) of the Secret's certificate files as published; read at the first poll. */
  serials?: string[];
  /** performance.now() when a refused re-read (key_rotation_failed) was first seen. */
  failedAt?: number;
}

// A subscription that read the previous version and has not reloaded this many polls after
// another subscription of the file ran the new one is gone (Envoy's config no longer uses it;
// its stats stay in /stats): Envoy handles the inotify events of one rename in one go.
const GONE_AFTER_POLLS = 5;
// Envoy re-reads a secret's files on the rename of each (SdsApi's watch), so renaming a new
// certificate then its key counts one key_rotation_failed in between (measured on 1.40). A
// refusal is the verdict only when Envoy still does not serve the new certificate this long
// after the first one was counted.
const SECRET_SETTLE_MS = 1000;

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
 * Counts the polls a subscription is waited for while another of the file runs the version, and
 * gives it up (`pending.gone`) after GONE_AFTER_POLLS. Returns the scopes given up now.
 */
export function noteWaiting(pending: Pending, judgement: Judgement, own: readonly string[], counters: EnvoyCounters): string[] {
  if (judgement.outcome !== undefined || pending.version === undefined) return [];
  if (!own.some((prefix) => counters.subscriptions.get(prefix)?.versionText === pending.version)) return [];
  const gone: string[] = [];
  for (const prefix of judgement.waiting) {
    if (!own.includes(prefix)) continue; // a subscription this edit opened: wait for it
    const polls = (pending.waited.get(prefix) ?? 0) + 1;
    pending.waited.set(prefix, polls);
    if (polls < GONE_AFTER_POLLS) continue;
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
 * subscription (`sds`) and still does not serve them SECRET_SETTLE_MS later. Envoy's config dump is
 * no help here: it shows the bytes Envoy read, refused or not (measured on 1.40).
 */
export async function judgeSecretFile(
  pending: Pending & { secret: SecretFile },
  serials: readonly string[],
  sds: readonly string[],
  counters: EnvoyCounters,
  now: number,
  serving: () => Promise<boolean>,
): Promise<Judgement> {
  const secret = pending.secret;
  const failures = (envoy: EnvoyCounters | undefined): number => sds.reduce((sum, prefix) => sum + (envoy?.subscriptions.get(prefix)?.keyRotationFailed ?? 0), 0);
  const rebuilt = counters.sslContextUpdates > (pending.baseline?.sslContextUpdates ?? 0);
  const failed = failures(counters) > failures(pending.baseline);
  const served = (rebuilt || failed) && serials.length > 0 && (await serving());
  if (rebuilt && (served || serials.length === 0)) return { outcome: 'accepted', subscriptions: [...sds] };
  if (!failed || sds[0] === undefined) return { outcome: undefined, waiting: [...sds] };
  secret.failedAt ??= now;
  if (now - secret.failedAt < SECRET_SETTLE_MS) return { outcome: undefined, waiting: [...sds] };
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
