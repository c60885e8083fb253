// A read-once file (read-once.ts) whose reader Envoy runs no version of: Envoy refused the resource
// (at its start, or in an update with no earlier version of it to keep), so nothing Envoy runs reads
// the file, and holding a new version back would keep the ConfigMap's fix from Envoy until the Pod
// restarts. Envoy builds a listener, cluster or route configuration it does not run whenever the
// file holding it is applied, changed or not: it skips only a resource whose hash equals the one it
// runs or warms (ListenerManagerImpl::addOrUpdateListenerInternal, `blockLdsUpdate(hash)`,
// source/common/listener_manager/listener_manager_impl.cc; ClusterManagerImpl::addOrUpdateCluster,
// `blockUpdate(new_hash)`, source/common/upstream/cluster_manager_impl.cc; a route configuration's
// hash is kept only once it is built, RouteConfigUpdateReceiverImpl::onConfigWarmed,
// source/common/rds/route_config_update_receiver_impl.cc). Measured on 1.40: after a first start
// whose listener_0 Envoy refused (a Lua script that does not compile), renaming the fixed script in
// and then the unchanged lds.yaml onto itself makes Envoy add listener_0 (`listener_added` +1,
// `lds.update_success` +1) and serve; the same for an rds.yaml whose route configuration was
// refused (a direct_response body over 4096 bytes). A resource Envoy still runs in its old version
// (its update refused) is skipped on the same rename: there holding back stays right.
import type { ReadOnceHeld, ReadOnceReader } from './read-once.js';
import { readOnceReaders } from './read-once.js';
import type { Reference } from '../envoy/references.js';

/** A resource holding a read-once file, with the version of its file as published, to ask Envoy whether it runs it. */
export interface ReaderQuery extends ReadOnceReader {
  version: string | undefined;
}

/** A held-back change published after all, with the readers Envoy runs no version of, and what the log says. */
export interface Released {
  name: string;
  readers: ReadOnceReader[];
  message: string;
}

const key = (reader: ReadOnceReader): string => `${reader.file}\0${reader.resource ?? ''}`;

/**
 * The readers to ask Envoy about: those a held change keeps (`kept`: the readers of it the pass
 * does not rebuild) that are named, in a file the target has as the ConfigMap has it (`unchanged`:
 * name → its version) other than the bootstrap (Envoy reads that only at its start). Pure.
 */
export function readersToAsk(held: readonly ReadOnceHeld[], kept: (held: ReadOnceHeld) => readonly ReadOnceReader[], unchanged: ReadonlyMap<string, string | undefined>, bootstrap: string | undefined): ReaderQuery[] {
  const asked = new Map<string, ReaderQuery>();
  for (const change of held) {
    for (const reader of kept(change)) {
      if (reader.resource === undefined || reader.file === bootstrap || !unchanged.has(reader.file)) continue;
      asked.set(key(reader), { ...reader, version: unchanged.get(reader.file) });
    }
  }
  return [...asked.values()];
}

/**
 * What goes out after all: a held change every kept reader of which Envoy runs no version of
 * (`down`, from readersToAsk's answer) is published; the files holding those readers are renamed
 * again after it, unchanged (Envoy then builds the readers, and its verdict on the reader file is
 * the change's), and so is every unchanged read-once file a down reader reads (Envoy reads it in
 * that build: it is judged with it, not left with no verdict). `unchanged`: as for readersToAsk;
 * `references`: every file of the ConfigMap → what it names. Pure.
 */
export function readAgain(
  held: readonly ReadOnceHeld[],
  kept: (held: ReadOnceHeld) => readonly ReadOnceReader[],
  down: readonly ReaderQuery[],
  unchanged: ReadonlyMap<string, string | undefined>,
  references: ReadonlyMap<string, readonly Reference[]>,
): { held: ReadOnceHeld[]; released: Released[]; again: string[] } {
  const isDown = new Set(down.map(key));
  const released: Released[] = [];
  const stays: ReadOnceHeld[] = [];
  for (const change of held) {
    const readers = kept(change);
    if (readers.length > 0 && readers.every((reader) => isDown.has(key(reader)))) released.push({ name: change.name, readers: [...readers], message: releasedMessage(change.name, readers) });
    else stays.push(change);
  }
  const downReaders = released.flatMap((change) => change.readers);
  const files = [...new Set(downReaders.map((reader) => reader.file))];
  const riders = [...unchanged.keys()].filter((name) => !files.includes(name) && readOnceReaders(name, references).some((reader) => downReaders.some((d) => key(d) === key(reader))));
  return { held: stays, released, again: [...riders, ...files] };
}

/** What publishing `name` for readers Envoy runs no version of says (info, in the watcher's log). */
export function releasedMessage(name: string, readers: readonly ReadOnceReader[]): string {
  const what = readers.map((r) => `${r.holder ?? 'resource'} ${r.resource ?? ''} of ${r.file}`).join(', ');
  const files = [...new Set(readers.map((r) => r.file))].join(' and ');
  return `${name} published with ${files} renamed again, unchanged: Envoy runs no ${what} (it refused it), so it builds it from the published files now and reads the new ${name}; Envoy's verdict on ${files} is ${name}'s`;
}
