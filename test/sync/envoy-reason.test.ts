// The rules that turn what Envoy's admin API reports into a verdict's reason (src/sync/envoy/rejection-reason.ts).
// What Envoy reports in each case is tested against the real Envoy in test/envoy/verdict-reason.test.ts.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseListenerErrors } from '../../src/sync/envoy/config-dump.js';
import { REASON_MAX_CHARS, bound, envoyLogLine, refusalSentence, rejectionReason } from '../../src/sync/envoy/rejection-reason.js';
import { EVENT_MESSAGE_MAX } from '../../src/sync/kube/pod-events.js';
import { verdictOccurrence } from '../../src/sync/watch/reporters.js';
import { formatStatus } from '../../src/sync/verdict/status-format.js';
import { firstRefusedMessage, openedRefusal, rejectedMessage } from '../../src/sync/verdict/messages.js';
import { refusalWhy } from '../../src/sync/verdict/state.js';
import { reasonFieldsOf, verdictForms } from '../../src/sync/verdict/verdict.js';

const PUBLISHED = Date.parse('2026-11-30T15:00:00.000Z');
const build = 'Error: terminal filter named envoy.filters.http.router of type envoy.filters.http.router must be the last filter in a http filter chain.';

test("the log line to grep: Envoy's own words for a parse failure (with the path) and a rejection", () => {
  assert.equal(envoyLogLine('failure', '/etc/envoy/xds/lds.yaml'), 'Filesystem config update failure: in /etc/envoy/xds/lds.yaml');
  assert.equal(envoyLogLine('rejected', '/etc/envoy/xds/lds.yaml'), 'Filesystem config update rejected');
  // No bootstrap: the subscription was guessed from the file's @type, its path in Envoy is unknown.
  assert.equal(envoyLogLine('failure', 'lds.yaml'), 'Filesystem config update failure');
});

test('only an LDS rejection the LDS API made has a reason; CDS, RDS, EDS and parse failures point at the log', () => {
  const errors = [{ details: 'duplicate listener a found' }];
  for (const type of ['CDS', 'RDS', 'EDS'] as const) {
    // No reason kept: only Envoy's log tells a proto constraint (a schema sees it) from the xDS API's refusal.
    assert.deepEqual(rejectionReason({ type, kind: 'rejected', path: '/x/c.yaml', publishedAtMs: PUBLISHED, errors }), { envoyLog: 'Filesystem config update rejected', schema: 'if-constraint' });
  }
  // Did not parse into a DiscoveryResponse, or refused while decoding (no error state): a schema sees both.
  assert.deepEqual(rejectionReason({ type: 'LDS', kind: 'failure', path: '/x/l.yaml', publishedAtMs: PUBLISHED, errors }), { envoyLog: 'Filesystem config update failure: in /x/l.yaml', schema: 'sees' });
  assert.deepEqual(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/x/l.yaml', publishedAtMs: PUBLISHED, errors: [] }), { envoyLog: 'Filesystem config update rejected', schema: 'sees' });
  // The listener errors could not be read: as CDS.
  assert.deepEqual(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/x/l.yaml', publishedAtMs: PUBLISHED }), { envoyLog: 'Filesystem config update rejected', schema: 'if-constraint' });
});

test("a named error state is this publish's when it is not older than the publish; the LDS API's unnamed copy is said once", () => {
  const errors = [
    { name: 'listener_0', details: build, at: PUBLISHED + 3 },
    { details: build },
  ];
  assert.deepEqual(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/x/l.yaml', publishedAtMs: PUBLISHED, errors }), {
    reason: `listener listener_0: ${build}`,
    listeners: ['listener_0'],
    details: { listener_0: build }, // each listener's own error, to tell an address it could not bind from a build error
    envoyLog: 'Filesystem config update rejected',
  });
  // The listeners refused are those named in this publish's error states, not an older one's.
  const mixed = [{ name: 'listener_0', details: build, at: PUBLISHED - 2000 }, { name: 'listener_1', details: 'cannot bind', at: PUBLISHED + 1 }];
  assert.deepEqual(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/x/l.yaml', publishedAtMs: PUBLISHED, errors: mixed }).listeners, ['listener_1']);
  // Older than the publish: an earlier update's (this one failed before the LDS API).
  const stale = [{ name: 'listener_0', details: build, at: PUBLISHED - 2000 }, { details: build }];
  assert.deepEqual(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/x/l.yaml', publishedAtMs: PUBLISHED, errors: stale }), { envoyLog: 'Filesystem config update rejected', schema: 'sees' });
});

test('unnamed error states (duplicate names) have no time: unchanged since the previous refusal means possibly earlier', () => {
  const dup = [{ details: 'duplicate listener listener_0 found' }];
  assert.deepEqual(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/l', publishedAtMs: PUBLISHED, errors: dup, previous: [] }), {
    reason: 'duplicate listener listener_0 found',
    envoyLog: 'Filesystem config update rejected',
  });
  assert.equal(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/l', publishedAtMs: PUBLISHED, errors: dup, previous: dup }).possiblyEarlier, true);
  const two = [{ details: 'duplicate listener b found' }, { details: 'duplicate listener a found' }];
  const result = rejectionReason({ type: 'LDS', kind: 'rejected', path: '/l', publishedAtMs: PUBLISHED, errors: two, previous: dup });
  assert.equal(result.possiblyEarlier, undefined);
  assert.equal(result.reason, 'duplicate listener b found; duplicate listener a found');
});

test('a reason is bounded (one line, at most REASON_MAX_CHARS, the cut marked)', () => {
  const long = `${'x'.repeat(400)}\n  ${'y'.repeat(400)}`;
  const reason = rejectionReason({ type: 'LDS', kind: 'rejected', path: '/l', publishedAtMs: PUBLISHED, errors: [{ details: long }] }).reason ?? '';
  assert.equal(reason.length, REASON_MAX_CHARS);
  assert.ok(reason.endsWith('…'));
  assert.ok(!reason.includes('\n'));
  assert.equal(bound('a  b\n c'), 'a b c');
});

test('the Event message carries the reason and stays within 1 KiB', () => {
  const event = verdictOccurrence({ file: 'lds.yaml', version: 'v2', previousVersion: 'v1', outcome: 'rejected', rolledBack: true, message: `Envoy rejected lds.yaml version v2: fix the ConfigMap. Envoy says: listener listener_0: ${build}`, reason: `listener listener_0: ${build}` });
  assert.ok(event.message.endsWith(`Envoy says: listener listener_0: ${build}`));
  const huge = verdictOccurrence({ file: 'lds.yaml', version: 'v2', outcome: 'rejected', rolledBack: false, message: 'm'.repeat(5000) });
  assert.equal(huge.message.length, EVENT_MESSAGE_MAX);
});

test('status prints why, one line per refused file, below the table', () => {
  const base = { targetDir: '/t', sourceDir: '/s', watcherPid: 1, updatedAt: 'now' };
  const verdict = (extra: object) => ({ outcome: 'rejected' as const, version: 'v2', at: 'T', rolledBack: true, message: 'm', ...extra });
  const out = formatStatus({
    ...base,
    files: [
      { file: 'cds.yaml', held: true, verdict: verdict({ envoyLog: 'Filesystem config update rejected' }) },
      { file: 'lds.yaml', held: true, verdict: verdict({ reason: 'duplicate listener a found', reasonPossiblyEarlier: true, envoyLog: 'Filesystem config update rejected' }) },
      { file: 'rds.yaml', held: false, verdict: { outcome: 'accepted', version: 'r1', at: 'T', rolledBack: false, message: 'm' } },
    ],
  });
  assert.ok(
    out.endsWith(
      '\nWHY ENVOY REFUSED\n' +
        'cds.yaml v2: Envoy\'s admin API does not say why; Envoy\'s log does: grep -A 60 "Filesystem config update rejected"\n' +
        'lds.yaml v2: Envoy says (about this or an earlier refused version): duplicate listener a found\n',
    ),
    out,
  );
  assert.ok(!formatStatus({ ...base, files: [{ file: 'rds.yaml', held: false }] }).includes('WHY'));
});

test("a reason read from Envoy's counters stays the watcher's words in status: in the verdict state.json keeps and in the refusal kept with a hold", () => {
  const reason = openedRefusal('cds.yaml', 'cluster.default_s3_80', 'eds-s3.yaml');
  const facts = { outcome: 'rejected' as const, rolledBack: true, message: 'm', ...reasonFieldsOf({ reason, fromCounters: true, envoyLog: 'Filesystem config update rejected' }) };
  const { kept, verdict } = verdictForms({ file: 'cds.yaml', version: 'V', sha256: 'ab', previousVersion: undefined, at: 'T' }, facts);
  assert.equal(verdict.reasonFromCounters, true);
  assert.equal(kept.reasonFromCounters, true);
  assert.equal(refusalWhy(kept).reasonFromCounters, true);
  const base = { targetDir: '/t', sourceDir: '/s', watcherPid: 1, updatedAt: 'now' };
  const want = `cds.yaml V: From Envoy's counters: ${reason}\n`;
  // The verdict that refused it, as state.json keeps it.
  const fromVerdict = formatStatus({ ...base, files: [{ file: 'cds.yaml', held: true, configMap: 'V', published: 'U', verdict: kept }] });
  assert.ok(fromVerdict.endsWith(`\nWHY ENVOY REFUSED\n${want}`), fromVerdict);
  // A restarted watcher judged the rolled-back file since: the reason kept with the hold.
  const fromHold = formatStatus({ ...base, files: [{ file: 'cds.yaml', held: true, configMap: 'V', published: 'U', verdict: { outcome: 'accepted', version: 'U', at: 'T', rolledBack: false, message: 'm' }, refusal: { ...refusalWhy(kept), version: 'V' } }] });
  assert.ok(fromHold.endsWith(`\nWHY ENVOY REFUSED\n${want}`), fromHold);
  assert.doesNotMatch(fromVerdict + fromHold, /Envoy says/);
});

test('status: a file Envoy took that went back with a refused cds.yaml says so in its row and below the table, not that Envoy refused it', () => {
  const base = { targetDir: '/t', sourceDir: '/s', watcherPid: 1, updatedAt: 'now' };
  const message = "Envoy took lds.yaml version L1, but it routes to cluster 'c', which only cds.yaml version C1 adds, and Envoy refused that version: L0 goes back on disk with cds.yaml, and Envoy loads it (...); held until the ConfigMap changes";
  const facts = { outcome: 'rejected' as const, rolledBack: true, latencyMs: 4, message, withdrawnWith: 'cds.yaml' };
  const { kept } = verdictForms({ file: 'lds.yaml', version: 'L1', sha256: 'ab', previousVersion: 'L0', at: 'T' }, facts);
  assert.equal(kept.withdrawnWith, 'cds.yaml', 'state.json keeps it');
  const cds = { file: 'cds.yaml', held: true, configMap: 'C1', published: 'C0', verdict: { outcome: 'rejected' as const, version: 'C1', at: 'T', rolledBack: true, message: 'm', envoyLog: 'Filesystem config update rejected' } };
  const out = formatStatus({ ...base, files: [cds, { file: 'lds.yaml', held: true, heldWith: 'cds.yaml', configMap: 'L1', published: 'L0', verdict: { ...kept, version: 'L1' } }] });
  assert.match(out, /^lds\.yaml +L1 \(held back with cds\.yaml\) +L0 +- +took L1 at T \(4 ms\), went back with cds\.yaml, which Envoy refused$/m, out);
  assert.ok(out.endsWith(`\nWENT BACK WITH A CDS FILE ENVOY REFUSED (Envoy took these)\n${message}\n`), out);
  assert.doesNotMatch(out, /^lds\.yaml .*rejected/m);
  assert.doesNotMatch(out.split('WHY ENVOY REFUSED')[1] ?? '', /^lds\.yaml/m);
  // A restarted watcher judged the file put back since: the hold still says it.
  const later = formatStatus({ ...base, files: [{ file: 'lds.yaml', held: true, heldWith: 'cds.yaml', configMap: 'L1', published: 'L0', verdict: { outcome: 'accepted', version: 'L0', at: 'T', rolledBack: false, message: 'm' } }] });
  assert.ok(later.endsWith('\nWENT BACK WITH A CDS FILE ENVOY REFUSED (Envoy took these)\nlds.yaml L1: Envoy took it; held back with cds.yaml, which Envoy refused\n'), later);
});

test('status shows a version Envoy accepted with unknown fields ignored: in its verdict column and the message below the table', () => {
  const message = 'Envoy accepted lds.yaml version v2 in 5 ms, but ignored 2 unknown fields in it (...): kubectl exec -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector validate /t/lds.yaml names them, ...';
  const out = formatStatus({
    targetDir: '/t', sourceDir: '/s', watcherPid: 1, updatedAt: 'now',
    files: [{ file: 'lds.yaml', held: false, configMap: 'v2', published: 'v2', verdict: { outcome: 'accepted', version: 'v2', at: 'T', latencyMs: 5, rolledBack: false, message, ignoredFields: 2 } }],
  });
  assert.match(out, /^lds\.yaml +v2 +v2 +- +accepted v2 at T \(5 ms\), ignored unknown fields \(Envoy counted 2\)$/m);
  assert.ok(out.endsWith(`\nENVOY IGNORED UNKNOWN FIELDS\n${message}\n`), out);
});

test('a refusal a schema check sees points at validate, in one line; one no schema sees (the LDS API refused it) does not', () => {
  const validate = 'kubectl exec -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector validate /var/run/envoy-xds-injector/source/lds.yaml';
  const base = { file: 'lds.yaml', version: 'v2', previousVersion: 'v1', rolledBack: true, refusedAt: '/t/.refused/lds.yaml', validate };
  // A proto constraint (port_value: 70000): refused while decoding, before the LDS API.
  const proto = rejectedMessage({ ...base, why: rejectionReason({ type: 'LDS', kind: 'rejected', path: '/t/lds.yaml', publishedAtMs: PUBLISHED, errors: [] }) });
  assert.ok(proto.endsWith(`Envoy's log does: grep -A 60 "Filesystem config update rejected"; ${validate} names the field and its line`), proto);
  assert.ok(!proto.includes('\n'));
  // A bad duration: the file did not parse.
  const parse = firstRefusedMessage('lds.yaml', 'v2', rejectionReason({ type: 'LDS', kind: 'failure', path: '/t/lds.yaml', publishedAtMs: PUBLISHED }), undefined, validate);
  assert.ok(parse.endsWith(`; ${validate} names the field and its line`), parse);
  // RDS keeps no reason: the hint holds only if Envoy's log says it was a proto constraint.
  const rds = rejectedMessage({ ...base, file: 'rds.yaml', why: rejectionReason({ type: 'RDS', kind: 'rejected', path: '/t/rds.yaml', publishedAtMs: PUBLISHED }) });
  assert.ok(rds.endsWith(`grep -A 60 "Filesystem config update rejected"; if it says "Proto constraint validation failed", ${validate} names the field and its line`), rds);
  // The LDS API's own refusals: a duplicate listener, a listener it cannot build: no validate.
  const dup = rejectedMessage({ ...base, why: rejectionReason({ type: 'LDS', kind: 'rejected', path: '/t/lds.yaml', publishedAtMs: PUBLISHED, errors: [{ details: 'duplicate listener listener_0 found' }] }) });
  assert.ok(dup.endsWith('. Envoy says: duplicate listener listener_0 found'), dup);
  const built = rejectedMessage({ ...base, why: rejectionReason({ type: 'LDS', kind: 'rejected', path: '/t/lds.yaml', publishedAtMs: PUBLISHED, errors: [{ name: 'listener_0', details: build, at: PUBLISHED + 3 }] }) });
  assert.doesNotMatch(built, /validate/);
});

test("Envoy's listener error states as its config dump gives them: none when it has no dynamic listener at all ({}), as after refusing its first LDS file at start", () => {
  const cases: { name: string; body: string; want: ReturnType<typeof parseListenerErrors> | 'throws' }[] = [
    // Envoy 1.40 with no dynamic listener (its first lds.yaml refused at start, port_value: 70000): an empty dump.
    { name: 'no dynamic listener', body: '{}\n', want: [] },
    { name: 'a running listener, no error', body: JSON.stringify({ configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener', name: 'listener_0' }] }), want: [] },
    {
      name: "a named error and the LDS API's unnamed copy",
      body: JSON.stringify({ configs: [{ name: 'listener_0', error_state: { details: build, last_update_attempt: '2026-11-30T15:00:00.003Z' } }, { error_state: { details: build } }] }),
      want: [{ name: 'listener_0', details: build, at: PUBLISHED + 3 }, { details: build }],
    },
    { name: 'not a config dump', body: '"dynamic_listeners not found in config dump"', want: 'throws' },
    { name: 'configs not a list', body: '{"configs": 3}', want: 'throws' },
  ];
  for (const c of cases) {
    if (c.want === 'throws') assert.throws(() => parseListenerErrors(c.body), /config dump/, c.name);
    else assert.deepEqual(parseListenerErrors(c.body), c.want, c.name);
  }
  // So a proto constraint refused at start (no error state) gets the plain validate hint, as it does in a running Envoy.
  assert.equal(rejectionReason({ type: 'LDS', kind: 'rejected', path: '/x/l.yaml', publishedAtMs: PUBLISHED, errors: parseListenerErrors('{}') }).schema, 'sees');
});

test("a reason read from Envoy's counters is said as such, not as Envoy's words (fresh-user trial)", () => {
  const opened = 'Envoy took cds.yaml but the subscription it opened (cluster.EnvoyNetCore) refused eds.yaml: Envoy would run without it';
  assert.equal(refusalSentence({ reason: opened, envoyLog: 'Filesystem config update rejected', fromCounters: true }), `From Envoy's counters: ${opened}`);
  assert.equal(refusalSentence({ reason: 'duplicate listener listener_0 found', envoyLog: 'Filesystem config update rejected' }), 'Envoy says: duplicate listener listener_0 found');
});
