// What bench/fanout.ts reads of kube-apiserver: its process (/proc), its /metrics, its audit log.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import type { Cluster } from '../test/e2e/cluster.js';

/** The kube-apiserver process the cluster runs now (a restart replaces it). */
export function apiserverPid(cluster: Cluster): number {
  const p = cluster.processes.find((proc) => proc.name === 'kube-apiserver');
  if (p === undefined) throw new Error('no kube-apiserver process (E2E_USE_EXISTING_CLUSTER is not supported here)');
  return p.pid;
}

export interface ProcSample {
  /** utime + stime, ms (/proc/PID/stat fields 14 and 15, clock ticks of 10 ms). */
  cpuMs: number;
  /** VmRSS, KiB (/proc/PID/status). */
  rssKiB: number;
  /** Bytes passed to write(2)/send(2) and friends, sockets included (/proc/PID/io wchar). */
  wchar: number;
  at: number;
}

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const io = readFileSync(`/proc/${String(pid)}/io`, 'utf8');
  return {
    cpuMs: (Number(fields[11]) + Number(fields[12])) * 10,
    rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN),
    wchar: Number(/wchar:\s+(\d+)/.exec(io)?.[1] ?? NaN),
    at: Date.now(),
  };
}

/** TCP connections established to local `port` (the apiserver's side of each), from /proc/net/tcp and tcp6. */
export function establishedTo(port: number): number {
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '01' && local !== undefined && Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) count++;
    }
  }
  return count;
}

/** Prometheus text: the sum of `name`'s samples whose labels include every `labels` pair. */
export class Metrics {
  constructor(readonly text: string) {}

  sum(name: string, labels: Record<string, string | RegExp> = {}): number {
    let total = 0;
    for (const line of this.text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      const labelText = line.slice(name.length, line.lastIndexOf(' '));
      const ok = Object.entries(labels).every(([k, v]) => {
        const m = new RegExp(`[{,]${k}="([^"]*)"`).exec(labelText);
        return m !== null && (typeof v === 'string' ? m[1] === v : v.test(m[1] ?? ''));
      });
      if (ok) total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  }
}

export async function scrape(cluster: Cluster): Promise<Metrics> {
  const res = await cluster.apiGet('/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${String(res.status)}`);
  return new Metrics(res.body);
}

/** Watches of ConfigMaps open on the apiserver (namespaced: ours and the floor's, not the controllers'). */
export function configMapWatches(m: Metrics): number {
  return m.sum('apiserver_longrunning_requests', { verb: 'WATCH', resource: 'configmaps', scope: /^(namespace|resource)$/ });
}

/** Watches of any resource open on the apiserver (kube-controller-manager's reflectors among them). */
export function allWatches(m: Metrics): number {
  return m.sum('apiserver_longrunning_requests', { verb: 'WATCH' });
}

/** An audit policy: Metadata for ConfigMaps and Events in `namespace`, and /readyz asked by its ServiceAccounts; nothing else. */
export function auditPolicy(namespace: string): string {
  return JSON.stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived'],
    rules: [
      { level: 'Metadata', namespaces: [namespace], resources: [{ group: '', resources: ['configmaps', 'events'] }] },
      { level: 'Metadata', userGroups: [`system:serviceaccounts:${namespace}`], nonResourceURLs: ['/readyz'] },
      { level: 'None' },
    ],
  });
}

export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  user: { username: string; groups?: string[]; extra?: Record<string, string[]> };
  sourceIPs?: string[];
  objectRef?: { resource?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

/** Audit events (ResponseComplete, or ResponseStarted for watches) received at or after `since` (epoch ms). */
export function auditEvents(path: string, since: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const e = JSON.parse(line) as AuditEvent;
    if (Date.parse(e.requestReceivedTimestamp) < since) continue;
    if (e.stage === 'ResponseComplete' && e.verb !== 'watch') out.push(e);
    else if (e.stage === 'ResponseStarted' && e.verb === 'watch') out.push(e);
  }
  return out;
}

/** Audit events as auditEvents selects them, read incrementally: each call returns those written since the last. */
export function auditTail(path: string, since: number): () => AuditEvent[] {
  let offset = statSync(path).size;
  let rest = '';
  return () => {
    const size = statSync(path).size;
    if (size <= offset) return [];
    const fd = openSync(path, 'r');
    const buffer = Buffer.alloc(size - offset);
    try {
      readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    offset = size;
    const lines = (rest + buffer.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    const out: AuditEvent[] = [];
    for (const line of lines) {
      if (line === '') continue;
      const e = JSON.parse(line) as AuditEvent;
      if (Date.parse(e.requestReceivedTimestamp) < since) continue;
      if ((e.stage === 'ResponseComplete' && e.verb !== 'watch') || (e.stage === 'ResponseStarted' && e.verb === 'watch')) out.push(e);
    }
    return out;
  };
}

/** The JWT ID of a ServiceAccount token; the apiserver puts it in user.extra as `JTI=...`. */
export function tokenJti(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: string };
  return payload.jti ?? '';
}

export function credentialOf(e: AuditEvent): string | undefined {
  return e.user.extra?.['authentication.kubernetes.io/credential-id']?.[0]?.replace(/^JTI=/, '');
}

/**
 * A request as the apiserver sees it, minus what differs per watcher by design: the
 * resourceVersion it resumes from and client-go's random timeoutSeconds (300-600).
 */
export function requestShape(e: AuditEvent): string {
  const uri = e.requestURI.replace(/resourceVersion=\d+/, 'resourceVersion=RV').replace(/timeoutSeconds=\d+/, 'timeoutSeconds=T');
  return `${e.verb} ${uri} user=${e.user.username} groups=${(e.user.groups ?? []).join('+')} userAgent=${JSON.stringify(e.userAgent ?? '')} from=${(e.sourceIPs ?? []).join('+')}`;
}
