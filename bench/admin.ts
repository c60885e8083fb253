// npm run bench:admin — what one verdict reading costs Envoy. The watcher reads Envoy's subscription
// counters from its admin API after every publish (a baseline, then polls until the verdict); Envoy
// answers `/stats` on its main thread, the one that also applies xDS updates, walking every stat it
// has. Side by side on one real Envoy 1.40 per scenario, in alternating batches: `ours`
// (EnvoyAdmin.counters: `/stats?usedonly&filter=...`, every stat only when a cluster scope is unsure)
// and `every stat` (the same filter without `usedonly`, what the watcher asked before), and `/ready`
// (the floor of any admin request). Scenarios: 1 cluster (the small config of bench:sync), 100 and
// 1,000 STATIC clusters idle, and 1,000 with one request through each (traffic writes each cluster's
// upstream stats, which `usedonly` then lists). Figures: Envoy's CPU per request (utime+stime from
// /proc, over at least BENCH_ADMIN_S seconds, default 2, per variant), the round trip, the answer's size.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EnvoyAdmin } from '../src/sync/envoy/admin.js';
import { SUBSCRIPTIONS_FILTER } from '../src/sync/envoy/stat-prefixes.js';
import { bootstrapYaml, freePorts, startEnvoy } from '../test/envoy/envoy.js';

const SECONDS = Number(process.env.BENCH_ADMIN_S ?? '') || 2;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => { resolve(body); });
    }).on('error', reject).end();
  });
}

/** The process's CPU time so far, ms (utime + stime at 100 ticks per second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Scenario { name: string; clusters: number; traffic: boolean }
const SCENARIOS: Scenario[] = [
  { name: '1 cluster', clusters: 1, traffic: false },
  { name: '100 clusters', clusters: 100, traffic: false },
  { name: '1,000 clusters', clusters: 1000, traffic: false },
  { name: '1,000 clusters, traffic', clusters: 1000, traffic: true },
];

async function run(scenario: Scenario, upstreamPort: number): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-admin-'));
  const names = Array.from({ length: scenario.clusters }, (_, i) => `c${String(i)}`);
  const clusters = names.map((name) => ({ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name, type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } } } }] }] } }));
  const [listenerPort] = await freePorts(1);
  const listener = {
    '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 'ingress',
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      route_config: { name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes: names.map((name) => ({ match: { path: `/${name}` }, route: { cluster: name } })) }] },
    } }] }],
  };
  await writeFile(join(dir, 'cds.yaml'), JSON.stringify({ version_info: '1', resources: clusters }));
  await writeFile(join(dir, 'lds.yaml'), JSON.stringify({ version_info: '1', resources: [listener] }));
  const envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(dir, 'lds.yaml'), cds: join(dir, 'cds.yaml') }) }, logLevel: 'warn' });
  const admin = new EnvoyAdmin({ host: '127.0.0.1', port: Number(new URL(envoy.adminUrl).port) });
  try {
    if (scenario.traffic) for (const name of names) await get(`http://127.0.0.1:${String(listenerPort)}/${name}`);
    const pid = envoy.process.pid;
    const every = `${envoy.adminUrl}/stats?filter=${encodeURIComponent(SUBSCRIPTIONS_FILTER)}`;
    const usedOnly = `${envoy.adminUrl}/stats?usedonly&filter=${encodeURIComponent(SUBSCRIPTIONS_FILTER)}`;
    const variants: { name: string; once: () => Promise<unknown>; cpu: number; wall: number; n: number; bytes: number }[] = [
      { name: 'ours (usedonly)', once: () => admin.counters(10_000), cpu: 0, wall: 0, n: 0, bytes: (await get(usedOnly)).length },
      { name: 'every stat (before)', once: () => get(every), cpu: 0, wall: 0, n: 0, bytes: (await get(every)).length },
      { name: '/ready (floor)', once: () => get(`${envoy.adminUrl}/ready`), cpu: 0, wall: 0, n: 0, bytes: 0 },
    ];
    const totalStats = (await get(`${envoy.adminUrl}/stats`)).split('\n').length;
    // Alternating batches of ~100 ms each, until every variant ran SECONDS.
    while (variants.some((v) => v.wall < SECONDS * 1000)) {
      for (const v of variants) {
        const c0 = cpuMs(pid);
        const t0 = performance.now();
        do { await v.once(); v.n++; } while (performance.now() - t0 < 100);
        v.wall += performance.now() - t0;
        v.cpu += cpuMs(pid) - c0;
      }
    }
    const floor = variants[2];
    return variants.map((v) => [
      scenario.name.padEnd(24), String(totalStats).padStart(7), v.name.padEnd(20),
      (v.cpu / v.n).toFixed(3).padStart(10), (v.wall / v.n).toFixed(3).padStart(9),
      (floor === undefined || v === floor ? '' : `${((v.cpu / v.n) / Math.max(floor.cpu / floor.n, 0.001)).toFixed(1)}x`).padStart(9),
      String(v.bytes).padStart(9), String(v.n).padStart(6),
    ].join('  '));
  } finally {
    admin.close();
    await envoy.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const upstream = createServer((_req, res) => { res.end('ok'); });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  console.log(`bench:admin (node ${process.version}, ${String(cpus().length)} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log(`${'scenario'.padEnd(24)}  ${'stats'.padStart(7)}  ${'request'.padEnd(20)}  ${'Envoy CPU'.padStart(10)}  ${'round trip'.padStart(9)}  ${'/ floor'.padStart(9)}  ${'bytes'.padStart(9)}  ${'n'.padStart(6)}`);
  console.log(`${''.padEnd(24)}  ${''.padStart(7)}  ${''.padEnd(20)}  ${'ms/request'.padStart(10)}  ${'ms'.padStart(9)}`);
  try {
    for (const scenario of SCENARIOS) for (const line of await run(scenario, port)) console.log(line);
  } finally {
    upstream.close();
    agent.destroy();
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

await main();
