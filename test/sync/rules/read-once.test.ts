// Files Envoy reads once, when it builds the resource holding them (src/sync/publish/read-once.ts),
// as tables: which changes `watch` holds back, what it says, and which edits of the reader make
// Envoy build the part that reads the file again (measured on Envoy 1.40: see rebuildsReader). Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { findReferences } from '../../../src/sync/envoy/references.js';
import { parseConfig } from '../../../src/sync/envoy/subscriptions.js';
import { readOnceHeldBack, readOnceMessage, readOnceReaders, rebuildsReader, refusedReadOnceMessage } from '../../../src/sync/publish/read-once.js';

const LUA = '{name: envoy.filters.http.lua, typed_config: {default_source_code: {filename: /etc/envoy/script.lua}}}';
const chain = (prefix: string, lua: boolean, match = '') => `{${match}filters: [{name: hcm, typed_config: {stat_prefix: ${prefix}, http_filters: [${lua ? `${LUA}, ` : ''}{name: router}]}}]}`;
const lds = (opts: { other?: string; main?: string; buffer?: number; version?: string } = {}) => load(`
version_info: "${opts.version ?? 'v1'}"
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  ${opts.buffer === undefined ? '' : `per_connection_buffer_limit_bytes: ${String(opts.buffer)}`}
  filter_chains: [${chain(opts.other ?? 'other', false, 'filter_chain_match: {destination_port: 1}, ')}]
  default_filter_chain: ${chain(opts.main ?? 'main', true)}
`);
const rds = (header: string) => load(`
resources:
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: r
  response_headers_to_add: [{header: {key: x, value: ${header}}}]
  virtual_hosts: [{name: a, domains: ["*"], routes: [{direct_response: {status: 200, body: {filename: /etc/envoy/body.txt}}}]}]
`);

const rebuilds: { why: string; before: unknown; after: unknown; resource: string; file: string; expect: boolean }[] = [
  { why: 'the same listener, only version_info new', before: lds(), after: lds({ version: 'v2' }), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'another filter chain changed: Envoy keeps the chain reading the script (in-place filter chain update)', before: lds(), after: lds({ other: 'other2' }), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'the filter chain reading the script changed', before: lds(), after: lds({ main: 'main2' }), resource: 'listener_0', file: 'script.lua', expect: true },
  { why: 'a listener-level field changed: every filter chain is built again', before: lds(), after: lds({ buffer: 32768 }), resource: 'listener_0', file: 'script.lua', expect: true },
  { why: 'a new listener', before: load('{resources: []}'), after: lds(), resource: 'listener_0', file: 'script.lua', expect: true },
  { why: 'a route configuration changed: rebuilt whole, its direct_response body read again', before: rds('h0'), after: rds('h1'), resource: 'r', file: 'body.txt', expect: true },
  { why: 'a route configuration rewritten as it was', before: rds('h0'), after: rds('h0'), resource: 'r', file: 'body.txt', expect: false },
];
// One listener whose HttpConnectionManager (the chain reading the script) holds `fields`, as written.
const hcm = (fields: string, version = 'v1') => load(`
version_info: "${version}"
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  default_filter_chain:
    filters:
    - name: hcm
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: main
        ${fields}
        http_filters: [${LUA}, {name: router}]
`);
// Spellings Envoy 1.40 hashes alike, so it keeps the listener and never reads the script again
// (measured: listener_manager.listener_modified does not move, /lua answers the old script).
rebuilds.push(
  { why: 'a duration respelt (1s → 1.0s, 1.000000000s): the same proto', before: hcm('stream_idle_timeout: 1s'), after: hcm('stream_idle_timeout: 1.0s', 'v2'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a duration with nanoseconds respelt (0.5s → 0.500s)', before: hcm('stream_idle_timeout: 0.5s'), after: hcm('stream_idle_timeout: 0.500s'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'an integer quoted (60 → "60"): the same proto', before: hcm('max_request_headers_kb: 60'), after: hcm('max_request_headers_kb: "60"'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a scalar at its zero value written out (xff_num_trusted_hops: 0, server_name: "")', before: hcm(''), after: hcm('xff_num_trusted_hops: 0\n        server_name: ""'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a field by its JSON name (streamIdleTimeout for stream_idle_timeout)', before: hcm('stream_idle_timeout: 1s'), after: hcm('streamIdleTimeout: 1s'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a boolean spelt as YAML 1.1 (true → yes): the same proto (fresh-user trial: the script was published, Envoy kept the listener)', before: hcm('normalize_path: true'), after: hcm('normalize_path: yes'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a boolean quoted (true → "true")', before: hcm('normalize_path: true'), after: hcm('normalize_path: "true"'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a boolean as On', before: hcm('merge_slashes: true'), after: hcm('merge_slashes: On'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a false written out quoted (merge_slashes: "false"): nothing, as false', before: hcm(''), after: hcm('merge_slashes: "false"'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a boolean changed (true → off): Envoy builds the listener again', before: hcm('merge_slashes: true'), after: hcm('merge_slashes: off'), resource: 'listener_0', file: 'script.lua', expect: true },
  { why: 'a duration changed (1s → 2s): Envoy builds the listener again', before: hcm('stream_idle_timeout: 1s'), after: hcm('stream_idle_timeout: 2s'), resource: 'listener_0', file: 'script.lua', expect: true },
  { why: 'an integer changed (60 → "61")', before: hcm('max_request_headers_kb: 60'), after: hcm('max_request_headers_kb: "61"'), resource: 'listener_0', file: 'script.lua', expect: true },
);
// Integers as Envoy's YAML reading reads them: parsed by the watcher's own parse (parseConfig), where
// a plain scalar is what yaml-cpp makes of it (measured on 1.40, per_connection_buffer_limit_bytes and
// max_request_headers_kb: 060 is 48, 0x3C 60, +60 60, 08 8; a quoted "060" is 60). Fresh-user trial:
// `max_request_headers_kb: 060` with a new script held the script back, while Envoy rebuilt the listener.
const hcmText = (fields: string) => parseConfig(`
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  default_filter_chain:
    filters:
    - name: hcm
      typed_config:
        stat_prefix: main
        ${fields}
        http_filters: [${LUA}, {name: router}]
`);
const numbers: [string, string, boolean][] = [
  ['max_request_headers_kb: 60', 'max_request_headers_kb: 060', true], // 48 to Envoy
  ['max_request_headers_kb: 48', 'max_request_headers_kb: 060', false],
  ['max_request_headers_kb: 60', 'max_request_headers_kb: "060"', false], // protobuf reads the text as decimal
  ['max_request_headers_kb: 60', 'max_request_headers_kb: 0x3C', false],
  ['max_request_headers_kb: 60', 'max_request_headers_kb: "0x3C"', false],
  ['max_request_headers_kb: 60', 'max_request_headers_kb: +60', false],
  ['max_request_headers_kb: 60', 'max_request_headers_kb: "+60"', false],
  ['max_request_headers_kb: 8', 'max_request_headers_kb: 08', false], // not octal: the text "08", read as 8
  ['max_request_headers_kb: 1000', 'max_request_headers_kb: 1e3', false],
  ['max_request_headers_kb: 12', 'max_request_headers_kb: 012', true], // 10 to Envoy
  ['max_request_headers_kb: 60', 'max_request_headers_kb: ~', true], // null: the field unset
  ['', 'max_request_headers_kb: ~', false],
  ['', 'max_request_headers_kb: 00', false], // octal 0: the zero value
  ['tracing: {random_sampling: {value: 0.5}}', 'tracing: {random_sampling: {value: .5}}', false],
  ['tracing: {random_sampling: {value: 0.5}}', 'tracing: {random_sampling: {value: +.5}}', false],
  ['tracing: {random_sampling: {value: 8}}', 'tracing: {random_sampling: {value: 010}}', false],
];
for (const [before, after, expect] of numbers) {
  test(`rebuildsReader: a number as Envoy reads it (${before || '(unset)'} → ${after}): ${expect ? 'rebuilt' : 'the same proto'}`, () => {
    assert.equal(rebuildsReader(hcmText(before), hcmText(after), 'listener_0', 'script.lua'), expect);
  });
}
// The rest of a listener as Envoy's filter-chain-only test compares it (ListenerMessageUtil::filterChainOnlyChange).
const withRest = (rest: string, other = 'other') => load(`
resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  ${rest}
  filter_chains: [${chain(other, false, 'filter_chain_match: {destination_port: 1}, ')}]
  default_filter_chain: ${chain('main', true)}
`);
rebuilds.push(
  { why: 'listener filters reordered, another chain changed: Envoy compares the rest as a set, keeps the chain reading the script', before: withRest('listener_filters: [{name: a}, {name: b}]'), after: withRest('listener_filters: [{name: b}, {name: a}]', 'other2'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'the filter chain matcher changed alone: a filter-chain-only update, the chain reading the script kept', before: withRest('filter_chain_matcher: {on_no_match: {action: {name: a}}}'), after: withRest('filter_chain_matcher: {on_no_match: {action: {name: b}}}'), resource: 'listener_0', file: 'script.lua', expect: false },
  { why: 'a listener filter added: every filter chain is built again', before: withRest('listener_filters: [{name: a}]'), after: withRest('listener_filters: [{name: a}, {name: b}]'), resource: 'listener_0', file: 'script.lua', expect: true },
);
for (const c of rebuilds) {
  test(`rebuildsReader: ${c.why}`, () => {
    assert.equal(rebuildsReader(c.before, c.after, c.resource, c.file), c.expect);
  });
}

const LDS_TEXT = `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  default_filter_chain: ${chain('main', true)}
`;
const SDS_TEXT = `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: s
  tls_certificate: {certificate_chain: {filename: /etc/envoy/script.lua}}
`;
const refs = (files: Record<string, string>) => new Map(Object.entries(files).map(([name, text]) => [name, findReferences(load(text))]));

test('readOnceReaders: the resources that read a file once; none when Envoy also watches it (a Secret reads it)', () => {
  assert.deepEqual(readOnceReaders('script.lua', refs({ 'lds.yaml': LDS_TEXT })), [{ file: 'lds.yaml', resource: 'listener_0', holder: 'listener' }]);
  assert.deepEqual(readOnceReaders('script.lua', refs({ 'lds.yaml': LDS_TEXT, 'sds.yaml': SDS_TEXT })), []);
  assert.deepEqual(readOnceReaders('other.lua', refs({ 'lds.yaml': LDS_TEXT })), []);
});

const heldCases: { why: string; changes: { name: string; existed: boolean }[]; rebuilt: boolean; held: string[] }[] = [
  { why: 'the script changed alone: held back', changes: [{ name: 'script.lua', existed: true }], rebuilt: false, held: ['script.lua'] },
  { why: 'the script with an edit of its listener: published', changes: [{ name: 'script.lua', existed: true }, { name: 'lds.yaml', existed: true }], rebuilt: true, held: [] },
  { why: 'the script with an lds.yaml edit that leaves its filter chain as it was: held back', changes: [{ name: 'script.lua', existed: true }, { name: 'lds.yaml', existed: true }], rebuilt: false, held: ['script.lua'] },
  { why: 'a new script: published (nothing Envoy runs reads it yet)', changes: [{ name: 'script.lua', existed: false }], rebuilt: false, held: [] },
];
const LDS_TWO_READERS = `${LDS_TEXT}- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_1
  default_filter_chain: ${chain('second', true)}
`;
test('readOnceHeldBack: two listeners read the script and the change rebuilds one of them: held back, naming the one left as it runs', () => {
  const held = readOnceHeldBack([{ name: 'script.lua', existed: true, sha256: 'sha' }, { name: 'lds.yaml', existed: true, sha256: 'sha2' }], refs({ 'lds.yaml': LDS_TWO_READERS }), 'envoy.yaml', (reader) => reader.resource === 'listener_0');
  assert.deepEqual(held.map((h) => h.name), ['script.lua']);
  const [first] = held;
  assert.ok(first);
  assert.deepEqual(first.readers.map((r) => r.resource), ['listener_0', 'listener_1']);
  assert.match(first.message, /only when it builds listener listener_1 of lds\.yaml \(this change rebuilds another resource reading it, not that one\)/);
  assert.deepEqual(readOnceHeldBack([{ name: 'script.lua', existed: true, sha256: 'sha' }], refs({ 'lds.yaml': LDS_TWO_READERS }), 'envoy.yaml', () => true), [], 'both rebuilt: published');
});
for (const c of heldCases) {
  test(`readOnceHeldBack: ${c.why}`, () => {
    const changes = c.changes.map((change) => ({ ...change, sha256: `sha-${change.name}` }));
    const held = readOnceHeldBack(changes, refs({ 'lds.yaml': LDS_TEXT, 'script.lua': '' }), 'envoy.yaml', () => c.rebuilt);
    assert.deepEqual(held.map((h) => h.name), c.held);
    for (const h of held) assert.equal(h.sha256, `sha-${h.name}`);
  });
}

test('readOnceMessage: says what reads the file, when Envoy reads it, and what to do', () => {
  assert.equal(
    readOnceMessage('script.lua', [{ file: 'lds.yaml', resource: 'listener_0', holder: 'listener' }], 'envoy.yaml'),
    "script.lua held back: Envoy reads it only when it builds listener listener_0 of lds.yaml, so the new version would not reach the running Envoy there and a restarted one would run it; change that resource in lds.yaml with it (Envoy rebuilds a resource only when it changes; then Envoy's verdict on it is the file's, and a refusal puts both back), or restart the Pod (copy publishes it before Envoy starts, and nothing puts it back if Envoy refuses it). The published script.lua is what Envoy runs",
  );
  assert.match(
    readOnceMessage('script.lua', [{ file: 'lds.yaml', resource: 'listener_1', holder: 'listener' }], 'envoy.yaml', 1),
    /^script\.lua held back: Envoy reads it only when it builds listener listener_1 of lds\.yaml \(this change rebuilds another resource reading it, not that one\), so the new version would not reach the running Envoy there/,
  );
  assert.match(readOnceMessage('s.lua', [{ file: 'envoy.yaml', resource: 'static_0', holder: 'listener' }], 'envoy.yaml'), /^s\.lua held back: Envoy reads it only at its start \(listener static_0 of envoy\.yaml, the bootstrap\), .*; restart the Pod/);
});

test('refusedReadOnceMessage: content Envoy refused with its reader is to be fixed in the ConfigMap, never "restart the Pod"', () => {
  const message = refusedReadOnceMessage('script.lua', [{ file: 'lds.yaml', resource: 'listener_0', holder: 'listener' }, { file: 'lds.yaml', resource: 'listener_1', holder: 'listener' }]);
  assert.equal(message, "script.lua held back: Envoy refused this version of script.lua with lds.yaml and runs the published one; fix script.lua in the ConfigMap (a restarted Pod would start from it: copy publishes the ConfigMap's files)");
  assert.doesNotMatch(message, /restart the Pod/);
});
