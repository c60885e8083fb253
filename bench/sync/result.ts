// What one implementation did in one scenario, and the arithmetic over it.
import type { Placement } from './roots.js';
import type { SUBSCRIPTIONS } from './envoy-probe.js';

/** One change, times as performance.now() of the bench process. */
export interface Sample {
  /** The version this change wrote into its setup's ConfigMap (1, 2, ... per setup). */
  version: number;
  /** Position in the run's stream of changes over every setup (interleaved), else the version. */
  seq: number;
  /** Just before kubelet's `..data` rename. */
  renamed: number;
  /** Envoy first served this version or a newer one; undefined if never. */
  served: number | undefined;
  /** Envoy served this version itself (not only a newer one). */
  own: boolean;
  /** From the watcher's trace (trace.ts), when it has one: its listener heard the swap. */
  noticed?: number;
  /** Its first and last rename into the target after the swap (before the setup's next swap). */
  firstRename?: number;
  lastRename?: number;
  /** It wrote the accepted lds.yaml verdict line for this version. */
  verdict?: number;
  /**
   * Interleaved: ms that Envoy's and the sidecar's threads waited for a CPU (run queue, cpu-wait.ts)
   * between just before the swap and just after it was served; the bench's own (the probe) apart.
   */
  waitedMs?: number;
  /** Interleaved: ms Envoy's threads / the sidecar's threads ran on a CPU from the swap until served (cpu-wait.ts). */
  envoyCpuMs?: number;
  sidecarCpuMs?: number;
  probeWaitedMs?: number;
  /** Interleaved: Envoy applied this LDS version on its main thread (its listener's last_updated; envoy-probe.ts). */
  applied?: number;
}

export interface GcInWindows {
  /** Changes with a verdict line (the windows looked at). */
  windows: number;
  /** Of those, windows in which at least one collection started. */
  withGc: number;
  /** Of those, windows with a collection between the watcher's first rename and its verdict line. */
  afterRename: number;
  major: number;
  minor: number;
  /** Of those, forced (the watcher's own gc() call). */
  forced: number;
  /** Time spent in them. */
  ms: number;
}

export interface Result {
  impl: string;
  /** Scenario id and name. */
  id: string;
  scenario: string;
  /** How the implementations took turns: `interleaved` (change by change, all set up at once) or `rounds`. */
  mode: 'interleaved' | 'rounds';
  /** Changes paced (steady, small), or back to back (burst). */
  paced: boolean;
  placement: Placement;
  /** Filesystems of the source and target directories (statfs type). */
  sourceFs: string;
  targetFs: string;
  changes: number;
  /** Envoy's update_attempt over the run, per file. */
  attempts: Record<keyof typeof SUBSCRIPTIONS, number>;
  /** Loads Envoy refused (update_rejected + update_failure). */
  refused: number;
  torn: number;
  stale: number;
  lost: number;
  /** Paced scenarios: every change (a change Envoy never served itself counts until a newer one was served). */
  samples: Sample[];
  lastServedMs: number | undefined;
  /** ms from the `..data` rename to the watcher's accepted verdict line reaching the bench, per change. */
  verdictLatencies: number[];
  /** The watcher's garbage collections that started between a `..data` rename and its accepted lds.yaml verdict line (as written). */
  gc: GcInWindows | undefined;
  rssAnonMaxKiB: number | undefined;
  rssAnonReadyKiB: number | undefined;
  /** ms on a CPU per change over the run (the sidecar's verdicts and bookkeeping too), Envoy's and the sidecar's (cpu-wait.ts). */
  cpuPerChangeMs: { envoy: number; sidecar: number | undefined };
  /** Requests Envoy's admin API took per change over the run (the bench's own included, alike for every implementation). */
  adminRequestsPerChange: number;
}

/** ms from the `..data` rename to Envoy serving it (or a newer version), per served change. */
export function latencies(r: Result): number[] {
  return r.samples.flatMap((s) => (s.served === undefined ? [] : [s.served - s.renamed]));
}

/** Changes Envoy never served itself (a newer version came first). */
export function superseded(r: Result): number {
  return r.samples.filter((s) => s.served !== undefined && !s.own).length;
}

export function perChange(r: Result): number[] {
  return Object.values(r.attempts).map((n) => n / r.changes);
}

/** Nearest-rank percentile; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Rounds of one implementation and scenario as one result. */
export function merge(rounds: Result[]): Result {
  const [first, ...rest] = rounds;
  if (first === undefined) throw new Error('no rounds to merge');
  const sum = (pick: (r: Result) => number) => rounds.reduce((total, r) => total + pick(r), 0);
  const maxOf = (pick: (r: Result) => number | undefined) => rounds.reduce<number | undefined>((max, r) => { const v = pick(r); return v === undefined ? max : Math.max(max ?? v, v); }, undefined);
  const gcs = rounds.flatMap((r) => (r.gc === undefined ? [] : [r.gc]));
  return rest.length === 0 ? first : {
    ...first,
    changes: sum((r) => r.changes),
    attempts: { 'cds.yaml': sum((r) => r.attempts['cds.yaml']), 'lds.yaml': sum((r) => r.attempts['lds.yaml']) },
    refused: sum((r) => r.refused),
    torn: sum((r) => r.torn),
    stale: sum((r) => r.stale),
    lost: sum((r) => r.lost),
    samples: rounds.flatMap((r) => r.samples),
    lastServedMs: maxOf((r) => r.lastServedMs),
    verdictLatencies: rounds.flatMap((r) => r.verdictLatencies),
    gc: gcs.length === 0 ? undefined : {
      windows: gcs.reduce((t, g) => t + g.windows, 0),
      withGc: gcs.reduce((t, g) => t + g.withGc, 0),
      afterRename: gcs.reduce((t, g) => t + g.afterRename, 0),
      major: gcs.reduce((t, g) => t + g.major, 0),
      minor: gcs.reduce((t, g) => t + g.minor, 0),
      forced: gcs.reduce((t, g) => t + g.forced, 0),
      ms: gcs.reduce((t, g) => t + g.ms, 0),
    },
    rssAnonMaxKiB: maxOf((r) => r.rssAnonMaxKiB),
    rssAnonReadyKiB: maxOf((r) => r.rssAnonReadyKiB),
    adminRequestsPerChange: rounds.reduce((t, r) => t + r.adminRequestsPerChange, 0) / rounds.length,
    cpuPerChangeMs: { envoy: rounds.reduce((t, r) => t + r.cpuPerChangeMs.envoy, 0) / rounds.length, sidecar: rounds.every((r) => r.cpuPerChangeMs.sidecar !== undefined) ? rounds.reduce((t, r) => t + (r.cpuPerChangeMs.sidecar ?? 0), 0) / rounds.length : undefined },
  };
}
