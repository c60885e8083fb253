// Time the processes doing a change's work spent runnable but waiting for a CPU: the kernel's
// per-thread run-queue wait (/proc/PID/task/TID/schedstat: ns on a CPU, ns waiting on a run queue,
// timeslices; Documentation/scheduler/sched-stats.rst). On a shared 2-core machine the load of other
// jobs shows here as CPU share lost, even when no single stall is long enough for a timer to notice.
import { readFileSync, readdirSync } from 'node:fs';

/** ms waited on a run queue so far, summed over every thread of `pids` (threads gone since are not counted). */
export function runQueueWaitMs(pids: readonly number[]): number {
  return schedstatMs(pids, 1);
}

/**
 * ms run on a CPU so far, summed over every thread of `pids` (threads gone since are not counted):
 * the work itself, which, unlike times on the clock, the load of other jobs hardly changes.
 */
export function onCpuMs(pids: readonly number[]): number {
  return schedstatMs(pids, 0);
}

function schedstatMs(pids: readonly number[], field: 0 | 1): number {
  let ns = 0;
  for (const pid of pids) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${String(pid)}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        ns += Number(readFileSync(`/proc/${String(pid)}/task/${task}/schedstat`, 'utf8').split(' ')[field] ?? 0);
      } catch {
        // the thread ended
      }
    }
  }
  return ns / 1e6;
}
