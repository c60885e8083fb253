// A new Pod while the ConfigMap holds content Envoy refused (source: api): `copy --accepted` starts
// Envoy from the version Envoy last accepted (the last-accepted ConfigMap, mounted by the kubelet;
// here the same AtomicWriter layout), and the watcher lets THIS Envoy judge the ConfigMap's
// version once it runs the accepted one. Judged by a real Envoy 1.40 with real inotify.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LAST_ACCEPTED_RECORD_KEY } from '../../src/inject/last-accepted.js';
import type { LastAcceptedRecord } from '../../src/sync/last-accepted/record.js';
import { sha256, stampVersion } from '../../src/sync/envoy/version-stamp.js';
import { AtomicWriter, CliProcess, makeTempDirs, runCli, waitFor } from '../sync/harness.js';
import type { LogLine } from '../sync/harness.js';
import { bootstrapYaml, freePorts, ldsYaml, startEnvoy } from './envoy.js';
import type { EnvoyProcess } from './envoy.js';

const TIMEOUT = { timeout: 240_000 };
const READY = '..envoy-xds-watch.ready';
const CASES = new URL('../fixtures/cases/', import.meta.url).pathname;

/** What `watch` publishes for `text` as `name` (one version_info line added unless it has one). */
function stamped(name: string, text: string): Buffer {
  const source = Buffer.from(text);
  return stampVersion(name, source, sha256(source)).content;
}

const verdicts = (logs: LogLine[]) => logs.filter((line) => line.event === 'verdict' && line.file === 'lds.yaml');

interface NewPod {
  root: string;
  source: string;
  target: string;
  store: string;
  port: number;
  copy: Awaited<ReturnType<typeof runCli>>;
  envoy?: EnvoyProcess;
  watcher?: CliProcess;
  stop(): Promise<void>;
}

/**
 * A Pod created while the ConfigMap's lds.yaml is `configMapLds`, with a last-accepted store that
 * says another Pod's Envoy accepted `acceptedLds` and refused `refusedLds` (as watchers write it).
 */
async function newPod(opts: {
  configMapLds: (port: number) => string | Promise<string>;
  acceptedLds: (port: number) => string;
  refusedLds: (port: number) => string | Promise<string>;
  /** Overrides the stored accepted content (a hand edit). */
  storedContent?: (accepted: Buffer) => Buffer;
  storeRecord?: (record: LastAcceptedRecord) => string;
}): Promise<NewPod> {
  const dirs = await makeTempDirs('envoy-last-accepted-');
  const store = join(dirs.root, 'accepted');
  await mkdir(store);
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const bootstrap = bootstrapYaml({ lds: join(dirs.target, 'lds.yaml'), admin: { port: adminPort } });
  await new AtomicWriter(dirs.source).write({ 'envoy.yaml': bootstrap, 'lds.yaml': await opts.configMapLds(port) });

  const accepted = stamped('lds.yaml', opts.acceptedLds(port));
  const refused = stamped('lds.yaml', await opts.refusedLds(port));
  const acceptedVersion = stampVersion('lds.yaml', accepted, sha256(accepted)).version;
  const record: LastAcceptedRecord = {
    configMap: 'envoy-xds',
    files: {
      'lds.yaml': {
        accepted: { sha256: sha256(accepted), ...(acceptedVersion === undefined ? {} : { version: acceptedVersion }), at: '2026-11-30T10:00:00.000Z', pod: 'shop/envoy-a' },
        refused: { sha256: sha256(refused), version: 'example-2', at: '2026-11-30T10:05:00.000Z', pod: 'shop/envoy-a' },
      },
    },
  };
  await new AtomicWriter(store).write({
    'lds.yaml': opts.storedContent?.(accepted) ?? accepted,
    [LAST_ACCEPTED_RECORD_KEY]: opts.storeRecord?.(record) ?? JSON.stringify(record, null, 2),
  });
  const copy = await runCli(['copy', '--from', dirs.source, '--to', dirs.target, '--bootstrap', 'envoy.yaml', '--accepted', store]);
  const pod: NewPod = {
    ...dirs,
    store,
    port,
    copy,
    async stop() {
      await pod.watcher?.stop();
      await pod.envoy?.stop();
      await rm(dirs.root, { recursive: true, force: true });
    },
  };
  return pod;
}

async function startEnvoyAndWatcher(pod: NewPod, watchArgs: string[] = []): Promise<{ envoy: EnvoyProcess; watcher: CliProcess }> {
  const workDir = join(pod.root, 'envoy');
  await mkdir(workDir);
  // The kubelet's order for a native sidecar: the watcher is Ready (startupProbe) before Envoy starts.
  const watcher = new CliProcess(['watch', '--from', pod.source, '--to', pod.target, '--ready-file', join(pod.target, READY), '--bootstrap', 'envoy.yaml', ...watchArgs]);
  pod.watcher = watcher;
  await waitFor(() => existsSync(join(pod.target, READY)), 'the watcher ready');
  const envoy = await startEnvoy({ bootstrap: { path: join(pod.target, 'envoy.yaml') }, workDir });
  pod.envoy = envoy;
  return { envoy, watcher };
}

const sharedCase = async (port: number): Promise<string> =>
  (await readFile(join(CASES, 'envoy-rejects-parses-fine.lds.yaml'), 'utf8')).replace('port_value: 18080', `port_value: ${String(port)}`);

test('a new Pod while the ConfigMap holds the refused shared case: Envoy starts on the last accepted version, this Envoy then refuses the ConfigMap\'s too, the disk stays on what it runs, and a resync does not try again', TIMEOUT, async () => {
  const pod = await newPod({ configMapLds: sharedCase, acceptedLds: (port) => ldsYaml({ port, body: 'v1' }), refusedLds: sharedCase });
  try {
    assert.equal(pod.copy.code, 0, pod.copy.stdout);
    const warning = pod.copy.logs.find((l) => l.file === 'lds.yaml' && l.level === 40);
    assert.ok(warning, pod.copy.stdout);
    assert.match(String(warning.msg), /the ConfigMap holds version example-2, which Envoy refused in Pod shop\/envoy-a .* Envoy starts from version sha256:[0-9a-f]{12}, the last it accepted .*; fix the ConfigMap$/);
    const accepted = await readFile(join(pod.store, 'lds.yaml'));
    assert.deepEqual(await readFile(join(pod.target, 'lds.yaml')), accepted, 'copy published the stored accepted content, byte for byte');

    const { envoy, watcher } = await startEnvoyAndWatcher(pod, ['--resync', '300ms']);
    await envoy.waitForBody(pod.port, 'v1');
    // This Envoy runs the accepted version; then it judges the ConfigMap's content itself.
    const first = await watcher.waitForLog((l) => l.event === 'verdict', 'the verdict on the accepted version');
    assert.equal(first.outcome, 'accepted', String(first.msg));
    const retry = await watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('for this Envoy to judge'), 'the retry line');
    assert.equal(retry.refusedIn, 'shop/envoy-a');
    assert.ok(watcher.logs.indexOf(retry) > watcher.logs.indexOf(first), 'the retry is said after the verdict it follows');
    const rejected = await watcher.waitForLog((l) => l.event === 'verdict' && l.outcome === 'rejected', 'this Envoy\'s verdict on example-2');
    assert.match(String(rejected.xdsVersion), /^example-2\+sha256:[0-9a-f]{12}$/);
    assert.equal(rejected.rolledBack, true, String(rejected.msg));
    assert.equal(rejected.level, 50, 'an error, not the fatal first-version refusal');
    assert.deepEqual(await envoy.get(pod.port), { status: 200, body: 'v1' });
    assert.deepEqual(await readFile(join(pod.target, 'lds.yaml')), accepted, 'the disk holds what Envoy runs');

    // Held from now on, as after a refusal in this Pod: resyncs do not publish it again.
    const resyncs = watcher.logs.filter((l) => l.msg === 'pass done').length;
    await waitFor(() => watcher.logs.filter((l) => l.msg === 'pass done').length >= resyncs + 3, 'three more resyncs');
    assert.equal(verdicts(watcher.logs).filter((l) => l.outcome === 'rejected').length, 1);
    const status = await runCli(['status', '--to', pod.target]);
    const row = status.stdout.split('\n').find((line) => line.startsWith('lds.yaml '));
    assert.ok(row !== undefined, status.stdout);
    assert.match(row, /^lds\.yaml +example-2\+sha256:[0-9a-f]{12} \(refused, held back\) +sha256:[0-9a-f]{12} +sha256:[0-9a-f]{12} +rejected example-2\+sha256:[0-9a-f]{12} at .* rolled back$/);

    // A restarted Envoy in this Pod loads what the running one runs.
    await envoy.stop();
    await rm(join(pod.root, 'envoy'), { recursive: true });
    await mkdir(join(pod.root, 'envoy'));
    pod.envoy = await startEnvoy({ bootstrap: { path: join(pod.target, 'envoy.yaml') }, workDir: join(pod.root, 'envoy') });
    await pod.envoy.waitForBody(pod.port, 'v1');
  } finally {
    await pod.stop();
  }
});

test('another Envoy\'s refusal does not bind this one: content it accepts is served once it runs the accepted version', TIMEOUT, async () => {
  // The store says `v2` was refused (say, by an Envoy with another bootstrap or image); this Envoy accepts it.
  const pod = await newPod({
    configMapLds: (port) => ldsYaml({ port, body: 'v2' }),
    acceptedLds: (port) => ldsYaml({ port, body: 'v1' }),
    refusedLds: (port) => ldsYaml({ port, body: 'v2' }),
  });
  try {
    assert.equal(pod.copy.code, 0, pod.copy.stdout);
    assert.match(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), /v1/);
    const { envoy, watcher } = await startEnvoyAndWatcher(pod);
    await envoy.waitForBody(pod.port, 'v2');
    await waitFor(() => verdicts(watcher.logs).filter((l) => l.outcome === 'accepted').length === 2, 'v1 then v2 accepted');
    assert.equal(verdicts(watcher.logs).some((l) => l.outcome === 'rejected'), false);
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), stamped('lds.yaml', ldsYaml({ port: pod.port, body: 'v2' })).toString());
    const json = JSON.parse((await runCli(['status', '--to', pod.target, '--json'])).stdout) as { files: { file: string; held?: boolean }[] };
    assert.equal(json.files.find((f) => f.file === 'lds.yaml')?.held, false);
  } finally {
    await pod.stop();
  }
});

test('copy --accepted starts from the ConfigMap when the store does not apply: other content, a tampered file, a broken record, no store', TIMEOUT, async () => {
  const cases: { what: string; opts: Parameters<typeof newPod>[0]; warns?: RegExp }[] = [
    {
      what: 'the ConfigMap holds content nobody refused',
      opts: { configMapLds: (port) => ldsYaml({ port, body: 'v3' }), acceptedLds: (port) => ldsYaml({ port, body: 'v1' }), refusedLds: sharedCase },
    },
    {
      what: 'the stored accepted file does not match its record',
      opts: { configMapLds: sharedCase, acceptedLds: (port) => ldsYaml({ port, body: 'v1' }), refusedLds: sharedCase, storedContent: (b) => Buffer.concat([b, Buffer.from('# edited\n')]) },
      warns: /^lds\.yaml: the ConfigMap holds version example-2, which Envoy refused in Pod shop\/envoy-a, but the last-accepted store cannot replace it \(the stored accepted content does not match its sha256 \(edited by hand\?\)\): Envoy starts from the ConfigMap's; fix the ConfigMap$/,
    },
    {
      what: 'the record does not parse',
      opts: { configMapLds: sharedCase, acceptedLds: (port) => ldsYaml({ port, body: 'v1' }), refusedLds: sharedCase, storeRecord: () => '{"configMap": 1' },
      warns: /the last-accepted store cannot be read .*envoy-xds-injector\.record\.json.*: starting from the ConfigMap alone/,
    },
  ];
  for (const { what, opts, warns } of cases) {
    const pod = await newPod(opts);
    try {
      assert.equal(pod.copy.code, 0, `${what}: ${pod.copy.stdout}`);
      const port = pod.port;
      assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), stamped('lds.yaml', await opts.configMapLds(port)).toString(), what);
      assert.deepEqual(pod.copy.logs.find((l) => l.msg === 'copied')?.fromLastAccepted, [], what);
      if (warns !== undefined) assert.ok(pod.copy.logs.some((l) => l.level === 40 && warns.test(String(l.msg))), `${what}: ${pod.copy.stdout}`);
      assert.equal(existsSync(join(pod.target, '..envoy-xds-verdict', 'state.json')), false, `${what}: no state seeded`);
    } finally {
      await pod.stop();
    }
  }
  // No store at all (the kubelet mounts an empty directory for a missing optional ConfigMap; a
  // path that does not exist is a wrong flag): copied from the ConfigMap either way.
  const dirs = await makeTempDirs('envoy-last-accepted-');
  try {
    await new AtomicWriter(dirs.source).write({ 'envoy.yaml': bootstrapYaml({ lds: join(dirs.target, 'lds.yaml'), admin: { port: 9901 } }), 'lds.yaml': ldsYaml({ port: 1, body: 'v1' }) });
    await mkdir(join(dirs.root, 'empty'));
    const empty = await runCli(['copy', '--from', dirs.source, '--to', dirs.target, '--bootstrap', 'envoy.yaml', '--accepted', join(dirs.root, 'empty')]);
    assert.equal(empty.code, 0, empty.stdout);
    assert.equal(empty.logs.some((l) => (l.level ?? 0) >= 40), false, empty.stdout);
    await mkdir(join(dirs.root, 'target2'));
    const missing = await runCli(['copy', '--from', dirs.source, '--to', join(dirs.root, 'target2'), '--bootstrap', 'envoy.yaml', '--accepted', join(dirs.root, 'nope')]);
    assert.equal(missing.code, 0, missing.stdout);
    assert.ok(missing.logs.some((l) => l.level === 40 && String(l.msg).includes('nope does not exist')), missing.stdout);
  } finally {
    await rm(dirs.root, { recursive: true, force: true });
  }
});

test('copy publishes nothing when the ConfigMap lacks the bootstrap Envoy is started with', TIMEOUT, async () => {
  const dirs = await makeTempDirs('envoy-copy-bootstrap-');
  try {
    await new AtomicWriter(dirs.source).write({ 'lds.yaml': ldsYaml({ port: 1, body: 'v1' }), 'cds.yaml': 'resources: []\n' });
    const copy = await runCli(['copy', '--from', dirs.source, '--to', dirs.target, '--bootstrap', 'envoy.yaml']);
    assert.equal(copy.code, 1);
    assert.ok(copy.logs.some((l) => l.level === 50 && String(l.msg).includes("Envoy's bootstrap envoy.yaml is not in the ConfigMap (nothing copied)")), copy.stdout);
    assert.deepEqual(await readdir(dirs.target), [], 'nothing published');
  } finally {
    await rm(dirs.root, { recursive: true, force: true });
  }
});
