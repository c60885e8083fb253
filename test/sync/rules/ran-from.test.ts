// Whether Envoy runs a listener or cluster of a refused file as that file has it
// (src/sync/verdict/ran-from.ts), from what Envoy's config dump reports. Pure. The dump entries
// below are shaped as Envoy 1.40 wrote them (test/envoy/applied-in-place.test.ts measures them on a
// real Envoy: an in-place update keeps the old version_info and moves last_updated; an unchanged
// listener or cluster keeps both).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { DynamicResource } from '../../../src/sync/envoy/admin.js';
import { appliedSentence, sortApplied } from '../../../src/sync/verdict/applied.js';
import { fileResources, ranFrom, sameAsDumped } from '../../../src/sync/verdict/ran-from.js';
import type { RefusedFile } from '../../../src/sync/verdict/ran-from.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** listener_0 as a user writes it (YAML), answering `body`. */
const fileListener = (body: string): unknown => parse(`
"@type": type.googleapis.com/envoy.config.listener.v3.Listener
name: listener_0
address: {socket_address: {address: 127.0.0.1, port_value: "10000"}}
perConnectionBufferLimitBytes: 65536
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": ${HCM}
      stat_prefix: listener_0
      codec_type: AUTO
      stream_idle_timeout: 300.000s
      http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": ${ROUTER}}}]
      route_config: {name: r, virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "${body}"}}}]}]}
`);

/** listener_0 as Envoy 1.40's config dump shows it (snake_case, zero values left out, `codec_type: AUTO` gone). */
const dumpedListener = (body: string): Record<string, unknown> => ({
  '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
  name: 'listener_0',
  address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
  filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'listener_0', stream_idle_timeout: '300s', route_config: { name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: body } } }] }] }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }] } }] }],
  per_connection_buffer_limit_bytes: 65536,
});

const fileCluster = (timeout: string, extra = ''): unknown => parse(`
"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
name: c1
type: STATIC
lb_policy: ROUND_ROBIN
connect_timeout: ${timeout}
load_assignment: {cluster_name: c1, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}}]}]}
${extra}`);
/** As Envoy 1.40 dumped it: `type: STATIC` kept (a oneof member), `lb_policy: ROUND_ROBIN` (zero) left out. */
const dumpedCluster = (timeout: string): Record<string, unknown> => ({
  '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  name: 'c1',
  type: 'STATIC',
  connect_timeout: timeout,
  load_assignment: { cluster_name: 'c1', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] }] },
});

test('ran-from: a config from the dump against the file\'s resource', () => {
  const rows: { why: string; dumped: unknown; resource: unknown; same: boolean }[] = [
    { why: 'the same listener: JSON names, a quoted number, a duration spelt otherwise, an enum zero the dump leaves out', dumped: dumpedListener('v4'), resource: fileListener('v4'), same: true },
    { why: 'another body (a filter chain changed)', dumped: dumpedListener('v2'), resource: fileListener('v4'), same: false },
    { why: 'an unchanged cluster: lb_policy ROUND_ROBIN left out, type STATIC dumped', dumped: dumpedCluster('1s'), resource: fileCluster('1.0s'), same: true },
    { why: 'a cluster whose timeout changed', dumped: dumpedCluster('1s'), resource: fileCluster('2s'), same: false },
    { why: 'a field the file has and the dump does not, not an enum name (a misspelt field Envoy ignores, or one it does not run)', dumped: dumpedCluster('1s'), resource: fileCluster('1s', 'alt_stat_name: shop'), same: false },
    { why: 'an enum name the dump shows otherwise', dumped: { ...dumpedCluster('1s'), lb_policy: 'MAGLEV' }, resource: fileCluster('1s'), same: false },
    { why: 'a field the dump has and the file does not', dumped: { ...dumpedCluster('1s'), per_connection_buffer_limit_bytes: 1024 }, resource: fileCluster('1s'), same: false },
  ];
  for (const row of rows) assert.equal(sameAsDumped(row.dumped, row.resource), row.same, row.why);
});

test('ran-from: the resources of a file by name, the first of each name', () => {
  const resources = fileResources('version_info: v1\nresources:\n- {name: a, x: 1}\n- {name: a, x: 2}\n- {"@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment, cluster_name: c}\n- {y: 1}\n');
  assert.deepEqual([...(resources ?? new Map<string, unknown>())], [['a', { name: 'a', x: 1 }], ['c', { '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', cluster_name: 'c' }]]);
  assert.equal(fileResources('resources: {a: 1}'), undefined);
  assert.equal(fileResources(': ['), undefined);
});

test('ran-from: this version or an earlier one, per dump entry', () => {
  const published = Date.parse('2026-12-06T11:27:37.634Z');
  const file: RefusedFile = { version: 'v4', resources: new Map([['listener_0', fileListener('v4')]]), publishedAtMs: published };
  const entry = (over: Partial<DynamicResource>): DynamicResource => ({ name: 'listener_0', version: 'v2', updatedAtMs: published - 3000, ...over });
  const rows: { why: string; running: DynamicResource; file?: RefusedFile; ran: 'this' | 'earlier' }[] = [
    // measured on 1.40 (L4 of the measurement): version_info v2 kept, last_updated 3 ms after the rename, serving v4
    { why: 'updated in place in this update: old version_info, last_updated after the rename', running: entry({ updatedAtMs: published + 3, config: dumpedListener('v4') }), ran: 'this' },
    { why: 'updated in place, the time not known: its config is the file\'s', running: entry({ config: dumpedListener('v4') }), file: { ...file, publishedAtMs: undefined }, ran: 'this' },
    { why: 'updated in place, no config read: the time tells', running: entry({ updatedAtMs: published + 3 }), ran: 'this' },
    { why: 'a full update from this version', running: entry({ version: 'v4', updatedAtMs: published + 3 }), ran: 'this' },
    { why: 'unchanged, so skipped: version_info and last_updated of an earlier update, its config the file\'s', running: entry({ config: dumpedListener('v4') }), ran: 'this' },
    { why: 'an earlier build Envoy kept (a refused file that never reached it, or the file changed it and Envoy refused that)', running: entry({ config: dumpedListener('v2') }), ran: 'earlier' },
    { why: 'Envoy refused this listener in this update (its error_state), whatever its config looks like', running: entry({ config: dumpedListener('v4'), refusedAtMs: published + 2 }), ran: 'earlier' },
    { why: 'an error state of an earlier update does not count', running: entry({ config: dumpedListener('v4'), refusedAtMs: published - 2000 }), ran: 'this' },
    { why: 'no config and no time: version_info alone', running: entry({ updatedAtMs: undefined }), file: { version: 'v4' }, ran: 'earlier' },
    { why: 'the file has no version_info: counted as before, this version', running: entry({}), file: { version: undefined }, ran: 'this' },
  ];
  for (const row of rows) assert.equal(ranFrom(row.running, row.file ?? file), row.ran, row.why);
});

test('ran-from: the fresh-user trial line, and an unchanged listener, in the verdict\'s sentence', () => {
  const published = Date.parse('2026-12-06T11:27:37.634Z');
  const names = ['listener_0', 'listener_1'];
  const resources = new Map([['listener_0', fileListener('v4')]]);
  // Before: version_info alone said "none ... earlier version of listener_0" while Envoy served v4.
  const inPlace = [{ name: 'listener_0', version: 'v2', updatedAtMs: published + 3, config: dumpedListener('v4') }];
  assert.equal(appliedSentence('lds.yaml', sortApplied('listener', names, 'v4', inPlace)), 'Envoy runs none of the 2 listeners of lds.yaml; it still runs an earlier version of listener_0');
  assert.equal(appliedSentence('lds.yaml', sortApplied('listener', names, 'v4', inPlace, { resources, publishedAtMs: published })), 'Envoy runs 1 of the 2 listeners of lds.yaml (listener_0) and refused the other');
  const unchanged = [{ name: 'listener_0', version: 'v2', updatedAtMs: published - 1400, config: dumpedListener('v4') }];
  assert.equal(appliedSentence('lds.yaml', sortApplied('listener', names, 'v5', unchanged, { resources, publishedAtMs: published })), 'Envoy runs 1 of the 2 listeners of lds.yaml (listener_0) and refused the other');
  const kept = [{ name: 'listener_0', version: 'v2', updatedAtMs: published - 1400, config: dumpedListener('v2') }];
  assert.equal(appliedSentence('lds.yaml', sortApplied('listener', names, 'v5', kept, { resources, publishedAtMs: published })), 'Envoy runs none of the 2 listeners of lds.yaml; it still runs an earlier version of listener_0');
});
