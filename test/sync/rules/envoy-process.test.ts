// Which Envoy process answered (a restarted Envoy counts from zero) and what the verdict says of
// the unknown fields it counted: table tests over readings shaped as envoy/admin.ts makes them
// (the real restart: test/envoy/verdict-envoy-restart.test.ts).
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { EnvoyAdmin } from '../../../src/sync/envoy/admin.js';
import { PROCESS_START_AND_BOOTSTRAP_PATH, PROCESS_START_PATH, bootstrapFromConfigDump, startedAtFromConfigDump } from '../../../src/sync/envoy/config-dump.js';
import type { AnsweredBy, EnvoyCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { EnvoyProcesses, ofSameProcess, restartOf } from '../../../src/sync/verdict/envoy-process.js';
import { ignoredUnknownFields } from '../../../src/sync/verdict/unknown-fields.js';
import type { ProcessSeen } from '../../../src/sync/verdict/envoy-process.js';
import { judge } from '../../../src/sync/verdict/judge.js';
import pino from 'pino';
import type { Conclusions } from '../../../src/sync/verdict/conclude.js';
import { envoyRestarted, judgeAgainAfterRestart, loadedAtStart, restartMessage } from '../../../src/sync/verdict/envoy-restarted.js';
import type { VerdictState } from '../../../src/sync/verdict/state.js';

const T0 = Date.parse('2026-12-03T09:00:00Z');
const reading = (unknownFields: number, answeredBy?: AnsweredBy, epoch?: number, lds?: { versionText: string; attempt: number; success: number; rejected?: number }): EnvoyCounters => ({
  subscriptions: new Map(lds === undefined ? [] : [['listener_manager.lds', { rejected: 0, failure: 0, ...lds }]]),
  unknownFields,
  sslContextUpdates: 0,
  ...(answeredBy === undefined ? {} : { answeredBy }),
  ...(epoch === undefined ? {} : { epoch }),
});
const seen = (s: Partial<ProcessSeen>): ProcessSeen => ({ epoch: 0, connection: 1, startedAtMs: T0, unknownFields: 0, ...s });

test('restartOf: the same connection is the same process; a new one is another process only when its start differs; counters going down are a restart', () => {
  const rows: [string, ProcessSeen, EnvoyCounters, boolean][] = [
    ['same kept-alive connection', seen({}), reading(0, { connection: 1 }), false],
    ['same connection, even with a start read late', seen({}), reading(0, { connection: 1, startedAtMs: T0 + 60_000 }), false],
    ['new connection, the same start (the bootstrap load time is one value per process)', seen({}), reading(0, { connection: 2, startedAtMs: T0 }), false],
    ['new connection, started later: restarted', seen({}), reading(0, { connection: 2, startedAtMs: T0 + 30_000 }), true],
    // A process that ran under a second (a crash loop, a failed start): told apart all the same.
    ['new connection, started 1 ms later: another process, however short the first one lived', seen({}), reading(0, { connection: 2, startedAtMs: T0 + 1 }), true],
    ['new connection, started 900 ms later, no counter went down', seen({}), reading(0, { connection: 2, startedAtMs: T0 + 900 }), true],
    ['new connection, started earlier (clock stepped back): another process', seen({}), reading(0, { connection: 2, startedAtMs: T0 - 30_000 }), true],
    ['new connection, the config dump did not answer: no proof', seen({}), reading(0, { connection: 2 }), false],
    ['start of the process before not known: no proof', seen({ startedAtMs: undefined }), reading(0, { connection: 2, startedAtMs: T0 + 30_000 }), false],
    ['server.dynamic_unknown_fields went down, same connection cannot be, but counters decide', seen({ unknownFields: 2 }), reading(1, { connection: 2 }), true],
    ['server.dynamic_unknown_fields went down without the config dump', seen({ unknownFields: 2, startedAtMs: undefined }), reading(0, { connection: 3 }), true],
    ['server.dynamic_unknown_fields grew', seen({ unknownFields: 2 }), reading(3, { connection: 1 }), false],
    ['a reading that does not say who answered (built by hand)', seen({}), reading(0), false],
  ];
  for (const [name, before, now, restarted] of rows) assert.equal(restartOf(before, now) !== undefined, restarted, name);
  assert.match(restartOf(seen({}), reading(0, { connection: 2, startedAtMs: T0 + 30_000 }))?.why ?? '', /^it started at 2026-12-03T09:00:30\.000Z, the Envoy answering before at 2026-12-03T09:00:00\.000Z$/);
  assert.match(restartOf(seen({ unknownFields: 2 }), reading(0, { connection: 2 }))?.why ?? '', /went down from 2 to 0/);
});

test('EnvoyProcesses numbers the processes in the order their readings came, and says each restart once', () => {
  const processes = new EnvoyProcesses();
  const first = reading(1, { connection: 1, startedAtMs: T0 });
  assert.equal(processes.observe(first), undefined, 'the first reading is no restart');
  assert.equal(first.epoch, 0);
  const same = reading(1, { connection: 1, startedAtMs: T0 });
  assert.equal(processes.observe(same), undefined);
  assert.equal(same.epoch, 0);
  const reconnected = reading(1, { connection: 2, startedAtMs: T0 });
  assert.equal(processes.observe(reconnected), undefined, 'a new connection to the same process');
  assert.equal(reconnected.epoch, 0);
  const restarted = reading(0, { connection: 3, startedAtMs: T0 + 60_000 });
  const restart = processes.observe(restarted);
  assert.ok(restart);
  assert.deepEqual({ startedAtMs: restart.startedAtMs, previousStartedAtMs: restart.previousStartedAtMs }, { startedAtMs: T0 + 60_000, previousStartedAtMs: T0 });
  assert.equal(restarted.epoch, 1);
  const next = reading(2, { connection: 3, startedAtMs: T0 + 60_000 });
  assert.equal(processes.observe(next), undefined, 'said once');
  assert.equal(next.epoch, 1);
  // Counters going down on a connection whose start could not be read: another process all the same.
  const unread = reading(0, { connection: 4 });
  assert.ok(processes.observe(unread));
  assert.equal(unread.epoch, 2);
});

test('ofSameProcess: a baseline another Envoy process answered is no baseline', () => {
  const base = reading(1, undefined, 0);
  assert.equal(ofSameProcess(base, reading(2, undefined, 0)), base);
  assert.equal(ofSameProcess(base, reading(2, undefined, 1)), undefined);
  assert.equal(ofSameProcess(undefined, reading(2, undefined, 1)), undefined);
  const untagged = reading(1);
  assert.equal(ofSameProcess(untagged, reading(2)), untagged, 'readings built without epochs compare as before');
});

test('judge: after a restart, the old process baseline does not hide a refusal or credit an acceptance', () => {
  // The old Envoy had refused twice and accepted 5 updates; the new one loaded v3 at start, then refused the edit.
  const baseline = reading(0, undefined, 0, { versionText: 'v3', attempt: 7, success: 5, rejected: 2 });
  const now = reading(0, undefined, 1, { versionText: 'v3', attempt: 2, success: 1, rejected: 1 });
  const input = { version: 'v4', previousVersion: 'v3', now, subscriptions: ['listener_manager.lds'], named: new Map<string, string>() };
  assert.deepEqual(judge({ ...input, baseline }), { outcome: 'rejected', subscription: 'listener_manager.lds', kind: 'rejected' });
  // Counters that grew as far as the old ones (rejected 2 again) are still another process's: compared
  // with the old baseline, this refusal would be no refusal.
  const grown = reading(0, undefined, 1, { versionText: 'v3', attempt: 8, success: 6, rejected: 2 });
  assert.deepEqual(judge({ ...input, baseline, now: grown }), { outcome: 'rejected', subscription: 'listener_manager.lds', kind: 'rejected' });
});

test('ignoredUnknownFields: a restarted Envoy counts from zero, and so does what was said of it', () => {
  type Row = [string, Parameters<typeof ignoredUnknownFields>[0], number, boolean];
  const rows: Row[] = [
    ['an edit: what moved since the baseline', { baseline: reading(1, undefined, 0), now: reading(2, undefined, 0), atStart: false, reported: { epoch: 0, count: 1 } }, 1, false],
    ['a second file of the same pass: already said', { baseline: reading(1, undefined, 0), now: reading(2, undefined, 0), atStart: false, reported: { epoch: 0, count: 2 } }, 0, false],
    // The fault: the old Envoy counted 1 (said); the new one counted 0 at start, then 1 for the edit.
    ['after a restart: the new count is said though the old one had counted as many', { baseline: reading(0, undefined, 1), now: reading(1, undefined, 1), atStart: false, reported: { epoch: 0, count: 1 } }, 1, false],
    ['after a restart: the fields of files loaded at start are in the baseline, not said again', { baseline: reading(1, undefined, 1), now: reading(1, undefined, 1), atStart: false, reported: { epoch: 0, count: 3 } }, 0, false],
    ['after a restart, a count made at start does not hide the edit', { baseline: reading(2, undefined, 1), now: reading(3, undefined, 1), atStart: false, reported: { epoch: 0, count: 5 } }, 1, false],
    ['restarted between the baseline and the answer: what the new Envoy counted since it started', { baseline: reading(4, undefined, 0), now: reading(2, undefined, 1), atStart: false, reported: { epoch: 0, count: 4 } }, 2, true],
    ['restarted in between, nothing counted', { baseline: reading(4, undefined, 0), now: reading(0, undefined, 1), atStart: false, reported: { epoch: 0, count: 4 } }, 0, false],
    ['a file found at start: everything counted', { baseline: undefined, now: reading(2, undefined, 0), atStart: true, reported: undefined }, 2, false],
    ['no baseline read: nothing can be said', { baseline: undefined, now: reading(2, undefined, 0), atStart: false, reported: undefined }, 0, false],
    ['Envoy did not answer', { baseline: reading(1, undefined, 0), now: undefined, atStart: false, reported: undefined }, 0, false],
  ];
  for (const [name, input, ignored, sinceStart] of rows) {
    const got = ignoredUnknownFields(input);
    assert.deepEqual({ ignored: got.ignored, sinceStart: got.sinceStart }, { ignored, sinceStart }, name);
  }
  assert.deepEqual(ignoredUnknownFields({ baseline: reading(0, undefined, 1), now: reading(1, undefined, 1), atStart: false, reported: { epoch: 0, count: 7 } }).reported, { epoch: 1, count: 1 });
});

test("ignoredUnknownFields: what Envoy counted for the watcher's own rollback is no verdict's (Envoy counts every load of a misspelt file again)", () => {
  type Row = [string, Parameters<typeof ignoredUnknownFields>[0], number];
  // Measured on 1.40: a misspelt lds.yaml accepted (1), a refused edit of it (2), the rollback to it (3).
  const rollback = { epoch: 0, from: 2, to: 3 };
  const rows: Row[] = [
    // A file of a later change, published before the refusal was decided, judged after the rollback.
    ['a verdict whose span holds a rollback: the rollback\'s count left out', { baseline: reading(2, undefined, 0), now: reading(3, undefined, 0), atStart: false, reported: { epoch: 0, count: 1 }, ownReloads: [rollback] }, 0],
    ['the same, and the file counted one of its own', { baseline: reading(2, undefined, 0), now: reading(4, undefined, 0), atStart: false, reported: { epoch: 0, count: 1 }, ownReloads: [rollback] }, 1],
    ['the rollback before the baseline: nothing to leave out', { baseline: reading(3, undefined, 0), now: reading(4, undefined, 0), atStart: false, reported: { epoch: 0, count: 1 }, ownReloads: [rollback] }, 1],
    ['two rollbacks read against one answer (overlapping spans): counted once', { baseline: reading(2, undefined, 0), now: reading(5, undefined, 0), atStart: false, reported: { epoch: 0, count: 1 }, ownReloads: [rollback, { epoch: 0, from: 2, to: 4 }] }, 1],
    ['a rollback of an older Envoy process: not this one\'s count', { baseline: reading(2, undefined, 1), now: reading(3, undefined, 1), atStart: false, reported: undefined, ownReloads: [rollback] }, 1],
    ['a file found at start, judged after a rollback', { baseline: undefined, now: reading(3, undefined, 0), atStart: true, reported: undefined, ownReloads: [rollback] }, 2],
  ];
  for (const [name, input, ignored] of rows) assert.equal(ignoredUnknownFields(input).ignored, ignored, name);
});

test('loadedAtStart and the restart line: each file with the version the new Envoy reports, and when that is not the last accepted', () => {
  const files = [
    { name: 'cds.yaml', readAs: new Set(['CDS'] as const), versions: new Set(['c1', 'c2']) },
    { name: 'lds.yaml', readAs: new Set(['LDS'] as const), versions: new Set(['l1', 'l2']) },
    { name: 'rds.yaml', readAs: new Set(['RDS'] as const), versions: new Set(['r1']) },
  ];
  const now: EnvoyCounters = {
    subscriptions: new Map([
      ['cluster_manager.cds', { versionText: 'c2', attempt: 1, success: 1, rejected: 0, failure: 0 }],
      ['listener_manager.lds', { versionText: 'l2', attempt: 1, success: 1, rejected: 0, failure: 0 }],
    ]),
    unknownFields: 0,
    sslContextUpdates: 0,
  };
  const loaded = loadedAtStart(now, files, (file) => ({ 'cds.yaml': 'c2', 'lds.yaml': 'l1' })[file]);
  assert.deepEqual(loaded, [
    { file: 'cds.yaml', version: 'c2' },
    { file: 'lds.yaml', version: 'l2', lastAccepted: 'l1' },
    { file: 'rds.yaml', version: '' },
  ]);
  assert.equal(
    restartMessage({ why: 'it started at X' }, loaded),
    'Envoy restarted (it started at X): it counts from zero again; at start it loaded cds.yaml version c2, lds.yaml version l2 (not the last accepted, l1), rds.yaml (not loaded yet). Verdicts from now on compare only what this Envoy counted',
  );
});

test("startedAtFromConfigDump reads the BootstrapConfigDump's last_updated (Envoy 1.40's answer to the mask)", () => {
  const body = '{\n "configs": [\n  {\n   "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",\n   "last_updated": "2026-12-03T15:44:46.285Z"\n  }\n ]\n}\n';
  assert.equal(startedAtFromConfigDump(body), Date.parse('2026-12-03T15:44:46.285Z'));
  assert.equal(startedAtFromConfigDump('{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump"}]}'), undefined);
  assert.equal(startedAtFromConfigDump('{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump","last_updated":"soon"}]}'), undefined);
  assert.equal(startedAtFromConfigDump('not json'), undefined);
});

test('EnvoyAdmin.counters says which connection answered, and reads when its process started once per connection', async () => {
  let starts = 0;
  const server = createServer((req, res) => {
    if (req.url === PROCESS_START_PATH) {
      starts++;
      res.end(`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump","last_updated":"${new Date(T0).toISOString()}"}]}`);
      return;
    }
    res.end('server.dynamic_unknown_fields: 1\nlistener_manager.lds.version_text: "v1"\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const seenReadings: EnvoyCounters[] = [];
  const admin = new EnvoyAdmin({ host: '127.0.0.1', port }, (r) => seenReadings.push(r));
  try {
    const a = await admin.counters(1000);
    const b = await admin.counters(1000);
    assert.equal(a.answeredBy?.connection, b.answeredBy?.connection, 'kept alive: one connection');
    assert.equal(starts, 1, 'the start once for the connection');
    assert.equal(a.answeredBy?.startedAtMs, T0);
    server.closeAllConnections(); // what a dying Envoy does to its connections
    await new Promise((resolve) => setTimeout(resolve, 50));
    const c = await admin.counters(1000);
    assert.notEqual(c.answeredBy?.connection, a.answeredBy.connection, 'a new connection');
    assert.equal(starts, 2, 'the start again on the new connection');
    assert.deepEqual(seenReadings, [a, b, c], 'every reading observed, in order');
  } finally {
    admin.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('loadedAtStart: a file the new Envoy refused at start (no version, a refusal counted) says so', () => {
  const files = [{ name: 'lds.yaml', readAs: new Set(['LDS'] as const), versions: new Set(['l1', 'l2']) }];
  const now: EnvoyCounters = {
    subscriptions: new Map([['listener_manager.lds', { versionText: '', attempt: 1, success: 0, rejected: 0, failure: 1 }]]),
    unknownFields: 0,
    sslContextUpdates: 0,
  };
  const loaded = loadedAtStart(now, files, () => 'l1');
  assert.deepEqual(loaded, [{ file: 'lds.yaml', version: '', refused: true }]);
  assert.match(restartMessage({ why: 'w' }, loaded, ['lds.yaml']), /at start it loaded lds\.yaml \(refused it\)\. .*; judging lds\.yaml again \(no verdict on the version published\)$/);
});

test('judgeAgainAfterRestart: files whose last verdict is unknown, or published without a verdict since, and not pending', () => {
  const at = '2026-12-03T09:00:00Z';
  const verdict = (outcome: 'accepted' | 'rejected' | 'unknown', version: string) => ({ outcome, version, at, rolledBack: false, message: '' });
  const state: VerdictState = {
    pid: 1,
    sourceDir: '/s',
    targetDir: '/t',
    updatedAt: at,
    files: {
      'envoy.yaml': {},
      'accepted.yaml': { published: { version: 'a2', sha256: 'x', at }, verdict: verdict('accepted', 'a2') },
      'rolled-back.yaml': { published: { version: 'r2', sha256: 'x', at }, verdict: { ...verdict('rejected', 'r2'), rolledBack: true } },
      'unknown.yaml': { published: { version: 'u2', sha256: 'x', at }, verdict: verdict('unknown', 'u2') },
      'found-at-start-unknown.yaml': { verdict: verdict('unknown', 's1') },
      'no-verdict-since.yaml': { published: { version: 'n3', sha256: 'x', at }, verdict: verdict('accepted', 'n2') },
      'pending.yaml': { published: { version: 'p2', sha256: 'x', at }, verdict: verdict('accepted', 'p1') },
    },
  };
  assert.deepEqual(judgeAgainAfterRestart(state, (file) => file === 'pending.yaml'), ['found-at-start-unknown.yaml', 'no-verdict-since.yaml', 'unknown.yaml']);
});

test("envoyRestarted records what the new Envoy runs of each file, none included: the old process's version is no longer what status shows", () => {
  const at = '2026-12-03T09:00:00Z';
  const files = [
    { name: 'cds.yaml', readAs: new Set(['CDS'] as const), versions: new Set(['c1']) },
    { name: 'lds.yaml', readAs: new Set(['LDS'] as const), versions: new Set(['l1', 'l2']) },
    { name: 'rds.yaml', readAs: new Set(['RDS'] as const), versions: new Set(['r1']) },
  ];
  const state: VerdictState = {
    pid: 1,
    sourceDir: '/s',
    targetDir: '/t',
    updatedAt: at,
    files: {
      'cds.yaml': { envoy: { version: 'c1', at } },
      'lds.yaml': { envoy: { version: 'l1', at } },
      'rds.yaml': { envoy: { version: 'r1', at } },
    },
  };
  // The new Envoy took cds.yaml, refused lds.yaml at start (so it opened no RDS subscription).
  const now: EnvoyCounters = {
    subscriptions: new Map([
      ['cluster_manager.cds', { versionText: 'c1', attempt: 1, success: 1, rejected: 0, failure: 0 }],
      ['listener_manager.lds', { versionText: '', attempt: 1, success: 0, rejected: 1, failure: 0 }],
    ]),
    unknownFields: 0,
    sslContextUpdates: 0,
  };
  const conclusions = { envoyRestarted: () => undefined } as unknown as Conclusions;
  envoyRestarted({ logger: pino({ level: 'silent' }), state, files, conclusions, pending: () => false, save: () => undefined }, now, { why: 'w' });
  assert.equal(state.files['cds.yaml']?.envoy?.version, 'c1');
  assert.equal(state.files['lds.yaml']?.envoy?.version, '', 'the new Envoy runs no version of lds.yaml');
  assert.equal(state.files['rds.yaml']?.envoy?.version, '', 'nor of rds.yaml, which it has not opened');
  assert.notEqual(state.files['lds.yaml'].envoy.at, at);
});

// Envoy 1.40's answer to PROCESS_START_AND_BOOTSTRAP_PATH (a bootstrap with LDS by path, shortened).
const BOOTSTRAP_DUMP = `{
 "configs": [
  {
   "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
   "bootstrap": {
    "dynamic_resources": {
     "lds_config": {
      "path_config_source": {
       "path": "/etc/envoy/xds/lds.yaml"
      }
     }
    }
   },
   "last_updated": "2026-12-04T16:12:24.302Z"
  }
 ]
}
`;

test("bootstrapFromConfigDump reads the BootstrapConfigDump's bootstrap (Envoy 1.40's answer to the mask)", () => {
  assert.deepEqual(bootstrapFromConfigDump(BOOTSTRAP_DUMP), { dynamic_resources: { lds_config: { path_config_source: { path: '/etc/envoy/xds/lds.yaml' } } } });
  assert.equal(startedAtFromConfigDump(BOOTSTRAP_DUMP), Date.parse('2026-12-04T16:12:24.302Z'), 'the same answer says when the process started');
  assert.equal(bootstrapFromConfigDump('{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump","last_updated":"2026-12-04T16:12:24.302Z"}]}'), undefined);
  assert.equal(bootstrapFromConfigDump('not json'), undefined);
});

test("EnvoyAdmin with readBootstrap asks each new connection's process for its bootstrap too, in the one config dump request", async () => {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/config_dump') === true) {
      asked.push(req.url);
      res.end(BOOTSTRAP_DUMP);
      return;
    }
    res.end('server.dynamic_unknown_fields: 0\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const admin = new EnvoyAdmin({ host: '127.0.0.1', port }, undefined, true);
  const plain = new EnvoyAdmin({ host: '127.0.0.1', port });
  try {
    const a = await admin.counters(1000);
    const b = await admin.counters(1000);
    assert.deepEqual(asked, [PROCESS_START_AND_BOOTSTRAP_PATH], 'once per connection');
    assert.equal(a.answeredBy?.startedAtMs, Date.parse('2026-12-04T16:12:24.302Z'));
    assert.deepEqual(a.answeredBy.bootstrap, bootstrapFromConfigDump(BOOTSTRAP_DUMP));
    assert.equal(b.answeredBy?.bootstrap, a.answeredBy.bootstrap, 'the same object on every reading of the connection');
    const c = await plain.counters(1000);
    assert.equal(asked[1], PROCESS_START_PATH, 'not asked unless wanted');
    assert.equal(c.answeredBy?.bootstrap, undefined);
  } finally {
    admin.close();
    plain.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
