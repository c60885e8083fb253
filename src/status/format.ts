// How `status` prints a workload: a table (one row per Pod and file), why each Pod is not SYNCED,
// and a summary line; or the same as JSON/YAML (`-o json|yaml`).
import { stringify } from 'yaml';
import { POD_STATES } from './rules.js';
import type { WorkloadStatus } from './workload.js';

/** `deployment/envoy: 3 Pods: 2 SYNCED, 1 PENDING (ConfigMap envoy-xds-example resourceVersion 812)`. */
export function summaryLine(s: WorkloadStatus): string {
  const counts = POD_STATES.filter((st) => s.counts[st] > 0).map((st) => `${String(s.counts[st])} ${st}`);
  const cms = s.configMaps.map((c) => `ConfigMap ${c.name}${c.resourceVersion === undefined ? '' : ` resourceVersion ${c.resourceVersion}`}`);
  const pods = s.pods.length === 1 ? '1 Pod' : `${String(s.pods.length)} Pods`;
  return `${s.target}: ${pods}${counts.length === 0 ? '' : `: ${counts.join(', ')}`}${cms.length === 0 ? '' : ` (${cms.join(', ')})`}${s.skipped.length === 0 ? '' : `; skipped ${s.skipped.join(', ')}`}`;
}

export function formatWorkload(s: WorkloadStatus): string {
  const rows = [['POD', 'STATE', 'FILE', 'CONFIGMAP', 'PUBLISHED', 'ENVOY RUNS', 'LAST VERDICT']];
  for (const p of s.pods) {
    if (p.files.length === 0) rows.push([p.pod, p.state, '-', '-', '-', '-', '-']);
    p.files.forEach((f, i) => {
      rows.push([i === 0 ? p.pod : '', i === 0 ? p.state : '', f.file, f.configMap, f.published ?? '-', f.envoy === undefined ? '-' : `${f.envoy === '' ? '(none)' : f.envoy}${f.envoyRuns ?? ''}`, f.lastVerdict ?? '-']);
    });
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const table = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd());
  const why = s.pods.filter((p) => p.reason !== undefined).map((p) => `${p.pod} ${p.state}: ${p.reason ?? ''}`);
  const warnings = s.pods.flatMap((p) => p.files.flatMap((f) => (f.warning === undefined ? [] : [`${p.pod} ${f.file}: ${f.warning}`])));
  const problems = s.configMaps.flatMap((c) => (c.problem === undefined ? [] : [c.problem]));
  return `${[...table, ...(why.length === 0 ? [] : ['', 'WHY', ...why]), ...(warnings.length === 0 ? [] : ['', 'WARNINGS', ...warnings]), ...problems, '', summaryLine(s)].join('\n')}\n`;
}

export function formatWorkloadAs(s: WorkloadStatus, output: 'json' | 'yaml'): string {
  return output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : stringify(s);
}

/** A `--wait` progress line, like `kubectl rollout status`'s: printed when it changes. */
export function progressLine(s: WorkloadStatus): string {
  const notYet = s.pods.filter((p) => p.state !== 'SYNCED').map((p) => `${p.pod} ${p.state}${p.reason === undefined ? '' : ` (${p.reason})`}`);
  return `Waiting for ${s.target}: ${String(s.counts.SYNCED)} of ${String(s.pods.length)} Pods run the ConfigMap's version${notYet.length === 0 ? '' : `; ${notYet.join('; ')}`}`;
}
