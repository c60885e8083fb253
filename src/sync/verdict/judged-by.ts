// Whether Envoy may read a published file now, and so what gives its verdict, pure: one rule for
// every place that asks (the tracker at start and after each pass, newly-read.ts for files an
// edit makes read). A file is judged
// - by its own subscriptions when Envoy reads it as xDS (or may: subscription-map.ts mayBeRead);
// - through its Secret when a Secret reads it (a certificate, a key) and a file Envoy may read holds
//   that Secret: a Secret in a file nothing reads yet is not loaded, so nothing would judge it;
// - through its reader when a resource Envoy builds reads it once (a Lua script, a direct_response
//   body: publish/read-once.ts) and a file Envoy may read holds that resource: Envoy reads it only
//   when it builds that resource, and that build's verdict is the file's;
// - not at all otherwise (nothing Envoy loads names it).
import type { ReadOnceReader } from '../publish/read-once.js';
import { secretFileOf } from './pending.js';
import type { SecretFile } from './pending.js';

export type JudgedBy =
  | { by: 'subscription' }
  | { by: 'secret'; secret: SecretFile }
  /** `readers`: the files holding the resources that read it, among those Envoy may read. */
  | { by: 'reader'; readers: string[] };

export interface ReadMap {
  mayBeRead(name: string): boolean;
  isRead(name: string): boolean;
  secretReaders(name: string): { sdsFiles: string[] };
  readOnceReaders(name: string): ReadOnceReader[];
}

/** What judges `name` now (above), or undefined when Envoy does not read it. Pure. */
export function judgedBy(map: ReadMap, name: string): JudgedBy | undefined {
  if (map.mayBeRead(name)) return { by: 'subscription' };
  const secret = secretFileOf(map, name);
  if (secret !== undefined) return secret.sdsFiles.some((file) => map.mayBeRead(file)) ? { by: 'secret', secret } : undefined;
  const readers = [...new Set(map.readOnceReaders(name).map((reader) => reader.file))].filter((file) => map.mayBeRead(file));
  return readers.length > 0 ? { by: 'reader', readers } : undefined;
}

/** The names of `names` Envoy may read now (judgedBy). Pure. */
export function judgedNames(map: ReadMap, names: Iterable<string>): Set<string> {
  return new Set([...names].filter((name) => judgedBy(map, name) !== undefined));
}
