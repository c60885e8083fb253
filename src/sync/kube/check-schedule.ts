// When the periodic check of one watch (configmap-watch.ts, watch-health.ts) runs: every `everyMs`,
// the first at a random point of the first period, so still within one period of the watch
// opening. Watches opened together, as every Pod's are after an apiserver restart, would otherwise
// check together, each period, for the 5-10 min the watches last: the apiserver would take all its
// Pods' checks, each a TLS handshake, within a second or two every half minute (bench:fanout
// prints the checks per second at rest).

export interface CheckSchedule {
  stop(): void;
}

/**
 * Calls `check` every `everyMs` (0 or less: never), the first time after `everyMs × (1 − random())`
 * ms (whole, at least 1: in (0, everyMs] for random() in [0, 1)); `random` undefined: after one whole period.
 */
export function scheduleChecks(everyMs: number, check: () => void, random: (() => number) | undefined): CheckSchedule {
  if (everyMs <= 0) return { stop: () => undefined };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    interval = setInterval(check, everyMs);
    check();
  }, Math.max(1, Math.round(everyMs * (1 - (random?.() ?? 0)))));
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(interval);
    },
  };
}
