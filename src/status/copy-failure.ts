// A Pod whose init container envoy-xds-copy failed (the ConfigMap's files refused, the bootstrap
// missing, ...) never starts its watcher or Envoy: `status` says so from the Pod's container
// statuses alone (FAILED), with the copy's own words and the command that reads its log.
import type { V1Pod } from '@kubernetes/client-node';
import { COPY_CONTAINER } from '../inject/names.js';

/**
 * The copy's terminationMessage (terminationMessagePolicy FallbackToLogsOnError: its last log lines,
 * pino JSON) as one line: the `msg` of its error lines (level >= 50), else of its last line.
 */
export function copyMessage(text: string | undefined): string | undefined {
  const lines = (text ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => {
    try {
      const j = JSON.parse(l) as { level?: unknown; msg?: unknown };
      if (typeof j.msg === 'string') return { msg: j.msg, error: typeof j.level === 'number' && j.level >= 50 };
    } catch { /* not a JSON line: said as it is */ }
    return { msg: l, error: false };
  });
  const errors = lines.filter((l) => l.error);
  const said = errors.length > 0 ? errors : lines.slice(-1);
  return said.length === 0 ? undefined : said.map((l) => l.msg).join('; ');
}

/**
 * Why the init container envoy-xds-copy failed, with the command that reads its log; undefined
 * while it has not failed. Failed: terminated with an exit code not 0, or waiting (CrashLoopBackOff)
 * after such a termination (lastState).
 */
export function copyFailure(pod: V1Pod): string | undefined {
  const copy = (pod.status?.initContainerStatuses ?? []).find((s) => s.name === COPY_CONTAINER);
  const now = copy?.state?.terminated;
  const last = copy?.state?.waiting !== undefined ? copy.lastState?.terminated : undefined;
  const failed = now !== undefined && now.exitCode !== 0 ? now : last !== undefined && last.exitCode !== 0 ? last : undefined;
  if (copy === undefined || failed === undefined) return undefined;
  const how = [
    `exit code ${String(failed.exitCode)}`,
    ...(copy.restartCount > 0 ? [`${String(copy.restartCount)} restart${copy.restartCount === 1 ? '' : 's'}`] : []),
    ...(copy.state?.waiting?.reason === undefined ? [] : [copy.state.waiting.reason]),
  ].join(', ');
  const message = copyMessage(failed.message);
  const ns = pod.metadata?.namespace === undefined ? '' : ` -n ${pod.metadata.namespace}`;
  const logs = `kubectl logs${ns} ${pod.metadata?.name ?? 'POD'} -c ${COPY_CONTAINER}`;
  return `init container ${COPY_CONTAINER} failed (${how}), so Envoy cannot start${message === undefined ? '' : `: ${message}`}; its log: ${logs}`;
}
