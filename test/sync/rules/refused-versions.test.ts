// Each refused content kept under a name of its own (src/sync/verdict/refused-versions.ts): the key
// it is kept under (the digest its version shows, else the bytes'), which directory names are such
// copies, and which of a file's copies to let go (all but the last REFUSED_KEPT, never the one just kept).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { REFUSED_KEPT, keyOfDir, refusalsToDrop, refusedKey } from '../../../src/sync/verdict/refused-versions.js';
import { refusedVersionDir } from '../../../src/sync/verdict/state-dir.js';

const SHA = '7692c3ad3540bb803c1e3c1d7c4ca5e1b2a3c4d5e6f708192a3b4c5d6e7f8091';

test('refusedKey: the digest the stamped version ends with, else the first 12 hex of the bytes published', () => {
  const cases: { version: string | undefined; sha256: string; want: string | undefined; why: string }[] = [
    { version: 'v3+sha256:3f2a9c1b7e4d', sha256: SHA, want: '3f2a9c1b7e4d', why: "the user's version with the watcher's digest" },
    { version: 'sha256:3f2a9c1b7e4d', sha256: SHA, want: '3f2a9c1b7e4d', why: 'no version_info of the user: the digest alone' },
    { version: '2024-05-02+sha256:000000000001', sha256: SHA, want: '000000000001', why: 'a date-like user version' },
    { version: undefined, sha256: SHA, want: '7692c3ad3540', why: 'a certificate: no version, the bytes are the source' },
    { version: 'v3', sha256: SHA, want: '7692c3ad3540', why: 'not stamped (found on disk from an older copy): the bytes' },
    { version: 'v3+sha256:3F2A9C1B7E4D', sha256: SHA, want: '7692c3ad3540', why: 'upper case is not what the stamp writes' },
    { version: 'sha256:3f2a9c1b7e4d+x', sha256: SHA, want: '7692c3ad3540', why: 'the digest must end the version' },
    { version: undefined, sha256: 'bad', want: undefined, why: 'no 12 hex anywhere: not kept under a name of its own' },
  ];
  for (const c of cases) assert.equal(refusedKey(c.version, c.sha256), c.want, c.why);
});

test('keyOfDir: only the names refusedVersionDir gives', () => {
  assert.equal(refusedVersionDir('3f2a9c1b7e4d'), '..sha256-3f2a9c1b7e4d');
  const cases: { name: string; want: string | undefined }[] = [
    { name: '..sha256-3f2a9c1b7e4d', want: '3f2a9c1b7e4d' },
    { name: 'lds.yaml', want: undefined },
    { name: '..sha256-3f2a9c1b7e4', want: undefined },
    { name: '..sha256-3f2a9c1b7e4dd', want: undefined },
    { name: '.lds.yaml.tmp-1-ab-2', want: undefined },
    { name: 'sha256-3f2a9c1b7e4d', want: undefined },
  ];
  for (const c of cases) assert.equal(keyOfDir(c.name), c.want, c.name);
});

test(`refusalsToDrop: all but the last ${String(REFUSED_KEPT)} kept, never the one just kept, ties by key`, () => {
  const at = (key: string, keptAtMs: number) => ({ key, keptAtMs });
  const cases: { kept: { key: string; keptAtMs: number }[]; current: string; keep?: number; want: string[]; why: string }[] = [
    { kept: [], current: 'a', want: [], why: 'nothing kept yet' },
    { kept: [at('a', 1), at('b', 2), at('c', 3), at('d', 4)], current: 'd', want: [], why: 'as many as kept' },
    { kept: [at('a', 1), at('b', 2), at('c', 3), at('d', 4), at('e', 5), at('f', 6)], current: 'f', want: ['b', 'a'], why: 'the oldest go' },
    { kept: [at('a', 9), at('b', 2), at('c', 3), at('d', 4), at('e', 5)], current: 'b', want: ['c'], why: 'the one just kept stays whatever its time (a clock step)' },
    { kept: [at('b', 1), at('a', 1), at('c', 1)], current: 'c', keep: 2, want: ['b'], why: 'same time: by key' },
    { kept: [at('a', 1), at('b', 2)], current: 'b', keep: 0, want: ['a'], why: 'the one just kept is never let go' },
  ];
  for (const c of cases) assert.deepEqual(refusalsToDrop(c.kept, c.current, c.keep), c.want, c.why);
});
