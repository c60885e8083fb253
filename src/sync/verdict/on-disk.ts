// What the target holds when the watcher starts (published by `copy` or a previous watcher): the
// files Envoy may be loading right now, as the tracker (tracker.ts) judges them.
import { versionOf } from '../envoy/version-stamp.js';
import type { PublishedFile } from '../publish/syncer.js';
import { configFilesIn } from '../publish/target.js';
import { foundAsPublished } from './envoy-restarted.js';
import type { Holds } from './holds.js';
import { judgedBy } from './judged-by.js';
import { dataFilesIn } from './pending.js';
import type { SubscriptionMap } from './subscription-map.js';

/** The bootstrap and xDS files in `dir`, each learned by `subscriptions` (the bootstrap told to `holds`), as published. */
export async function configOnDisk(dir: string, subscriptions: SubscriptionMap, holds: Holds): Promise<PublishedFile[]> {
  const onDisk: PublishedFile[] = [];
  for (const found of await configFilesIn(dir)) {
    const version = versionOf(found.name, found.content);
    const kind = subscriptions.learn(found.name, found.content, undefined, version);
    if (kind === 'bootstrap') holds.bootstrap(found.name);
    onDisk.push(foundAsPublished(found, kind, version));
  }
  return onDisk;
}

/**
 * The files `files` name that Envoy reads through a Secret or a resource (judged-by.ts) and that are
 * in `dir`: their first verdict keeps the copy a refused change goes back to.
 */
export async function dataOnDisk(dir: string, files: readonly PublishedFile[], subscriptions: SubscriptionMap): Promise<PublishedFile[]> {
  const named = files.flatMap((file) => subscriptions.names(file.name));
  const found = await dataFilesIn(dir, named, (name) => judgedBy(subscriptions, name)?.by !== 'subscription');
  return found.map((file) => foundAsPublished(file, 'data', undefined));
}
