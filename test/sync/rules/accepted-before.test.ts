// Whether a file found at the watcher's start is what Envoy had accepted already (src/sync/verdict/conclude.ts):
// then its acceptance releases no other file's refusal (Envoy took nothing new).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { acceptedBefore } from '../../../src/sync/verdict/accepted-before.js';

test('a file found at start releases refusals only when Envoy had not accepted that content before', () => {
  const cases: { name: string; pending: { foundAtStart?: boolean; sha256: string; version: string | undefined }; accepted: { version?: string; sha256?: string } | undefined; want: boolean }[] = [
    { name: 'found at start, the content accepted before (by sha256)', pending: { foundAtStart: true, sha256: 'a', version: 'v1' }, accepted: { version: 'v1', sha256: 'a' }, want: true },
    { name: 'found at start, a data file (no version) accepted before', pending: { foundAtStart: true, sha256: 'a', version: undefined }, accepted: { sha256: 'a' }, want: true },
    { name: 'found at start, other content than accepted (published before the last watcher saw its verdict)', pending: { foundAtStart: true, sha256: 'b', version: 'v2' }, accepted: { version: 'v1', sha256: 'a' }, want: false },
    { name: 'a state written before sha256 was kept: by version', pending: { foundAtStart: true, sha256: 'a', version: 'v1' }, accepted: { version: 'v1' }, want: true },
    { name: 'a state written before sha256 was kept, a data file: not known, so news', pending: { foundAtStart: true, sha256: 'a', version: undefined }, accepted: {}, want: false },
    { name: 'never accepted before', pending: { foundAtStart: true, sha256: 'a', version: 'v1' }, accepted: undefined, want: false },
    { name: 'published by this watcher (not found at start), even the same content', pending: { sha256: 'a', version: 'v1' }, accepted: { version: 'v1', sha256: 'a' }, want: false },
  ];
  for (const c of cases) assert.equal(acceptedBefore(c.pending, c.accepted), c.want, c.name);
});
