// The last-accepted ConfigMap (`source: api`), as `copy` reads it: the kubelet mounts it as an
// optional ConfigMap volume (files plus one record key). When the ConfigMap holds, for a file,
// exactly the content some Envoy of this workload refused, and the store has the version Envoy
// last accepted, `copy` publishes that version instead: the new Pod's Envoy starts with its
// listeners, not without them. It is a starting point, not a verdict for this Envoy (its image or
// bootstrap may differ): the watcher retries the ConfigMap's content once this Envoy runs the
// accepted version, and this Envoy's own verdict decides (verdict/holds.ts, `fromStore`).
import type { Logger } from 'pino';
import { LAST_ACCEPTED_RECORD_KEY } from '../../inject/last-accepted.js';
import { readSnapshot, SourceMissingError } from '../volume/snapshot.js';
import { parseRecord } from './record.js';
import type { LastAcceptedRecord } from './record.js';

export interface LastAccepted {
  record: LastAcceptedRecord;
  /** Data keys other than the record: the accepted content, as published (stamped). */
  files: Map<string, Buffer>;
}

/**
 * The store mounted at `dir` (a ConfigMap volume: `..data` layout; or a plain directory), or
 * undefined when it has no record yet (the kubelet mounts an empty directory for a missing
 * optional ConfigMap). Throws SourceMissingError when `dir` does not exist, Error when the record
 * does not parse.
 */
export async function readLastAccepted(dir: string): Promise<LastAccepted | undefined> {
  const snapshot = await readSnapshot(dir);
  const text = snapshot.files.get(LAST_ACCEPTED_RECORD_KEY);
  if (text === undefined) return undefined;
  let record: LastAcceptedRecord;
  try {
    record = parseRecord(text.toString('utf8'));
  } catch (err) {
    throw new Error(`${dir}/${LAST_ACCEPTED_RECORD_KEY}: ${(err as Error).message}`, { cause: err });
  }
  const files = new Map(snapshot.files);
  files.delete(LAST_ACCEPTED_RECORD_KEY);
  return { record, files };
}

/**
 * `copy --accepted DIR`: the store, or undefined (with the reason logged) when it cannot be used.
 * Never throws: a broken store must not keep Envoy from starting on the ConfigMap.
 */
export async function loadLastAccepted(dir: string, logger: Logger): Promise<LastAccepted | undefined> {
  try {
    return await readLastAccepted(dir);
  } catch (err) {
    const message = err instanceof SourceMissingError ? `${dir} does not exist` : (err as Error).message;
    logger.warn({ store: dir, error: message }, `the last-accepted store cannot be read (${message}): starting from the ConfigMap alone`);
    return undefined;
  }
}
