// The streams of ConfigMap changes bench:sync runs.
import type { Placement } from './roots.js';

export interface Scenario {
  /** For BENCH_ONLY (a comma-separated list of ids). */
  id: string;
  name: string;
  placement: Placement;
  /** Changes per implementation. */
  changes: number;
  /** Pause between two kubelet swaps; 0 = back to back. */
  intervalMs: number;
  cdsBytes: number;
  ldsBytes: number;
  /**
   * How the implementations take turns (default `rounds`). `interleaved`: all set up at once, each
   * change goes to one of them in a random order balanced over every block of as many changes as
   * there are implementations, one change in flight at a time (the next swap once Envoy serves it and
   * the watcher logged its verdict, then the pause), so a stall of the machine falls on each alike.
   * `rounds`: one implementation after the other, each with its own stream.
   */
  mode?: 'interleaved' | 'rounds';
  /**
   * Rounds mode: split the changes into this many rounds, alternating which implementation goes
   * first (default 1: one run each).
   */
  rounds?: number;
  /** Implementations this scenario compares (default all). */
  impls?: string[];
}

export const SCENARIOS: Scenario[] = [
  // What most ConfigMaps are: a few resources. Here the watcher's own cost per change is not hidden
  // behind Envoy's work, so it is compared with watched_directory change by change.
  { id: 'small', name: 'small: 200 changes, 1 per 50 ms, 0.3+0.9 KiB', placement: 'memory', changes: 200, intervalMs: 50, cdsBytes: 1, ldsBytes: 1, mode: 'interleaved', rounds: 4, impls: ['watch', 'envoy watched_directory'] },
  { id: 'steady', name: 'steady: 200 changes, 1 per 50 ms, 16+8 KiB', placement: 'memory', changes: 200, intervalMs: 50, cdsBytes: 16 * 1024, ldsBytes: 8 * 1024 },
  // Real Envoy spends ~0.1-0.4 s of CPU on each 256+64 KiB update here: 100 changes, not 500.
  { id: 'burst', name: 'burst: 100 changes back to back, 256+64 KiB', placement: 'memory', changes: 100, intervalMs: 0, cdsBytes: 256 * 1024, ldsBytes: 64 * 1024 },
  { id: 'steady-disk', name: 'steady on disk: as steady, dirs on the node disk', placement: 'disk', changes: 200, intervalMs: 50, cdsBytes: 16 * 1024, ldsBytes: 8 * 1024 },
];
