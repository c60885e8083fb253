// What bench:sync prints: per implementation and scenario, side by side.
import { seededRandom } from './modes.js';
import { overlapsStall, type Stall } from './stalls.js';
import { latencies, perChange, percentile, superseded, type Result, type Sample } from './result.js';

export const FLOOR = 'envoy watched_directory';

const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(2));
const mib = (kib: number | undefined) => (kib === undefined ? '-' : `${(kib / 1024).toFixed(1)} MiB`);
/** `p50 / p90` of `values`. */
const p50p90 = (values: number[]) => (values.length === 0 ? '-' : `${ms(percentile(values, 50))} / ${ms(percentile(values, 90))}`);

function render(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n');
}

/** ms from swap to served, per served change; `stalls`: only those that did (true) or did not (false) overlap one. */
export function latenciesAround(r: Result, stalls: readonly Stall[], overlapping: boolean): number[] {
  return r.samples.flatMap((s) => (s.served === undefined || overlapsStall(stalls, s.renamed, s.served) !== overlapping ? [] : [s.served - s.renamed]));
}

/** ms from swap to Envoy applying the change on its main thread (interleaved), per change. */
export function appliedOf(r: Result): number[] {
  return r.samples.flatMap((s) => (s.applied === undefined ? [] : [s.applied - s.renamed]));
}

/** What each implementation delivered to Envoy, and its memory. */
export function deliveryTable(results: Result[]): string {
  return render([
    ['scenario', 'dirs on', 'implementation', 'mode', 'Envoy updates/change cds lds', 'Envoy refused', 'torn', 'stale', 'lost', 'last version ms', 'RssAnon ready', 'RssAnon max', 'on a CPU/change ms: Envoy; sidecar', 'Envoy admin requests/change'],
    ...results.map((r) => [
      r.scenario,
      r.sourceFs === r.targetFs ? r.sourceFs : `${r.sourceFs}+${r.targetFs}`,
      r.impl,
      r.mode,
      perChange(r).map((n) => n.toFixed(3)).join(' '),
      String(r.refused),
      String(r.torn),
      String(r.stale),
      String(r.lost),
      ms(r.lastServedMs),
      mib(r.rssAnonReadyKiB),
      mib(r.rssAnonMaxKiB),
      `${r.cpuPerChangeMs.envoy.toFixed(2)}; ${r.cpuPerChangeMs.sidecar === undefined ? '-' : r.cpuPerChangeMs.sidecar.toFixed(2)}`,
      r.adminRequestsPerChange.toFixed(2),
    ]),
  ]);
}

/** Paced scenarios: swap → served over all changes, next to the changes a stall of the machine overlapped and the figures without them. */
export function latencyTable(results: Result[], stalls: readonly Stall[]): string {
  return render([
    ['scenario', 'implementation', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'served newer first', 'during a stall', 'outside stalls: n, p50 / p90 ms', 'waited for a CPU p50 / p90 ms: Envoy+sidecar; probe', 'on a CPU p50 / p90 ms: Envoy; sidecar', 'swap → Envoy applied: n, p50 / p90 / p99 ms', 'verdict p50/p99 ms', 'GC in swap → verdict'],
    ...results.filter((r) => r.paced).map((r) => {
      const all = latencies(r);
      const clear = latenciesAround(r, stalls, false);
      return [
        r.id,
        r.impl,
        String(all.length),
        ms(percentile(all, 50)),
        ms(percentile(all, 90)),
        ms(percentile(all, 99)),
        ms(all.length === 0 ? undefined : Math.max(...all)),
        String(superseded(r)),
        String(all.length - clear.length),
        `${clear.length}, ${p50p90(clear)}`,
        r.samples.some((s) => s.waitedMs !== undefined) ? `${p50p90(r.samples.flatMap((s) => (s.waitedMs === undefined ? [] : [s.waitedMs])))}; ${p50p90(r.samples.flatMap((s) => (s.probeWaitedMs === undefined ? [] : [s.probeWaitedMs])))}` : '-',
        r.samples.some((s) => s.envoyCpuMs !== undefined) ? `${p50p90(r.samples.flatMap((s) => (s.envoyCpuMs === undefined ? [] : [s.envoyCpuMs])))}; ${r.samples.some((s) => (s.sidecarCpuMs ?? 0) > 0) ? p50p90(r.samples.flatMap((s) => (s.sidecarCpuMs === undefined ? [] : [s.sidecarCpuMs]))) : '-'}` : '-',
        appliedOf(r).length === 0 ? '-' : `${String(appliedOf(r).length)}, ${[50, 90, 99].map((p) => ms(percentile(appliedOf(r), p))).join(' / ')}`,
        r.verdictLatencies.length === 0 ? '-' : `${ms(percentile(r.verdictLatencies, 50))}/${ms(percentile(r.verdictLatencies, 99))}`,
        r.gc === undefined || r.gc.windows === 0 ? '-' : `${r.gc.withGc}/${r.gc.windows} (${r.gc.afterRename} after the rename): ${r.gc.major} major, ${r.gc.minor} minor (${r.gc.forced} forced), ${r.gc.ms.toFixed(1)} ms`,
      ];
    }),
  ]);
}

/**
 * Interleaved scenarios: each implementation against the floor within the same block of changes
 * (seconds apart at most, so under the same load): the difference per block, and the p90 gap over
 * all changes, outside stalls, and over the blocks no stall touched.
 */
export function pairedTable(results: Result[], stalls: readonly Stall[]): string | undefined {
  const rows: string[][] = [];
  for (const floor of results.filter((r) => r.impl === FLOOR && r.mode === 'interleaved')) {
    const size = results.filter((r) => r.id === floor.id && r.mode === 'interleaved').length;
    const blockOf = (s: Sample) => Math.floor(s.seq / size);
    const served = (s: Sample): s is Sample & { served: number } => s.served !== undefined;
    const floorBlocks = new Map(floor.samples.filter(served).map((s) => [blockOf(s), s]));
    for (const r of results.filter((other) => other.id === floor.id && other.mode === 'interleaved' && other !== floor)) {
      const diffs: number[] = [];
      const calm: { ours: number; floor: number }[] = [];
      for (const s of r.samples.filter(served)) {
        const f = floorBlocks.get(blockOf(s));
        if (f === undefined) continue;
        diffs.push(s.served - s.renamed - (f.served - f.renamed));
        if (!overlapsStall(stalls, s.renamed, s.served) && !overlapsStall(stalls, f.renamed, f.served)) calm.push({ ours: s.served - s.renamed, floor: f.served - f.renamed });
      }
      const gap = (ours: number[], theirs: number[]) => { const a = percentile(ours, 90); const b = percentile(theirs, 90); return a === undefined || b === undefined ? '-' : (a - b).toFixed(2); };
      const pairs = r.samples.filter(served).flatMap((s) => { const f = floorBlocks.get(blockOf(s)); return f === undefined ? [] : [{ ours: s.served - s.renamed, floor: f.served - f.renamed }]; });
      const interval = p90GapInterval(pairs);
      const appliedPairs = r.samples.flatMap((s) => { const f = floorBlocks.get(blockOf(s)); return f?.applied === undefined || s.applied === undefined ? [] : [{ ours: s.applied - s.renamed, floor: f.applied - f.renamed }]; });
      const appliedInterval = p90GapInterval(appliedPairs);
      rows.push([
        r.id,
        `${r.impl} − ${FLOOR}`,
        String(diffs.length),
        [10, 50, 90].map((p) => ms(percentile(diffs, p))).join(' / '),
        `${diffs.filter((d) => d < 0).length}/${diffs.length}`,
        `${gap(latencies(r), latencies(floor))} (${interval === undefined ? '-' : `${ms(interval[0])} .. ${ms(interval[1])}`})`,
        gap(latenciesAround(r, stalls, false), latenciesAround(floor, stalls, false)),
        `${calm.length}: ${gap(calm.map((c) => c.ours), calm.map((c) => c.floor))}`,
        appliedPairs.length === 0 ? '-' : `${gap(appliedPairs.map((a) => a.ours), appliedPairs.map((a) => a.floor))} (${appliedInterval === undefined ? '-' : `${ms(appliedInterval[0])} .. ${ms(appliedInterval[1])}`})`,
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return render([['scenario', 'pair', 'blocks', 'difference p10 / p50 / p90 ms', 'faster in', 'p90 gap, all ms (95 % interval)', 'p90 gap, outside stalls ms', 'blocks no stall touched: n, p90 gap ms', 'swap → Envoy applied: p90 gap ms (95 % interval)'], ...rows]);
}

/**
 * How well this many blocks pin the p90 gap down: the 2.5th and 97.5th percentiles of
 * p90(ours) − p90(floor's) over 2,000 resamplings of the blocks with replacement (a paired
 * bootstrap; fixed seed, so a run prints the same interval for the same figures).
 */
export function p90GapInterval(pairs: readonly { ours: number; floor: number }[]): [number, number] | undefined {
  if (pairs.length < 20) return undefined;
  const random = seededRandom(1);
  const gaps: number[] = [];
  for (let round = 0; round < 2000; round++) {
    const ours: number[] = [];
    const floor: number[] = [];
    for (const _ of pairs) {
      const pair = pairs[Math.floor(random() * pairs.length)];
      if (pair === undefined) continue;
      ours.push(pair.ours);
      floor.push(pair.floor);
    }
    gaps.push((percentile(ours, 90) ?? 0) - (percentile(floor, 90) ?? 0));
  }
  return [percentile(gaps, 2.5) ?? 0, percentile(gaps, 97.5) ?? 0];
}

/**
 * The watcher's own steps per change (from its trace), p50 / p90 ms from kubelet's swap: when its
 * inotify listener heard it, its first and last rename into the target, Envoy serving (after the last
 * rename: Envoy's part), its verdict line. The floor's swap → served next to it is Envoy's whole part
 * when Envoy watches the ConfigMap itself.
 */
export function stepsTable(results: Result[]): string | undefined {
  const rows: string[][] = [];
  for (const r of results.filter((result) => result.paced)) {
    const traced = r.samples.filter((s) => s.noticed !== undefined || s.lastRename !== undefined);
    const pick = (from: (s: Sample) => number | undefined, to: (s: Sample) => number | undefined) =>
      p50p90(r.samples.flatMap((s) => { const a = from(s); const b = to(s); return a === undefined || b === undefined ? [] : [b - a]; }));
    if (traced.length === 0) {
      if (r.impl === FLOOR) rows.push([r.id, r.impl, String(latencies(r).length), '-', '-', '-', '-', '-', pick((s) => s.renamed, (s) => s.served), '-']);
      continue;
    }
    rows.push([
      r.id,
      r.impl,
      String(traced.length),
      pick((s) => s.renamed, (s) => s.noticed),
      pick((s) => s.noticed, (s) => s.firstRename),
      pick((s) => s.firstRename, (s) => s.lastRename),
      pick((s) => s.renamed, (s) => s.lastRename),
      // Served by this change's own renames: a change served only through a newer one is left out here.
      pick((s) => s.lastRename, (s) => (s.own ? s.served : undefined)),
      pick((s) => s.renamed, (s) => s.served),
      pick((s) => s.renamed, (s) => s.verdict),
    ]);
  }
  if (rows.every((row) => row[3] === '-')) return undefined;
  return render([['scenario', 'implementation', 'n', 'swap → noticed', 'noticed → 1st rename', '1st → last rename', 'swap → last rename (ours)', 'last rename → served (Envoy)', 'swap → served', 'swap → verdict written'], ...rows]);
}

/** One line about the stalls the monitor saw while `results` ran. */
export function stallSummary(stalls: readonly Stall[], thresholdMs: number, windowMs: number): string {
  const lengths = stalls.map((s) => s.to - s.from);
  const total = lengths.reduce((sum, l) => sum + l, 0);
  return `machine stalls (a separate process's 1 ms timer late by more than ${thresholdMs} ms): ${stalls.length} in ${(windowMs / 1000).toFixed(0)} s, ${total.toFixed(0)} ms in all, p50 ${ms(percentile(lengths, 50))} ms, longest ${ms(lengths.length === 0 ? undefined : Math.max(...lengths))} ms`;
}
