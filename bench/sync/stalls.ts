// The machine's stalls, measured in the same run as the changes: a tiny separate process whose 1 ms
// timer records every time it ran late by more than a threshold. On a shared machine (other jobs,
// 2 cores) a stall of 50-200 ms delays every process that wants a CPU, so the changes in flight
// during one are slow whatever delivers them. Times on the monotonic clock all processes share.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MONOTONIC_OFFSET_MS } from './trace.js';

/** A span during which the monitor's timer did not run (performance.now() of this process). */
export interface Stall {
  from: number;
  to: number;
}

const PERIOD_MS = 1;

// Allocates nothing per tick (a line only when late), so its own collections do not show as stalls.
const MONITOR = `
const fs = require('node:fs');
const fd = fs.openSync(process.env.BENCH_STALL_LOG, 'a');
const lateMs = Number(process.env.BENCH_STALL_MS);
let last = Number(process.hrtime.bigint()) / 1e6;
const tick = () => {
  const now = Number(process.hrtime.bigint()) / 1e6;
  if (now - last - ${PERIOD_MS} > lateMs) fs.writeSync(fd, (last + ${PERIOD_MS}).toFixed(3) + ' ' + now.toFixed(3) + '\\n');
  last = now;
  setTimeout(tick, ${PERIOD_MS});
};
setTimeout(tick, ${PERIOD_MS});
`;

export interface StallMonitor {
  /** ms of lateness that counts as a stall. */
  thresholdMs: number;
  /** Stalls so far. */
  stalls: () => Stall[];
  stop: () => Promise<void>;
}

/** `log`: a file the monitor appends to (`<from> <to>` per stall, monotonic ms). */
export function startStallMonitor(log: string, thresholdMs: number): StallMonitor {
  const child = spawn(process.execPath, ['-e', MONITOR], { stdio: 'ignore', env: { ...process.env, BENCH_STALL_LOG: log, BENCH_STALL_MS: String(thresholdMs) } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  return {
    thresholdMs,
    stalls() {
      let text: string;
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        return [];
      }
      return text.split('\n').flatMap((line) => {
        const [from, to] = line.split(' ').map(Number);
        return from === undefined || to === undefined || Number.isNaN(to) ? [] : [{ from: from - MONOTONIC_OFFSET_MS, to: to - MONOTONIC_OFFSET_MS }];
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Whether [from, to] shares any time with a stall. `stalls` sorted by `from`. */
export function overlapsStall(stalls: readonly Stall[], from: number, to: number): boolean {
  return stalls.some((stall) => stall.from < to && stall.to > from);
}
