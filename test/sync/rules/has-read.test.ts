// Has Envoy read a file renamed a moment ago (src/sync/verdict/has-read.ts)?
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyCounters, SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { readSince } from '../../../src/sync/verdict/has-read.js';

const counters = (scopes: Record<string, number>): EnvoyCounters => ({
  subscriptions: new Map(Object.entries(scopes).map(([prefix, attempt]): [string, SubscriptionCounters] => [prefix, { versionText: 'v', attempt, success: attempt, rejected: 0, failure: 0 }])),
  unknownFields: 0,
  sslContextUpdates: 0,
});

test("a file is read once one of its subscriptions counted an update_attempt past the baseline's", () => {
  const attributed = new Map([['cluster_manager.cds', 'cds.yaml'], ['listener_manager.lds', 'lds.yaml'], ['cluster.old_name', 'eds.yaml'], ['cluster.new_name', 'eds.yaml']]);
  const cases: { name: string; files: string[]; baseline: Record<string, number>; now: Record<string, number>; want: string }[] = [
    { name: 'CDS counted one more attempt', files: ['cds.yaml'], baseline: { 'cluster_manager.cds': 3 }, now: { 'cluster_manager.cds': 4 }, want: 'read' },
    { name: 'CDS has not counted it yet', files: ['cds.yaml'], baseline: { 'cluster_manager.cds': 3 }, now: { 'cluster_manager.cds': 3 }, want: 'not-yet' },
    { name: "another file's subscription moved, not this one's", files: ['cds.yaml'], baseline: { 'cluster_manager.cds': 3, 'listener_manager.lds': 2 }, now: { 'cluster_manager.cds': 3, 'listener_manager.lds': 3 }, want: 'not-yet' },
    { name: 'a restarted Envoy (counts below the baseline) read every file at start', files: ['cds.yaml'], baseline: { 'cluster_manager.cds': 3 }, now: { 'cluster_manager.cds': 1 }, want: 'read' },
    { name: 'a subscription opened since the baseline read the file when it started', files: ['eds.yaml'], baseline: { 'cluster.old_name': 2 }, now: { 'cluster.old_name': 2, 'cluster.new_name': 1 }, want: 'read' },
    { name: 'one of two files not read yet', files: ['cds.yaml', 'lds.yaml'], baseline: { 'cluster_manager.cds': 3, 'listener_manager.lds': 2 }, now: { 'cluster_manager.cds': 4, 'listener_manager.lds': 2 }, want: 'not-yet' },
    { name: 'a file no subscription in the answer reads is not waited on', files: ['cds.yaml', 'other.yaml'], baseline: { 'cluster_manager.cds': 3 }, now: { 'cluster_manager.cds': 4 }, want: 'read' },
    { name: 'no subscription reads any of them: nothing to tell', files: ['other.yaml'], baseline: { 'cluster_manager.cds': 3 }, now: { 'cluster_manager.cds': 4 }, want: 'untold' },
    { name: "the file's subscription is gone from Envoy's answer", files: ['cds.yaml'], baseline: { 'cluster_manager.cds': 3 }, now: {}, want: 'untold' },
  ];
  for (const c of cases) assert.equal(readSince(c.files, attributed, counters(c.baseline), counters(c.now)), c.want, c.name);
});
