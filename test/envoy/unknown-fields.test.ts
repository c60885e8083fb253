// What Envoy counts in server.dynamic_unknown_fields, load by load, and what the verdicts say of it,
// on the shared case test/fixtures/cases/envoy-ignores-unknown-field.lds.yaml (misspelt fields
// Envoy loads and ignores) and a refused edit of it (04-version-read-as-envoy/lds-v5-typo-refused.yaml).
// Envoy 1.40 counts every load of a file with an unknown field again (the warning it deduplicates
// on carries protobuf's parse error, whose spacing differs from one parse to the next): the refused
// edit and the watcher's rollback to the misspelt version each count. The count a verdict gives is
// the one Envoy made for that version's load, never a running total: the line, `status` and the
// Event agree with Envoy's own counter, the rollback's count goes to no later verdict, and a second
// version with the same misspelt field is warned about again.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { gatherStatus } from '../../src/sync/verdict/status.js';
import { formatStatus } from '../../src/sync/verdict/status-format.js';
import { EventReason } from '../../src/sync/watch/reporters.js';
import type { LogLine } from '../sync/harness.js';
import { envoyOf, eventOfLine, nextVerdict, startCase, subscriptionCounters } from './verdict-cases.js';
import type { CasePod } from './verdict-cases.js';

const TYPO = '../cases/envoy-ignores-unknown-field.lds.yaml';
const spec = (lds: string) => ({ 'envoy.yaml': 'envoy.yaml', 'lds.yaml': lds });

/** Publishes `fixture` as lds.yaml; its verdict line and how far Envoy's server.dynamic_unknown_fields moved from before the edit to after it (the rollback's reload included). */
async function edit(pod: CasePod, fixture: string, after: number): Promise<{ line: LogLine; moved: number }> {
  const before = await envoyOf(pod).stat('server.dynamic_unknown_fields');
  await pod.apply(spec(fixture));
  const line = await nextVerdict(pod, 'lds.yaml', after);
  const state = async () => (await gatherStatus(pod.target)).files.find((f) => f.file === 'lds.yaml');
  for (let i = 0; i < 100 && (await state())?.verdict?.message !== line.msg; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return { line, moved: (await envoyOf(pod).stat('server.dynamic_unknown_fields')) - before };
}

/** The line, the Event and the `status` row say `ignored` fields (none: a plain acceptance). */
async function says(pod: CasePod, line: LogLine, ignored: number | undefined): Promise<void> {
  assert.equal(line.ignoredFields, ignored, String(line.msg));
  if (line.outcome === 'accepted') assert.equal(eventOfLine(line).reason, ignored === undefined ? EventReason.accepted : EventReason.acceptedWithWarnings, String(line.msg));
  const row = (await gatherStatus(pod.target)).files.find((f) => f.file === 'lds.yaml');
  assert.equal(row?.verdict?.message, line.msg);
  assert.equal(row?.verdict?.ignoredFields, ignored, 'status');
}

test('envoy-ignores-unknown-field.lds.yaml, a refused edit of it and the rollback: Envoy counts every load; each verdict, Event and status row gives the count of its own version\'s load', { timeout: 300_000 }, async () => {
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'));
  try {
    let verdicts = 0;
    assert.equal((await nextVerdict(pod, 'lds.yaml', verdicts++)).outcome, 'accepted');
    const typo = await edit(pod, TYPO, verdicts++);
    assert.equal(typo.moved, 1, 'Envoy counted the misspelt file once');
    await says(pod, typo.line, 1);

    // Refused: Envoy counts the refused load, and again the rollback's reload of the misspelt version.
    const refused = await edit(pod, 'lds-v5-typo-refused.yaml', verdicts++);
    assert.equal(refused.line.outcome, 'rejected', String(refused.line.msg));
    assert.equal(refused.line.rolledBack, true);
    assert.equal((await subscriptionCounters(envoyOf(pod), 'listener_manager.lds')).versionText, typo.line.xdsVersion, 'Envoy runs the misspelt version again');
    assert.equal(refused.moved, 2, 'Envoy counted the refused load and the rollback: not once per distinct field');
    await says(pod, refused.line, undefined);

    // The next versions: each says what Envoy counted for its own load.
    const clean = await edit(pod, 'lds-v1-date.yaml', verdicts++);
    assert.equal(clean.moved, 0);
    await says(pod, clean.line, undefined);
    const again = await edit(pod, TYPO, verdicts++);
    assert.equal(again.moved, 1, 'Envoy counted the same misspelt field again');
    await says(pod, again.line, 1);
  } finally {
    await pod.stop();
  }
});

// test/fixtures/verdict-cases/11-unknown-fields-of-a-change: one edit changes a clean cds.yaml and a
// lds.yaml with a misspelt field that Envoy refuses (port 70000). Envoy counts the refused file's
// unknown field in its one counter for the process: cds.yaml's verdict, decided on an answer after
// both loads, must not call the count its own, nor say the files were loaded at start. The line,
// the Event and the `status` row say the same: one of the files of the change.
test('11-unknown-fields-of-a-change: a refused file\'s unknown field counted with a clean file of the same edit is the change\'s, not the clean file\'s (line, Event, status)', { timeout: 300_000 }, async () => {
  const pod = await startCase('11-unknown-fields-of-a-change', { 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v0.yaml', 'lds.yaml': 'lds-v0.yaml' });
  try {
    for (const file of ['cds.yaml', 'lds.yaml']) assert.equal((await nextVerdict(pod, file, 0)).ignoredFields, undefined, file);
    const before = await envoyOf(pod).stat('server.dynamic_unknown_fields');
    await pod.apply({ 'envoy.yaml': 'envoy.yaml', 'cds.yaml': 'cds-v1.yaml', 'lds.yaml': 'lds-v1-typo-refused.yaml' });
    const cds = await nextVerdict(pod, 'cds.yaml', 1);
    const lds = await nextVerdict(pod, 'lds.yaml', 1);
    assert.equal(cds.outcome, 'accepted', String(cds.msg));
    assert.deepEqual([lds.outcome, lds.rolledBack], ['rejected', true], String(lds.msg));
    assert.ok((await envoyOf(pod).stat('server.dynamic_unknown_fields')) - before >= 1, 'Envoy counted the refused lds.yaml\'s unknown field');
    const msg = String(cds.msg);
    assert.equal(cds.ignoredFields, 1, msg);
    assert.deepEqual([...((cds.ignoredAmong as string[] | undefined) ?? [])].sort(), ['cds.yaml', 'lds.yaml'], msg);
    assert.match(msg, /Envoy ignored unknown fields in one of the files of its change \((cds\.yaml, lds\.yaml|lds\.yaml, cds\.yaml); Envoy counted 1 /);
    assert.doesNotMatch(msg, /loaded at start|ignored unknown fields in it/);
    assert.equal(eventOfLine(cds).reason, EventReason.acceptedWithWarnings);
    assert.match(eventOfLine(cds).message, /one of the files of its change/);
    const state = async () => (await gatherStatus(pod.target)).files.find((f) => f.file === 'cds.yaml');
    for (let i = 0; i < 100 && (await state())?.verdict?.message !== cds.msg; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const row = await state();
    assert.equal(row?.verdict?.message, cds.msg);
    assert.deepEqual([row?.verdict?.ignoredFields, row?.verdict?.ignoredWhen, [...(row?.verdict?.ignoredAmong ?? [])].sort()], [1, 'change', ['cds.yaml', 'lds.yaml']]);
    assert.match(formatStatus(await gatherStatus(pod.target)), /ignored unknown fields in one of the files of its change \((cds\.yaml, lds\.yaml|lds\.yaml, cds\.yaml)\) \(Envoy counted 1\)/);
  } finally {
    await pod.stop();
  }
});

// The line's `validate` checks what Envoy loaded, not the ConfigMap's key, which may hold a newer
// version by the time the operator runs it: the accepted version is kept under its key
// (accepted/..sha256-<key>/lds.yaml) and read without the line the watcher added (the key's lines).
test('accepted with ignored fields: the line\'s validate checks the copy of the version Envoy loaded, which still names both fields at the key\'s lines after the ConfigMap moved on', { timeout: 300_000 }, async () => {
  const pod = await startCase('04-version-read-as-envoy', spec('lds-v2-float.yaml'));
  try {
    assert.equal((await nextVerdict(pod, 'lds.yaml', 0)).outcome, 'accepted');
    const typo = await edit(pod, TYPO, 1);
    const msg = String(typo.line.msg);
    const command = /: (\S.* validate \S+) names them all in the version Envoy loaded, kept there, /.exec(msg)?.[1] ?? '';
    const key = /sha256:([0-9a-f]{12})$/.exec(String(typo.line.xdsVersion))?.[1] ?? '';
    assert.ok(command.endsWith(` validate ${join(pod.target, '..envoy-xds-verdict', 'accepted', `..sha256-${key}`, 'lds.yaml')}`), msg);
    const findings = (cmd: string, path: string): string[] => {
      const out = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
      return (out.stderr + out.stdout).split('\n').filter((l) => l.includes('unknown field')).map((l) => l.replace(path, 'FILE'));
    };
    const ofKey = findings(command.replace(/ validate \S+$/, ` validate ${join(pod.source, 'lds.yaml')}`), join(pod.source, 'lds.yaml'));
    assert.match(ofKey.join('\n'), /unknown field "per_connection_buffer_limit_bytez"[\s\S]*unknown field "stream_idle_timeoutt"/);
    // The ConfigMap moves on to a clean version Envoy accepts: its key names no field, the kept copy still does, at the same lines.
    assert.equal((await edit(pod, 'lds-v1-date.yaml', 2)).line.outcome, 'accepted');
    assert.deepEqual(findings(command.replace(/ validate \S+$/, ` validate ${join(pod.source, 'lds.yaml')}`), join(pod.source, 'lds.yaml')), []);
    assert.deepEqual(findings(command, command.replace(/^.* validate /, '')), ofKey);
  } finally {
    await pod.stop();
  }
});
