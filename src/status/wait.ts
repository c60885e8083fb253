// `status --wait`: read the workload until every Pod is SYNCED (0), one Pod is REJECTED or FAILED
// (1, naming the Pod and the reason) or the timeout passes (1), printing a progress line whenever it changes,
// as `kubectl rollout status` does. Pods already SYNCED are not read again while the ConfigMap is
// unchanged (gatherWorkload's `previous`).
import { progressLine } from './format.js';
import { REFUSED_STATES } from './rules.js';
import { gatherWorkload, type GatherOptions, type WorkloadStatus } from './workload.js';

export interface WaitOptions extends Omit<GatherOptions, 'previous'> {
  timeoutMs: number;
  /** Between rounds (default 1000 ms). */
  intervalMs?: number;
  print: (line: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}

export interface WaitResult {
  code: 0 | 1;
  status: WorkloadStatus;
  /** The last line: done, which Pod refused and why, or what was still missing at the timeout. */
  message: string;
}

/**
 * The error line for the first Pod that refused the ConfigMap (REJECTED) or cannot start on it
 * (FAILED), undefined when none did: what `status` exits 1 on, with or without --wait.
 */
export function refusalMessage(status: WorkloadStatus): string | undefined {
  const p = status.pods.find((x) => REFUSED_STATES.includes(x.state));
  if (p === undefined) return undefined;
  return p.state === 'REJECTED'
    ? `error: ${status.target}: Pod ${p.pod} REJECTED the ConfigMap's version: ${p.reason ?? ''}`
    : `error: ${status.target}: Pod ${p.pod} FAILED: ${p.reason ?? ''}`;
}

export async function waitForWorkload(opts: WaitOptions): Promise<WaitResult> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + opts.timeoutMs;
  let previous: WorkloadStatus | undefined;
  let lastLine = '';
  for (;;) {
    const status: WorkloadStatus = await gatherWorkload({ ...opts, ...(previous === undefined ? {} : { previous }) });
    previous = status;
    const refused = refusalMessage(status);
    if (refused !== undefined) return { code: 1, status, message: refused };
    if (status.pods.length > 0 && status.state === 'SYNCED') {
      return { code: 0, status, message: `${status.target}: all ${String(status.pods.length)} Pods run the ConfigMap's version (SYNCED)` };
    }
    const line = status.pods.length === 0 ? `Waiting for ${status.target}: no Pods yet` : progressLine(status);
    if (line !== lastLine) opts.print(line);
    lastLine = line;
    if (now() >= deadline || opts.signal?.aborted === true) {
      return { code: 1, status, message: `error: timed out waiting for ${status.target} after ${String(Math.round(opts.timeoutMs / 1000))}s: ${line.replace(/^Waiting for [^:]*: /, '')}` };
    }
    await sleep(Math.min(opts.intervalMs ?? 1000, Math.max(0, deadline - now())));
  }
}
