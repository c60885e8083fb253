// The verdict state file's writer (src/sync/verdict/state.ts): a write asked for while Envoy's
// verdicts are in flight waits for them (bounded), so it lands after Envoy's reload, not in it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { StateWriter, stateDir, type VerdictState } from '../../src/sync/verdict/state.js';

const state = (pid: number): VerdictState => ({ pid, sourceDir: '/src', targetDir: '/dst', updatedAt: '2026-12-05T00:00:00.000Z', files: {} });

async function written(target: string): Promise<number | undefined> {
  try {
    return (JSON.parse(await readFile(join(stateDir(target), 'state.json'), 'utf8')) as VerdictState).pid;
  } catch {
    return undefined;
  }
}

test('a state write asked for while verdicts are in flight waits until they are in', async (t) => {
  const target = await mkdtemp(join(tmpdir(), 'state-writer-'));
  t.after(() => rm(target, { recursive: true, force: true }));
  let busy = true;
  let current = state(1);
  const writer = new StateWriter(target, () => current, (err) => { throw err; }, () => busy, 5, 10_000);
  writer.save();
  await sleep(100); // 20 times the write delay
  assert.equal(await written(target), undefined, 'written while a verdict was in flight');
  current = state(2);
  busy = false;
  for (let i = 0; i < 200 && (await written(target)) === undefined; i++) await sleep(5);
  assert.equal(await written(target), 2, 'the state as it is once the verdicts are in');
  await writer.flush();
});

test('a state write waits for verdicts in flight at most maxDelayMs', async (t) => {
  const target = await mkdtemp(join(tmpdir(), 'state-writer-'));
  t.after(() => rm(target, { recursive: true, force: true }));
  const writer = new StateWriter(target, () => state(3), (err) => { throw err; }, () => true, 5, 50);
  writer.save();
  for (let i = 0; i < 400 && (await written(target)) === undefined; i++) await sleep(5);
  assert.equal(await written(target), 3, 'never written while a verdict stayed in flight');
  await writer.flush();
});

test('flush writes at once, verdicts in flight or not', async (t) => {
  const target = await mkdtemp(join(tmpdir(), 'state-writer-'));
  t.after(() => rm(target, { recursive: true, force: true }));
  const writer = new StateWriter(target, () => state(4), (err) => { throw err; }, () => true, 5, 10_000);
  writer.save();
  await writer.flush();
  assert.equal(await written(target), 4);
});
