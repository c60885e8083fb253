// The rolled-back verdict's sentence says what the Envoy that refused runs: the last accepted
// version, as a running Envoy keeps it, or, when its subscriptions report neither that version nor
// the refused one (it restarted and refused the file it loaded from disk at start), what it runs
// instead, and that the last accepted version is put back for it to load.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { REPLACED_BY_NEWER, rejectedMessage, runsOfFile } from '../../../src/sync/verdict/messages.js';
import { supersededMessage } from '../../../src/sync/verdict/superseded-fate.js';

test('what the Envoy that refused runs of the file, from the version_text its subscriptions report', () => {
  type Runs = ReturnType<typeof runsOfFile>;
  const cases: { name: string; running: string | undefined; previous: string | undefined; version: string | undefined; want: Runs }[] = [
    { name: 'a running Envoy refused an edit: version_text stays the last accepted', running: 'v1', previous: 'v1', version: 'v2', want: { kind: 'last' } },
    { name: 'Envoy restarted and refused the file it loaded at start: no version', running: '', previous: 'v1', version: 'v2', want: { kind: 'none' } },
    // Fresh-user trial (rapid good/bad/fix edits): v2 was published after v1 and accepted by Envoy, then
    // replaced by v3 before its verdict; Envoy refused v3 and keeps v2. It did load a version: the later one.
    { name: 'Envoy accepted a later version whose verdict never came, then refused this one', running: 'v2', previous: 'v1', version: 'v3', want: { kind: 'other', version: 'v2' } },
    { name: "the file's subscription took it, one the edit opened refused its file", running: 'v2', previous: 'v1', version: 'v2', want: { kind: 'last' } },
    { name: 'Envoy did not answer with the subscription', running: undefined, previous: 'v1', version: 'v2', want: { kind: 'last' } },
    { name: 'no version recorded as accepted', running: '', previous: undefined, version: 'v2', want: { kind: 'last' } },
  ];
  for (const c of cases) assert.deepEqual(runsOfFile(c.running, c.previous, c.version), c.want, c.name);
});

test('rolled back: "keeps running" only when the Envoy that refused runs the last accepted version; else what it runs and that the last accepted version is put back for it to load', () => {
  const base = { file: 'lds.yaml', version: 'v2', previousVersion: 'v1', refusedAt: '/t/refused/lds.yaml', why: undefined };
  const cases: { name: string; rolledBack: boolean; notRunning?: { applied: string }; runsLater?: string; want: string }[] = [
    {
      name: 'a running Envoy: unchanged wording',
      rolledBack: true,
      want: 'Envoy rejected lds.yaml version v2: it keeps running v1, which is back on disk for the next Envoy start; refused content kept at /t/refused/lds.yaml; fix the ConfigMap',
    },
    {
      name: 'a restarted Envoy that refused the file at start',
      rolledBack: true,
      notRunning: { applied: 'Envoy does not run the listener of lds.yaml' },
      want: 'Envoy rejected lds.yaml version v2: Envoy does not run the listener of lds.yaml, as this Envoy process never loaded the last accepted version v1; v1 is put back on disk for this Envoy to load; refused content kept at /t/refused/lds.yaml; fix the ConfigMap',
    },
    {
      name: 'a restarted Envoy, a newer publish replaced the refused file',
      rolledBack: false,
      notRunning: { applied: 'Envoy does not run the listener of lds.yaml' },
      want: 'Envoy rejected lds.yaml version v2: Envoy does not run the listener of lds.yaml, as this Envoy process never loaded the last accepted version v1; a newer publish replaced it on disk first, so nothing is rolled back for it (the ConfigMap has moved on); refused content kept at /t/refused/lds.yaml',
    },
    {
      name: 'Envoy runs a later version it accepted (no verdict recorded it): never "never loaded"',
      rolledBack: true,
      runsLater: 'v1b',
      want: 'Envoy rejected lds.yaml version v2: it keeps running v1b, a later version it accepted (published after v1, before any verdict on it was recorded); v1, the last version judged accepted, is put back on disk and Envoy loads it; refused content kept at /t/refused/lds.yaml; fix the ConfigMap',
    },
  ];
  for (const c of cases) {
    const msg = rejectedMessage({ ...base, rolledBack: c.rolledBack, ...(c.notRunning === undefined ? {} : { notRunning: c.notRunning }), ...(c.runsLater === undefined ? {} : { runsLater: c.runsLater }) });
    assert.equal(msg, c.want, c.name);
    if (c.notRunning !== undefined) assert.doesNotMatch(msg, /keeps running/, c.name);
  }
});

test('a refused version a newer publish replaced: the same words whether it was replaced before its verdict or before its rollback', () => {
  const replaced = 'a newer publish replaced it on disk first, so nothing is rolled back for it (the ConfigMap has moved on); refused content kept at /t/refused/lds.yaml';
  const base = { file: 'lds.yaml', version: 'v2', previousVersion: 'v1', refusedAt: '/t/refused/lds.yaml', why: undefined, rolledBack: false };
  assert.equal(rejectedMessage(base), `Envoy rejected lds.yaml version v2; it keeps running v1; ${replaced}`);
  assert.equal(rejectedMessage({ ...base, runsLater: 'v1b' }), `Envoy rejected lds.yaml version v2; it keeps running v1b, a later version it accepted (published after v1, before any verdict on it was recorded); ${replaced}`);
  const superseded = supersededMessage({ file: 'lds.yaml', version: 'v2', by: 'v3', fate: { kind: 'refused', count: 1, counter: 'listener_manager.lds.update_rejected', refusal: 'rejected' }, keptAt: '/t/refused/lds.yaml' });
  assert.ok(superseded.includes(`; ${replaced}`), superseded);
  assert.ok(superseded.includes(REPLACED_BY_NEWER));
  assert.doesNotMatch(`${rejectedMessage(base)} ${superseded}`, /replaced the refused file|could not be judged alone|the refused content is kept/);
});
