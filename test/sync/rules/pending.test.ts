// The steps of a poll decided at Envoy's first answer to a request sent after a pass's renames
// (src/sync/verdict/pending.ts): Envoy's main thread handles the renames before that request, so a
// subscription that has not reloaded by then is gone, and a certificate pair Envoy does not serve
// by then is refused. With real Envoy: test/envoy/verdict-corpus.test.ts (07, 08).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { EnvoyCounters, SubscriptionCounters } from '../../../src/sync/envoy/stat-prefixes.js';
import { judgeSecretFile, noteGone } from '../../../src/sync/verdict/pending.js';
import type { Pending } from '../../../src/sync/verdict/pending.js';

const counters = (c: Partial<SubscriptionCounters>): SubscriptionCounters => ({ versionText: '', attempt: 0, success: 0, rejected: 0, failure: 0, ...c });
const envoy = (subs: Record<string, Partial<SubscriptionCounters>>, sslContextUpdates = 0): EnvoyCounters => ({
  subscriptions: new Map(Object.entries(subs).map(([k, v]) => [k, counters(v)])),
  unknownFields: 0,
  sslContextUpdates,
});
const pending = (baseline: EnvoyCounters | undefined): Pending => ({
  file: 'rds.yaml', content: Buffer.from(''), version: 'v2', previousVersion: 'v1', sha256: 'x', ino: 1, at: 0, publishedAtMs: 0,
  baseline, names: [], initial: false, deadline: 10_000, renamedBy: 0, goneChecked: false, gone: new Set(),
  inFlight: new Set(), inFlightAccepted: false, retried: false,
});

test('noteGone: a scope that read the file before the rename and counted no update_attempt by the first answer is gone, once', () => {
  const OLD = 'http.ingress_http.rds.local_route';
  const NEW = 'http.ingress_http.rds.renamed_route';
  const p = pending(envoy({ [OLD]: { attempt: 3, versionText: 'v1' }, [NEW]: { attempt: 1 } }));
  const now = envoy({ [OLD]: { attempt: 3, versionText: 'v1' }, [NEW]: { attempt: 2, versionText: 'v2' }, 'http.other.rds.x': { attempt: 0 } });
  assert.deepEqual(noteGone(p, [OLD, NEW, 'http.other.rds.x'], now), [OLD]);
  assert.deepEqual([...p.gone], [OLD]);
  assert.deepEqual(noteGone(p, [OLD, NEW], now), [], 'decided at the first answer only');
  assert.deepEqual(noteGone(pending(undefined), [OLD], now), [], 'no baseline (files found at start): nothing is gone');
});

test('judgeSecretFile: refused only when Envoy, answering after all renames, counted key_rotation_failed and does not serve the pair', async () => {
  const SDS = 'sds.server_cert';
  const base = envoy({ [SDS]: { keyRotationFailed: 2 } }, 5);
  const p = { ...pending(base), file: 'cert.pem', secret: { sdsFiles: ['sds.yaml'] } };
  const failed = envoy({ [SDS]: { keyRotationFailed: 4 } }, 5);
  const rebuilt = envoy({ [SDS]: { keyRotationFailed: 4 } }, 6);
  const yes = () => Promise.resolve(true);
  const no = () => Promise.resolve(false);
  assert.equal((await judgeSecretFile(p, ['0a'], [SDS], failed, false, no)).outcome, undefined, 'a failure before the key was renamed too is not the verdict');
  assert.equal((await judgeSecretFile(p, ['0a'], [SDS], failed, true, no)).outcome, 'rejected');
  assert.equal((await judgeSecretFile(p, ['0a'], [SDS], rebuilt, true, yes)).outcome, 'accepted', 'a failure in between, then the pair rebuilt and served');
  assert.equal((await judgeSecretFile(p, ['0a'], [SDS], base, true, no)).outcome, undefined, 'nothing counted yet');
  // Verdict case 15: a new pair while the context's CA secret is refused: /certs lists the new
  // certificate, Envoy rebuilt no context and serves the old one.
  assert.equal((await judgeSecretFile(p, ['0a'], [SDS], failed, true, yes)).outcome, 'rejected', 'a failure, no rebuild, listed by /certs');
  assert.equal((await judgeSecretFile(p, ['0a'], [SDS], failed, false, yes)).outcome, undefined, 'not before Envoy answered after all renames');
});
