// The verdict on real-world configurations: each folder of test/fixtures/verdict-cases/ is a
// sequence of ConfigMap edits run through the real `copy` + `watch` against a real Envoy 1.40. After
// every edit the watcher's verdict must be what Envoy's own counters say (version_text, update_*,
// key_rotation_failed, server.dynamic_unknown_fields, /certs, read here under the names Envoy gives
// them, as each folder's STEPS.md records), and so must the `status` row of the file and the Event
// the verdict makes; after every sequence an Envoy restarted from the published directory must
// serve what the running Envoy served.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { BUILT_MARGIN_MS } from '../../src/sync/verdict/reader-kept.js';
import type { SyncResult } from '../../src/sync/publish/syncer.js';
import { EventReason, Reporters } from '../../src/sync/watch/reporters.js';
import type { EventRecorder } from '../../src/sync/watch/reporters.js';
import { runCli, waitFor } from '../sync/harness.js';
import type { LogLine } from '../sync/harness.js';
import type { EnvoyProcess } from './envoy.js';
import {
  answer,
  envoyOf,
  eventOfLine,
  nextVerdict,
  restartFromPublished,
  served,
  startCase,
  subscriptionCounters,
  verdictCounts,
  verdictLines,
  waitServed,
} from './verdict-cases.js';
import type { CasePod, ConfigMapSpec } from './verdict-cases.js';
import { refusedCopy } from '../helpers/refused-copy.js';

const TIMEOUT = { timeout: 300_000 };

/** One file's expected verdict in a step, and the Envoy subscription (stat prefix, as Envoy names it) that must agree. */
interface Expect {
  file: string;
  outcome: 'accepted' | 'rejected';
  /** Envoy's stat prefix of the subscription that reads the file, or `key_rotation_failed:<sds prefix>` for a file a secret reads. */
  envoy: string;
}

/** Serial numbers (lower-case hex) of the certificates Envoy serves, from its own `/certs`. */
async function servedSerials(envoy: EnvoyProcess): Promise<Set<string>> {
  const res = await fetch(`${envoy.adminUrl}/certs`);
  const body = (await res.json()) as { certificates?: { cert_chain?: { serial_number?: string }[] }[] };
  return new Set((body.certificates ?? []).flatMap((c) => (c.cert_chain ?? []).map((cert) => (cert.serial_number ?? '').toLowerCase())));
}

/**
 * What `status` and the Event say about a verdict line, checked against Envoy: the Event's reason
 * is the one Envoy's counters call for (XdsAccepted, or XdsAcceptedWithWarnings when Envoy counted
 * server.dynamic_unknown_fields in the step; XdsRolledBack for a refusal put back); `status` shows
 * the verdict, and for an xDS file Envoy's own version_text as what Envoy runs and as what is
 * published (the disk is what Envoy runs), and a refused content as held back.
 */
async function statusAndEvent(pod: CasePod, e: Expect, line: LogLine, unknownFieldsMoved: boolean): Promise<void> {
  const event = eventOfLine(line, e.file);
  const want = e.outcome === 'rejected' ? EventReason.rolledBack : unknownFieldsMoved ? EventReason.acceptedWithWarnings : EventReason.accepted;
  assert.equal(event.reason, want, `${e.file}: the Event for ${String(line.msg)}`);
  // The state file `status` reads is written just after the line is logged (state.ts).
  const rowOf = async () => (await gatherStatus(pod.target)).files.find((f) => f.file === e.file);
  let row = await rowOf();
  for (let i = 0; i < 100 && row?.verdict?.message !== line.msg; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    row = await rowOf();
  }
  assert.ok(row, `${e.file}: a status row`);
  assert.equal(row.verdict?.message, line.msg, `${e.file}: status's last verdict is this one`);
  assert.equal(row.verdict?.outcome, e.outcome, `${e.file}: status's last verdict`);
  assert.equal(row.held, e.outcome === 'rejected', `${e.file}: status says the ConfigMap's content is ${e.outcome === 'rejected' ? '' : 'not '}held back`);
  if (e.envoy.startsWith('key_rotation_failed:')) return;
  const versionText = (await subscriptionCounters(envoyOf(pod), e.envoy)).versionText;
  assert.deepEqual(row.envoy, { version: versionText, live: true, ...(row.envoy?.at === undefined ? {} : { at: row.envoy.at }) }, `${e.file}: status's ENVOY RUNS is Envoy's ${e.envoy}.version_text`);
  assert.equal(row.published, versionText, `${e.file}: status's PUBLISHED is what Envoy runs`);
}

/**
 * Applies `spec`, waits for a verdict on every expected file, and checks each against Envoy:
 * accepted → the subscription reports the verdict's version (for files a secret reads: Envoy's
 * /certs serves the published certificate); rejected → the subscription counted a refusal since
 * the edit (or key_rotation_failed moved) and the verdict says the last accepted version is back
 * on disk. Then `status` and the Event for each verdict (statusAndEvent).
 */
const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

async function step(pod: CasePod, spec: ConfigMapSpec, expects: Expect[]): Promise<Map<string, LogLine>> {
  const envoy = envoyOf(pod);
  const before = verdictCounts(pod, expects.map((e) => e.file));
  const envoyBefore = new Map<string, Awaited<ReturnType<typeof subscriptionCounters>>>();
  const rotationBefore = new Map<string, number>();
  for (const e of expects) {
    if (e.envoy.startsWith('key_rotation_failed:')) {
      const prefix = e.envoy.slice('key_rotation_failed:'.length);
      rotationBefore.set(e.file, await envoy.stat(`${prefix}.key_rotation_failed`));
    } else {
      envoyBefore.set(e.file, await subscriptionCounters(envoy, e.envoy));
    }
  }
  const unknownBefore = await envoy.stat('server.dynamic_unknown_fields');
  await pod.apply(spec);
  const got = new Map<string, LogLine>();
  for (const e of expects) {
    const line = await nextVerdict(pod, e.file, before.get(e.file) ?? 0);
    got.set(e.file, line);
    assert.equal(line.outcome, e.outcome, `${pod.folder}: ${e.file}: ${String(line.msg)}`);
    if (e.envoy.startsWith('key_rotation_failed:')) {
      const prefix = e.envoy.slice('key_rotation_failed:'.length);
      const moved = (await envoy.stat(`${prefix}.key_rotation_failed`)) > (rotationBefore.get(e.file) ?? 0);
      if (e.outcome === 'rejected') assert.ok(moved, `${e.file}: Envoy counted no key_rotation_failed`);
      const certificate = await readFile(join(pod.target, 'cert.pem')).catch(() => undefined);
      const serial = certificate === undefined ? undefined : new X509Certificate(certificate).serialNumber.toLowerCase();
      const serves = serial !== undefined && (await servedSerials(envoy)).has(serial);
      assert.ok(serves, `${e.file}: Envoy's /certs serves the certificate on disk (${String(serial)}) after the verdict ${e.outcome}`);
    } else {
      const now = await subscriptionCounters(envoy, e.envoy);
      const was = envoyBefore.get(e.file);
      if (e.outcome === 'accepted') {
        assert.equal(now.versionText, line.xdsVersion, `${e.file}: Envoy's ${e.envoy}.version_text is the accepted version`);
      } else {
        assert.ok(was !== undefined && now.refused > was.refused, `${e.file}: Envoy counted a refusal on ${e.envoy} (${JSON.stringify({ was, now })})`);
        assert.notEqual(now.versionText, line.xdsVersion, `${e.file}: Envoy does not report the refused version`);
      }
    }
    if (e.outcome === 'rejected') assert.equal(line.rolledBack, true, `${e.file}: ${String(line.msg)}`);
  }
  const unknownFieldsMoved = (await envoy.stat('server.dynamic_unknown_fields')) > unknownBefore;
  for (const e of expects) {
    const line = got.get(e.file);
    assert.ok(line);
    await statusAndEvent(pod, e, line, unknownFieldsMoved);
  }
  return got;
}

/** The initial verdicts (the files `copy` published), each checked against Envoy like a step's. */
async function initial(pod: CasePod, expects: Expect[]): Promise<void> {
  const envoy = envoyOf(pod);
  for (const e of expects) {
    const line = await nextVerdict(pod, e.file, 0);
    assert.equal(line.outcome, e.outcome, `${pod.folder}: initial ${e.file}: ${String(line.msg)}`);
    if (e.outcome === 'accepted' && !e.envoy.startsWith('key_rotation_failed:')) {
      assert.equal((await subscriptionCounters(envoy, e.envoy)).versionText, line.xdsVersion, `initial ${e.file}`);
    }
  }
}

/** After the sequence: a restarted Envoy, reading only the published directory, serves what the running one served. */
async function restartServesTheSame(pod: CasePod, probes: (envoy: EnvoyProcess) => Promise<string>[]): Promise<void> {
  const { running, restarted } = await restartFromPublished(pod, async () => Promise.all(probes(envoyOf(pod))));
  assert.ok(running.every((answer) => answer !== '-'), `the running Envoy serves: ${JSON.stringify(running)}`);
  assert.deepEqual(restarted, running, `${pod.folder}: an Envoy restarted from the published directory serves what the running one served`);
}

const LDS = 'listener_manager.lds';
const CDS = 'cluster_manager.cds';

test('01-publish-order-new-referenced-file (RDS): an edit that adds rds.yaml and names it in lds.yaml reaches Envoy', TIMEOUT, async () => {
  const base = { 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml' };
  const pod = await startCase('01-publish-order-new-referenced-file', { ...base, 'lds.yaml': 'lds-v0.yaml' });
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'cds.yaml', outcome: 'accepted', envoy: CDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v0', 'v0');
    await step(pod, { ...base, 'lds.yaml': 'lds-v1-rds.yaml', 'rds.yaml': 'rds-v1.yaml' }, [
      { file: 'lds.yaml', outcome: 'accepted', envoy: LDS },
      { file: 'rds.yaml', outcome: 'accepted', envoy: 'http.ingress_http.rds.local_route' },
    ]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('01-publish-order-new-referenced-file (RDS, two edits): lds.yaml refused for a missing rds.yaml is retried once rds.yaml arrives', TIMEOUT, async () => {
  const base = { 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml' };
  const pod = await startCase('01-publish-order-new-referenced-file', { ...base, 'lds.yaml': 'lds-v0.yaml' });
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    // Envoy refuses a Listener whose path_config_source names a file that does not exist yet.
    await step(pod, { ...base, 'lds.yaml': 'lds-v1-rds.yaml' }, [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v0', 'v0 kept');
    // The missing file arrives: the refused lds.yaml is published again, and Envoy takes both.
    await step(pod, { ...base, 'lds.yaml': 'lds-v1-rds.yaml', 'rds.yaml': 'rds-v1.yaml' }, [
      { file: 'lds.yaml', outcome: 'accepted', envoy: LDS },
      { file: 'rds.yaml', outcome: 'accepted', envoy: 'http.ingress_http.rds.local_route' },
    ]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

// Envoy applies the files of one change in an order of its own (each file subscription reads its
// own inotify descriptor), so lds.yaml may be applied before the cds.yaml that adds its cluster and
// be refused ("route: unknown cluster"); the watcher then renames it again once cds.yaml is
// applied, and that second answer is the verdict. Passes whichever order Envoy takes.
test('01-publish-order-new-referenced-file (EDS): an edit that adds eds.yaml, names it in cds.yaml and routes to it reaches Envoy', TIMEOUT, async () => {
  const pod = await startCase('01-publish-order-new-referenced-file', { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-eds-v0.yaml', 'cds.yaml': 'cds-v0.yaml' });
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'cds.yaml', outcome: 'accepted', envoy: CDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 A', 'A');
    const lds = await subscriptionCounters(envoyOf(pod), LDS);
    await step(pod, { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-eds-v1.yaml', 'cds.yaml': 'cds-v1-eds.yaml', 'eds.yaml': 'eds-v1.yaml' }, [
      { file: 'cds.yaml', outcome: 'accepted', envoy: CDS },
      { file: 'eds.yaml', outcome: 'accepted', envoy: 'cluster.EnvoyNetCore' },
      { file: 'lds.yaml', outcome: 'accepted', envoy: LDS },
    ]);
    // When Envoy did apply lds.yaml first (it counted a refusal), the watcher said so and tried again.
    const refusedFirst = (await subscriptionCounters(envoyOf(pod), LDS)).refused > lds.refused;
    const retried = pod.watcher.logs.some((line) => line.file === 'lds.yaml' && String(line.msg).includes('publishing it again'));
    assert.equal(retried, refusedFirst, `Envoy ${refusedFirst ? 'refused' : 'did not refuse'} lds.yaml first; the watcher ${retried ? 'retried' : 'did not retry'}`);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('02-one-subscription-several-referrers: two listeners share one RDS subscription (one stats tree); its verdicts are its own', TIMEOUT, async () => {
  const spec = (rds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'rds.yaml': rds });
  const pod = await startCase('02-one-subscription-several-referrers', spec('rds-v0.yaml'));
  const RDS = 'http.ingress_a.rds.shared_routes'; // the first listener's stat_prefix; there is no http.ingress_b.rds.shared_routes
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'rds.yaml', outcome: 'accepted', envoy: RDS }]);
    await step(pod, spec('rds-v1.yaml'), [{ file: 'rds.yaml', outcome: 'accepted', envoy: RDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P1), '200 v1', 'v1 on the second listener');
    await step(pod, spec('rds-v2-bad.yaml'), [{ file: 'rds.yaml', outcome: 'rejected', envoy: RDS }]);
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0), served(envoy, pod.ports.P1)]);
  } finally {
    await pod.stop();
  }
});

test('03-fixed-version-false-accept (A): with version_info "0" never bumped, two refused edits in a row are both reported refused', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });
  const pod = await startCase('03-fixed-version-false-accept', spec('lds-v0.yaml'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    const v1 = await step(pod, spec('lds-v1.yaml'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    // The user's version stays visible in what Envoy reports.
    assert.match(String(v1.get('lds.yaml')?.xdsVersion), /^0\b/);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1');
    await step(pod, spec('lds-v2-bad.yaml'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    await step(pod, spec('lds-v3-bad.yaml'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    assert.equal(await served(envoyOf(pod), pod.ports.P0), '200 v1');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('03-fixed-version-false-accept (B, watched_directory): a sibling rename does not credit the refused lds.yaml', TIMEOUT, async () => {
  const pod = await startCase('03-fixed-version-false-accept', { 'envoy.yaml': 'envoy-wd.yaml', 'lds.yaml': 'lds-v0.yaml', 'cds.yaml': 'cds-v0.yaml' });
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'cds.yaml', outcome: 'accepted', envoy: CDS }]);
    await step(pod, { 'envoy.yaml': 'envoy-wd.yaml', 'lds.yaml': 'lds-v2-bad.yaml', 'cds.yaml': 'cds-v1.yaml' }, [
      { file: 'cds.yaml', outcome: 'accepted', envoy: CDS },
      { file: 'lds.yaml', outcome: 'rejected', envoy: LDS },
    ]);
    assert.equal(await served(envoyOf(pod), pod.ports.P0), '200 v0');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('04-version-read-as-envoy: unquoted dates and decimals are the strings Envoy reports; a plain integer is refused', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v1-date.yaml'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    assert.match(await envoyOf(pod).textStat(`${LDS}.version_text`), /^2024-05-02\b/);
    const v2 = await step(pod, spec('lds-v2-float.yaml'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    assert.match(String(v2.get('lds.yaml')?.xdsVersion), /^1\.20\b/);
    await step(pod, spec('lds-v3-float-bad.yaml'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    await step(pod, spec('lds-v4-int.yaml'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    assert.equal(await served(envoyOf(pod), pod.ports.P0), '200 v2');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('05-stat-name-not-envoys (EDS): a cluster with alt_stat_name is judged under the stats Envoy gives it', TIMEOUT, async () => {
  const spec = (eds: string) => ({ 'envoy.yaml': 'envoy-eds.yaml', 'lds.yaml': 'lds-eds.yaml', 'cds.yaml': 'cds-alt.yaml', 'eds.yaml': eds });
  const pod = await startCase('05-stat-name-not-envoys', spec('eds-v0.yaml'));
  const EDS = 'cluster.outbound_8080_backend';
  try {
    await initial(pod, [{ file: 'eds.yaml', outcome: 'accepted', envoy: EDS }]);
    await step(pod, spec('eds-v1.yaml'), [{ file: 'eds.yaml', outcome: 'accepted', envoy: EDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 B', 'B');
    await step(pod, spec('eds-v2-bad.yaml'), [{ file: 'eds.yaml', outcome: 'rejected', envoy: EDS }]);
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('05-stat-name-not-envoys (RDS): a route configuration named host:port is judged under the stats Envoy gives it', TIMEOUT, async () => {
  const spec = (rds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-rds-colon.yaml', 'rds.yaml': rds });
  const pod = await startCase('05-stat-name-not-envoys', spec('rds-colon-v0.yaml'));
  const RDS = 'http.ingress_http.rds.backend.default.svc.cluster.local_8080';
  try {
    await initial(pod, [{ file: 'rds.yaml', outcome: 'accepted', envoy: RDS }]);
    await step(pod, spec('rds-colon-v1.yaml'), [{ file: 'rds.yaml', outcome: 'accepted', envoy: RDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1');
    await step(pod, spec('rds-colon-v2-bad.yaml'), [{ file: 'rds.yaml', outcome: 'rejected', envoy: RDS }]);
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

// With the bootstrap in the ConfigMap (--bootstrap), and outside it as in an image (Envoy's own -c):
// then the watcher learns that Envoy reads sds.yaml from its resources' @type alone.
for (const outside of [false, true]) {
  const title = outside
    ? "05-stat-name-not-envoys (SDS), Envoy's bootstrap outside the ConfigMap (in the image): the Secret file it names is judged, and a refused one rolled back"
    : '05-stat-name-not-envoys (SDS): a secret named kubernetes://... is judged under the stats Envoy gives it';
  test(title, TIMEOUT, async () => {
    const spec = (sds: string): ConfigMapSpec => (outside ? { 'sds.yaml': sds } : { 'envoy.yaml': 'envoy-sds.yaml', 'sds.yaml': sds });
    const pod = await startCase('05-stat-name-not-envoys', spec('sds-v0.yaml'), [], outside ? { envoyBootstrap: 'envoy-sds.yaml' } : {});
    const SDS = 'sds.kubernetes_envoy-tls';
    try {
      await initial(pod, [{ file: 'sds.yaml', outcome: 'accepted', envoy: SDS }]);
      await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'tls-cn'), 'cert-A', 'cert A');
      await step(pod, spec('sds-v1.yaml'), [{ file: 'sds.yaml', outcome: 'accepted', envoy: SDS }]);
      await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'tls-cn'), 'cert-B', 'cert B');
      await step(pod, spec('sds-v2-bad.yaml'), [{ file: 'sds.yaml', outcome: 'rejected', envoy: SDS }]);
      await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0, 'tls-cn')]);
    } finally {
      await pod.stop();
    }
  });
}

test('12-type-misspelt-bootstrap-outside: Envoy\'s bootstrap in the image, an edit misspells the listener\'s @type: judged (rejected) and rolled back, as Envoy\'s LDS subscription reads the path whatever it holds', TIMEOUT, async () => {
  const spec = (lds: string): ConfigMapSpec => ({ 'lds.yaml': lds });
  const pod = await startCase('12-type-misspelt-bootstrap-outside', spec('lds-v0.yaml'), [], { envoyBootstrap: 'envoy.yaml' });
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v0', 'v0');
    const lines = await step(pod, spec('lds-v1-bad-type.yaml'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    assert.match(String(lines.get('lds.yaml')?.msg), /rejected lds\.yaml/);
    assert.equal(await served(envoyOf(pod), pod.ports.P0), '200 v0');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

// Envoy before the watcher, and after it (a native sidecar: Envoy waits for the watcher's ready file).
for (const envoyAfterWatcher of [false, true]) {
  test(`13-type-misspelt-first-version-bootstrap-outside (Envoy started ${envoyAfterWatcher ? 'after' : 'before'} the watcher): the first lds.yaml has a misspelt @type and Envoy's bootstrap is in the image: judged from the paths Envoy's own bootstrap reads (its config dump): refused first version, validate hint, Event, status exit 1`, TIMEOUT, async () => {
    const spec = (lds: string): ConfigMapSpec => ({ 'lds.yaml': lds });
    const pod = await startCase('13-type-misspelt-first-version-bootstrap-outside', spec('lds-v0-bad-type.yaml'), [], { envoyBootstrap: 'envoy.yaml', envoyAfterWatcher });
    try {
      const line = await nextVerdict(pod, 'lds.yaml', 0);
      const msg = String(line.msg);
      assert.equal(line.outcome, 'rejected', msg);
      assert.equal(line.level, 60, msg);
      assert.equal(line.rolledBack, false, msg);
      assert.match(msg, /^Envoy REFUSED lds\.yaml version \S+, and no version of lds\.yaml was accepted before it, so there is nothing to put back: it stays published; /);
      assert.ok(msg.endsWith(` validate ${refusedCopy(pod.target, 'lds.yaml', line.xdsVersion)} names the field and its line in the refused version kept there`), msg);
      // The path Envoy reads, from Envoy: the line to grep in its log names it.
      assert.equal(line.envoyLog, `Filesystem config update failure: in ${join(pod.target, 'lds.yaml')}`);
      const lds = await subscriptionCounters(envoyOf(pod), LDS);
      assert.equal(lds.versionText, '', 'Envoy runs no version of lds.yaml');
      assert.ok(lds.refused >= 1, JSON.stringify(lds));
      assert.equal(await served(envoyOf(pod), pod.ports.P0), '-');
      assert.equal(eventOfLine(line).reason, EventReason.rejected);
      const status = await runCli(['status', '--to', pod.target]);
      assert.equal(status.code, 1, status.stdout);
      assert.match(status.stdout, /^lds\.yaml +\S+ \(refused, stays published: nothing accepted came before it\) /m, status.stdout);
      await step(pod, spec('lds-v1.yaml'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
      await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1');
      await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
    } finally {
      await pod.stop();
    }
  });
}

test('06-ecds-file-no-verdict: an ECDS file (config_discovery -> path_config_source) is judged and a refused one rolled back', TIMEOUT, async () => {
  const spec = (ecds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'ecds.yaml': ecds });
  const pod = await startCase('06-ecds-file-no-verdict', spec('ecds-v0.yaml'));
  const ECDS = 'extension_config_discovery.http_filter.fault_abort';
  try {
    await initial(pod, [{ file: 'ecds.yaml', outcome: 'accepted', envoy: ECDS }]);
    await step(pod, spec('ecds-v1.yaml'), [{ file: 'ecds.yaml', outcome: 'accepted', envoy: ECDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'status'), '429', '429');
    await step(pod, spec('ecds-v2-bad.yaml'), [{ file: 'ecds.yaml', outcome: 'rejected', envoy: ECDS }]);
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0, 'status')]);
  } finally {
    await pod.stop();
  }
});

test('07-subscription-an-edit-creates: renaming the route configuration in lds.yaml, which the unchanged rds.yaml lacks, is refused and rolled back', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'rds.yaml': 'rds.yaml' });
  const pod = await startCase('07-subscription-an-edit-creates', spec('lds-v0.yaml'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'rds.yaml', outcome: 'accepted', envoy: 'http.ingress_http.rds.local_route' }]);
    const before = await subscriptionCounters(envoyOf(pod), 'http.ingress_http.rds.renamed_route');
    const counts = verdictCounts(pod, ['lds.yaml']);
    await pod.apply(spec('lds-v1-renamed-route.yaml'));
    const line = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
    // Envoy took the listeners but the RDS subscription the edit opened refused rds.yaml: the edit is refused.
    assert.equal(line.outcome, 'rejected', String(line.msg));
    assert.equal(line.rolledBack, true);
    const created = await subscriptionCounters(envoyOf(pod), 'http.ingress_http.rds.renamed_route');
    assert.ok(created.refused > before.refused, JSON.stringify(created));
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v0', 'v0 after the rollback');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('09-duplicate-listener-name: a refused first version says which of its listeners and clusters Envoy runs (read from Envoy); a refused edit is rolled back and what it added is gone', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': 'cds-v1-duplicate.yaml' });
  const pod = await startCase('09-duplicate-listener-name', spec('lds-v1-duplicate.yaml'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }, { file: 'cds.yaml', outcome: 'rejected', envoy: CDS }]);
    const envoy = envoyOf(pod);
    // Envoy counted both refused and reports no version, yet runs the first of each name.
    for (const prefix of [LDS, CDS]) {
      const counters = await subscriptionCounters(envoy, prefix);
      assert.deepEqual([counters.refused, counters.success, counters.versionText], [1, 0, ''], `${prefix}: ${JSON.stringify(counters)}`);
    }
    await waitServed(() => served(envoy, pod.ports.P0), '200 v1', 'the first shop_listener, which Envoy kept');
    assert.equal(await served(envoy, pod.ports.P1), '-', 'the duplicate is not listened on');
    const clusters = (await (await fetch(`${envoy.adminUrl}/clusters?format=json`)).json()) as { cluster_statuses?: { name: string; added_via_api?: boolean }[] };
    assert.deepEqual((clusters.cluster_statuses ?? []).filter((c) => c.added_via_api === true).map((c) => c.name), ['shop'], 'Envoy runs cluster shop from cds.yaml');
    const [lds] = verdictLines(pod, 'lds.yaml');
    const [cds] = verdictLines(pod, 'cds.yaml');
    assert.match(String(lds?.msg), /^Envoy REFUSED lds\.yaml version [^,]+, and no version of lds\.yaml was accepted before it, so there is nothing to put back: it stays published; Envoy runs 1 of the 2 listeners of lds\.yaml \(shop_listener\) and refused the other, and a restarted Envoy will refuse it again; fix the ConfigMap\. Envoy says: .*duplicate listener shop_listener found/);
    assert.match(String(cds?.msg), /^Envoy REFUSED cds\.yaml version [^,]+, and no version of cds\.yaml was accepted before it, so there is nothing to put back: it stays published; Envoy runs 1 of the 2 clusters of cds\.yaml \(shop\) and refused the other, /);
    for (const line of [lds, cds]) assert.doesNotMatch(String(line?.msg), /WITHOUT/);
    // The message is the Event's and status's too (the state file is written just after the line: state.ts).
    const statusMessage = async (): Promise<string | undefined> => (await gatherStatus(pod.target)).files.find((f) => f.file === 'lds.yaml')?.verdict?.message;
    let message = await statusMessage();
    for (let i = 0; i < 100 && message !== lds?.msg; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      message = await statusMessage();
    }
    assert.equal(message, lds?.msg);

    await step(pod, spec('lds-v2.yaml'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v2', 'v2');

    // A refused edit: Envoy applies shop_listener (v3) and admin_listener before the rollback...
    const adminListener = (async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if ((await served(envoyOf(pod), pod.ports.P2)) === '200 v3-admin') return true;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return false;
    })();
    await step(pod, spec('lds-v3-duplicate-edit.yaml'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    // ...and the rollback (lds-v2, state of the world) replaces shop_listener and removes admin_listener.
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v2', 'v2 after the rollback');
    await waitServed(() => served(envoyOf(pod), pod.ports.P2), '-', 'admin_listener removed by the rollback');
    const dump = (await (await fetch(`${envoyOf(pod).adminUrl}/config_dump?resource=dynamic_listeners&mask=name,active_state.version_info`)).json()) as { configs?: { name?: string; active_state?: { version_info?: string } }[] };
    const active = (dump.configs ?? []).filter((c) => c.active_state !== undefined).map((c) => c.name);
    assert.deepEqual(active, ['shop_listener'], 'after the rollback Envoy runs exactly lds-v2');
    // Seen in most runs (a window of milliseconds): printed, not asserted.
    process.stdout.write(`admin_listener of the refused edit seen serving before the rollback: ${String(await adminListener)}\n`);
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
    assert.equal(await served(envoyOf(pod), pod.ports.P2), '-', 'the restarted Envoy has no admin_listener either');
  } finally {
    await pod.stop();
  }
});

test('08-sds-named-files: a certificate/key pair that does not match is refused (key_rotation_failed) and rolled back', TIMEOUT, async () => {
  const spec = (cert: string, key: string) => ({ 'envoy.yaml': 'envoy.yaml', 'sds.yaml': 'sds.yaml', 'cert.pem': cert, 'key.pem': key });
  const pod = await startCase('08-sds-named-files', spec('cert-a.pem', 'key-a.pem'));
  const ROTATION = 'key_rotation_failed:sds.server_cert';
  try {
    await initial(pod, [
      { file: 'sds.yaml', outcome: 'accepted', envoy: 'sds.server_cert' },
      { file: 'cert.pem', outcome: 'accepted', envoy: ROTATION },
      { file: 'key.pem', outcome: 'accepted', envoy: ROTATION },
    ]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'tls-cn'), 'cert-A', 'cert A');
    await step(pod, spec('cert-b.pem', 'key-b.pem'), [
      { file: 'cert.pem', outcome: 'accepted', envoy: ROTATION },
      { file: 'key.pem', outcome: 'accepted', envoy: ROTATION },
    ]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'tls-cn'), 'cert-B', 'cert B');
    // The Secret's version_text is not the certificate's: status gives these files no ENVOY RUNS of their own
    // (it showed sds.yaml's), so the workload view counts them synced once published (fresh-user trial).
    const rows = (await gatherStatus(pod.target)).files;
    for (const file of ['cert.pem', 'key.pem']) {
      const row = rows.find((f) => f.file === file);
      assert.equal(row?.envoy, undefined, `${file}: ${JSON.stringify(row)}`);
      assert.equal(row?.subscribed, false, file);
    }
    const refused = await step(pod, spec('cert-c.pem', 'key-b.pem'), [{ file: 'cert.pem', outcome: 'rejected', envoy: ROTATION }]);
    assert.equal(await readFile(join(pod.target, 'cert.pem'), 'utf8'), await pod.fixture('cert-b.pem'));
    // A certificate carries no version_info: its lines and `status` name it by its content's sha256, alike.
    const refusedVersion = `sha256:${sha256Hex(await pod.fixture('cert-c.pem')).slice(0, 12)}`;
    assert.match(String(refused.get('cert.pem')?.msg), new RegExp(`^Envoy rejected cert\\.pem version ${refusedVersion}: `));
    const whileRefused = await runCli(['status', '--to', pod.target]);
    assert.equal(whileRefused.code, 1, whileRefused.stdout);
    assert.match(whileRefused.stdout, new RegExp(`^cert\\.pem +${refusedVersion} \\(refused, held back\\) .* rejected ${refusedVersion} at `, 'm'), whileRefused.stdout);
    // The ConfigMap goes back to the pair Envoy serves: nothing to publish, and `status` says the refusal was of an earlier version.
    const seen = pod.watcher.logs.length;
    await pod.apply(spec('cert-b.pem', 'key-b.pem'));
    await waitFor(() => pod.watcher.logs.slice(seen).some((l) => l.file === 'cert.pem' && String(l.msg).includes('no longer held back')), 'the watcher saw the ConfigMap back to the published cert.pem');
    const back = await runCli(['status', '--to', pod.target]);
    assert.equal(back.code, 0, back.stdout);
    assert.match(back.stdout, new RegExp(`^cert\\.pem .* earlier version: rejected ${refusedVersion} at `, 'm'), back.stdout);
    assert.doesNotMatch(back.stdout, /WHY ENVOY REFUSED/, back.stdout);
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0, 'tls-cn')]);
  } finally {
    await pod.stop();
  }
});

test('envoy-ignores-unknown-field.lds.yaml: Envoy loads it and ignores misspelt fields; the verdict says accepted with ignored fields', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    const unknownBefore = await envoyOf(pod).stat('server.dynamic_unknown_fields');
    const got = await step(pod, spec('../cases/envoy-ignores-unknown-field.lds.yaml'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    const line = got.get('lds.yaml');
    assert.ok(line !== undefined);
    const moved = (await envoyOf(pod).stat('server.dynamic_unknown_fields')) - unknownBefore;
    assert.ok(moved > 0, 'Envoy counted the unknown fields');
    assert.equal(line.ignoredFields, moved, String(line.msg));
    assert.match(String(line.msg), /ignored/);
    // `status` shows it, in its table and its JSON (which the workload view reads).
    const table = await runCli(['status', '--to', pod.target]);
    assert.match(table.stdout, new RegExp(`^lds\\.yaml .* accepted \\S+ at .*, ignored unknown fields \\(Envoy counted ${String(moved)}\\)$`, 'm'), table.stdout);
    assert.ok(table.stdout.includes(`\nENVOY IGNORED UNKNOWN FIELDS\n${String(line.msg)}\n`), table.stdout);
    const json = JSON.parse((await runCli(['status', '--json', '--to', pod.target])).stdout) as { files: { file: string; verdict?: { ignoredFields?: number } }[] };
    assert.equal(json.files.find((f) => f.file === 'lds.yaml')?.verdict?.ignoredFields, moved);
    // The command the message suggests runs as written (here, outside a Pod: this program by its path) and names both fields.
    const command = /: (\S.* validate \S+) names them all/.exec(String(line.msg))?.[1] ?? '';
    assert.ok(!command.startsWith('envoy-xds-injector '), `${command}: not on this PATH`);
    const named = spawnSync('sh', ['-c', command], { encoding: 'utf8' });
    assert.equal(named.status, 0, `${command}: ${named.stderr}`);
    assert.match(named.stderr + named.stdout, /unknown field "per_connection_buffer_limit_bytez"[\s\S]*unknown field "stream_idle_timeoutt"/);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 typo-1', 'typo-1');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('envoy-accepts-ignore-tag.lds.yaml (`!ignore` on a value, shared through an anchor): copy publishes it, the Pod starts, Envoy serves it, and the key Envoy counts as unknown is said', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });
  // The case is kept as test/fixtures/envoy-corpus/accepts.ignore-tag-on-value.lds.yaml (the oracle's corpus). copy exits 0: startCase asserts it.
  const pod = await startCase('04-version-read-as-envoy', spec('../../envoy-corpus/accepts.ignore-tag-on-value.lds.yaml'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'v1');
    const counters = await subscriptionCounters(envoyOf(pod), LDS);
    assert.equal(counters.refused, 0, 'Envoy refused nothing');
    // The tag is on the value, so yaml-cpp keeps the key: Envoy counts `router_filters` as an unknown field, once.
    const unknown = await envoyOf(pod).stat('server.dynamic_unknown_fields');
    assert.equal(unknown, 1);
    const [line] = verdictLines(pod, 'lds.yaml');
    assert.equal(line?.ignoredFields, unknown, String(line?.msg));
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('envoy-ignores-unknown-field.lds.yaml already published when Envoy starts (a new Pod: copy, then Envoy): the first verdict says accepted with ignored fields', TIMEOUT, async () => {
  const pod = await startCase('04-version-read-as-envoy', { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': '../cases/envoy-ignores-unknown-field.lds.yaml' });
  try {
    const line = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(line.outcome, 'accepted', String(line.msg));
    assert.equal((await subscriptionCounters(envoyOf(pod), LDS)).versionText, line.xdsVersion);
    // The bootstrap holds no unknown fields (Envoy refuses them there): Envoy's count is the file's.
    const counted = await envoyOf(pod).stat('server.dynamic_unknown_fields');
    assert.ok(counted > 0, 'Envoy counted the unknown fields');
    assert.equal(line.level, 40, String(line.msg));
    assert.equal(line.ignoredFields, counted, String(line.msg));
    assert.match(String(line.msg), new RegExp(`^Envoy accepted lds\\.yaml version ${String(line.xdsVersion).replace(/[+.]/g, (c) => `\\${c}`)} in \\S+ ms, but ignored unknown fields in it \\(Envoy counted ${String(counted)} `));
    await statusAndEvent(pod, { file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, line, true);
    const table = await runCli(['status', '--to', pod.target]);
    assert.ok(table.stdout.includes(`\nENVOY IGNORED UNKNOWN FIELDS\n${String(line.msg)}\n`), table.stdout);
    // The command the message suggests names every misspelt field, not only the one Envoy counted.
    const command = /: (\S.* validate \S+) names them all/.exec(String(line.msg))?.[1] ?? '';
    const named = spawnSync('sh', ['-c', command], { encoding: 'utf8' });
    assert.match(named.stderr + named.stdout, /unknown field "per_connection_buffer_limit_bytez"[\s\S]*unknown field "stream_idle_timeoutt"/, command);
  } finally {
    await pod.stop();
  }
});

test('envoy-ignores-unknown-field.lds.yaml published next to a clean cds.yaml when Envoy starts: Envoy\'s count does not say which file, so the first accepted verdict names both and the directory to validate, once', TIMEOUT, async () => {
  const pod = await startCase('01-publish-order-new-referenced-file', { 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml', 'lds.yaml': '../cases/envoy-ignores-unknown-field.lds.yaml' });
  try {
    const lines = [await nextVerdict(pod, 'lds.yaml', 0), await nextVerdict(pod, 'cds.yaml', 0)];
    assert.deepEqual(lines.map((l) => l.outcome), ['accepted', 'accepted'], lines.map((l) => String(l.msg)).join('\n'));
    const counted = await envoyOf(pod).stat('server.dynamic_unknown_fields');
    assert.ok(counted > 0, 'Envoy counted the unknown fields');
    const warned = lines.filter((l) => typeof l.ignoredFields === 'number');
    assert.equal(warned.length, 1, `said once: ${lines.map((l) => String(l.msg)).join('\n')}`);
    const [line] = warned;
    assert.ok(line !== undefined);
    assert.equal(line.ignoredFields, counted);
    assert.equal(line.level, 40);
    assert.match(String(line.msg), /Envoy ignored unknown fields in one of the files Envoy loaded at start \((lds\.yaml, cds\.yaml|cds\.yaml, lds\.yaml); Envoy counted /);
    const command = /: (\S.* validate \S+) names them all/.exec(String(line.msg))?.[1] ?? '';
    assert.ok(command.endsWith(` validate ${pod.source}`), `${command}: the ConfigMap's files, not the stamped copy`);
    const named = spawnSync('sh', ['-c', command], { encoding: 'utf8' });
    assert.match(named.stderr + named.stdout, /unknown field "per_connection_buffer_limit_bytez"[\s\S]*unknown field "stream_idle_timeoutt"/, command);
    // `status` (and through it `status deployment/...`) keeps that the count is not the warned file's own.
    // The state file `status` reads is written just after the line is logged.
    const keptOf = async () => (await gatherStatus(pod.target)).files.find((f) => f.file === line.file)?.verdict;
    let kept = await keptOf();
    for (let i = 0; i < 100 && kept?.message !== line.msg; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      kept = await keptOf();
    }
    assert.deepEqual({ ignoredFields: kept?.ignoredFields, among: [...(kept?.ignoredAmong ?? [])].sort() }, { ignoredFields: counted, among: ['cds.yaml', 'lds.yaml'] });
    const table = (await runCli(['status', '--to', pod.target])).stdout;
    assert.match(table, /ignored unknown fields in one of the files Envoy loaded at start \((lds\.yaml, cds\.yaml|cds\.yaml, lds\.yaml)\) \(Envoy counted /, table);
  } finally {
    await pod.stop();
  }
});

test('a refused lds.yaml held, the ConfigMap unchanged, the watcher restarted: the unchanged cds.yaml it finds accepted releases nothing, and Envoy is not given the refused version again (fresh-user trial: each restart published it again and Envoy refused it again)', TIMEOUT, async () => {
  const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml', 'lds.yaml': lds });
  const pod = await startCase('01-publish-order-new-referenced-file', spec('lds-v0.yaml'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'cds.yaml', outcome: 'accepted', envoy: CDS }]);
    await pod.apply(spec('../cases/envoy-rejects-parses-fine.lds.yaml'));
    assert.equal((await nextVerdict(pod, 'lds.yaml', 1)).outcome, 'rejected');
    const rolledBack = await readFile(join(pod.target, 'lds.yaml'), 'utf8');
    const envoy = envoyOf(pod);
    const refusals = await envoy.stat(`${LDS}.update_rejected`);
    for (let restart = 1; restart <= 2; restart++) {
      await pod.restartWatcher();
      const lines = [await nextVerdict(pod, 'lds.yaml', 0), await nextVerdict(pod, 'cds.yaml', 0)];
      assert.deepEqual(lines.map((l) => l.outcome), ['accepted', 'accepted'], lines.map((l) => String(l.msg)).join('\n'));
      const again = pod.watcher.logs.filter((l) => String(l.msg).includes('publishing the refused version again'));
      assert.deepEqual(again.map((l) => l.msg), [], `restart ${String(restart)}: nothing released`);
      assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), rolledBack, 'the disk keeps what Envoy runs');
      assert.equal(await envoy.stat(`${LDS}.update_rejected`), refusals, `restart ${String(restart)}: Envoy was not given the refused version again`);
    }
    const table = await runCli(['status', '--to', pod.target]);
    assert.match(table.stdout, /WHY ENVOY REFUSED/, table.stdout);
  } finally {
    await pod.stop();
  }
});

/** What tenant `tenant` is answered on the scoped-routes listener (the `x-tenant` header picks the scope). */
async function tenantServed(port: number, tenant: string): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${String(port)}/`, { headers: { 'x-tenant': tenant }, signal: AbortSignal.timeout(2_000) });
    return `${String(res.status)} ${(await res.text()).trim()}`;
  } catch {
    return '-';
  }
}

test('14-scoped-routes-srds: the scopes file (SRDS) and the route file its scopes read are judged; refusals, and a route configuration a scope names that rds.yaml lacks, are rolled back', TIMEOUT, async () => {
  const spec = (srds: string, rds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'srds.yaml': srds, 'rds.yaml': rds });
  const pod = await startCase('14-scoped-routes-srds', spec('srds-v0.yaml', 'rds-v0.yaml'));
  const SRDS = 'http.ingress_http.scoped_rds.tenant_scopes';
  const ROUTE_A = 'http.ingress_http.rds.route_a';
  const tenants = () => Promise.all([tenantServed(pod.ports.P0, 'a'), tenantServed(pod.ports.P0, 'b')]);
  try {
    await initial(pod, [{ file: 'srds.yaml', outcome: 'accepted', envoy: SRDS }, { file: 'rds.yaml', outcome: 'accepted', envoy: ROUTE_A }]);
    await step(pod, spec('srds-v1.yaml', 'rds-v1.yaml'), [{ file: 'srds.yaml', outcome: 'accepted', envoy: SRDS }, { file: 'rds.yaml', outcome: 'accepted', envoy: ROUTE_A }]);
    await waitServed(async () => JSON.stringify(await tenants()), JSON.stringify(['200 a-v1', '200 a-v1']), 'both tenants on route_a v1');
    // Two route configurations in rds.yaml: every RDS subscription on it refuses the file, the one
    // srds.yaml's edit opens (route_b) too; both files are put back. (Envoy drops the stats of the
    // subscription once the scopes are rolled back, so the refusal is read from route_a and the verdicts.)
    const routeA = await subscriptionCounters(envoyOf(pod), ROUTE_A);
    const counts = verdictCounts(pod, ['srds.yaml', 'rds.yaml']);
    await pod.apply(spec('srds-v2-route-b.yaml', 'rds-v2-two.yaml'));
    for (const file of ['rds.yaml', 'srds.yaml']) {
      const line = await nextVerdict(pod, file, counts.get(file) ?? 0);
      assert.equal(line.outcome, 'rejected', `${file}: ${String(line.msg)}`);
      assert.equal(line.rolledBack, true, `${file}: ${String(line.msg)}`);
    }
    assert.ok((await subscriptionCounters(envoyOf(pod), ROUTE_A)).refused > routeA.refused);
    await step(pod, spec('srds-v3-bad.yaml', 'rds-v1.yaml'), [{ file: 'srds.yaml', outcome: 'rejected', envoy: SRDS }]);
    // A scope renamed to a route configuration rds.yaml lacks: Envoy takes the scopes and refuses
    // rds.yaml on the subscription the edit opened (as case 07 for a listener).
    const before = verdictCounts(pod, ['srds.yaml']);
    await pod.apply(spec('srds-v4-renamed.yaml', 'rds-v1.yaml'));
    const renamed = await nextVerdict(pod, 'srds.yaml', before.get('srds.yaml') ?? 0);
    assert.equal(renamed.outcome, 'rejected', String(renamed.msg));
    assert.equal(renamed.rolledBack, true);
    assert.match(String(renamed.msg), /http\.ingress_http\.rds\.route_c/);
    await waitServed(async () => JSON.stringify(await tenants()), JSON.stringify(['200 a-v1', '200 a-v1']), 'v1 after the rollbacks');
    await restartServesTheSame(pod, () => [tenantServed(pod.ports.P0, 'a'), tenantServed(pod.ports.P0, 'b')]);
  } finally {
    await pod.stop();
  }
});

test('15-runtime-layer-rtds: a runtime layer read from a file (RTDS, stats scope `runtime`) is judged and a refused one rolled back', TIMEOUT, async () => {
  const spec = (rtds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'rtds.yaml': rtds });
  const pod = await startCase('15-runtime-layer-rtds', spec('rtds-v0.yaml'));
  try {
    await initial(pod, [{ file: 'rtds.yaml', outcome: 'accepted', envoy: 'runtime' }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 stable', 'stable');
    await step(pod, spec('rtds-v1.yaml'), [{ file: 'rtds.yaml', outcome: 'accepted', envoy: 'runtime' }]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 canary', 'canary');
    await step(pod, spec('rtds-v2-bad.yaml'), [{ file: 'rtds.yaml', outcome: 'rejected', envoy: 'runtime' }]);
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('16-secret-files-first-rotation: the certificate and key copy published are judged at start, so a refused first rotation is rolled back', TIMEOUT, async () => {
  const spec = (cert: string, key: string) => ({ 'envoy.yaml': 'envoy.yaml', 'sds.yaml': 'sds.yaml', 'cert.pem': cert, 'key.pem': key });
  const pod = await startCase('16-secret-files-first-rotation', spec('cert-a.pem', 'key-a.pem'));
  const ROTATION = 'key_rotation_failed:sds.server_cert';
  try {
    await initial(pod, [
      { file: 'sds.yaml', outcome: 'accepted', envoy: 'sds.server_cert' },
      { file: 'cert.pem', outcome: 'accepted', envoy: ROTATION },
      { file: 'key.pem', outcome: 'accepted', envoy: ROTATION },
    ]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'tls-cn'), 'cert-A', 'cert A');
    await step(pod, spec('cert-c.pem', 'key-b.pem'), [
      { file: 'cert.pem', outcome: 'rejected', envoy: ROTATION },
      { file: 'key.pem', outcome: 'rejected', envoy: ROTATION },
    ]);
    assert.equal(await readFile(join(pod.target, 'cert.pem'), 'utf8'), await pod.fixture('cert-a.pem'));
    assert.equal(await readFile(join(pod.target, 'key.pem'), 'utf8'), await pod.fixture('key-a.pem'));
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0, 'tls-cn')]);
  } finally {
    await pod.stop();
  }
});

test('17-secret-pair-with-refused-ca: a new pair Envoy does not serve because the CA secret of the same TLS context is refused is rejected, not unknown, though /certs lists it', TIMEOUT, async () => {
  const spec = (cert: string, key: string, ca: string) => ({ 'envoy.yaml': 'envoy.yaml', 'sds-cert.yaml': 'sds-cert.yaml', 'sds-ca.yaml': 'sds-ca.yaml', 'cert.pem': cert, 'key.pem': key, 'ca.pem': ca });
  const pod = await startCase('17-secret-pair-with-refused-ca', spec('cert-a.pem', 'key-a.pem', 'cert-a.pem'));
  const PAIR = 'key_rotation_failed:sds.kubernetes_gateway-cert';
  const CA = 'key_rotation_failed:sds.kubernetes_gateway-cert-cacert';
  const cn = () => served(envoyOf(pod), pod.ports.P0, 'tls-cn');
  try {
    await initial(pod, [{ file: 'sds-cert.yaml', outcome: 'accepted', envoy: 'sds.kubernetes_gateway-cert' }, { file: 'ca.pem', outcome: 'accepted', envoy: CA }]);
    await waitServed(cn, 'cert-A', 'cert A');
    await step(pod, spec('cert-a.pem', 'key-a.pem', 'cert-b.pem'), [{ file: 'ca.pem', outcome: 'accepted', envoy: CA }]);
    await step(pod, spec('cert-a.pem', 'key-a.pem', 'ca-bad.pem'), [{ file: 'ca.pem', outcome: 'rejected', envoy: CA }]);
    await step(pod, spec('cert-b.pem', 'key-b.pem', 'ca-bad.pem'), [
      { file: 'cert.pem', outcome: 'rejected', envoy: PAIR },
      { file: 'key.pem', outcome: 'rejected', envoy: PAIR },
      { file: 'ca.pem', outcome: 'rejected', envoy: CA },
    ]);
    assert.equal(await cn(), 'cert-A');
    assert.equal(await readFile(join(pod.target, 'cert.pem'), 'utf8'), await pod.fixture('cert-a.pem'));
    await step(pod, spec('cert-b.pem', 'key-b.pem', 'cert-a.pem'), [
      { file: 'ca.pem', outcome: 'accepted', envoy: CA },
      { file: 'cert.pem', outcome: 'accepted', envoy: PAIR },
      { file: 'key.pem', outcome: 'accepted', envoy: PAIR },
    ]);
    await waitServed(cn, 'cert-B', 'cert B');
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0, 'tls-cn')]);
  } finally {
    await pod.stop();
  }
});

/** Applies `spec` and waits until `files` are published in the target (a pass that names none of them to Envoy). */
async function publishUnread(pod: CasePod, spec: ConfigMapSpec, files: string[]): Promise<void> {
  await pod.apply(spec);
  await waitFor(() => files.every((file) => existsSync(join(pod.target, file))), `${files.join(', ')} published`);
}

// Files that become read by an edit of the file naming them after they were published (renaming
// files one by one into the local recipe's directory, or a ConfigMap updated key by key): each is
// judged once the file naming it is published, so a later refused edit is rolled back.
// `copy` publishing them (found on disk at start, unread), or a pass of the watcher.
for (const byCopy of [false, true]) {
test(`14-scoped-routes-srds (added before lds.yaml names them, ${byCopy ? 'by copy, the bootstrap in the ConfigMap' : 'by an edit, Envoy\'s bootstrap in the image'}): srds.yaml and rds.yaml are judged once lds.yaml names them; a bad srds.yaml is then rolled back`, TIMEOUT, async () => {
  const scoped = { 'srds.yaml': 'srds-v1.yaml', 'rds.yaml': 'rds-v1.yaml' };
  // By copy with the bootstrap in the ConfigMap: nothing reads the two files at start, so nothing judges them there.
  const pod = byCopy ? await startCase('14-scoped-routes-srds', { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-plain.yaml', ...scoped }) : await startCase('14-scoped-routes-srds', { 'lds.yaml': 'lds-plain.yaml' }, [], { envoyBootstrap: 'envoy.yaml' });
  const base: ConfigMapSpec = byCopy ? { 'envoy.yaml': 'envoy.yaml' } : {};
  const SRDS = 'http.ingress_http.scoped_rds.tenant_scopes';
  const ROUTE_A = 'http.ingress_http.rds.route_a';
  const tenants = () => Promise.all([tenantServed(pod.ports.P0, 'a'), tenantServed(pod.ports.P0, 'b')]);
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    if (!byCopy) await publishUnread(pod, { 'lds.yaml': 'lds-plain.yaml', ...scoped }, ['srds.yaml', 'rds.yaml']);
    await step(pod, { ...base, 'lds.yaml': 'lds.yaml', ...scoped }, [
      { file: 'lds.yaml', outcome: 'accepted', envoy: LDS },
      { file: 'srds.yaml', outcome: 'accepted', envoy: SRDS },
      { file: 'rds.yaml', outcome: 'accepted', envoy: ROUTE_A },
    ]);
    await waitServed(async () => JSON.stringify(await tenants()), JSON.stringify(['200 a-v1', '200 a-v1']), 'both tenants on route_a v1');
    await step(pod, { ...base, 'lds.yaml': 'lds.yaml', ...scoped, 'srds.yaml': 'srds-v3-bad.yaml' }, [{ file: 'srds.yaml', outcome: 'rejected', envoy: SRDS }]);
    await waitServed(async () => JSON.stringify(await tenants()), JSON.stringify(['200 a-v1', '200 a-v1']), 'v1 after the rollback');
    await restartServesTheSame(pod, () => [tenantServed(pod.ports.P0, 'a'), tenantServed(pod.ports.P0, 'b')]);
  } finally {
    await pod.stop();
  }
});
}

test('16-secret-files-first-rotation (added before the files naming them): cert.pem and key.pem, then sds.yaml, then the TLS listener: the pair is judged once Envoy reads it; a bad rotation is rolled back', TIMEOUT, async () => {
  const pair = { 'cert.pem': 'cert-a.pem', 'key.pem': 'key-a.pem' };
  const base = { 'envoy.yaml': 'envoy-lds.yaml', 'lds.yaml': 'lds-plain.yaml' };
  const pod = await startCase('16-secret-files-first-rotation', base);
  const ROTATION = 'key_rotation_failed:sds.server_cert';
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await publishUnread(pod, { ...base, ...pair }, ['cert.pem', 'key.pem']);
    await publishUnread(pod, { ...base, ...pair, 'sds.yaml': 'sds.yaml' }, ['sds.yaml']);
    const tls = { ...base, 'lds.yaml': 'lds-tls.yaml', 'sds.yaml': 'sds.yaml' };
    await step(pod, { ...tls, ...pair }, [
      { file: 'lds.yaml', outcome: 'accepted', envoy: LDS },
      { file: 'sds.yaml', outcome: 'accepted', envoy: 'sds.server_cert' },
      { file: 'cert.pem', outcome: 'accepted', envoy: ROTATION },
      { file: 'key.pem', outcome: 'accepted', envoy: ROTATION },
    ]);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0, 'tls-cn'), 'cert-A', 'cert A');
    await step(pod, { ...tls, 'cert.pem': 'cert-c.pem', 'key.pem': 'key-b.pem' }, [
      { file: 'cert.pem', outcome: 'rejected', envoy: ROTATION },
      { file: 'key.pem', outcome: 'rejected', envoy: ROTATION },
    ]);
    assert.equal(await readFile(join(pod.target, 'cert.pem'), 'utf8'), await pod.fixture('cert-a.pem'));
    assert.equal(await readFile(join(pod.target, 'key.pem'), 'utf8'), await pod.fixture('key-a.pem'));
    await restartServesTheSame(pod, (envoy) => [served(envoy, pod.ports.P0, 'tls-cn')]);
  } finally {
    await pod.stop();
  }
});


/**
 * Applies `spec`, in which `file` changed alone (or with a part of its reader Envoy does not build
 * again), and checks that it is held back: not published (the target keeps `published`, what Envoy
 * runs), said once in the log with what reads it, in `status` (its row and why), and as the Event
 * `XdsHeldBack`; and no verdict for it.
 */
async function heldBack(pod: CasePod, spec: ConfigMapSpec, file: string, published: string, reader: RegExp): Promise<void> {
  // The file's verdict at start (judged with its reader) may come after the reader's: wait for it,
  // or it is counted as one this change caused (CI at load: 1 verdict where none was expected).
  await waitFor(() => verdictLines(pod, file).length > 0, `${file}: its verdict at start`);
  const verdictsBefore = verdictLines(pod, file).length;
  const saidBefore = pod.watcher.logs.filter((l) => l.event === 'held-back' && l.file === file).length;
  await pod.apply(spec);
  await waitFor(() => pod.watcher.logs.filter((l) => l.event === 'held-back' && l.file === file).length > saidBefore, `${file} held back`);
  const said = pod.watcher.logs.filter((l) => l.event === 'held-back' && l.file === file).at(-1);
  assert.match(String(said?.msg), new RegExp(`^${file.replace('.', '\\.')} held back: Envoy reads it only when it builds ${reader.source}.*restart the Pod`));
  assert.equal(await readFile(join(pod.target, file), 'utf8'), await pod.fixture(published), `${file}: the published file is still what Envoy runs`);
  let row = (await gatherStatus(pod.target)).files.find((f) => f.file === file);
  for (let i = 0; i < 100 && row?.heldBack !== said?.msg; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    row = (await gatherStatus(pod.target)).files.find((f) => f.file === file);
  }
  assert.equal(row?.heldBack, said?.msg, `${file}: status says why it is held back`);
  const table = (await runCli(['status', '--to', pod.target])).stdout;
  assert.match(table, /HELD BACK/, table);
  const occurrence = reportersEvent(said?.msg ?? '', file);
  assert.equal(occurrence?.reason, EventReason.heldBack);
  assert.equal(verdictLines(pod, file).length, verdictsBefore, `${file}: no verdict (nothing reached Envoy): ${JSON.stringify(verdictLines(pod, file).slice(verdictsBefore).map((l) => l.msg))}\n${pod.watcher.stdout.slice(-4000)}`);
}

/** The Event the watcher's reporters record for a pass that held `file` back with `message` (source: api). */
function reportersEvent(message: string, file: string): { reason: string; message: string } | undefined {
  const recorded: { reason: string; message: string }[] = [];
  const reporters = new Reporters({ record: (o: { reason: string; message: string }) => { recorded.push(o); } } as unknown as EventRecorder, undefined);
  const result = { published: [], rejected: [], heldBack: [{ name: file, sha256: 'x', readers: [], message }] } as unknown as SyncResult;
  reporters.onPass(result);
  reporters.onPass(result);
  assert.equal(recorded.length, 1, 'one Event per content held back');
  return recorded[0];
}

/** The verdicts on `files`, judged with `reader`'s publish, that follow `counts`: each `outcome`, said to be judged with it. */
async function judgedWith(pod: CasePod, counts: Map<string, number>, files: string[], reader: string, outcome: 'accepted' | 'rejected'): Promise<void> {
  for (const file of files) {
    const line = await nextVerdict(pod, file, counts.get(file) ?? 0);
    assert.equal(line.outcome, outcome, `${file}: ${String(line.msg)}`);
    assert.equal(line.judgedWith, reader, `${file}: ${String(line.msg)}`);
    if (outcome === 'rejected') assert.equal(line.rolledBack, true, `${file}: ${String(line.msg)}`);
  }
}

test('18-file-a-resource-reads-once (Lua script, direct_response body in the listener): changed alone they are held back and said; with their listener they are published first and judged with it, and rolled back with it', TIMEOUT, async () => {
  const spec = (lds: string, script: string, body: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': body });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds.yaml', 'script-v0.lua', 'body-v0.txt'));
  const answers = () => Promise.all([answer(pod.ports.P0), answer(pod.ports.P0, '/lua')]);
  const serves = async (want: string[], what: string) => { await waitServed(async () => JSON.stringify(await answers()), JSON.stringify(want), what); };
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await judgedWith(pod, new Map(), ['script.lua', 'body.txt'], 'lds.yaml', 'accepted'); // their first verdicts
    await serves(['200 body-v0', '200 lua-v0'], 'v0');
    const LISTENER = /listener listener_0 of lds\.yaml/;
    await heldBack(pod, spec('lds.yaml', 'script-v1.lua', 'body-v0.txt'), 'script.lua', 'script-v0.lua', LISTENER);
    await heldBack(pod, spec('lds.yaml', 'script-v1.lua', 'body-v1.txt'), 'body.txt', 'body-v0.txt', LISTENER);
    await heldBack(pod, spec('lds.yaml', 'script-v2-bad.lua', 'body-v1.txt'), 'script.lua', 'script-v0.lua', LISTENER);
    // lds.yaml changes, listener_0 does not: Envoy does not build it again, so the script stays held back.
    const other = spec('lds-other-listener.yaml', 'script-v2-bad.lua', 'body-v1.txt');
    await step(pod, other, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v0.lua'));
    await serves(['200 body-v0', '200 lua-v0'], 'v0 after an edit of another listener');
    // The listener changes with the script (and the body held back before): both reach Envoy.
    const withListener = verdictCounts(pod, ['script.lua', 'body.txt']);
    await step(pod, spec('lds-v1.yaml', 'script-v1.lua', 'body-v1.txt'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await judgedWith(pod, withListener, ['script.lua', 'body.txt'], 'lds.yaml', 'accepted');
    await serves(['200 body-v1', '200 lua-v1'], 'v1');
    // A script that does not compile, with its listener: Envoy refuses the listener; both are put back.
    const bad = verdictCounts(pod, ['script.lua']);
    await step(pod, spec('lds-v2.yaml', 'script-v2-bad.lua', 'body-v1.txt'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    await judgedWith(pod, bad, ['script.lua'], 'lds.yaml', 'rejected');
    assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v1.lua'));
    await serves(['200 body-v1', '200 lua-v1'], 'v1 after the rollback');
    // Only the listener goes back: the refused script waits, and is said to be refused, not "restart the
    // Pod" (a new Pod would start from it and lose the listener); `status` exits 1 (fresh-user trial).
    const seen = pod.watcher.logs.length;
    await pod.apply(spec('lds-v1.yaml', 'script-v2-bad.lua', 'body-v1.txt'));
    await waitFor(() => pod.watcher.logs.slice(seen).some((l) => l.event === 'held-back' && l.file === 'script.lua'), 'script.lua held back');
    const said = pod.watcher.logs.slice(seen).find((l) => l.event === 'held-back' && l.file === 'script.lua');
    assert.match(String(said?.msg), /^script\.lua held back: Envoy refused this version of script\.lua with lds\.yaml and runs the published one; fix script\.lua in the ConfigMap/);
    assert.doesNotMatch(String(said?.msg), /restart the Pod/);
    assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v1.lua'));
    const refusedStatus = await runCli(['status', '--to', pod.target]);
    assert.equal(refusedStatus.code, 1, refusedStatus.stdout);
    assert.match(refusedStatus.stdout, /^script\.lua +\S+ \(refused, held back\) /m, refusedStatus.stdout);
    assert.doesNotMatch(refusedStatus.stdout, /\(held back, see below\)/, 'one label: (refused, held back) says it all');
    const WHY = /^WHY ENVOY REFUSED\n(?:.+\n)*script\.lua \S+: Envoy says: .*script load error/m;
    assert.match(refusedStatus.stdout, WHY, refusedStatus.stdout);
    // A restarted watcher (state in the emptyDir) still knows Envoy refused that script: it judges the
    // files on disk again at start, and the rolled-back script's verdict must not replace the refusal.
    await pod.restartWatcher();
    const afterRestart = await runCli(['status', '--to', pod.target]);
    assert.equal(afterRestart.code, 1, afterRestart.stdout);
    assert.match(afterRestart.stdout, /^script\.lua +\S+ \(refused, held back\)/m, afterRestart.stdout);
    assert.doesNotMatch(afterRestart.stdout, /restart the Pod/, afterRestart.stdout);
    assert.match(afterRestart.stdout, WHY, `Envoy's reason survives the restart: ${afterRestart.stdout}`);
    await serves(['200 body-v1', '200 lua-v1'], 'v1 with the refused script held back');
    await restartServesTheSame(pod, () => [answer(pod.ports.P0), answer(pod.ports.P0, '/lua')]);
  } finally {
    await pod.stop();
  }
});

test('18-file-a-resource-reads-once (one Lua script, two listeners reading it): a change that rebuilds one of them holds the script back, naming the other (fresh-user trial: the running listener_1 kept the old script, a restarted Envoy ran the new one)', TIMEOUT, async () => {
  const spec = (lds: string, script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds-two-readers.yaml', 'script-v0.lua'));
  const answers = () => Promise.all([answer(pod.ports.P0, '/lua'), answer(pod.ports.P1, '/lua')]);
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await waitServed(async () => JSON.stringify(await answers()), JSON.stringify(['200 lua-v0', '200 lua-v0']), 'v0 on both listeners');
    // listener_0 changes with the script, listener_1 does not: Envoy would read the new script for listener_0 only.
    const before = verdictCounts(pod, ['lds.yaml']);
    await heldBack(pod, spec('lds-two-readers-v1.yaml', 'script-v1.lua'), 'script.lua', 'script-v0.lua', /listener listener_1 of lds\.yaml \(this change rebuilds another resource reading it, not that one\)/);
    assert.equal((await nextVerdict(pod, 'lds.yaml', before.get('lds.yaml') ?? 0)).outcome, 'accepted');
    await waitServed(async () => JSON.stringify(await answers()), JSON.stringify(['200 lua-v0', '200 lua-v0']), 'v0 on both listeners, the script held back');
    await restartServesTheSame(pod, () => [answer(pod.ports.P0, '/lua'), answer(pod.ports.P1, '/lua')]);
  } finally {
    await pod.stop();
  }
});

test('18-file-a-resource-reads-once (the listener respelt, not changed, with a new script): Envoy hashes the listener\'s proto, so it keeps the listener and its old script; the script is held back (fresh-user trial: 1s → 1.0s published the script Envoy never read)', TIMEOUT, async () => {
  const spec = (lds: string, script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds-timeouts.yaml', 'script-v0.lua'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', 'lua v0');
    const envoy = envoyOf(pod);
    const modified = await envoy.stat('listener_manager.listener_modified');
    const before = verdictCounts(pod, ['lds.yaml']);
    await heldBack(pod, spec('lds-timeouts-respelt.yaml', 'script-v1.lua'), 'script.lua', 'script-v0.lua', /listener listener_0 of lds\.yaml/);
    assert.equal((await nextVerdict(pod, 'lds.yaml', before.get('lds.yaml') ?? 0)).outcome, 'accepted');
    assert.equal(await envoy.stat('listener_manager.listener_modified'), modified, 'Envoy kept listener_0 as it runs (the same proto hash)');
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', 'lua v0: Envoy did not read the script again');
    await restartServesTheSame(pod, () => [answer(pod.ports.P0, '/lua')]);
  } finally {
    await pod.stop();
  }
});

/** The `version_info` Envoy's config dump gives listener `name` as it runs (active_state), or undefined. */
async function listenerVersion(envoy: EnvoyProcess, name: string): Promise<string | undefined> {
  const dump = (await envoy.configDump('resource=dynamic_listeners')) as { configs?: { name?: string; active_state?: { version_info?: string } }[] };
  return (dump.configs ?? []).find((listener) => listener.name === name)?.active_state?.version_info;
}

test('18-file-a-resource-reads-once (a listener edit Envoy ignores, a misspelt field or codec_type: AUTO, with a new script): Envoy keeps listener_0 at its version in its config dump, so the script goes back and is held, said so (fresh-user trial: the new script stayed published while Envoy ran the old one)', TIMEOUT, async () => {
  const spec = (lds: string, script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds.yaml', 'script-v0.lua'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await judgedWith(pod, new Map(), ['script.lua', 'body.txt'], 'lds.yaml', 'accepted');
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', 'lua v0');
    const envoy = envoyOf(pod);
    const runs = await listenerVersion(envoy, 'listener_0');
    assert.ok(runs !== undefined, 'Envoy lists listener_0');
    // A reader built within BUILT_MARGIN_MS before the script's rename counts as built for it (the
    // safe side, a documented limit): a CI run edited within it of Envoy's start.
    await new Promise((resolve) => setTimeout(resolve, BUILT_MARGIN_MS + 300));
    // The version of lds.yaml Envoy accepted last: Envoy runs listener_0 as it has it (the same listener to Envoy).
    let previous = runs;
    for (const lds of ['lds-misspelt.yaml', 'lds-codec-auto.yaml']) {
      const counts = verdictCounts(pod, ['lds.yaml', 'script.lua']);
      const seen = pod.watcher.logs.length;
      await pod.apply(spec(lds, 'script-v1.lua'));
      const reader = await nextVerdict(pod, 'lds.yaml', counts.get('lds.yaml') ?? 0);
      assert.equal(reader.outcome, 'accepted', String(reader.msg));
      assert.equal((await subscriptionCounters(envoy, LDS)).versionText, reader.xdsVersion, `${lds}: Envoy took lds.yaml`);
      assert.equal(await listenerVersion(envoy, 'listener_0'), runs, `${lds}: Envoy kept listener_0 as it runs (its version_info in the config dump)`);
      const line = await nextVerdict(pod, 'script.lua', counts.get('script.lua') ?? 0);
      assert.equal(line.outcome, 'unknown', String(line.msg));
      assert.equal(line.judgedWith, 'lds.yaml', String(line.msg));
      assert.equal(line.rolledBack, true, String(line.msg));
      // The first edit: Envoy's config dump and the record agree. The second: the dump keeps the first
      // lds.yaml's version_info, while Envoy runs listener_0 as the first edit (accepted since) has it.
      const esc = (v: string): string => v.replace(/[.+]/g, '\\$&');
      const runsAs = previous === runs ? `still version ${esc(runs)}` : `as lds\\.yaml version ${esc(previous)} has it, the last version Envoy accepted before; Envoy's config dump still says version_info ${esc(runs)}, which Envoy keeps when it updates a listener in place or sees no change to a resource`;
      assert.match(String(line.msg), new RegExp(`^script\\.lua version \\S+ rolled back with lds\\.yaml version ${esc(String(reader.xdsVersion))}, which Envoy accepted, but Envoy kept listener listener_0 of lds\\.yaml \\(${runsAs}\\) as it runs: .*so script\\.lua would only take effect on a restart; change a setting Envoy sees in that resource with it`), String(line.msg));
      previous = String(reader.xdsVersion);
      assert.equal(eventOfLine(line).reason, EventReason.rolledBack);
      assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v0.lua'), `${lds}: the published script is what Envoy runs`);
      // The next pass holds the ConfigMap's script back, saying why: the log, `status` and the Event.
      await waitFor(() => pod.watcher.logs.slice(seen).some((l) => l.event === 'held-back' && l.file === 'script.lua'), 'script.lua held back');
      const said = pod.watcher.logs.slice(seen).find((l) => l.event === 'held-back' && l.file === 'script.lua');
      assert.match(String(said?.msg), new RegExp(`^script\\.lua held back: Envoy kept listener listener_0 of lds\\.yaml \\(${runsAs}\\) as it runs when lds\\.yaml version \\S+ came with it: .*would only take effect on a restart; change a setting Envoy sees in that resource with it, or restart the Pod`), String(said?.msg));
      let row = (await gatherStatus(pod.target)).files.find((f) => f.file === 'script.lua');
      for (let i = 0; i < 100 && row?.heldBack !== said?.msg; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        row = (await gatherStatus(pod.target)).files.find((f) => f.file === 'script.lua');
      }
      assert.equal(row?.heldBack, said?.msg, 'status says why script.lua is held back');
      assert.equal(reportersEvent(said?.msg ?? '', 'script.lua')?.reason, EventReason.heldBack);
      await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', `lua v0 after ${lds}: Envoy did not read the script again`);
    }
    await restartServesTheSame(pod, () => [answer(pod.ports.P0, '/lua')]);
  } finally {
    await pod.stop();
  }
});

test('18-file-a-resource-reads-once (direct_response body in a route configuration of rds.yaml): Envoy reads the body when it applies a changed route configuration; changed alone it is held back', TIMEOUT, async () => {
  const spec = (rds: string, body: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-rds.yaml', 'rds.yaml': rds, 'body.txt': body });
  const pod = await startCase('18-file-a-resource-reads-once', spec('rds-v0.yaml', 'body-v0.txt'));
  const RDS = 'http.ingress_http.rds.local_route';
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'rds.yaml', outcome: 'accepted', envoy: RDS }]);
    await judgedWith(pod, new Map(), ['body.txt'], 'rds.yaml', 'accepted'); // its first verdict
    await waitServed(() => answer(pod.ports.P0), '200 body-v0', 'body v0');
    await heldBack(pod, spec('rds-v0.yaml', 'body-v1.txt'), 'body.txt', 'body-v0.txt', /route configuration local_route of rds\.yaml/);
    const withRoutes = verdictCounts(pod, ['body.txt']);
    await step(pod, spec('rds-v1.yaml', 'body-v1.txt'), [{ file: 'rds.yaml', outcome: 'accepted', envoy: RDS }]);
    await judgedWith(pod, withRoutes, ['body.txt'], 'rds.yaml', 'accepted');
    await waitServed(() => answer(pod.ports.P0), '200 body-v1', 'body v1');
    await restartServesTheSame(pod, () => [answer(pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

test('18-file-a-resource-reads-once (a listener that does not read the script is refused): the good script goes back with lds.yaml, not judged, and is not called refused', TIMEOUT, async () => {
  const spec = (lds: string, script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds-other-listener.yaml', 'script-v0.lua'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await judgedWith(pod, new Map(), ['script.lua', 'body.txt'], 'lds.yaml', 'accepted');
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', 'lua v0');
    // listener_0 changes with a good script; listener_1 moves onto a port Envoy already binds.
    const counts = verdictCounts(pod, ['script.lua']);
    const lines = await step(pod, spec('lds-bind-conflict.yaml', 'script-v1.lua'), [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    assert.match(String(lines.get('lds.yaml')?.reason), /listener_1/, 'Envoy names listener_1');
    const line = await nextVerdict(pod, 'script.lua', counts.get('script.lua') ?? 0);
    assert.equal(line.outcome, 'unknown', String(line.msg));
    assert.equal(line.judgedWith, 'lds.yaml', String(line.msg));
    assert.equal(line.rolledBack, true, String(line.msg));
    assert.match(String(line.msg), /^script\.lua version \S+ rolled back with lds\.yaml, which Envoy refused for listener listener_1 .*Envoy did not judge script\.lua$/, String(line.msg));
    assert.equal(await readFile(join(pod.target, 'script.lua'), 'utf8'), await pod.fixture('script-v0.lua'));
    await waitServed(() => answer(pod.ports.P0, '/lua'), '200 lua-v0', 'lua v0 after the rollback');
    // The operator puts lds.yaml back and keeps the script: it is held back as any script changed
    // alone (a restarted Pod would run it, and may), not as one Envoy refused.
    const seen = pod.watcher.logs.length;
    await pod.apply(spec('lds-other-listener.yaml', 'script-v1.lua'));
    await waitFor(() => pod.watcher.logs.slice(seen).some((l) => l.event === 'held-back' && l.file === 'script.lua'), 'script.lua held back');
    const said = pod.watcher.logs.slice(seen).find((l) => l.event === 'held-back' && l.file === 'script.lua');
    assert.match(String(said?.msg), /^script\.lua held back: Envoy reads it only when it builds listener listener_0 of lds\.yaml.*restart the Pod/, String(said?.msg));
    let status = await runCli(['status', '--to', pod.target]);
    for (let i = 0; i < 100 && !/^lds\.yaml +\S+ +\S+/m.test(status.stdout); i++) status = await runCli(['status', '--to', pod.target]);
    // Not in its row nor under WHY ENVOY REFUSED; its last verdict's line (WHY THE VERDICT IS UNKNOWN) names lds.yaml's refusal.
    assert.doesNotMatch(status.stdout, /^script\.lua (?!version \S+ rolled back with lds\.yaml, which Envoy refused).*refused/m, status.stdout);
    await restartServesTheSame(pod, () => [answer(pod.ports.P0, '/lua')]);
  } finally {
    await pod.stop();
  }
});

test('18-file-a-resource-reads-once (first start, a script that does not compile): the script is refused with listener_0; body.txt, which Envoy\'s reason does not name, is not', TIMEOUT, async () => {
  const pod = await startCase('18-file-a-resource-reads-once', { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'script.lua': 'script-v2-bad.lua', 'body.txt': 'body-v0.txt' });
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    const script = await nextVerdict(pod, 'script.lua', 0); // the first version: nothing to roll back to
    assert.equal(script.outcome, 'rejected', String(script.msg));
    assert.equal(script.judgedWith, 'lds.yaml', String(script.msg));
    const body = await nextVerdict(pod, 'body.txt', 0);
    assert.equal(body.outcome, 'unknown', String(body.msg));
    assert.equal(body.judgedWith, 'lds.yaml', String(body.msg));
    assert.match(String(body.msg), /Envoy's reason names script\.lua, not body\.txt: Envoy did not judge body\.txt$/, String(body.msg));
    assert.doesNotMatch(String(body.msg), /REFUSED|fix the ConfigMap/, String(body.msg));
    const row = (await gatherStatus(pod.target)).files.find((f) => f.file === 'body.txt');
    assert.equal(row?.held, false, 'status does not hold body.txt');
  } finally {
    await pod.stop();
  }
});

/** `status`'s row of `file` once its last verdict is `line`'s (the state file is written just after the line). */
async function statusRowOf(pod: CasePod, file: string, line: LogLine) {
  let row = (await gatherStatus(pod.target)).files.find((f) => f.file === file);
  for (let i = 0; i < 100 && row?.verdict?.message !== line.msg; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    row = (await gatherStatus(pod.target)).files.find((f) => f.file === file);
  }
  return row;
}

test('18-file-a-resource-reads-once (first start refused by a bad script, then the script fixed alone): Envoy runs no listener_0, so the fix goes out with lds.yaml renamed again; Envoy builds listener_0 and serves, and script.lua and body.txt are accepted with it (fresh-user trial: held back, "what Envoy runs", until the Pod restarted)', TIMEOUT, async () => {
  const spec = (script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('script-v2-bad.lua'));
  const answers = async () => JSON.stringify(await Promise.all([answer(pod.ports.P0), answer(pod.ports.P0, '/lua')]));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    assert.equal((await nextVerdict(pod, 'script.lua', 0)).outcome, 'rejected');
    assert.equal((await nextVerdict(pod, 'body.txt', 0)).outcome, 'unknown');
    assert.equal(await answers(), JSON.stringify(['-', '-']), 'Envoy runs no listener_0');
    const counts = verdictCounts(pod, ['script.lua', 'body.txt']);
    const seen = pod.watcher.logs.length;
    const lines = await step(pod, spec('script-v1.lua'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await judgedWith(pod, counts, ['script.lua', 'body.txt'], 'lds.yaml', 'accepted');
    await waitServed(answers, JSON.stringify(['200 body-v0', '200 lua-v1']), 'listener_0 built with the fixed script');
    const said = pod.watcher.logs.slice(seen);
    assert.ok(!said.some((l) => l.event === 'held-back'), `nothing held back: ${JSON.stringify(said.filter((l) => l.event === 'held-back'))}`);
    assert.match(String(said.find((l) => l.event === 'reader-not-running' && l.file === 'script.lua')?.msg), /^script\.lua published with lds\.yaml renamed again, unchanged: Envoy runs no listener listener_0 of lds\.yaml/);
    // The same content, renamed again: the version Envoy reports is the one lds.yaml always had.
    assert.equal(lines.get('lds.yaml')?.xdsVersion, (await nextVerdict(pod, 'lds.yaml', 0)).xdsVersion);
    const dump = (await (await fetch(`${envoyOf(pod).adminUrl}/config_dump?resource=dynamic_listeners&mask=name,active_state.version_info,error_state`)).json()) as { configs?: { name?: string; active_state?: { version_info?: string }; error_state?: unknown }[] };
    assert.deepEqual(dump.configs?.map((c) => [c.name, c.active_state?.version_info, c.error_state]), [['listener_0', lines.get('lds.yaml')?.xdsVersion, undefined]], "Envoy's config dump: listener_0 runs lds.yaml's version, no error left");
    for (const file of ['script.lua', 'body.txt']) {
      const line = verdictLines(pod, file).at(-1);
      assert.ok(line);
      const row = await statusRowOf(pod, file, line);
      assert.ok(row, `${file}: a status row`);
      assert.equal(row.verdict?.outcome, 'accepted', `${file}: status`);
      assert.equal(row.held, false, `${file}: status`);
      assert.equal(row.heldBack, undefined, `${file}: status`);
    }
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 0, status.stdout);
    await restartServesTheSame(pod, () => [answer(pod.ports.P0), answer(pod.ports.P0, '/lua')]);
  } finally {
    await pod.stop();
  }
});

test('18-file-a-resource-reads-once (first start refused by a bad script, then the script fixed with an edit of listener_0): body.txt, unchanged and `unknown` until then, is judged with lds.yaml too (fresh-user trial: it stayed `unknown` while Envoy served it)', TIMEOUT, async () => {
  const spec = (lds: string, script: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'script.lua': script, 'body.txt': 'body-v0.txt' });
  const pod = await startCase('18-file-a-resource-reads-once', spec('lds.yaml', 'script-v2-bad.lua'));
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
    assert.equal((await nextVerdict(pod, 'script.lua', 0)).outcome, 'rejected');
    assert.equal((await nextVerdict(pod, 'body.txt', 0)).outcome, 'unknown');
    const counts = verdictCounts(pod, ['script.lua', 'body.txt']);
    await step(pod, spec('lds-v1.yaml', 'script-v1.lua'), [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }]);
    await judgedWith(pod, counts, ['script.lua', 'body.txt'], 'lds.yaml', 'accepted');
    await waitServed(async () => JSON.stringify(await Promise.all([answer(pod.ports.P0), answer(pod.ports.P0, '/lua')])), JSON.stringify(['200 body-v0', '200 lua-v1']), 'listener_0 built with the fixed script and body-v0');
    const line = verdictLines(pod, 'body.txt').at(-1);
    assert.ok(line);
    const row = await statusRowOf(pod, 'body.txt', line);
    assert.equal(row?.verdict?.outcome, 'accepted', 'body.txt: status');
    assert.equal(verdictLines(pod, 'body.txt').length, 2, 'one verdict line for body.txt per judgement');
  } finally {
    await pod.stop();
  }
});

test('18-file-a-resource-reads-once (first start: the route configuration of rds.yaml refused for its direct_response body, then the body fixed alone): Envoy runs no local_route, so the body goes out with rds.yaml renamed again and is accepted with it', TIMEOUT, async () => {
  const spec = (body: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-rds.yaml', 'rds.yaml': 'rds-v0.yaml', 'body.txt': body });
  const pod = await startCase('18-file-a-resource-reads-once', spec('body-too-large.txt'));
  const RDS = 'http.ingress_http.rds.local_route';
  try {
    await initial(pod, [{ file: 'lds.yaml', outcome: 'accepted', envoy: LDS }, { file: 'rds.yaml', outcome: 'rejected', envoy: RDS }]);
    assert.equal((await nextVerdict(pod, 'body.txt', 0)).outcome, 'rejected');
    await waitServed(() => answer(pod.ports.P0), '404 ', 'no route configuration: 404');
    const counts = verdictCounts(pod, ['body.txt']);
    await step(pod, spec('body-v0.txt'), [{ file: 'rds.yaml', outcome: 'accepted', envoy: RDS }]);
    await judgedWith(pod, counts, ['body.txt'], 'rds.yaml', 'accepted');
    await waitServed(() => answer(pod.ports.P0), '200 body-v0', 'local_route built with the fixed body');
    await restartServesTheSame(pod, () => [answer(pod.ports.P0)]);
  } finally {
    await pod.stop();
  }
});

for (const [other, named] of [['other-alike.lua', true], ['other-twin.lua', false]] as const) {
  test(`18-file-a-resource-reads-once (first start, two scripts, the refused one quoted by Lua; the other's first line ${named ? 'starts alike' : 'is the same'}): ${named ? 'only the quoted script is refused, the other is not judged (fresh-user trial: 24 characters matched both)' : 'the quote fits both, so both stay refused and the verdict says it proves neither'}`, TIMEOUT, async () => {
    const pod = await startCase('18-file-a-resource-reads-once', { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-two-scripts.yaml', 'script.lua': 'script-v2-bad.lua', 'other.lua': other, 'body.txt': 'body-v0.txt' });
    try {
      await initial(pod, [{ file: 'lds.yaml', outcome: 'rejected', envoy: LDS }]);
      const lds = await nextVerdict(pod, 'lds.yaml', 0);
      assert.match(String(lds.reason), /script load error: \[string "function envoy_on_request\(request_handle\)\.\.\."\]:3:/, 'Envoy quotes the refused script by its first line');
      const script = await nextVerdict(pod, 'script.lua', 0);
      assert.equal(script.outcome, 'rejected', String(script.msg));
      const second = await nextVerdict(pod, 'other.lua', 0);
      assert.equal(second.judgedWith, 'lds.yaml', String(second.msg));
      if (named) {
        assert.equal(second.outcome, 'unknown', String(second.msg));
        assert.match(String(second.msg), /Envoy's reason names script\.lua, not other\.lua: Envoy did not judge other\.lua$/, String(second.msg));
        assert.doesNotMatch(String(script.msg), /does not prove/, String(script.msg));
      } else {
        assert.equal(second.outcome, 'rejected', String(second.msg));
        for (const line of [script, second]) assert.match(String(line.msg), /Envoy's reason fits each of other\.lua, script\.lua alike|Envoy's reason fits each of script\.lua, other\.lua alike/, String(line.msg));
      }
    } finally {
      await pod.stop();
    }
  });
}
