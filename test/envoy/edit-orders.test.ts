// A ConfigMap Envoy can load always reaches it, in any edit order. For each multi-file sequence of
// the verdict corpus (test/fixtures/verdict-cases/), the ConfigMaps of the sequence are applied in
// random orders (a seeded shuffle, printed) to one Pod (`copy` + Envoy 1.40 + `watch`). Whether
// Envoy can load a ConfigMap is Envoy's own answer: a fresh Envoy started on it (the oracle) counts
// no update_rejected, update_failure or key_rotation_failed. After every loadable ConfigMap the
// running Envoy must come to run it: the published directory is the ConfigMap as `watch` stamps it,
// Envoy reports the version of every file the oracle read, and it serves what the oracle serves.
// After an unloadable one the next edit follows after a random pause (0-1.5 s), so both coalesced
// and judged edits occur. After each order, an Envoy restarted from the published directory must
// serve what the running one served. Misses are counted and printed, and must be 0.
//
// EDIT_ORDER_REPS sets the number of orders per sequence (default 1 in `npm test`;
// `npm run test:edit-orders` runs 20). EDIT_ORDER_SEED replays a run.
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { publishable } from '../../src/sync/envoy/version-stamp.js';
import { sleep } from './envoy.js';
import type { EnvoyProcess } from './envoy.js';
import { envoyOf, restartFromPublished, served, startCase, tenantServed } from './verdict-cases.js';
import type { CasePod, ConfigMapSpec } from './verdict-cases.js';

const REPS = Number(process.env.EDIT_ORDER_REPS ?? '1');
const SEED = Number(process.env.EDIT_ORDER_SEED ?? String(Date.now() % 1_000_000));
const REACH_MS = 30_000;

interface Sequence {
  folder: string;
  /** The ConfigMaps of the sequence, by a short name. */
  configMaps: Record<string, ConfigMapSpec>;
  probes: (pod: CasePod, envoy: EnvoyProcess) => Promise<string>[];
}

const body = (pod: CasePod, envoy: EnvoyProcess): Promise<string>[] => [served(envoy, pod.ports.P0)];


const SCOPED = '../envoy-corpus/sequences/srds-new-scope-second-rds-file';
const scoped = (srds: string): ConfigMapSpec => ({ 'envoy.yaml': '../../../verdict-cases/14-scoped-routes-srds/envoy.yaml', 'lds.yaml': 'lds.yaml', 'rds.yaml': 'rds.yaml', 'rds-scoped.yaml': 'rds-scoped.yaml', 'srds.yaml': srds });
const SEQUENCES: Sequence[] = [
  {
    folder: '01-publish-order-new-referenced-file',
    configMaps: {
      v0: { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v0.yaml', 'cds.yaml': 'cds-v0.yaml' },
      'lds names rds.yaml, which is missing': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v1-rds.yaml', 'cds.yaml': 'cds-v0.yaml' },
      'lds + new rds.yaml': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v1-rds.yaml', 'rds.yaml': 'rds-v1.yaml', 'cds.yaml': 'cds-v0.yaml' },
      'v0 keeping rds.yaml': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v0.yaml', 'rds.yaml': 'rds-v1.yaml', 'cds.yaml': 'cds-v0.yaml' },
    },
    probes: body,
  },
  {
    folder: '01-publish-order-new-referenced-file',
    configMaps: {
      'eds v0': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-eds-v0.yaml', 'cds.yaml': 'cds-v0.yaml' },
      'route to a cluster not there': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-eds-v1.yaml', 'cds.yaml': 'cds-v0.yaml' },
      'new EDS cluster + route to it': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-eds-v1.yaml', 'cds.yaml': 'cds-v1-eds.yaml', 'eds.yaml': 'eds-v1.yaml' },
      'new EDS cluster, old route': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-eds-v0.yaml', 'cds.yaml': 'cds-v1-eds.yaml', 'eds.yaml': 'eds-v1.yaml' },
    },
    probes: body,
  },
  {
    // An extension config naming a cluster that the same ConfigMap adds to cds.yaml (ext_authz: a
    // request is denied while Envoy runs the filter config without its cluster).
    folder: '10-ecds-names-cluster-of-same-change',
    configMaps: {
      v0: { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'cds.yaml': 'cds-v0.yaml', 'ecds.yaml': 'ecds-v0.yaml' },
      'new cluster + extension config naming it': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'cds.yaml': 'cds-v1.yaml', 'ecds.yaml': 'ecds-v1.yaml' },
      'extension config refused': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'cds.yaml': 'cds-v1.yaml', 'ecds.yaml': 'ecds-v2-bad.yaml' },
      'old extension config, new cluster kept': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'cds.yaml': 'cds-v1.yaml', 'ecds.yaml': 'ecds-v0.yaml' },
    },
    probes: body,
  },
  {
    folder: '07-subscription-an-edit-creates',
    configMaps: {
      v0: { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v0.yaml', 'rds.yaml': 'rds.yaml' },
      'renamed route, rds.yaml lacks it': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v1-renamed-route.yaml', 'rds.yaml': 'rds.yaml' },
    },
    probes: body,
  },
  {
    // An lds.yaml routing to a cluster a cds.yaml of its change adds, which Envoy refuses in part
    // ("duplicate cluster", after applying the cluster): lds.yaml goes back with it and is held
    // (withdrawn.ts); a fixed cds.yaml lands both.
    folder: '21-cds-refused-in-part',
    configMaps: {
      v0: { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v0.yaml', 'cds.yaml': 'cds-v0.yaml' },
      'route + cluster refused in part': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v1.yaml', 'cds.yaml': 'cds-v1-partial.yaml' },
      'route + cluster': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v1.yaml', 'cds.yaml': 'cds-v1.yaml' },
      'route + EDS cluster refused in part': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v1.yaml', 'cds.yaml': 'cds-v2-eds-duplicate.yaml', 'eds.yaml': 'eds-v1.yaml' },
    },
    probes: body,
  },
  {
    folder: '08-sds-named-files',
    configMaps: {
      'pair a': { 'envoy.yaml': 'envoy.yaml', 'sds.yaml': 'sds.yaml', 'cert.pem': 'cert-a.pem', 'key.pem': 'key-a.pem' },
      'pair b': { 'envoy.yaml': 'envoy.yaml', 'sds.yaml': 'sds.yaml', 'cert.pem': 'cert-b.pem', 'key.pem': 'key-b.pem' },
      'cert c, key b (no match)': { 'envoy.yaml': 'envoy.yaml', 'sds.yaml': 'sds.yaml', 'cert.pem': 'cert-c.pem', 'key.pem': 'key-b.pem' },
    },
    probes: (pod, envoy) => [served(envoy, pod.ports.P0, 'tls-cn')],
  },
  {
    // Scoped routes beside a second RDS file: a scope naming a route configuration the scoped
    // routes' RDS file lacks opens a subscription that refuses it (fresh-user trial 3).
    folder: SCOPED,
    configMaps: {
      'tenant a': scoped('srds-v0.yaml'),
      'tenant b on scoped_rc_b, which rds-scoped.yaml lacks': scoped('srds-v1-new-route.yaml'),
      'tenant b on scoped_rc': scoped('srds-v2-same-route.yaml'),
    },
    probes: (pod, envoy) => [served(envoy, pod.ports.P0), tenantServed(pod.ports.P1, 'a'), tenantServed(pod.ports.P1, 'b')],
  },
  {
    // Scoped routes with one RDS file (case 14): a scope naming route_b, which rds.yaml lacks; an
    // order starting there is the first start of srds-first-start-one-rds-file.
    folder: '14-scoped-routes-srds',
    configMaps: {
      'tenant b on route_a': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'rds.yaml': 'rds-v0.yaml', 'srds.yaml': 'srds-v1.yaml' },
      'tenant b on route_b, which rds.yaml lacks': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'rds.yaml': 'rds-v0.yaml', 'srds.yaml': 'srds-v2-route-b.yaml' },
      'route_a v1': { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds.yaml', 'rds.yaml': 'rds-v1.yaml', 'srds.yaml': 'srds-v1.yaml' },
    },
    probes: (pod) => [tenantServed(pod.ports.P0, 'a'), tenantServed(pod.ports.P0, 'b')],
  },
];

/** mulberry32: a small seeded PRNG, so that a run's orders can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Every subscription's version_text, and the refusals Envoy counted (update_rejected, update_failure, key_rotation_failed). */
async function envoySays(envoy: EnvoyProcess): Promise<{ versions: Set<string>; refusals: number }> {
  const res = await fetch(`${envoy.adminUrl}/stats?filter=${encodeURIComponent('(version_text|update_rejected|update_failure|key_rotation_failed)$')}`);
  const versions = new Set<string>();
  let refusals = 0;
  for (const line of (await res.text()).split('\n')) {
    const m = /^(\S+): (.*)$/.exec(line);
    if (m === null) continue;
    const [, name = '', value = ''] = m;
    if (name.endsWith('.version_text')) versions.add(value.replace(/^"|"$/g, ''));
    else refusals += Number(value) || 0;
  }
  return { versions, refusals };
}

/** The stamped version of each ConfigMap file, as `watch` publishes it. */
function stampedVersions(configMap: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, text] of Object.entries(configMap)) {
    const version = publishable(name, Buffer.from(text)).version;
    if (version !== undefined) out.set(name, version);
  }
  return out;
}

interface Oracle {
  loadable: boolean;
  /** Files whose version a fresh Envoy reports (the files Envoy reads as xDS). */
  read: Set<string>;
  answers: string[];
}

/** Starts a fresh Envoy on `spec` (its own Pod, its own ports) and reads what it says. */
async function oracle(seq: Sequence, spec: ConfigMapSpec): Promise<Oracle> {
  let pod: CasePod;
  try {
    pod = await startCase(seq.folder, spec);
  } catch {
    return { loadable: false, read: new Set(), answers: [] }; // Envoy did not start on it
  }
  try {
    const envoy = envoyOf(pod);
    let answers = await Promise.all(seq.probes(pod, envoy));
    for (let i = 0; i < 50 && answers.some((a) => a === '-'); i++) {
      await sleep(100);
      answers = await Promise.all(seq.probes(pod, envoy));
    }
    const says = await envoySays(envoy);
    const read = new Set([...stampedVersions(pod.configMap)].filter(([, v]) => says.versions.has(v)).map(([name]) => name));
    return { loadable: says.refusals === 0 && answers.every((a) => a !== '-'), read, answers };
  } finally {
    await pod.stop();
  }
}

/** Whether the running Envoy runs `configMap` as the oracle does; undefined when it does, else what differs. */
async function differs(pod: CasePod, seq: Sequence, expected: Oracle): Promise<string | undefined> {
  for (const [name, text] of Object.entries(pod.configMap)) {
    const onDisk = await readFile(join(pod.target, name)).catch(() => undefined);
    if (onDisk?.equals(publishable(name, Buffer.from(text)).content) !== true) return `${name} on disk is not the ConfigMap's`;
  }
  const envoy = envoyOf(pod);
  const says = await envoySays(envoy);
  for (const [name, version] of stampedVersions(pod.configMap)) {
    if (expected.read.has(name) && !says.versions.has(version)) return `Envoy does not report ${name} version ${version}`;
  }
  const answers = await Promise.all(seq.probes(pod, envoy));
  if (JSON.stringify(answers) !== JSON.stringify(expected.answers)) return `Envoy serves ${JSON.stringify(answers)}, a fresh Envoy ${JSON.stringify(expected.answers)}`;
  return undefined;
}

for (const seq of SEQUENCES) {
  const names = Object.keys(seq.configMaps);
  const specOf = (name: string): ConfigMapSpec => {
    const spec = seq.configMaps[name];
    assert.ok(spec, name);
    return spec;
  };
  test(`any edit order reaches Envoy: ${seq.folder} (${names.join(' / ')}), ${String(REPS)} order(s)`, { timeout: 120_000 + REPS * 90_000 }, async (t) => {
    const rand = random(SEED + names.length);
    const oracles = new Map<string, Oracle>();
    for (const name of names) oracles.set(name, await oracle(seq, specOf(name)));
    const loadable = names.filter((name) => oracles.get(name)?.loadable === true);
    assert.ok(loadable.length > 0 && loadable.length < names.length, `the sequence mixes ConfigMaps Envoy loads and refuses: ${JSON.stringify(Object.fromEntries(oracles))}`);
    const pick = (): string => loadable[Math.floor(rand() * loadable.length)] ?? '';
    const first = pick();
    const pod = await startCase(seq.folder, specOf(first));
    const misses: string[] = [];
    let checked = 0;
    let last = first;
    try {
      for (let rep = 0; rep < REPS; rep++) {
        const order = shuffle(names, rand);
        if (!loadable.includes(order.at(-1) ?? '')) order.push(pick());
        const done: string[] = [last];
        for (const name of order) {
          done.push(name);
          await pod.apply(specOf(name));
          const expected = oracles.get(name);
          assert.ok(expected);
          if (!expected.loadable) {
            await sleep(Math.floor(rand() * 1500));
            continue;
          }
          checked++;
          let why: string | undefined = 'not checked';
          const deadline = Date.now() + REACH_MS;
          while (Date.now() < deadline && (why = await differs(pod, seq, expected)) !== undefined) await sleep(50);
          if (why !== undefined) misses.push(`order ${String(rep + 1)} [${done.join(' → ')}]: ${why}`);
        }
        last = order.at(-1) ?? last;
        const { running, restarted } = await restartFromPublished(pod, async () => Promise.all(seq.probes(pod, envoyOf(pod))));
        if (JSON.stringify(running) !== JSON.stringify(restarted)) misses.push(`order ${String(rep + 1)}: a restarted Envoy serves ${JSON.stringify(restarted)}, the running one ${JSON.stringify(running)}`);
      }
    } finally {
      await pod.stop();
    }
    const figure = `${seq.folder}: ${String(REPS)} order(s), ${String(checked)} loadable ConfigMaps checked, ${String(misses.length)} miss(es) (seed ${String(SEED)})`;
    t.diagnostic(figure);
    console.log(`edit orders: ${figure}`);
    assert.deepEqual(misses, [], figure);
  });
}
