// Which reading of Envoy's counters a pass is judged against (src/sync/verdict/baseline.ts).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { baselineSource } from '../../../src/sync/verdict/baseline.js';

test("a pass is judged against the request sent when the watcher was told of the change only if nothing was renamed into the target since", () => {
  const cases: { name: string; sentAtRenames: number | undefined; renamesNow: number; want: 'sent' | 'ask' }[] = [
    { name: 'sent for this pass, nothing renamed since', sentAtRenames: 7, renamesNow: 7, want: 'sent' },
    { name: 'sent before any rename (first change after start)', sentAtRenames: 0, renamesNow: 0, want: 'sent' },
    { name: 'a rollback renamed a file while the pass read: its reload may be in the answer', sentAtRenames: 7, renamesNow: 8, want: 'ask' },
    { name: "an earlier pass's renames landed after the request went", sentAtRenames: 7, renamesNow: 9, want: 'ask' },
    { name: 'none sent (a resync, the API source, a released hold)', sentAtRenames: undefined, renamesNow: 7, want: 'ask' },
  ];
  for (const c of cases) assert.equal(baselineSource(c.sentAtRenames, c.renamesNow), c.want, c.name);
});
