// An Envoy restarted under a running watcher (the Envoy container OOMKilled, crashed or failed its
// liveness probe; the kubelet starts it again; the watcher sidecar keeps running): the new process
// counts every counter from zero and loads the published files at start. The verdicts that follow
// must still be what the new Envoy's own counters say: an edit with misspelt fields
// (test/fixtures/cases/envoy-ignores-unknown-field.lds.yaml) is accepted with the fields Envoy
// counted, even when the old Envoy had counted as many; a refused edit is rolled back and said; and
// a file published while Envoy was down (no verdict) that the new Envoy refused at start is judged
// and rolled back once Envoy is back, with no ConfigMap change: its line says what that Envoy runs
// (it never loaded the last accepted version), not that it "keeps running" it, with the validate
// hint the running Envoy's refusal of the same edit got (docs/sync.md's local recipe, port 70000).
import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { EventReason } from '../../src/sync/watch/reporters.js';
import { waitFor } from '../sync/harness.js';
import type { LogLine } from '../sync/harness.js';
import { envoyOf, eventOfLine, nextVerdict, restartEnvoyUnderWatcher, served, startCase, subscriptionCounters, verdictLines, waitServed } from './verdict-cases.js';
import type { CasePod } from './verdict-cases.js';
import type { EnvoyProcess } from './envoy.js';
import { refusedCopy } from '../helpers/refused-copy.js';

const LDS = 'listener_manager.lds';
const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });

/** `status`'s row for lds.yaml once the state file holds `line` (it is written just after the line). */
async function statusRow(pod: CasePod, line: LogLine): Promise<Awaited<ReturnType<typeof gatherStatus>>['files'][number]> {
  for (let i = 0; ; i++) {
    const row = (await gatherStatus(pod.target)).files.find((f) => f.file === 'lds.yaml');
    if (row?.verdict?.message === line.msg || i >= 100) {
      assert.ok(row, 'a status row for lds.yaml');
      return row;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Publishes `fixture` as lds.yaml and returns its verdict line and how far Envoy's server.dynamic_unknown_fields moved meanwhile. */
async function edit(pod: CasePod, fixture: string, after: number): Promise<{ line: LogLine; moved: number }> {
  const before = await envoyOf(pod).stat('server.dynamic_unknown_fields');
  await pod.apply(spec(fixture));
  const line = await nextVerdict(pod, 'lds.yaml', after);
  return { line, moved: (await envoyOf(pod).stat('server.dynamic_unknown_fields')) - before };
}

test('envoy-ignores-unknown-field.lds.yaml after Envoy restarted under the watcher: the misspelt fields the new Envoy counted are said (line, Event, status), though the old Envoy had counted as many; a refused edit is still rolled back and said', { timeout: 300_000 }, async () => {
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'));
  try {
    let verdicts = 0;
    assert.equal((await nextVerdict(pod, 'lds.yaml', verdicts++)).outcome, 'accepted');
    // The old Envoy: the misspelt edit is warned about, then a clean edit. It has counted 1.
    const first = await edit(pod, '../cases/envoy-ignores-unknown-field.lds.yaml', verdicts++);
    assert.ok(first.moved > 0, 'the old Envoy counted the unknown fields');
    assert.equal(first.line.ignoredFields, first.moved, String(first.line.msg));
    const clean = await edit(pod, 'lds-v1-date.yaml', verdicts++);
    assert.equal(clean.line.outcome, 'accepted', String(clean.line.msg));
    assert.equal(clean.line.ignoredFields, undefined, String(clean.line.msg));

    await restartEnvoyUnderWatcher(pod);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v1', 'the restarted Envoy serves the published lds.yaml');

    // The new Envoy counts from zero: the same misspelt edit is counted again, and must be said again.
    const again = await edit(pod, '../cases/envoy-ignores-unknown-field.lds.yaml', verdicts++);
    assert.equal(again.line.outcome, 'accepted', String(again.line.msg));
    assert.equal((await subscriptionCounters(envoyOf(pod), LDS)).versionText, again.line.xdsVersion);
    assert.ok(again.moved > 0, 'the new Envoy counted the unknown fields');
    assert.equal(again.line.ignoredFields, again.moved, `the verdict says what the new Envoy counted: ${String(again.line.msg)}`);
    assert.equal(again.line.level, 40, String(again.line.msg));
    assert.match(String(again.line.msg), /, but ignored unknown fields in it \(Envoy counted \d+ in server\.dynamic_unknown_fields/);
    assert.equal(eventOfLine(again.line).reason, EventReason.acceptedWithWarnings);
    const warned = await statusRow(pod, again.line);
    assert.equal(warned.verdict?.ignoredFields, again.moved, 'status says the ignored fields');
    assert.deepEqual(warned.envoy, { version: again.line.xdsVersion, live: true }, "status's ENVOY RUNS is the new Envoy's version_text");

    // The watcher said the restart once, with what the new Envoy loaded at start (the clean edit, the last accepted).
    const restarts = pod.watcher.logs.filter((l) => l.event === 'envoy-restarted');
    assert.equal(restarts.length, 1, pod.watcher.stdout.slice(-4000));
    const [said] = restarts;
    assert.ok(said);
    assert.deepEqual(said.loaded, [{ file: 'lds.yaml', version: clean.line.xdsVersion }], String(said.msg));
    assert.equal(said.level, 30);

    // A refused edit after the restart: rolled back to the last accepted (the misspelt one) and said.
    const refusedBefore = await subscriptionCounters(envoyOf(pod), LDS);
    const refused = await edit(pod, 'lds-v3-float-bad.yaml', verdicts++);
    assert.equal(refused.line.outcome, 'rejected', String(refused.line.msg));
    assert.equal(refused.line.rolledBack, true, String(refused.line.msg));
    const refusedNow = await subscriptionCounters(envoyOf(pod), LDS);
    assert.ok(refusedNow.refused > refusedBefore.refused, `Envoy counted the refusal: ${JSON.stringify({ refusedBefore, refusedNow })}`);
    assert.equal(refusedNow.versionText, again.line.xdsVersion, 'Envoy runs the last accepted version');
    const onDisk = await readFile(join(pod.target, 'lds.yaml'), 'utf8');
    assert.ok(onDisk.includes(`version_info: "${String(again.line.xdsVersion)}"`), `the last accepted version is back on disk:\n${onDisk}`);
    assert.equal(eventOfLine(refused.line).reason, EventReason.rolledBack);
    const held = await statusRow(pod, refused.line);
    assert.equal(held.verdict?.outcome, 'rejected');
    assert.equal(held.held, true, 'status says the refused content is held back');
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 typo-1', 'Envoy serves the last accepted version');
    assert.equal(pod.watcher.logs.filter((l) => l.event === 'envoy-restarted').length, 1, 'the restart is said once');
  } finally {
    await pod.stop();
  }
});

/** When `envoy` loaded its bootstrap: its config dump's BootstrapConfigDump `last_updated` (epoch ms). */
async function bootstrapLoadedAt(envoy: EnvoyProcess): Promise<number> {
  const dump = (await (await fetch(`${envoy.adminUrl}/config_dump?mask=last_updated`)).json()) as { configs: { last_updated?: string }[] };
  return Date.parse(String(dump.configs[0]?.last_updated));
}

test('Envoy restarted twice in quick succession (the second process killed well under 2 s after it started, as in a crash loop): each restart is said, with the starts Envoy itself gives, though no counter went down', { timeout: 300_000 }, async (t) => {
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'));
  try {
    let verdicts = 0;
    assert.equal((await nextVerdict(pod, 'lds.yaml', verdicts++)).outcome, 'accepted');
    const starts = [await bootstrapLoadedAt(envoyOf(pod))];
    const fixtures = ['lds-v1-date.yaml', 'lds-v2-float.yaml'];
    for (const fixture of fixtures) {
      // Killed as soon as it answered one verdict: the second process lives well under 2 s.
      const envoy = await restartEnvoyUnderWatcher(pod, 0);
      starts.push(await bootstrapLoadedAt(envoy));
      const line = (await edit(pod, fixture, verdicts++)).line;
      assert.equal(line.outcome, 'accepted', String(line.msg));
      assert.equal((await subscriptionCounters(envoy, LDS)).versionText, line.xdsVersion);
    }
    const at = (i: number): number => starts[i] ?? Number.NaN;
    t.diagnostic(`the second Envoy process lived ${String(at(2) - at(1))} ms from its start to the next one's`);
    const restarts = pod.watcher.logs.filter((l) => l.event === 'envoy-restarted');
    assert.equal(restarts.length, 2, `a line per restart:\n${pod.watcher.stdout.slice(-4000)}`);
    restarts.forEach((said, i) => {
      assert.deepEqual(
        { startedAt: said.startedAt, previousStartedAt: said.previousStartedAt },
        { startedAt: new Date(at(i + 1)).toISOString(), previousStartedAt: new Date(at(i)).toISOString() },
        `restart ${String(i + 1)}: the starts Envoy gives (${String(said.msg)})`,
      );
    });
    assert.equal(await envoyOf(pod).stat('server.dynamic_unknown_fields'), 0, 'no counter went down: the start told the processes apart');
  } finally {
    await pod.stop();
  }
});

test('a refused lds.yaml published while Envoy was down (verdict unknown) and refused again by the restarted Envoy at start is judged once Envoy is back, with no ConfigMap change, and rolled back', { timeout: 300_000 }, async () => {
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'), ['--verdict-timeout', '4s']);
  try {
    const accepted = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(accepted.outcome, 'accepted');
    const down = envoyOf(pod);
    process.kill(-down.process.pid, 'SIGKILL'); // OOMKilled; the kubelet has not started it again yet
    await down.process.exited;
    pod.envoy = undefined;
    await pod.apply(spec('lds-v3-float-bad.yaml'));
    const unknown = await nextVerdict(pod, 'lds.yaml', 1);
    assert.equal(unknown.outcome, 'unknown', String(unknown.msg));

    const envoy = await pod.startEnvoy(); // loads the refused lds.yaml at start: no listener
    assert.equal((await subscriptionCounters(envoy, LDS)).refused, 1, 'the new Envoy refused lds.yaml at start');
    // No change follows: the watcher reads Envoy on its own until it is back (envoy-recheck.ts).
    const rolledBack = await nextVerdict(pod, 'lds.yaml', 2, 60_000);
    assert.equal(rolledBack.outcome, 'rejected', String(rolledBack.msg));
    assert.equal(rolledBack.rolledBack, true, String(rolledBack.msg));
    assert.equal(rolledBack.xdsVersion, unknown.xdsVersion);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v2', 'Envoy runs the last accepted version again');
    const onDisk = await readFile(join(pod.target, 'lds.yaml'), 'utf8');
    assert.ok(onDisk.includes(`version_info: "${String(accepted.xdsVersion)}"`), `the last accepted version is back on disk:\n${onDisk}`);
    const [said] = pod.watcher.logs.filter((l) => l.event === 'envoy-restarted');
    assert.ok(said, pod.watcher.stdout.slice(-4000));
    assert.deepEqual(said.loaded, [{ file: 'lds.yaml', version: '', refused: true }], String(said.msg));
    assert.deepEqual(said.judgeAgain, ['lds.yaml'], String(said.msg));
    assert.equal(verdictLines(pod, 'lds.yaml').length, 3, 'one verdict for the refusal');
  } finally {
    await pod.stop();
  }
});

test('09-duplicate-listener-name after Envoy restarted: the refusal reason the new Envoy gives is this edit\'s, not "possibly earlier" because the old Envoy gave the same one', { timeout: 300_000 }, async () => {
  const dup = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': 'cds-v1-duplicate.yaml' });
  const pod = await startCase('09-duplicate-listener-name', dup('lds-v2.yaml'));
  try {
    let verdicts = 0;
    assert.equal((await nextVerdict(pod, 'lds.yaml', verdicts++)).outcome, 'accepted');
    await pod.apply(dup('lds-v3-duplicate-edit.yaml'));
    const first = await nextVerdict(pod, 'lds.yaml', verdicts++);
    assert.equal(first.outcome, 'rejected', String(first.msg));
    assert.match(String(first.reason), /duplicate listener shop_listener found/);
    assert.equal(first.reasonPossiblyEarlier, undefined, String(first.msg));

    await restartEnvoyUnderWatcher(pod);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v2', 'the restarted Envoy serves the rolled-back lds.yaml');
    const passes = (): number => pod.watcher.logs.filter((l) => l.msg === 'pass done').length;
    const passesBefore = passes();
    await pod.apply(dup('lds-v2.yaml')); // the ConfigMap reverted (what is on disk already): the hold ends
    await waitFor(() => passes() > passesBefore, 'the pass that reads the reverted ConfigMap');
    await pod.apply(dup('lds-v3-duplicate-edit.yaml'));
    const again = await nextVerdict(pod, 'lds.yaml', verdicts++);
    assert.equal(again.outcome, 'rejected', String(again.msg));
    assert.equal(again.rolledBack, true, String(again.msg));
    assert.match(String(again.reason), /duplicate listener shop_listener found/);
    // The new Envoy had refused nothing before: its listener errors are this edit's.
    assert.equal(again.reasonPossiblyEarlier, undefined, String(again.msg));
    assert.doesNotMatch(String(again.msg), /an earlier refused version/);
  } finally {
    await pod.stop();
  }
});

test('the local trial with an Envoy restart: port_value: 70000 refused and rolled back ("keeps running"), the ConfigMap reverted (one line, nothing published), then published while Envoy was down and refused by the restarted Envoy at start: the line says what that Envoy runs and that the last accepted version is put back for it to load, with the same plain validate hint', { timeout: 300_000 }, async () => {
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'), ['--verdict-timeout', '4s']);
  try {
    const good = await pod.fixture('lds-v2-float.yaml');
    const bad = good.replace(`port_value: ${String(pod.ports.P0)}`, 'port_value: 70000');
    assert.notEqual(bad, good);
    const write = (lds: string) => pod.writer.write({ 'envoy.yaml': pod.configMap['envoy.yaml'] ?? '', 'lds.yaml': lds });
    const accepted = await nextVerdict(pod, 'lds.yaml', 0);
    assert.equal(accepted.outcome, 'accepted');
    // The copy of exactly the content refused (refused/..sha256-<key>/lds.yaml): the same content both times, the same copy.
    const validate = (version: unknown): string => ` validate ${refusedCopy(pod.target, 'lds.yaml', version)} names the field and its line in the refused version kept there`;

    // A running Envoy refuses the edit: it keeps running the accepted version.
    await write(bad);
    const refused = await nextVerdict(pod, 'lds.yaml', 1);
    assert.equal(refused.outcome, 'rejected', String(refused.msg));
    assert.equal(refused.rolledBack, true);
    assert.match(String(refused.msg), new RegExp(`: it keeps running ${String(accepted.xdsVersion).replace(/[.+]/g, '\\$&')}, which is back on disk for the next Envoy start; `));
    assert.ok(String(refused.msg).endsWith(validate(refused.xdsVersion)) && !String(refused.msg).includes('if it says'), String(refused.msg));

    // The ConfigMap reverted to the accepted content, which is on disk: one info line, nothing published.
    const published = () => pod.watcher.logs.filter((l) => l.msg === 'published').length;
    const publishedBefore = published();
    await write(good);
    const back = await pod.watcher.waitForLog((l) => l.event === 'back-to-published', 'the line for the revert');
    assert.equal(back.level, 30);
    assert.deepEqual([back.file, back.xdsVersion, back.refusedBy], ['lds.yaml', accepted.xdsVersion, 'envoy']);
    assert.match(String(back.msg), /^lds\.yaml: the ConfigMap is back to version \S+, which is published \(the last version Envoy accepted, put back after its refusal\): nothing to publish; /);
    assert.equal(published(), publishedBefore, 'nothing published');
    assert.equal(verdictLines(pod, 'lds.yaml').length, 2, 'no verdict: nothing reached Envoy');
    assert.equal((await gatherStatus(pod.target)).files.find((f) => f.file === 'lds.yaml')?.held, false, 'the hold ended');

    // Envoy dies (OOMKilled); the refused edit is published while it is down; the kubelet starts it again.
    const down = envoyOf(pod);
    process.kill(-down.process.pid, 'SIGKILL');
    await down.process.exited;
    pod.envoy = undefined;
    await write(bad);
    assert.equal((await nextVerdict(pod, 'lds.yaml', 2)).outcome, 'unknown');
    const envoy = await pod.startEnvoy();
    const atStart = await subscriptionCounters(envoy, LDS);
    assert.deepEqual([atStart.versionText, atStart.refused], ['', 1], 'the new Envoy refused lds.yaml at start and runs no version of it');
    const again = await nextVerdict(pod, 'lds.yaml', 3, 60_000);
    assert.equal(again.outcome, 'rejected', String(again.msg));
    assert.equal(again.rolledBack, true);
    const msg = String(again.msg);
    assert.doesNotMatch(msg, /keeps running/, 'the restarted Envoy never ran the last accepted version');
    const last = String(accepted.xdsVersion).replace(/[.+]/g, '\\$&');
    assert.match(msg, new RegExp(`: Envoy does not run the listener of lds\\.yaml, as this Envoy process never loaded the last accepted version ${last}; ${last} is put back on disk for this Envoy to load; `), msg);
    // Envoy reports the same facts as for the running Envoy's refusal (update_rejected, no listener error state): the same hint.
    assert.equal(again.xdsVersion, refused.xdsVersion, 'the same refused content');
    assert.ok(msg.endsWith(validate(refused.xdsVersion)) && !msg.includes('if it says'), msg);
    await waitServed(() => served(envoyOf(pod), pod.ports.P0), '200 v2', 'the restarted Envoy loads the last accepted version put back');
    const row = await statusRow(pod, again);
    assert.deepEqual(row.envoy, { version: accepted.xdsVersion, live: true });
  } finally {
    await pod.stop();
  }
});
