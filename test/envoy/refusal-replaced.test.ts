// Refusals of publishes a newer publish replaced before their verdict
// (test/fixtures/verdict-cases/20-refusal-replaced-before-verdict): good / bad / good ConfigMap swaps
// back to back (0-20 ms apart), bad = a port above 65535 or a duration "abc", in lds.yaml or
// cds.yaml. Envoy reloads a file on each rename of it and counts each refusal
// (`FilesystemSubscriptionImpl::refresh`); a bad version Envoy read and refused before the next
// good one was renamed must be in a verdict line even when the good one replaced it before its
// verdict: per subscription, the refusals the lines report equal Envoy's update_rejected +
// update_failure. Found by the fresh-user trial: Envoy counted 10 lds refusals, the lines 9 (12 /
// 11; cds 8 / 7); the disk, `status` and a restarted Envoy were right.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { EventReason } from '../../src/sync/watch/reporters.js';
import type { LogLine } from '../sync/harness.js';
import { envoyOf, eventOfLine, nextVerdict, publishedVersion, quiet, startCase, subscriptionCounters, verdictLines, waitServed, served } from './verdict-cases.js';
import { refusedCopy } from '../helpers/refused-copy.js';

const FOLDER = '20-refusal-replaced-before-verdict';
const SEQUENCES = 16;
const spec = (lds: string, cds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': cds });
const SUBSCRIPTIONS = { 'lds.yaml': 'listener_manager.lds', 'cds.yaml': 'cluster_manager.cds' } as const;

/** Refusals the verdict lines report: a rejected line is one (or its `refusals`), an `unknown` one its `refusals`, and each says how many came before it. */
function reported(lines: readonly LogLine[]): number {
  const count = (line: LogLine): number => (typeof line.refusals === 'number' ? line.refusals : line.outcome === 'rejected' ? 1 : 0);
  return lines.reduce((sum, line) => sum + count(line) + (typeof line.refusedBefore === 'number' ? line.refusedBefore : 0), 0);
}

const describe = (lines: readonly LogLine[]): string =>
  lines.map((l) => `  ${String(l.outcome)} ${String(l.xdsVersion)}${typeof l.refusals === 'number' ? ` refusals ${String(l.refusals)}` : ''}${typeof l.refusedBefore === 'number' ? ` refusedBefore ${String(l.refusedBefore)}` : ''}: ${String(l.msg).slice(0, 180)}`).join('\n');



test('good / bad / good swaps back to back: every refusal Envoy counts is in a verdict line, also of a version replaced before its verdict, and the last version of each file gets its own', { timeout: 600_000 }, async () => {
  const pod = await startCase(FOLDER, spec('lds-g0.yaml', 'cds-g0.yaml'));
  try {
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    assert.equal((await nextVerdict(pod, 'cds.yaml', 0)).outcome, 'accepted');
    const envoy = envoyOf(pod);
    const before = { 'lds.yaml': await subscriptionCounters(envoy, SUBSCRIPTIONS['lds.yaml']), 'cds.yaml': await subscriptionCounters(envoy, SUBSCRIPTIONS['cds.yaml']) };
    const from = { 'lds.yaml': verdictLines(pod, 'lds.yaml').length, 'cds.yaml': verdictLines(pod, 'cds.yaml').length };
    const bad = [['lds-bad-port.yaml', ''], ['lds-bad-duration.yaml', ''], ['', 'cds-bad-port.yaml'], ['', 'cds-bad-duration.yaml']] as const;
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    let last = 0;
    for (let k = 1; k <= SEQUENCES; k++) {
      // Good versions differ from the one before each swap (else a key does not change).
      const [a, b, c] = [k % 4, (k + 1) % 4, (k + 2) % 4];
      const [badLds, badCds] = bad[k % 4] ?? bad[0];
      await pod.apply(spec(`lds-g${String(a)}.yaml`, `cds-g${String(a)}.yaml`));
      await pause((k * 7) % 21);
      await pod.apply(spec(badLds === '' ? `lds-g${String(b)}.yaml` : badLds, badCds === '' ? `cds-g${String(b)}.yaml` : badCds));
      await pause((k * 13) % 21);
      await pod.apply(spec(`lds-g${String(c)}.yaml`, `cds-g${String(c)}.yaml`));
      last = c;
      await quiet(pod);
      // The version on disk, the one Envoy runs, has its own verdict, the last one (a newer publish
      // concluded with an older one must not take its pending verdict along).
      for (const file of ['lds.yaml', 'cds.yaml'] as const) {
        const final = verdictLines(pod, file).at(-1);
        assert.equal(`${String(final?.outcome)} ${String(final?.xdsVersion)}`, `accepted ${await publishedVersion(pod, file)}`, `sequence ${String(k)}: ${file}: the last verdict is on the version published:\n${describe(verdictLines(pod, file).slice(-6))}`);
      }
    }
    await waitServed(() => served(envoy, pod.ports.P0), `200 g${String(last)}`, 'Envoy serves the last good version');
    for (const file of ['lds.yaml', 'cds.yaml'] as const) {
      const lines = verdictLines(pod, file).slice(from[file]);
      const after = await subscriptionCounters(envoy, SUBSCRIPTIONS[file]);
      assert.equal(reported(lines), after.refused - before[file].refused, `${file}: every refusal Envoy counted (${SUBSCRIPTIONS[file]}) is reported by a verdict line:\n${describe(lines)}`);
      // A replaced version's line says so, and its Event says what the line says.
      for (const line of lines.filter((l) => l.supersededBy !== undefined && l.outcome === 'rejected')) {
        assert.equal(line.rolledBack, false, String(line.msg));
        // Every bad version here is one a schema check sees (a port over 65535, a duration "abc"): its
        // line gives the validate of the refused version kept, as a refusal judged alone does.
        // The copy of exactly the content refused, as for a refusal judged alone (refused/..sha256-<key>/<file>).
        assert.ok(String(line.msg).includes(` validate ${refusedCopy(pod.target, file, line.xdsVersion)} names the field`), String(line.msg));
        assert.equal(line.refused, refusedCopy(pod.target, file, line.xdsVersion), String(line.msg));
        assert.equal(eventOfLine(line).reason, EventReason.rejected, String(line.msg));
        assert.ok(eventOfLine(line).message.includes(String(line.msg).slice(0, 200)), 'the Event says what the line says');
      }
      // `status` says what the last line says, and Envoy runs the version published.
      const version = await publishedVersion(pod, file);
      const row = (await gatherStatus(pod.target)).files.find((f) => f.file === file);
      assert.equal(row?.verdict?.outcome, 'accepted', `${file}: status`);
      assert.equal(after.versionText, version, `${file}: Envoy runs the version published`);
    }
  } finally {
    await pod.stop();
  }
});
