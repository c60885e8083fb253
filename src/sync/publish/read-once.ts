// Files Envoy reads once, when it builds the resource holding them (a Lua filter's
// `default_source_code: {filename: ...}`, a route's `direct_response.body.filename`, any DataSource
// `filename` outside an SDS Secret: envoy/references.ts `read-once`). Envoy never watches them
// (`Config::DataSource::read`, source/common/config/datasource.cc), and an unchanged listener or
// route configuration is not rebuilt (Envoy compares the resource's hash), so a new version renamed
// in alone never reaches the running Envoy while a restarted one would run it. `watch` therefore
// holds such a change back until the file holding its reader changes in the same pass; then both
// are published (the data file first: reference-order.ts) and judged through the reader's verdict
// (verdict/read-once-judge.ts). `copy` publishes everything: Envoy starts from it.
import type { Reference } from '../envoy/references.js';
import { protoForm } from './proto-equal.js';

/** A resource that reads a file once, and the file holding that resource. */
export interface ReadOnceReader {
  /** The file holding the resource (lds.yaml, rds.yaml, the bootstrap). */
  file: string;
  /** The resource's name (listener_0), when it has one. */
  resource?: string;
  /** What it is (`listener`, `route configuration`, ...). */
  holder?: string;
}

/** A change of a read-once file that `watch` holds back, and why (`message`, for the log, `status` and the Event). */
export interface ReadOnceHeld {
  name: string;
  /** sha256 of the content held back (as it would be published). */
  sha256: string;
  readers: ReadOnceReader[];
  message: string;
}

/**
 * The resources that read `name` once, from every file's references (file → its references), when
 * nothing else reads it (a file also watched, as an xDS file or a Secret's, is not read once).
 * Empty when none does. Pure.
 */
export function readOnceReaders(name: string, references: ReadonlyMap<string, readonly Reference[]>): ReadOnceReader[] {
  const readers: ReadOnceReader[] = [];
  for (const [file, list] of references) {
    for (const ref of list) {
      if (ref.file !== name || file === name) continue;
      if (ref.type !== 'read-once') return [];
      if (readers.some((r) => r.file === file && r.resource === ref.resource)) continue;
      readers.push({ file, ...(ref.resource === undefined ? {} : { resource: ref.resource }), ...(ref.holder === undefined ? {} : { holder: ref.holder }) });
    }
  }
  return readers;
}

/**
 * The changes to hold back: a read-once file (readOnceReaders) the target already has, changed in
 * a pass that does not rebuild every resource reading it (`rebuilt`: whether the pass changes that
 * resource, rebuildsReader): a reader left as it runs keeps the old version while a restarted Envoy
 * would give it the new one. A new file is published (nothing Envoy runs reads it yet).
 * `bootstrap`: the bootstrap's name (Envoy reads it only at start). Pure.
 */
export function readOnceHeldBack(
  changes: readonly { name: string; sha256: string; existed: boolean }[],
  references: ReadonlyMap<string, readonly Reference[]>,
  bootstrap: string | undefined,
  rebuilt: (reader: ReadOnceReader, file: string) => boolean,
): ReadOnceHeld[] {
  const held: ReadOnceHeld[] = [];
  for (const change of changes) {
    if (!change.existed) continue;
    const readers = readOnceReaders(change.name, references);
    const kept = readers.filter((reader) => !rebuilt(reader, change.name));
    if (kept.length === 0) continue;
    held.push({ name: change.name, sha256: change.sha256, readers, message: readOnceMessage(change.name, kept, bootstrap, readers.length - kept.length) });
  }
  return held;
}

/**
 * What holding `name` back says, in words an operator acts on: "Envoy reads script.lua only when
 * it builds listener listener_0 of lds.yaml: change lds.yaml with it, or restart the Pod ...".
 * `readers`: those the pass leaves as they run; `rebuiltToo`: how many other readers it rebuilds. Pure.
 */
export function readOnceMessage(name: string, readers: readonly ReadOnceReader[], bootstrap: string | undefined, rebuiltToo = 0): string {
  const what = (r: ReadOnceReader): string => `${r.holder ?? 'resource'}${r.resource === undefined ? '' : ` ${r.resource}`} of ${r.file}`;
  const xds = readers.filter((r) => r.file !== bootstrap);
  const files = [...new Set(xds.map((r) => r.file))];
  const atStart = readers.filter((r) => r.file === bootstrap);
  const when = [
    ...(xds.length > 0 ? [`when it builds ${xds.map(what).join(', ')}`] : []),
    ...(atStart.length > 0 ? [`at its start (${atStart.map(what).join(', ')}, the bootstrap)`] : []),
  ].join(' and ');
  const change = files.length === 0 ? '' : `change ${xds.length === 1 ? 'that resource' : 'each of those resources'} in ${files.join(' and ')} with it (Envoy rebuilds a resource only when it changes; then Envoy's verdict on it is the file's, and a refusal puts both back), or `;
  const others = rebuiltToo === 0 ? '' : ` (this change rebuilds ${rebuiltToo === 1 ? 'another resource' : `${String(rebuiltToo)} other resources`} reading it, not ${readers.length === 1 ? 'that one' : 'those'})`;
  return `${name} held back: Envoy reads it only ${when}${others}, so the new version would not reach the running Envoy there and a restarted one would run it; ${change}restart the Pod (copy publishes it before Envoy starts, and nothing puts it back if Envoy refuses it). The published ${name} is what Envoy runs`;
}

/**
 * What holding `name` back says when the ConfigMap's content is what Envoy refused with its reader
 * (rolled back with it), and only the reader went back: a Pod restart would run it and fail
 * (`copy` publishes the ConfigMap's files), so the fix is in the ConfigMap. Pure.
 */
export function refusedReadOnceMessage(name: string, readers: readonly ReadOnceReader[]): string {
  const files = [...new Set(readers.map((r) => r.file))];
  return `${name} held back: Envoy refused this version of ${name} with ${files.join(' and ')} and runs the published one; fix ${name} in the ConfigMap (a restarted Pod would start from it: copy publishes the ConfigMap's files)`;
}

/**
 * Whether Envoy rebuilds, from the xDS file `before` to `after` (parsed), the part of resource
 * `resource` that reads `file` (so reads it again). Envoy keeps a resource whose content did not
 * change (it compares proto hashes: `version_info`, comments, key order and how a value is spelt
 * count for nothing, as protoForm reads them: proto-equal.ts), rebuilds a
 * changed route configuration or cluster whole, and a changed listener whole unless only its filter
 * chains changed: then it builds only the filter chains it does not already have, content for
 * content (in-place filter chain update, `ListenerImpl::supportUpdateFilterChain` and
 * `FilterChainManagerImpl::addFilterChains`, source/common/listener_manager/). Measured on 1.40: a
 * Lua script in the default filter chain is not read again when another filter chain changes, and
 * is when its own chain or a listener-level field changes. `resource` undefined: any change counts. Pure.
 */
export function rebuildsReader(before: unknown, after: unknown, resource: string | undefined, file: string): boolean {
  const old = resource === undefined ? before : resourceNamed(before, resource);
  const now = resource === undefined ? after : resourceNamed(after, resource);
  if (now === undefined) return false;
  if (old === undefined) return true;
  if (protoForm(old) === protoForm(now)) return false;
  if (!isObject(now) || !isObject(old) || !('filter_chains' in now || 'default_filter_chain' in now)) return true;
  // Envoy's test for a filter-chain-only update: the rest compared with defaults as unset and
  // lists as sets, the matcher left out (ListenerMessageUtil::filterChainOnlyChange, listener_impl.cc).
  const { filter_chains: _a, default_filter_chain: _b, filter_chain_matcher: _m, ...nowRest } = now;
  const { filter_chains: _c, default_filter_chain: _d, filter_chain_matcher: _n, ...oldRest } = old;
  if (protoForm(nowRest, { asSet: true }) !== protoForm(oldRest, { asSet: true })) return true;
  const had = new Set(chainsOf(old).map((chain) => protoForm(chain)));
  return chainsOf(now).some((chain) => namesFile(chain, file, 0) && !had.has(protoForm(chain)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The top-level `resources[]` entry named `name` of a parsed xDS file. */
function resourceNamed(file: unknown, name: string): unknown {
  const resources = isObject(file) ? file.resources : undefined;
  return Array.isArray(resources) ? (resources as unknown[]).find((item) => isObject(item) && item.name === name) : undefined;
}

function chainsOf(listener: Record<string, unknown>): unknown[] {
  const chains = Array.isArray(listener.filter_chains) ? (listener.filter_chains as unknown[]) : [];
  return listener.default_filter_chain === undefined ? chains : [...chains, listener.default_filter_chain];
}

/** Whether `node` holds a DataSource `filename` whose base name is `file`. */
function namesFile(node: unknown, file: string, depth: number): boolean {
  if (depth > 64 || typeof node !== 'object' || node === null) return false;
  if (Array.isArray(node)) return node.some((item) => namesFile(item, file, depth + 1));
  const object = node as Record<string, unknown>;
  if (typeof object.filename === 'string' && object.filename.slice(object.filename.lastIndexOf('/') + 1) === file) return true;
  return Object.values(object).some((value) => namesFile(value, file, depth + 1));
}
