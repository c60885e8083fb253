// Envoy's admin API, reduced to what the verdict reads: a subscription's counters and the version
// it runs, from `GET /stats?usedonly&filter=REGEX` (text format, one `name: value` line per stat; text
// readouts such as `version_text` are quoted), and the listener manager's error states from
// `GET /config_dump`. Over TCP or a unix socket (`admin.address.pipe`). Every counters reading
// says which Envoy process answered (`answeredBy`): the kept-alive connection it came on, and the
// start of the process on the other end, read once per connection from its config dump (with,
// when the ConfigMap holds no bootstrap, the config sources of the bootstrap that process loaded).
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import type { AdminAddress } from './subscriptions.js';
import type { ListenerError } from './rejection-reason.js';
import { PROCESS_START_AND_BOOTSTRAP_PATH, PROCESS_START_PATH, bootstrapFromConfigDump, parseListenerErrors, startedAtFromConfigDump } from './config-dump.js';
import { SUBSCRIPTION_FIELDS, SUBSCRIPTIONS_FILTER, VERSION_TEXTS_PATH, parseUsedOnlyStats, parseVersionTexts } from './stat-prefixes.js';
import type { EnvoyCounters, SubscriptionCounters } from './stat-prefixes.js';

/** A listener, cluster or route configuration Envoy runs or warms, with the `version_info` of the update that built it whole ('' when none; a listener updated in place keeps it: verdict/ran-from.ts). */
export interface DynamicResource {
  name: string;
  version: string;
  /** `last_updated`, epoch ms (Envoy's clock): when Envoy built this version of it, in place too. */
  updatedAtMs?: number;
  /** With `{ config: true }`: the Listener or Cluster as Envoy runs it (proto JSON, field names as in the proto, zero values left out). */
  config?: Record<string, unknown>;
  /** With `{ config: true }`, LDS: the listener's `error_state.last_update_attempt` (epoch ms), when Envoy refused an update of it. */
  refusedAtMs?: number;
}

export class EnvoyAdmin {
  // One kept-alive connection: a verdict polls every few ms right after a publish.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly connections = new WeakMap<Socket, number>();
  private lastConnection = 0;
  /** Open connection → the start of the Envoy process that accepted it, and its bootstrap when asked (its config dump, once). */
  private readonly starts = new Map<number, Promise<{ startedAtMs?: number; bootstrap?: Record<string, unknown> }>>();

  /**
   * `observe`: called with every counters reading, in the order Envoy answered (verdict/envoy-process.ts).
   * `readBootstrap`: also read Envoy's bootstrap on each new connection (when the ConfigMap has none).
   */
  constructor(
    readonly address: AdminAddress,
    private readonly observe?: (reading: EnvoyCounters) => void,
    private readonly readBootstrap = false,
  ) {}

  /**
   * Every subscription Envoy has (the stats scopes with a `version_text`, under the names Envoy
   * gives them) with its counters, and `server.dynamic_unknown_fields`: one request, one
   * `VERSION_TEXTS_PATH` more when a cluster's scope is unsure (stat-prefixes.ts), and one
   * `PROCESS_START_PATH` more when the answer came on a connection not used before (at start,
   * after Envoy restarted or a request timed out). Rejects on connection errors, non-200 answers and
   * after `timeoutMs` (the `VERSION_TEXTS_PATH` request gets what is left of it).
   */
  async counters(timeoutMs: number): Promise<EnvoyCounters> {
    const sentAt = performance.now();
    // `usedonly`: Envoy walks every stat it has for a /stats answer, on the main thread that also
    // applies xDS updates, and builds each name to match the filter; stats never written are
    // skipped before that (measured, Envoy 1.40, 1,000 static clusters: 31-37 -> 3.6-4.8 ms of
    // Envoy's CPU per reading; bench:admin). When a cluster's scope could be an EDS subscription
    // that only failed or a DNS cluster that never resolved, the list of subscriptions settles it;
    // the counters stay this answer's: a baseline must hold nothing counted after it was asked for.
    const { reading, connection, answeredAt } = await this.usedOnly(SUBSCRIPTIONS_FILTER, sentAt, timeoutMs);
    reading.sentAt = sentAt;
    reading.answeredAt = answeredAt;
    reading.answeredBy = { connection, ...(await this.startOf(connection, timeoutMs)) };
    this.observe?.(reading);
    return reading;
  }

  /**
   * `/stats?usedonly&filter=<filter>` (`filter` a regex over SUBSCRIPTION_FIELDS names), read by
   * parseUsedOnlyStats, with one VERSION_TEXTS_PATH request more when a cluster's scope is unsure
   * (it gets what is left of `timeoutMs` since `sentAt`, performance.now()). `answeredAt`: when the
   * stats answer came; `connection`: the connection it came on.
   */
  private async usedOnly(filter: string, sentAt: number, timeoutMs: number): Promise<{ reading: EnvoyCounters; connection: number; answeredAt: number }> {
    const { body, connection } = await this.request(`/stats?usedonly&filter=${encodeURIComponent(filter)}`, timeoutMs);
    const answeredAt = performance.now();
    const reading = parseUsedOnlyStats(body);
    if (!('unsure' in reading)) return { reading, connection, answeredAt };
    const subscriptions = parseVersionTexts((await this.request(VERSION_TEXTS_PATH, Math.max(1, timeoutMs - (answeredAt - sentAt)))).body);
    return { reading: parseUsedOnlyStats(body, subscriptions), connection, answeredAt };
  }

  /** When the process at the other end of `connection` started (and its bootstrap), asked once per connection; empty if unknown. */
  private startOf(connection: number, timeoutMs: number): Promise<{ startedAtMs?: number; bootstrap?: Record<string, unknown> }> {
    let start = this.starts.get(connection);
    if (start === undefined) {
      // Sent on the kept-alive connection; an answer that came on another one is not this one's.
      start = this.request(this.readBootstrap ? PROCESS_START_AND_BOOTSTRAP_PATH : PROCESS_START_PATH, timeoutMs).then(
        ({ body, connection: on }) => {
          if (on !== connection) return {};
          const startedAtMs = startedAtFromConfigDump(body);
          const bootstrap = this.readBootstrap ? bootstrapFromConfigDump(body) : undefined;
          return { ...(startedAtMs === undefined ? {} : { startedAtMs }), ...(bootstrap === undefined ? {} : { bootstrap }) };
        },
        () => ({}),
      );
      this.starts.set(connection, start);
    }
    return start;
  }

  /**
   * Serial numbers (lower-case hex) of every certificate Envoy uses now, from `GET /certs`
   * (`certificates[].cert_chain[]` and `ca_cert[]`): what a TLS listener serves after Envoy
   * re-read a secret's files (its config dump shows the bytes it read, even refused ones).
   */
  async certificateSerials(timeoutMs: number): Promise<Set<string>> {
    const body = JSON.parse(await this.get('/certs', timeoutMs)) as { certificates?: { cert_chain?: { serial_number?: string }[]; ca_cert?: { serial_number?: string }[] }[] };
    const out = new Set<string>();
    for (const entry of body.certificates ?? []) {
      for (const cert of [...(entry.cert_chain ?? []), ...(entry.ca_cert ?? [])]) if (cert.serial_number !== undefined) out.add(cert.serial_number.toLowerCase());
    }
    return out;
  }

  /**
   * The counters of the subscriptions among `prefixes` (stats scopes), read as `counters` reads them
   * (`usedonly`, the same parse, the same VERSION_TEXTS_PATH request when a cluster's scope is
   * unsure), the filter naming only these scopes. A prefix that is no subscription of this Envoy
   * (not created yet, e.g. an RDS file whose listener is not there yet; gone; a cluster's scope
   * without one) is absent from the result. Rejects on connection errors, non-200 answers and
   * after `timeoutMs`.
   */
  async subscriptionStats(prefixes: readonly string[], timeoutMs: number): Promise<Map<string, SubscriptionCounters>> {
    const escaped = prefixes.map((prefix) => prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const { reading } = await this.usedOnly(`^(${escaped.join('|')})\\.(${SUBSCRIPTION_FIELDS.join('|')})$`, performance.now(), timeoutMs);
    return reading.subscriptions;
  }

  /**
   * The `error_state` of every dynamic listener (parseListenerErrors). The `mask` keeps the answer
   * small (no `failed_configuration`, no listener configs). Rejects like `subscriptionStats`, and
   * on a body that is not a config dump.
   */
  async listenerErrors(timeoutMs: number): Promise<ListenerError[]> {
    return parseListenerErrors(await this.get('/config_dump?resource=dynamic_listeners&mask=name,error_state.details,error_state.last_update_attempt', timeoutMs));
  }

  /**
   * The listeners (LDS), clusters (CDS) or route configurations (RDS) Envoy took from its dynamic
   * configuration, active or warming (one entry each: a name may come twice), with the `version_info`
   * and `last_updated` of the update that built it (ListenersConfigDump
   * `dynamic_listeners[].{active_state,warming_state}`, ClustersConfigDump `dynamic_active_clusters`
   * and `dynamic_warming_clusters`, RoutesConfigDump `dynamic_route_configs`,
   * envoy/admin/v3/config_dump_shared.proto). A listener Envoy only refused (error_state) or is
   * draining is not included, nor is a route configuration Envoy never built (measured on 1.40).
   * `opts.config` (LDS, CDS): each with its `config` and a listener with its `refusedAtMs` (the
   * answer grows by the listeners' and clusters' configs). Rejects like `subscriptionStats`.
   */
  async dynamicResources(type: 'LDS' | 'CDS' | 'RDS', timeoutMs: number, opts: { config?: boolean } = {}): Promise<DynamicResource[]> {
    const dump = async (resource: string, mask: string | undefined): Promise<Record<string, unknown>[]> => {
      const body = await this.get(`/config_dump?resource=${resource}${mask === undefined ? '' : `&mask=${mask}`}`, timeoutMs);
      const parsed = JSON.parse(body) as { configs?: unknown };
      // No resource of that kind: Envoy answers an empty object.
      if (parsed.configs === undefined) return [];
      if (!Array.isArray(parsed.configs)) throw new Error(`envoy admin /config_dump: no configs in ${body.slice(0, 200)}`);
      return parsed.configs as Record<string, unknown>[];
    };
    const out: DynamicResource[] = [];
    const time = (value: unknown): number => (typeof value === 'string' ? Date.parse(value) : NaN);
    const add = (name: unknown, state: { version_info?: unknown; last_updated?: unknown } | undefined, config: unknown, refusedAt = NaN): void => {
      const at = time(state?.last_updated);
      if (typeof name !== 'string' || state === undefined) return;
      out.push({
        name,
        version: typeof state.version_info === 'string' ? state.version_info : '',
        ...(Number.isNaN(at) ? {} : { updatedAtMs: at }),
        ...(opts.config === true && typeof config === 'object' && config !== null ? { config: config as Record<string, unknown> } : {}),
        ...(Number.isNaN(refusedAt) ? {} : { refusedAtMs: refusedAt }),
      });
    };
    if (type === 'LDS') {
      const states = ['active_state', 'warming_state'].flatMap((s) => [`${s}.version_info`, `${s}.last_updated`, ...(opts.config === true ? [`${s}.listener`] : [])]);
      for (const entry of await dump('dynamic_listeners', ['name', ...states, ...(opts.config === true ? ['error_state.last_update_attempt'] : [])].join(','))) {
        const refusedAt = time((entry.error_state as { last_update_attempt?: unknown } | undefined)?.last_update_attempt);
        for (const state of [entry.active_state, entry.warming_state] as ({ version_info?: unknown; last_updated?: unknown; listener?: unknown } | undefined)[]) if (state !== undefined) add(entry.name, state, state.listener, refusedAt);
      }
      return out;
    }
    const [resources, key] = type === 'RDS' ? [['dynamic_route_configs'], 'route_config'] : [['dynamic_active_clusters', 'dynamic_warming_clusters'], 'cluster'];
    for (const resource of resources) {
      // A mask of the whole `cluster` (an Any) is refused: "FieldMask ... could not be successfully used" (HTTP 400, measured on 1.40).
      for (const entry of await dump(resource, opts.config === true && type === 'CDS' ? undefined : `${key}.name,version_info,last_updated`)) add((entry[key] as { name?: unknown } | undefined)?.name, entry, entry[key]);
    }
    return out;
  }

  close(): void {
    this.agent.destroy();
  }

  private async get(path: string, timeoutMs: number): Promise<string> {
    return (await this.request(path, timeoutMs)).body;
  }

  /** GET `path`; the body and the serial number of the connection it came on. */
  private request(path: string, timeoutMs: number): Promise<{ body: string; connection: number }> {
    return new Promise((resolve, reject) => {
      const target = 'socketPath' in this.address ? { socketPath: this.address.socketPath } : { host: this.address.host, port: this.address.port };
      const req = request({ ...target, path, method: 'GET', agent: this.agent, timeout: timeoutMs }, (res) => {
        const connection = this.connectionOf(res.socket);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve({ body: text, connection });
          else reject(new Error(`envoy admin ${path}: HTTP ${String(res.statusCode)}: ${text.slice(0, 200)}`));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`envoy admin did not answer within ${String(timeoutMs)} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  private connectionOf(socket: Socket): number {
    let serial = this.connections.get(socket);
    if (serial === undefined) {
      serial = ++this.lastConnection;
      this.connections.set(socket, serial);
      const closed = serial;
      socket.once('close', () => this.starts.delete(closed));
    }
    return serial;
  }
}
