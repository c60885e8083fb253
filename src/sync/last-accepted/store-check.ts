// The `--store-check` read of the last-accepted store (writer.ts), cheap at rest: the store's
// metadata first, and the whole object (the accepted files, up to 1 MiB) only when it changed since
// a full read last found it holding everything this Pod's Envoy judged. The same uid and
// resourceVersion mean the same content (the apiserver gives every write a new resourceVersion and
// a re-created object a new uid), so this sees every loss a full read every time would see. Both
// reads go on the period's connection (a KubeSession: the watch check's when it carries them,
// store-check-timer.ts), closed once answered: between periods the watch holds the Pod's only open
// connection (kube/watch-health.ts says why). storeCheckStep and storeReadRides are the rules, pure.
import { LAST_ACCEPTED_RECORD_KEY } from '../../inject/last-accepted.js';
import { sha256 } from '../envoy/version-stamp.js';
import { METADATA_ONLY, type ApiResponse, type KubeSession, type RequestOptions } from '../kube/connection.js';
import { refill, type Change, type OwnVerdicts } from './changes.js';
import { parseRecord, type LastAcceptedRecord } from './record.js';

/** The store's metadata: a GET from the apiserver's cache, metadata only. */
export const STORE_METADATA_REQUEST: Readonly<RequestOptions> = { accept: METADATA_ONLY };
/** The whole store, when its metadata changed. */
export const STORE_READ_REQUEST: Readonly<RequestOptions> = {};

/**
 * A store check runs at most this many --store-check periods after the last (× 1–1.5 jitter when on
 * its own): what the refill bound the docs give rests on (45 s at the default 30 s).
 */
export const STORE_CHECK_LATEST = 1.5;

/**
 * Whether the store check rides on the watch check being sent now (its connection), given the time
 * since the last store check, --store-check and the time until the next watch check (ms): yes once
 * a whole --store-check has passed, and also earlier when waiting for the next watch check would
 * reach STORE_CHECK_LATEST periods. So with --api-check A and --store-check S it rides on every
 * check when A ≥ 3/4 × S (the defaults, 30 s and 30 s), else on every ⌈S / A⌉-th (A 20 s, S 30 s:
 * every other; 10 s and 30 s: every third); never later than 1.5 × S after the last. When
 * A > 1.5 × S no check comes in time: the timer reads the store on its own in between too
 * (store-check-timer.ts).
 */
export function storeReadRides(sinceLastMs: number, storeEveryMs: number, nextCheckInMs: number): boolean {
  if (storeEveryMs <= 0) return false;
  return sinceLastMs >= storeEveryMs || sinceLastMs + nextCheckInMs >= storeEveryMs * STORE_CHECK_LATEST;
}

/** A store a full read found complete: its uid and resourceVersion, and this Pod's verdicts then (ownKey). */
export interface CompleteStore {
  uid: string;
  resourceVersion: string;
  own: string;
}

export interface StoreMetadata {
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

/** This Pod's verdicts as a comparable string: each file's accepted and refused marks (sha256, unkept). */
export function ownKey(own: ReadonlyMap<string, OwnVerdicts>): string {
  return JSON.stringify([...own].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([file, v]) => [file, v.accepted?.mark.sha256, v.accepted?.mark.unkept, v.refused?.sha256]));
}

/**
 * What the metadata GET's answer calls for: `unchanged` (the store found complete is still there,
 * and this Pod's verdicts are the same), `read` (read it whole and compare), `absent` (404: put
 * everything back, nothing to read), `unknown` (another status: the next write says why).
 */
export function storeCheckStep(status: number, metadata: StoreMetadata | undefined, complete: CompleteStore | undefined, own: string): 'unchanged' | 'read' | 'absent' | 'unknown' {
  if (status === 404) return 'absent';
  if (status !== 200) return 'unknown';
  if (complete === undefined || metadata?.uid === undefined || metadata.resourceVersion === undefined) return 'read';
  const same = metadata.uid === complete.uid && metadata.resourceVersion === complete.resourceVersion && own === complete.own;
  return same ? 'unchanged' : 'read';
}

/** The uid and resourceVersion in an apiserver answer's body (a PartialObjectMetadata or the full object). */
export function metadataOf(body: unknown): StoreMetadata | undefined {
  const metadata = (body as { metadata?: unknown } | undefined)?.metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const { uid, resourceVersion } = metadata as Record<string, unknown>;
  return { uid: typeof uid === 'string' ? uid : undefined, resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : undefined };
}

/**
 * The store at `path` (from the apiserver's cache) when it must be compared: `got` is the whole
 * object (200) or the 404, undefined when unchanged since `complete` or answered with another
 * status; `complete` is what to remember if the caller finds `got` holding all of `own`.
 */
export async function readChangedStore(connection: Pick<KubeSession, 'request'>, path: string, complete: CompleteStore | undefined, own: ReadonlyMap<string, OwnVerdicts>): Promise<{ got?: ApiResponse; complete?: CompleteStore }> {
  const url = `${path}?resourceVersion=0`;
  const key = ownKey(own);
  const head = await connection.request('GET', url, undefined, undefined, undefined, STORE_METADATA_REQUEST);
  const step = storeCheckStep(head.status, metadataOf(head.body), complete, key);
  if (step === 'absent') return { got: head };
  if (step === 'unchanged') return { complete };
  if (step === 'unknown') return {};
  const got = await connection.request('GET', url, undefined, undefined, undefined, STORE_READ_REQUEST);
  if (got.status === 404) return { got };
  if (got.status !== 200) return {};
  const { uid, resourceVersion } = metadataOf(got.body) ?? {};
  return { got, ...(uid === undefined || resourceVersion === undefined ? {} : { complete: { uid, resourceVersion, own: key } }) };
}

/**
 * One --store-check: what of `own` the store at `path` lacks (changes.ts `refill`), whether it was
 * deleted, and what to remember as complete (undefined unless it lacks nothing); undefined when
 * the store is unchanged since `complete` or the read was refused (the next write says why).
 */
export async function lostVerdicts(connection: Pick<KubeSession, 'request'>, path: string, complete: CompleteStore | undefined, own: ReadonlyMap<string, OwnVerdicts>): Promise<{ changes: Change[]; complete: CompleteStore | undefined; deleted: boolean } | undefined> {
  const read = await readChangedStore(connection, path, complete, own);
  const { got } = read;
  if (got === undefined) return undefined;
  const data = got.status === 200 ? (got.body as { data?: Record<string, string> } | undefined)?.data : undefined;
  let record: LastAcceptedRecord | undefined;
  try {
    const text = data?.[LAST_ACCEPTED_RECORD_KEY];
    record = text === undefined ? undefined : parseRecord(text);
  } catch {
    record = undefined; // rewritten by the write, which says so
  }
  const changes = refill(record, data ?? {}, own, (text) => sha256(Buffer.from(text, 'utf8')));
  return { changes, complete: changes.length === 0 ? read.complete : undefined, deleted: got.status === 404 };
}
