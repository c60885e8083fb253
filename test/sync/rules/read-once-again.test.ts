// A read-once file whose reader Envoy runs no version of (src/sync/publish/read-once-again.ts and
// src/sync/verdict/reader-running.ts), as tables: which readers are asked about, which held-back
// changes go out after all with what renamed again, and when Envoy's answer says "not running". Pure.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { findReferences } from '../../../src/sync/envoy/references.js';
import type { SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import type { ReadOnceHeld, ReadOnceReader } from '../../../src/sync/publish/read-once.js';
import { readAgain, readersToAsk, releasedMessage } from '../../../src/sync/publish/read-once-again.js';
import type { ReaderQuery } from '../../../src/sync/publish/read-once-again.js';
import { notRunning, reportedVersions } from '../../../src/sync/verdict/reader-running.js';

const L0: ReadOnceReader = { file: 'lds.yaml', resource: 'listener_0', holder: 'listener' };
const L1: ReadOnceReader = { file: 'lds.yaml', resource: 'listener_1', holder: 'listener' };
const ROUTE: ReadOnceReader = { file: 'rds.yaml', resource: 'local_route', holder: 'route configuration' };
const STATIC: ReadOnceReader = { file: 'envoy.yaml', resource: 'static_0', holder: 'listener' };
const held = (name: string, readers: ReadOnceReader[]): ReadOnceHeld => ({ name, sha256: `sha-${name}`, readers, message: `${name} held back` });
const all = (h: ReadOnceHeld): readonly ReadOnceReader[] => h.readers;

const LDS = `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  default_filter_chain: {filters: [{name: hcm, typed_config: {http_filters: [{name: lua, typed_config: {default_source_code: {filename: /etc/envoy/script.lua}}}],
    route_config: {virtual_hosts: [{name: a, domains: ["*"], routes: [{direct_response: {status: 200, body: {filename: /etc/envoy/body.txt}}}]}]}}}]}
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_1
  default_filter_chain: {filters: [{name: hcm, typed_config: {http_filters: [{name: lua, typed_config: {default_source_code: {filename: /etc/envoy/other.lua}}}]}}]}
`;
const references = new Map([['lds.yaml', findReferences(load(LDS))], ['script.lua', []], ['body.txt', []], ['other.lua', []]]);

const asks: { why: string; held: ReadOnceHeld[]; kept?: (h: ReadOnceHeld) => readonly ReadOnceReader[]; unchanged: [string, string | undefined][]; expect: ReaderQuery[] }[] = [
  { why: 'a reader in an unchanged file: asked, with the version of its file', held: [held('script.lua', [L0])], unchanged: [['lds.yaml', 'sha256:aa']], expect: [{ ...L0, version: 'sha256:aa' }] },
  { why: 'the reader file changed (or is held as refused): not asked, the pass decides', held: [held('script.lua', [L0])], unchanged: [], expect: [] },
  { why: 'a reader of the bootstrap: Envoy reads it only at its start, never asked', held: [held('script.lua', [STATIC])], unchanged: [['envoy.yaml', undefined]], expect: [] },
  { why: 'a reader with no name: Envoy cannot be asked about it', held: [held('script.lua', [{ file: 'lds.yaml' }])], unchanged: [['lds.yaml', 'v']], expect: [] },
  { why: 'a reader the pass rebuilds is not asked (only those it keeps)', held: [held('script.lua', [L0, L1])], kept: () => [L1], unchanged: [['lds.yaml', 'v']], expect: [{ ...L1, version: 'v' }] },
  { why: 'one reader of two held files: asked once', held: [held('script.lua', [L0]), held('body.txt', [L0])], unchanged: [['lds.yaml', 'v']], expect: [{ ...L0, version: 'v' }] },
];
for (const c of asks) {
  test(`readersToAsk: ${c.why}`, () => {
    assert.deepEqual(readersToAsk(c.held, c.kept ?? all, new Map(c.unchanged), 'envoy.yaml'), c.expect);
  });
}

const again: { why: string; held: ReadOnceHeld[]; down: ReadOnceReader[]; unchanged: string[]; expect: { held: string[]; released: string[]; again: string[] } }[] = [
  {
    why: 'Envoy runs no listener_0 (refused at start): the script goes out, lds.yaml renamed again after it, and body.txt, which listener_0 reads too, with it',
    held: [held('script.lua', [L0])], down: [L0], unchanged: ['lds.yaml', 'body.txt', 'other.lua', 'envoy.yaml'],
    expect: { held: [], released: ['script.lua'], again: ['body.txt', 'lds.yaml'] },
  },
  {
    why: 'Envoy runs listener_0 (its old version, an update refused): held back, nothing renamed',
    held: [held('script.lua', [L0])], down: [], unchanged: ['lds.yaml', 'body.txt'],
    expect: { held: ['script.lua'], released: [], again: [] },
  },
  {
    why: 'one reader down, another running: held back (the running one would keep the old script, a restart would not)',
    held: [held('script.lua', [L0, L1])], down: [L0], unchanged: ['lds.yaml', 'body.txt'],
    expect: { held: ['script.lua'], released: [], again: [] },
  },
  {
    why: 'body.txt changed with the script: both go out; only unchanged files are renamed again',
    held: [held('script.lua', [L0]), held('body.txt', [L0])], down: [L0], unchanged: ['lds.yaml', 'other.lua'],
    expect: { held: [], released: ['script.lua', 'body.txt'], again: ['lds.yaml'] },
  },
  {
    why: 'a held file with no reader kept: stays held (nothing to ask)',
    held: [held('script.lua', [])], down: [L0], unchanged: ['lds.yaml'],
    expect: { held: ['script.lua'], released: [], again: [] },
  },
];
for (const c of again) {
  test(`readAgain: ${c.why}`, () => {
    const down = c.down.map((r) => ({ ...r, version: 'v' }));
    const got = readAgain(c.held, all, down, new Map(c.unchanged.map((name) => [name, undefined])), references);
    assert.deepEqual({ held: got.held.map((h) => h.name), released: got.released.map((r) => r.name), again: got.again }, c.expect);
  });
}

test('releasedMessage: says which resource Envoy does not run and what is renamed again', () => {
  assert.equal(
    releasedMessage('script.lua', [L0]),
    "script.lua published with lds.yaml renamed again, unchanged: Envoy runs no listener listener_0 of lds.yaml (it refused it), so it builds it from the published files now and reads the new script.lua; Envoy's verdict on lds.yaml is script.lua's",
  );
});

const counters = (versions: string[]) => ({ subscriptions: new Map(versions.map((v, i): [string, SubscriptionCounters] => [`s${String(i)}`, { versionText: v, attempt: 1, success: 1, rejected: 0, failure: 0 }])), unknownFields: 0, epoch: 1 }) as never;
const running = (lds: string[], rds: string[] = [], cds: string[] = []) => new Map([['LDS', new Set(lds)], ['RDS', new Set(rds)], ['CDS', new Set(cds)]] as const);
const runs: { why: string; reader: ReaderQuery; running: ReturnType<typeof running>; reported: string[]; expect: boolean }[] = [
  { why: 'a listener Envoy only refused (error_state, no active or warming state)', reader: { ...L0, version: 'X' }, running: running(['listener_1']), reported: [], expect: true },
  { why: 'a listener Envoy runs (its old version, an update refused)', reader: { ...L0, version: 'X' }, running: running(['listener_0']), reported: ['W'], expect: false },
  { why: "the file's version is one Envoy reports: it took that content once, a rename again would prove nothing", reader: { ...L0, version: 'X' }, running: running([]), reported: ['X'], expect: false },
  { why: 'a route configuration Envoy never built', reader: { ...ROUTE, version: 'R' }, running: running([], []), reported: [], expect: true },
  { why: 'a route configuration Envoy runs', reader: { ...ROUTE, version: 'R' }, running: running([], ['local_route']), reported: [], expect: false },
  { why: 'a cluster Envoy runs no version of', reader: { file: 'cds.yaml', resource: 'c', holder: 'cluster', version: 'C' }, running: running([], [], ['d']), reported: [], expect: true },
  { why: 'a kind Envoy is not asked about (an extension config): counts as running', reader: { file: 'ecds.yaml', resource: 'e', holder: 'extension config', version: 'E' }, running: running([]), reported: [], expect: false },
  { why: "Envoy's answer for that kind is missing: counts as running", reader: { ...L0, version: 'X' }, running: new Map(), reported: [], expect: false },
];
for (const c of runs) {
  test(`notRunning: ${c.why}`, () => {
    assert.equal(notRunning(c.reader, c.running, reportedVersions(counters(c.reported))), c.expect);
  });
}
