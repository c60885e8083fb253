// The RDS subscription a scope opens, refusing its rds_config_source file for a route
// configuration the file lacks (scope-route-missing.ts; Envoy's RdsRouteConfigSubscription::
// onConfigUpdate: one route configuration, named as asked): the SRDS file's refusal, also at a
// first start, where judge.ts has no baseline to tell the subscription was opened by the edit.
// Counters shaped as Envoy 1.40 reports them (corpus sequences srds-first-start-scope-route-missing,
// srds-first-start-one-rds-file). As tables; pure.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { EnvoyCounters, SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { judge } from '../../../src/sync/verdict/judge.js';
import { lackingRouteOfFile, lackingRouteOfScopes, lackingRouteScopes } from '../../../src/sync/verdict/scope-route-missing.js';
import type { ScopeRouteFacts } from '../../../src/sync/verdict/scope-route-missing.js';
import { SubscriptionMap } from '../../../src/sync/verdict/subscription-map.js';

const counters = (c: Partial<SubscriptionCounters>): SubscriptionCounters => ({ versionText: '', attempt: 0, success: 0, rejected: 0, failure: 0, ...c });
const envoy = (subs: Record<string, Partial<SubscriptionCounters>>): EnvoyCounters => ({ subscriptions: new Map(Object.entries(subs).map(([k, v]) => [k, counters(v)])), unknownFields: 0, sslContextUpdates: 0 });

const rc = 'http.scoped.rds.scoped_rc';
const rcB = 'http.scoped.rds.scoped_rc_b';
const routes = new Map([[rc, 'scoped_rc'], [rcB, 'scoped_rc_b']]);
const runsV1 = { versionText: 'v1', attempt: 1, success: 1 };
const refusedOnce = { attempt: 1, rejected: 1 };

const rows: { why: string; now: Record<string, Partial<SubscriptionCounters>>; scopeRoutes?: string[]; askedByListener?: string[]; runs?: string; expect: string[] }[] = [
  { why: 'measured at a first start: scoped_rc runs v1, scoped_rc_b refused it', now: { [rc]: runsV1, [rcB]: refusedOnce }, expect: [rcB] },
  { why: 'a failure (update_failure) counts as a refusal too', now: { [rc]: runsV1, [rcB]: { attempt: 1, failure: 1 } }, expect: [rcB] },
  { why: 'no scope runs the version: nothing tells the name the file holds', now: { [rc]: { attempt: 1, rejected: 1 }, [rcB]: refusedOnce }, expect: [] },
  { why: 'a scope runs another version than the one judged', now: { [rc]: { versionText: 'v0', attempt: 1, success: 1 }, [rcB]: refusedOnce }, expect: [] },
  { why: 'the refusing scope took a version before: the file dropped its route configuration, its own refusal', now: { [rc]: runsV1, [rcB]: { versionText: 'v0', attempt: 2, success: 1, rejected: 1 } }, expect: [] },
  { why: 'no refusal counted: not decided here', now: { [rc]: runsV1, [rcB]: { attempt: 1 } }, expect: [] },
  { why: 'a route configuration no scope names stays the file\'s refusal', now: { [rc]: runsV1, [rcB]: refusedOnce }, scopeRoutes: ['scoped_rc'], expect: [] },
  { why: 'a listener (rds) asks for it too: the file\'s refusal as before', now: { [rc]: runsV1, [rcB]: refusedOnce }, askedByListener: ['scoped_rc_b'], expect: [] },
  { why: 'the refusing scope is not known yet', now: { [rc]: runsV1 }, expect: [] },
];

test('lackingRouteScopes: a scope refusing a file another scope runs, for a route configuration only scopes name', () => {
  for (const row of rows) {
    const runs = row.runs ?? 'v1';
    const found = lackingRouteScopes({ own: [rc, rcB], counters: envoy(row.now), routes, runs: (text) => text === runs, scopeRoutes: new Set(row.scopeRoutes ?? ['scoped_rc', 'scoped_rc_b']), askedByListener: new Set(row.askedByListener ?? []) });
    assert.deepEqual([...found.keys()], row.expect, row.why);
    for (const prefix of row.expect) assert.equal(found.get(prefix), routes.get(prefix), `${row.why}: the name it asks for`);
  }
  assert.deepEqual([...lackingRouteScopes({ own: [rc, rcB], counters: envoy({ [rc]: runsV1, [rcB]: refusedOnce }), routes: new Map([[rcB, 'scoped_rc_b']]), runs: () => true, scopeRoutes: new Set(['scoped_rc_b']), askedByListener: new Set() })], [], 'the running scope\'s route configuration unknown: nothing said');
});

/**
 * The corpus's first start, from the files as published: two listeners, `ingress` reading
 * local_route from rds.yaml, `scoped` whose scopes (srds.yaml, tenant_b naming scoped_rc_b) read rds-scoped.yaml.
 */
function firstStart(): SubscriptionMap {
  const dir = new URL('../../fixtures/envoy-corpus/sequences/srds-new-scope-second-rds-file/', import.meta.url);
  const read = (name: string): Buffer => Buffer.from(readFileSync(new URL(name, dir), 'utf8').replaceAll('@DST@', '/etc/envoy').replaceAll('@ADMIN@', '9901').replaceAll(/@P\d@/g, '10000'));
  const map = new SubscriptionMap('envoy.yaml');
  map.learn('envoy.yaml', read('../../../verdict-cases/14-scoped-routes-srds/envoy.yaml'), 'bootstrap');
  map.learn('lds.yaml', read('lds.yaml'), 'xds', 'l1');
  map.learn('rds.yaml', read('rds.yaml'), 'xds', 'r1');
  map.learn('rds-scoped.yaml', read('rds-scoped.yaml'), 'xds', 'v1');
  map.learn('srds.yaml', read('srds-v1-new-route.yaml'), 'xds', 's1');
  return map;
}
const facts: ScopeRouteFacts = firstStart();
const srdsScope = 'http.scoped.scoped_rds.scoped_routes_1';

test('subscription map: the SRDS files whose scopes read a file, and the route configurations they name', () => {
  assert.deepEqual(facts.srdsNamersOf('rds-scoped.yaml'), ['srds.yaml']);
  assert.deepEqual(facts.srdsNamersOf('rds.yaml'), []);
  assert.deepEqual([...facts.scopeRoutesOf('srds.yaml')], ['scoped_rc', 'scoped_rc_b']);
  assert.deepEqual([...facts.resourcesAskedOf('rds-scoped.yaml', ['RDS'])], [], 'no listener asks rds-scoped.yaml by rds');
});

test('first start: rds-scoped.yaml runs on scoped_rc (scoped_rc_b does not count against it); srds.yaml is refused for scoped_rc_b', () => {
  const now = envoy({ [srdsScope]: { versionText: 's1', attempt: 1, success: 1 }, [rc]: runsV1, [rcB]: refusedOnce, 'http.ingress.rds.local_route': { versionText: 'r1', attempt: 1, success: 1 } });
  const leftover = lackingRouteOfFile(facts, 'rds-scoped.yaml', [rc, rcB], now, 'v1');
  assert.deepEqual([...leftover], [rcB]);
  assert.deepEqual(judge({ version: 'v1', previousVersion: undefined, baseline: undefined, now, subscriptions: [rc, rcB], named: new Map() }), { outcome: 'rejected', subscription: rcB, kind: 'rejected' }, 'without the rule: refused (the fault)');
  assert.deepEqual(judge({ version: 'v1', previousVersion: undefined, baseline: undefined, now, subscriptions: [rc, rcB], named: new Map(), leftover }), { outcome: 'accepted', subscriptions: [rc] });
  assert.deepEqual([...lackingRouteOfFile(facts, 'rds.yaml', ['http.ingress.rds.local_route'], now, 'r1')], [], 'a file no scope reads');
  assert.deepEqual([...lackingRouteOfFile(facts, 'rds-scoped.yaml', [rc, rcB], now, undefined)], [], 'no version: counters alone decide');

  const named = new Map([[rc, 'rds-scoped.yaml'], [rcB, 'rds-scoped.yaml']]);
  const lacking = lackingRouteOfScopes(facts, 'srds.yaml', named, now);
  assert.deepEqual([...lacking], [[rcB, 'scoped_rc_b']]);
  const srds = { version: 's1', previousVersion: undefined, baseline: undefined, now, subscriptions: [srdsScope], named };
  assert.equal(judge(srds).outcome, 'accepted', 'without the rule: no baseline, named scopes were not looked at (the fault)');
  assert.deepEqual(judge({ ...srds, lacking }), { outcome: 'rejected', subscription: rcB, kind: 'rejected', created: { file: 'rds-scoped.yaml', route: 'scoped_rc_b' } });
  assert.deepEqual([...lackingRouteOfScopes(facts, 'other-srds.yaml', named, now)], [], 'an SRDS file whose scopes name none of it');
});

test('after an edit (a baseline), the scope the edit opened names the route configuration in its refusal', () => {
  const named = new Map([[rc, 'rds-scoped.yaml'], [rcB, 'rds-scoped.yaml']]);
  const baseline = envoy({ [srdsScope]: { versionText: 's0', attempt: 1, success: 1 }, [rc]: runsV1 });
  const now = envoy({ [srdsScope]: { versionText: 's1', attempt: 2, success: 2 }, [rc]: runsV1, [rcB]: refusedOnce });
  const lacking = lackingRouteOfScopes(facts, 'srds.yaml', named, now);
  const input = { version: 's1', previousVersion: 's0', baseline, now, subscriptions: [srdsScope], named };
  assert.deepEqual(judge(input), { outcome: 'rejected', subscription: rcB, kind: 'rejected', created: { file: 'rds-scoped.yaml' } });
  assert.deepEqual(judge({ ...input, lacking }), { outcome: 'rejected', subscription: rcB, kind: 'rejected', created: { file: 'rds-scoped.yaml', route: 'scoped_rc_b' } });
});
