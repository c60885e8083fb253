// How the implementations of one scenario take turns on the machine.
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil, type Implementation } from './implementations.js';
import { merge, type Result } from './result.js';
import type { Roots } from './roots.js';
import type { Scenario } from './scenarios.js';
import { Setup } from './setup.js';

/** How long an interleaved change may take to be served (and judged) before the next one goes anyway. */
const SERVED_WITHIN_MS = 10_000;
const JUDGED_WITHIN_MS = 2_000;

/**
 * One implementation after the other, `rounds` times, alternating which goes first; each round sets
 * up afresh (its own Envoy) and streams its share of the changes at the scenario's pace without
 * waiting for Envoy. One result per implementation, the rounds merged.
 */
export async function runRounds(scenario: Scenario, impls: Implementation[], roots: Roots, rounds: number): Promise<Result[]> {
  const byImpl = new Map<string, Result[]>(impls.map((impl) => [impl.name, []]));
  const changes = Math.ceil(scenario.changes / rounds);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? impls : [...impls].reverse();
    for (const impl of order) {
      process.stderr.write(`running ${impl.name}: ${scenario.name}${rounds > 1 ? ` (round ${round + 1} of ${rounds})` : ''}\n`);
      const setup = await Setup.start(impl, scenario, roots, changes);
      try {
        for (let version = 1; version <= changes; version++) {
          await setup.change(version);
          if (scenario.intervalMs > 0) await sleep(scenario.intervalMs);
        }
        byImpl.get(impl.name)?.push(await setup.finish());
      } finally {
        await setup.close();
      }
    }
  }
  return impls.map((impl) => ({ ...merge(byImpl.get(impl.name) ?? []), mode: 'rounds' as const }));
}

/**
 * Every implementation set up at once, then `scenario.changes` changes for each, change by change in a
 * random order balanced over every block of `impls.length` changes (each implementation once per
 * block), one change in flight at a time: the swap, Envoy serving it, the watcher's verdict line, a
 * look at when Envoy applied it (its config dump), the scenario's pause, then the next change (to whichever setup the order says). The setups not
 * changing wait. A stall of the machine therefore falls on the implementations alike; `seq` in the
 * samples and the blocks give the paired view (report.ts).
 */
export async function runInterleaved(scenario: Scenario, impls: Implementation[], roots: Roots, seed: number): Promise<Result[]> {
  process.stderr.write(`running ${impls.map((impl) => impl.name).join(', ')} interleaved: ${scenario.name} (order seed ${seed})\n`);
  const setups: Setup[] = [];
  try {
    for (const impl of impls) setups.push(await Setup.start(impl, scenario, roots, scenario.changes));
    const order = balancedOrder(impls.length, scenario.changes, seed);
    const next = setups.map(() => 1);
    for (const [seq, index] of order.entries()) {
      const setup = setups[index];
      const version = next[index];
      if (setup === undefined || version === undefined) continue;
      next[index] = version + 1;
      await setup.change(version, seq);
      await waitUntil(() => setup.served(version), SERVED_WITHIN_MS, 1);
      setup.servedNow(version);
      await waitUntil(() => setup.judged(version), JUDGED_WITHIN_MS, 1);
      await setup.readApplied(version);
      await sleep(scenario.intervalMs);
    }
    const results: Result[] = [];
    for (const setup of setups) results.push({ ...(await setup.finish()), mode: 'interleaved' });
    return results;
  } finally {
    for (const setup of setups) await setup.close();
  }
}

/** `blocks` blocks of the indexes 0..`size`-1, each block shuffled (Fisher-Yates over a seeded mulberry32). */
export function balancedOrder(size: number, blocks: number, seed: number): number[] {
  const random = seededRandom(seed);
  const order: number[] = [];
  for (let block = 0; block < blocks; block++) {
    const indexes = Array.from({ length: size }, (_, index) => index);
    for (let i = size - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [indexes[i], indexes[j]] = [indexes[j] ?? i, indexes[i] ?? j];
    }
    order.push(...indexes);
  }
  return order;
}

/** mulberry32: numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
