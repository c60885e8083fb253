// The corpus of real-world file-based xDS setups and operator edit sequences
// (test/fixtures/envoy-corpus/sequences/*/seq.json, sources in its README), run through the real
// `copy` + `watch` against a real Envoy 1.40, one Envoy per sequence. After every step each
// expected file's verdict must be the one recorded and agree with Envoy: an accepted xDS file's
// version is some subscription's `version_text`, a refused one is no subscription's and was put
// back; `status` shows the verdict and what is held back; the listeners answer what the step
// records. After the sequence an Envoy restarted from the published directory must serve what the
// running one served. The verdict-cases folders (verdict-corpus.test.ts) hold the sequences that
// found a fault since fixed; a sequence whose seq.json has a `todo` reproduces a fault still open
// (node:test reports it as todo, so `npm test` stays green until it is fixed).
import { strict as assert } from 'node:assert';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { envoyOf, nextVerdict, restartFromPublished, served, startCase, tenantServed, verdictCounts, waitServed } from './verdict-cases.js';
import type { CasePod, ConfigMapSpec } from './verdict-cases.js';

const SEQUENCES = new URL('../fixtures/envoy-corpus/sequences/', import.meta.url).pathname;

/** `unknown`: Envoy decided nothing on the file (nothing it runs reads it), said so after the verdict timeout. */
type Outcome = 'accepted' | 'rejected' | 'unknown';
/** `tenant`: sent as the `x-tenant` header (scoped routes pick a scope by it); answered `<status> <body trimmed>`, `<status>` for an empty body. */
interface Probe { port: 'P0' | 'P1' | 'P2'; how?: 'body' | 'status' | 'tls-cn'; tenant?: string }
/**
 * `pauseMs`: a wait after the step's checks, before the next edit (no assertion): lets a verdict
 * the step leaves open end first (a file nothing reads, `unknown` after a short --verdict-timeout),
 * when the fault needs that order. `says`: file → a regex its verdict line's message must match
 * (e.g. the subscription and the file Envoy's counters name).
 */
interface Step { note: string; spec: ConfigMapSpec; expect: Record<string, Outcome>; serves?: string[]; pauseMs?: number; says?: Record<string, string> }
/**
 * `todo`: a fault reproduced and not fixed yet (the reason, naming the kind); node:test runs the
 * sequence and reports it without failing `npm test`. `watchArgs`: extra `watch` flags (e.g. a
 * long `--verdict-timeout`, so a verdict that only the timeout brings never comes in time).
 * `says`: as a step's, for the first start's verdicts.
 */
interface Sequence { initial: ConfigMapSpec; expect: Record<string, Outcome>; says?: Record<string, string>; serves?: string[]; steps: Step[]; probes: Probe[]; todo?: string; watchArgs?: string[] }

const probes = (pod: CasePod, sequence: Sequence): Promise<string[]> => Promise.all(sequence.probes.map((p) => (p.tenant === undefined ? served(envoyOf(pod), pod.ports[p.port], p.how ?? 'body') : tenantServed(pod.ports[p.port], p.tenant))));


/** Every subscription's `version_text`, as Envoy lists them. */
async function versionTexts(pod: CasePod): Promise<string[]> {
  const res = await fetch(`${envoyOf(pod).adminUrl}/stats?filter=${encodeURIComponent('\\.version_text$')}`);
  return (await res.text()).split('\n').flatMap((line) => {
    const value = line.slice(line.indexOf(': ') + 2);
    return line.includes(': ') ? [JSON.parse(value) as string] : [];
  });
}

/**
 * The version_info of every Secret Envoy's config dump lists as active. An SDS file whose
 * subscription took nothing may still run: a listener that shares the SdsApi of a draining one
 * re-reads its Secret's files, and its subscription's counters never move (measured on 1.40,
 * sequence new-tls-listener-sds: version_text '', the Secret active at the file's version, its
 * certificate served). Not a refusal's oracle: the dump lists a refused Secret's version too.
 */
async function activeSecretVersions(pod: CasePod): Promise<string[]> {
  const dump = (await envoyOf(pod).configDump('resource=dynamic_active_secrets')) as { configs?: { version_info?: string }[] };
  return (dump.configs ?? []).flatMap((c) => (c.version_info === undefined ? [] : [c.version_info]));
}

/** A refusal by the subscription a file's resource opened (judge.ts `created`): Envoy took the file itself. */
const OPENED = /the subscription it opened \(([^)]+)\) refused/;

/**
 * A file refused for the subscription it opened, at a first start, stays published and Envoy runs
 * it: the oracle is that subscription, which counted a refusal and never a success.
 */
async function assertRefusedOnly(pod: CasePod, statPrefix: string, what: string): Promise<void> {
  const res = await fetch(`${envoyOf(pod).adminUrl}/stats?filter=${encodeURIComponent(`^${statPrefix.replaceAll('.', '\\.')}\\.update_`)}`);
  const stats = new Map((await res.text()).split('\n').filter((l) => l.includes(': ')).map((l) => [l.slice(statPrefix.length + 1, l.indexOf(': ')), Number(l.slice(l.indexOf(': ') + 2))]));
  assert.ok((stats.get('update_rejected') ?? 0) + (stats.get('update_failure') ?? 0) > 0 && stats.get('update_success') === 0, `${what}: Envoy's ${statPrefix} refused and took nothing: ${JSON.stringify([...stats])}`);
}

/**
 * Waits for the verdicts of `expect` after `before` and checks each against Envoy and `status`
 * (an accepted SDS file's version may be an active Secret's instead, activeSecretVersions).
 * `accepted`: the files Envoy accepted a version of earlier in the sequence; a refused one of them
 * is put back and held, a refused file with no accepted version stays published (nothing to put back).
 */
async function judged(pod: CasePod, what: string, expect: Record<string, Outcome>, before: Map<string, number>, accepted: Set<string>, says: Record<string, string> = {}): Promise<void> {
  for (const [file, outcome] of Object.entries(expect)) {
    const line = await nextVerdict(pod, file, before.get(file) ?? 0);
    assert.equal(line.outcome, outcome, `${what}: ${file}: ${String(line.msg)}`);
    if (says[file] !== undefined) assert.match(String(line.msg), new RegExp(says[file]), `${what}: ${file}`);
    const version = typeof line.xdsVersion === 'string' ? line.xdsVersion : undefined;
    if (version !== undefined && outcome !== 'unknown') {
      const reported = (await versionTexts(pod)).includes(version) || (outcome === 'accepted' && (await activeSecretVersions(pod)).includes(version));
      const opened = outcome === 'rejected' && reported && !accepted.has(file) ? OPENED.exec(String(line.msg))?.[1] : undefined;
      if (opened !== undefined) await assertRefusedOnly(pod, opened, `${what}: ${file}`);
      else assert.equal(reported, outcome === 'accepted', `${what}: ${file}: Envoy ${outcome === 'accepted' ? 'reports' : 'does not report'} ${version}`);
    }
    if (outcome === 'rejected' && accepted.has(file)) assert.equal(line.rolledBack, true, `${what}: ${file}: ${String(line.msg)}`);
    let row = (await gatherStatus(pod.target)).files.find((f) => f.file === file);
    for (let i = 0; i < 100 && row?.verdict?.message !== line.msg; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      row = (await gatherStatus(pod.target)).files.find((f) => f.file === file);
    }
    assert.equal(row?.verdict?.outcome, outcome, `${what}: ${file}: status`);
    assert.equal(row.held, outcome === 'rejected', `${what}: ${file}: status says held back`);
    // Refused with nothing accepted before it: it stays published, and status says so.
    if (outcome === 'rejected') assert.equal(row.refusedPublished === true, !accepted.has(file), `${what}: ${file}: status says whether the refused content stays published`);
    if (outcome === 'accepted') accepted.add(file);
  }
}

for (const name of (await readdir(SEQUENCES, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
  const sequence = JSON.parse(await readFile(join(SEQUENCES, name, 'seq.json'), 'utf8')) as Sequence;
  test(`sequence ${name}: every verdict agrees with Envoy, and a restarted Envoy serves what the running one served`, { timeout: 300_000, ...(sequence.todo === undefined ? {} : { todo: sequence.todo }) }, async () => {
    const pod = await startCase(`../envoy-corpus/sequences/${name}`, sequence.initial, sequence.watchArgs ?? []);
    try {
      const accepted = new Set<string>();
      await judged(pod, 'initial', sequence.expect, new Map(), accepted, sequence.says);
      if (sequence.serves !== undefined) await waitServed(async () => JSON.stringify(await probes(pod, sequence)), JSON.stringify(sequence.serves), 'initial');
      for (const step of sequence.steps) {
        const before = verdictCounts(pod, Object.keys(step.expect));
        await pod.apply(step.spec);
        await judged(pod, step.note, step.expect, before, accepted, step.says);
        if (step.serves !== undefined) await waitServed(async () => JSON.stringify(await probes(pod, sequence)), JSON.stringify(step.serves), step.note);
        if (step.pauseMs !== undefined) await new Promise((resolve) => setTimeout(resolve, step.pauseMs));
      }
      const { running, restarted } = await restartFromPublished(pod, () => probes(pod, sequence));
      assert.deepEqual(restarted, running, `${name}: an Envoy restarted from the published directory serves what the running one served`);
    } finally {
      await pod.stop();
    }
  });
}
