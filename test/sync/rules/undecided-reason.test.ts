// Why a verdict is unknown when Envoy answered but decided nothing (messages.ts undecidedReason):
// the subscriptions it waited on, or, with none found, that none was (an eds.yaml named by a
// cluster Envoy refused, measured with Envoy 1.40: the line used to end on "for ").
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { undecidedReason, unknownMessage } from '../../../src/sync/verdict/messages.js';

test('undecidedReason: names the subscriptions waited on, or says none was found', () => {
  const cases: { name: string; version?: string; prefixes: string[]; want: string }[] = [
    { name: 'one subscription', version: 'sha256:a', prefixes: ['cluster_manager.cds'], want: 'Envoy reported neither version sha256:a nor a failed update for cluster_manager.cds' },
    { name: 'two subscriptions', version: 'sha256:a', prefixes: ['http.a.rds.r', 'http.b.rds.r'], want: 'Envoy reported neither version sha256:a nor a failed update for http.a.rds.r, http.b.rds.r' },
    { name: 'none found', version: 'sha256:a', prefixes: [], want: 'Envoy reported version sha256:a nowhere, and none of its subscriptions was found reading this file (the resource naming it may be refused, or not built yet)' },
    { name: 'none found, no version', prefixes: [], want: 'Envoy reported version (none) nowhere, and none of its subscriptions was found reading this file (the resource naming it may be refused, or not built yet)' },
  ];
  for (const c of cases) assert.equal(undecidedReason(c.version, c.prefixes), c.want, c.name);
  assert.doesNotMatch(unknownMessage('eds.yaml', 'sha256:a', undecidedReason('sha256:a', [])), /for $/);
});
