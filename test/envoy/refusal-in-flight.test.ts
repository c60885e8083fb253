// A refusal that no other file can change, with another file of the same change on its way
// (test/fixtures/verdict-cases/19-refusal-no-other-file-causes): lds.yaml with a port above 65535,
// which Envoy 1.40 refuses while decoding it (proto validation, `update_rejected`, no listener
// error state), and a new cds.yaml in the same ConfigMap swap; then a second change of cds.yaml
// alone, then the fix. Every refusal Envoy counts (`listener_manager.lds.update_rejected` and
// `update_failure`) must be one the verdict lines report (a rejected line, or one a line says came
// before it: `refusedBefore`), the `status` row and the Event must say what the line says, and
// content Envoy refused for itself is never renamed again while the ConfigMap keeps it: Envoy
// refuses it once. Found by the fresh-user trial: rapid good/bad/good swaps in 17 of 20 sequences
// counted one refusal more in Envoy than in the verdict lines.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { EventReason } from '../../src/sync/watch/reporters.js';
import type { LogLine } from '../sync/harness.js';
import { envoyOf, eventOfLine, nextVerdict, served, startCase, subscriptionCounters, verdictLines, waitServed } from './verdict-cases.js';
import type { CasePod } from './verdict-cases.js';

const FOLDER = '19-refusal-no-other-file-causes';
const spec = (lds: string, cds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds, 'cds.yaml': cds });

/** Refusals the lds.yaml verdict lines from `from` on report: a rejected line is one, and each says how many came before it. */
function reported(lines: readonly LogLine[]): number {
  return lines.reduce((sum, line) => sum + (line.outcome === 'rejected' ? 1 : 0) + (typeof line.refusedBefore === 'number' ? line.refusedBefore : 0), 0);
}

/** The `status` row of `file` once it shows `line`'s verdict. */
async function statusRow(pod: CasePod, line: LogLine): Promise<{ outcome?: string; message?: string; held: boolean } | undefined> {
  const row = async () => (await gatherStatus(pod.target)).files.find((f) => f.file === line.file);
  for (let i = 0; i < 100 && (await row())?.verdict?.message !== line.msg; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const found = await row();
  return found === undefined ? undefined : { ...(found.verdict?.outcome === undefined ? {} : { outcome: found.verdict.outcome }), ...(found.verdict?.message === undefined ? {} : { message: found.verdict.message }), held: found.held };
}

test('a refusal Envoy gives for the content itself, with cds.yaml of the same change on its way: Envoy refuses it once, and every refusal Envoy counts is in the verdict lines, status and Events', { timeout: 300_000 }, async () => {
  const pod = await startCase(FOLDER, spec('lds-v0.yaml', 'cds-v0.yaml'));
  try {
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    assert.equal((await nextVerdict(pod, 'cds.yaml', 0)).outcome, 'accepted');
    const envoy = envoyOf(pod);
    const before = await subscriptionCounters(envoy, 'listener_manager.lds');
    const ldsFrom = verdictLines(pod, 'lds.yaml').length;

    // One swap: the refused listener and a new cluster, renamed back to back.
    await pod.apply(spec('lds-bad-port.yaml', 'cds-v1.yaml'));
    assert.equal((await nextVerdict(pod, 'cds.yaml', 1)).outcome, 'accepted');
    const refused = await nextVerdict(pod, 'lds.yaml', ldsFrom);
    assert.equal(refused.outcome, 'rejected', String(refused.msg));
    assert.equal(refused.rolledBack, true, String(refused.msg));
    const row = await statusRow(pod, refused);
    assert.deepEqual(row, { outcome: 'rejected', message: refused.msg, held: true }, 'status says what the line says');
    assert.equal(eventOfLine(refused).reason, EventReason.rolledBack);
    assert.ok(eventOfLine(refused).message.includes(String(refused.msg).slice(0, 200)), 'the Event says what the line says');
    await waitServed(() => served(envoy, pod.ports.P0), '200 v0', 'Envoy keeps the running listener');

    // Another key changes, lds.yaml keeps the refused content: it stays held back.
    await pod.apply(spec('lds-bad-port.yaml', 'cds-v2.yaml'));
    assert.equal((await nextVerdict(pod, 'cds.yaml', 2)).outcome, 'accepted');

    // The fix: its verdict comes after anything the watcher renamed before it.
    const fixFrom = verdictLines(pod, 'lds.yaml').length;
    await pod.apply(spec('lds-v1.yaml', 'cds-v2.yaml'));
    let fixed = await nextVerdict(pod, 'lds.yaml', fixFrom);
    while (fixed.outcome !== 'accepted' && verdictLines(pod, 'lds.yaml').length <= fixFrom + 4) fixed = await nextVerdict(pod, 'lds.yaml', verdictLines(pod, 'lds.yaml').length);
    assert.equal(fixed.outcome, 'accepted', String(fixed.msg));
    await waitServed(() => served(envoy, pod.ports.P0), '200 v1', 'Envoy serves the fix');

    const after = await subscriptionCounters(envoy, 'listener_manager.lds');
    const lines = verdictLines(pod, 'lds.yaml').slice(ldsFrom);
    const again = pod.watcher.logs.filter((l) => String(l.msg).includes('again')).map((l) => `  (watch: ${String(l.msg).slice(0, 200)})`);
    const summary = [...lines.map((l) => `${String(l.outcome)} ${String(l.xdsVersion)}${typeof l.refusedBefore === 'number' ? ` (refusedBefore ${String(l.refusedBefore)})` : ''}: ${String(l.msg).slice(0, 160)}`), ...again].join('\n');
    assert.equal(reported(lines), after.refused - before.refused, `every refusal Envoy counted is reported by a verdict line:\n${summary}`);
    assert.equal(after.refused - before.refused, 1, `Envoy refused the content once (nothing another file holds can change that refusal, so it is never renamed again):\n${summary}`);
  } finally {
    await pod.stop();
  }
});

// Folder 21: a CDS file is refused for a file it names only when that file is missing, and the
// eds.yaml of its change was renamed before it. Found by the fresh-user trial: cds.yaml was renamed
// again once eds.yaml was accepted, and Envoy refused it twice.
test('a cds.yaml Envoy refuses (a cluster pasted twice) with the new eds.yaml it names on its way: refused once, never renamed again for eds.yaml', { timeout: 300_000 }, async () => {
  const files = (cds: string, eds?: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-v0.yaml', 'cds.yaml': cds, ...(eds === undefined ? {} : { 'eds.yaml': eds }) });
  const pod = await startCase('21-cds-refused-in-part', files('cds-v0.yaml'));
  try {
    assert.equal((await nextVerdict(pod, 'cds.yaml', 0)).outcome, 'accepted');
    const envoy = envoyOf(pod);
    const before = await subscriptionCounters(envoy, 'cluster_manager.cds');
    const cdsFrom = verdictLines(pod, 'cds.yaml').length;
    await pod.apply(files('cds-v2-eds-duplicate.yaml', 'eds-v1.yaml'));
    const refused = await nextVerdict(pod, 'cds.yaml', cdsFrom);
    assert.equal(refused.outcome, 'rejected', String(refused.msg));
    assert.equal(refused.rolledBack, true, String(refused.msg));
    assert.equal(refused.refusedBefore, undefined, String(refused.msg));
    assert.equal((await nextVerdict(pod, 'eds.yaml', 0)).outcome, 'accepted');
    await waitServed(() => served(envoy, pod.ports.P0), '200 A', 'Envoy serves through svc_static');
    const after = await subscriptionCounters(envoy, 'cluster_manager.cds');
    const again = pod.watcher.logs.filter((l) => l.file === 'cds.yaml' && String(l.msg).includes('publishing it again'));
    assert.deepEqual(again, [], 'cds.yaml was not renamed again');
    assert.equal(after.refused - before.refused, 1, 'Envoy refused cds.yaml once');
    assert.equal(after.versionText, before.versionText, 'Envoy runs the cds.yaml put back');
  } finally {
    await pod.stop();
  }
});
