// Whether Envoy's last verdict refused a content of a file (src/sync/verdict/state.ts refusedLast):
// the syncer's held-back message and `status` ask it of a file Envoy reads once (a Lua script).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { refusedLast, type FileState } from '../../../src/sync/verdict/state.js';

const AT = '2026-12-05T00:00:00.000Z';
const verdict = (outcome: 'accepted' | 'rejected', version: string): FileState['verdict'] => ({ outcome, rolledBack: outcome === 'rejected', message: '', version, at: AT });

test('refusedLast: the last verdict, or a refusal with the reader that a later verdict on other content does not erase', () => {
  const rows: [string, FileState | undefined, string | undefined, boolean][] = [
    ['no state', undefined, 'sha256:aaaaaaaaaaaa', false],
    ['last verdict refused this content', { verdict: verdict('rejected', 'sha256:aaaaaaaaaaaa') }, 'sha256:aaaaaaaaaaaa', true],
    ['last verdict refused other content', { verdict: verdict('rejected', 'sha256:bbbbbbbbbbbb') }, 'sha256:aaaaaaaaaaaa', false],
    ['last verdict accepted this content', { verdict: verdict('accepted', 'sha256:aaaaaaaaaaaa') }, 'sha256:aaaaaaaaaaaa', false],
    // A restarted watcher judged the rolled-back file on disk (accepted): the refusal with the reader stands.
    ['refused with its reader, then the rolled-back content accepted', { verdict: verdict('accepted', 'sha256:bbbbbbbbbbbb'), refusedWithReader: { version: 'sha256:aaaaaaaaaaaa', reader: 'lds.yaml', at: AT } }, 'sha256:aaaaaaaaaaaa', true],
    ['refused with its reader: another content asked', { verdict: verdict('accepted', 'sha256:bbbbbbbbbbbb'), refusedWithReader: { version: 'sha256:aaaaaaaaaaaa', reader: 'lds.yaml', at: AT } }, 'sha256:cccccccccccc', false],
    ['no version asked', { refusedWithReader: { version: 'sha256:aaaaaaaaaaaa', reader: 'lds.yaml', at: AT } }, undefined, false],
  ];
  for (const [what, entry, version, want] of rows) assert.equal(refusedLast(entry, version), want, what);
});
