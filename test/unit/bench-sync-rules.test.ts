// bench:sync's own rules: the order in which interleaved changes go to the implementations, and which
// changes a stall of the machine overlapped, and the trace it loads into the watcher (bench/sync/).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { balancedOrder, seededRandom } from '../../bench/sync/modes.js';
import { p90GapInterval } from '../../bench/sync/report.js';
import { overlapsStall } from '../../bench/sync/stalls.js';
import { WATCHER_TRACE_PRELOAD, readTrace } from '../../bench/sync/trace.js';

test('interleaved order: every block holds each implementation once, and a seed repeats the order', () => {
  for (const size of [1, 2, 3]) {
    const order = balancedOrder(size, 200, 42);
    assert.equal(order.length, size * 200);
    for (let block = 0; block < 200; block++) {
      assert.deepEqual([...order.slice(block * size, block * size + size)].sort(), Array.from({ length: size }, (_, i) => i));
    }
    assert.deepEqual(balancedOrder(size, 200, 42), order);
  }
});

test('interleaved order: random, not alternating (either implementation goes first about as often)', () => {
  const order = balancedOrder(2, 1000, 7);
  const firstIsZero = Array.from({ length: 1000 }, (_, block) => order[block * 2] === 0).filter(Boolean).length;
  assert.ok(firstIsZero > 400 && firstIsZero < 600, `implementation 0 first in ${String(firstIsZero)} of 1000 blocks`);
  assert.notDeepEqual(balancedOrder(2, 50, 1), balancedOrder(2, 50, 2));
});

test('a change overlaps a stall when they share any time, not when they only touch', () => {
  const stalls = [{ from: 100, to: 150 }, { from: 300, to: 320 }];
  assert.equal(overlapsStall(stalls, 90, 101), true);
  assert.equal(overlapsStall(stalls, 120, 130), true);
  assert.equal(overlapsStall(stalls, 149, 200), true);
  assert.equal(overlapsStall(stalls, 80, 320), true);
  assert.equal(overlapsStall(stalls, 150, 300), false);
  assert.equal(overlapsStall(stalls, 0, 100), false);
  assert.equal(overlapsStall([], 0, 1000), false);
});

test("the watcher's trace sees renameSync and readlinkSync imported by name (ESM), and fs.watch's ..data events", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-trace-'));
  try {
    const log = join(dir, 'trace.log');
    await writeFile(join(dir, 'a'), 'a');
    await symlink('a', join(dir, '..data'));
    // As the product imports them: named imports from node:fs, bound before the trace could wrap them if it did not sync them.
    const script = `
      import { renameSync, readlinkSync, watch, symlinkSync } from 'node:fs';
      const dir = ${JSON.stringify(dir)};
      const watcher = watch(dir, (event, name) => {
        if (name !== '..data') return;
        readlinkSync(dir + '/..data');
        renameSync(dir + '/a', dir + '/b');
        setTimeout(() => { watcher.close(); }, 50);
      });
      setTimeout(() => { symlinkSync('a', dir + '/..data_tmp'); renameSync(dir + '/..data_tmp', dir + '/..data'); }, 50);
    `;
    const run = spawnSync(process.execPath, ['--import', WATCHER_TRACE_PRELOAD, '--input-type=module', '-e', script], { env: { ...process.env, BENCH_GC_LOG: log }, encoding: 'utf8', timeout: 10_000 });
    assert.equal(run.status, 0, run.stderr);
    const trace = readTrace(log);
    assert.equal(trace.notices.length >= 1, true, 'a ..data notice');
    assert.equal(trace.notices[0]?.dir, dir);
    assert.equal(trace.reads.length, trace.notices.length);
    assert.deepEqual(trace.renames.map((r) => r.to), [join(dir, '..data'), ...trace.notices.map(() => join(dir, 'b'))]);
    const noticedAt = trace.notices[0].at; // defined: assert.equal above narrowed it
    const renamedAt = trace.renames[1]?.at ?? -Infinity;
    assert.ok(renamedAt >= noticedAt, 'times on one clock, in order');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the p90 gap interval: around the true gap when it is clear, wide when the tails are noise', () => {
  const random = seededRandom(3);
  // ours = floor's + 2 ms on every change: the gap is 2 ms whatever the resampling.
  const shifted = Array.from({ length: 200 }, () => { const floor = 5 + random() * 20; return { ours: floor + 2, floor }; });
  const [low, high] = p90GapInterval(shifted) ?? [NaN, NaN];
  assert.ok(low > 1.9 && high < 2.1, `${String(low)} .. ${String(high)}`);
  // Same distribution, independent heavy tails (a 50-500 ms stall on 15 % of the changes of each).
  const tail = () => (random() < 0.15 ? 50 + random() * 450 : 5 + random() * 20);
  const noisy = Array.from({ length: 200 }, () => ({ ours: tail(), floor: tail() }));
  const [nLow, nHigh] = p90GapInterval(noisy) ?? [NaN, NaN];
  assert.ok(nHigh - nLow > 50, `${String(nLow)} .. ${String(nHigh)}`);
  assert.equal(p90GapInterval(shifted.slice(0, 10)), undefined);
});
