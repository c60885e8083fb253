// Faults between `watch --source api` and the apiserver, on loopback only, for test/e2e/api-faults.test.ts.
//
// TcpFaultProxy: a TCP relay in front of the apiserver (TLS passes through untouched, so the
// watcher verifies the apiserver's own certificate: its SANs include 127.0.0.1). Each connection
// is in one of four modes, set for all connections, for new ones only, or for the open ones only:
//   pass   relays both ways;
//   stall  keeps the connection open, reads and discards what either side sends, forwards nothing
//          (a dead load balancer, a NAT entry that ACKs: what TCP keepalive cannot see);
//   drop   keeps the connection open and stops reading either side, so the sender's window fills
//          and its writes block (the closest a user-space relay gets to dropped packets: the
//          kernel still ACKs keepalive probes, which only iptables can prevent; a watcher that
//          detects `stall` detects this too, and real drops are also caught by keepalive);
//   reset  answers with a TCP RST (`resetAndDestroy`), at once for new connections.
//
// StatusProxy: a TLS-terminating HTTP relay (serving a certificate from the cluster's CA) that
// answers chosen requests with chosen statuses (429 with Retry-After, 500, 504, 401, 403, 422) as
// the apiserver words them (a v1 Status body) and relays everything else, watches streamed. It
// records every request with what it answered, for the tests to read timings from.
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createHttpsServer, request as httpsRequest, Agent, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CertAuthority } from './pki.js';

export type TcpMode = 'pass' | 'stall' | 'drop' | 'reset';

interface Relay {
  client: Socket;
  upstream: Socket | undefined;
  mode: TcpMode;
}

export class TcpFaultProxy {
  /** Connections accepted since start. */
  accepted = 0;
  private readonly relays = new Set<Relay>();
  private newMode: TcpMode = 'pass';

  private constructor(private readonly server: TcpServer, private readonly target: { host: string; port: number }) {
    server.on('connection', (client) => { this.accept(client); });
  }

  /** Listens on 127.0.0.1 (a free port) and relays to `target` (e.g. the apiserver's https URL). */
  static async start(target: string | { host: string; port: number }): Promise<TcpFaultProxy> {
    const to = typeof target === 'string' ? { host: new URL(target).hostname, port: Number(new URL(target).port) } : target;
    const server = createTcpServer();
    const proxy = new TcpFaultProxy(server, to);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** https://127.0.0.1:PORT: put this in the watcher's kubeconfig instead of the apiserver's URL. */
  get url(): string {
    return `https://127.0.0.1:${String(this.port)}`;
  }

  /** Open connections (both sides still open). */
  get open(): number {
    return this.relays.size;
  }

  /** The mode of every open connection and of new ones. */
  setMode(mode: TcpMode): void {
    this.newMode = mode;
    for (const relay of [...this.relays]) this.apply(relay, mode);
  }

  /** The open connections only (new ones keep the current mode): `stall` here is a NAT entry gone silent. */
  setOpenConnections(mode: TcpMode): void {
    for (const relay of [...this.relays]) this.apply(relay, mode);
  }

  /** New connections only. */
  setNewConnections(mode: TcpMode): void {
    this.newMode = mode;
  }

  /** RST every open connection once; new connections keep the current mode. */
  resetOpen(): void {
    this.setOpenConnections('reset');
  }

  async close(): Promise<void> {
    for (const relay of [...this.relays]) this.destroy(relay);
    await new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
  }

  private accept(client: Socket): void {
    this.accepted++;
    const relay: Relay = { client, upstream: undefined, mode: this.newMode };
    this.relays.add(relay);
    client.on('error', () => { this.destroy(relay); });
    client.on('close', () => { this.destroy(relay); });
    client.on('data', (chunk: Buffer) => {
      if (relay.mode === 'pass') relay.upstream?.write(chunk);
    });
    if (relay.mode === 'reset') {
      this.apply(relay, 'reset');
      return;
    }
    // The upstream connection is made even while stalled: a stalled relay that turns back to
    // `pass` is a black hole that lost bytes (TLS fails then), as a real middlebox's would be.
    const upstream = connect(this.target.port, this.target.host);
    relay.upstream = upstream;
    upstream.on('error', () => { this.destroy(relay); });
    upstream.on('close', () => { this.destroy(relay); });
    upstream.on('data', (chunk: Buffer) => {
      if (relay.mode === 'pass') client.write(chunk);
    });
    this.apply(relay, relay.mode);
  }

  private apply(relay: Relay, mode: TcpMode): void {
    relay.mode = mode;
    if (mode === 'reset') {
      relay.client.resetAndDestroy();
      relay.upstream?.resetAndDestroy();
      this.relays.delete(relay);
      return;
    }
    if (mode === 'drop') {
      relay.client.pause();
      relay.upstream?.pause();
    } else {
      relay.client.resume();
      relay.upstream?.resume();
    }
  }

  private destroy(relay: Relay): void {
    if (!this.relays.delete(relay)) return;
    relay.client.destroy();
    relay.upstream?.destroy();
  }
}

/** A request the StatusProxy saw. */
export interface SeenRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** Milliseconds since the proxy started (monotonic). */
  at: number;
  /** The status the proxy answered itself, or undefined when relayed (the apiserver's status in `relayed`). */
  answered: number | undefined;
  relayed: number | undefined;
  /** Which client connection it came on: 1 for the proxy's first TLS connection, and so on. */
  connection: number;
}

export interface StatusRule {
  method?: string;
  /** Matched against path and query. */
  path: RegExp;
  status: number;
  /** Seconds, for 429/503 (the apiserver sends `Retry-After` with 429). */
  retryAfter?: number;
  /** How many matching requests get this answer; then the rule is spent (default: all). */
  times?: number;
  message?: string;
}

const REASONS: Record<number, string> = {
  401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 413: 'RequestEntityTooLarge',
  422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

export class StatusProxy {
  readonly seen: SeenRequest[] = [];
  private rules: (StatusRule & { left: number })[] = [];
  private readonly t0 = performance.now();
  private readonly open = new Set<IncomingMessage>();
  /** TLS connections accepted from clients so far. */
  connections = 0;
  private readonly ids = new WeakMap<Socket, number>();

  private constructor(private readonly server: HttpsServer, private readonly upstream: URL, private readonly agent: Agent) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => { this.handle(req, res); });
    server.on('secureConnection', (socket: Socket) => { this.ids.set(socket, ++this.connections); });
  }

  /**
   * Listens on 127.0.0.1 with a certificate issued by `ca` (the cluster's CA, which the watcher's
   * kubeconfig trusts) and relays to `upstream`, verified with `upstreamCa`.
   */
  static async start(upstream: string, ca: CertAuthority, upstreamCa: string = ca.cert): Promise<StatusProxy> {
    const pair = await ca.issue('fault-status-proxy', { commonName: 'fault-status-proxy', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], usages: ['server'] });
    const server = createHttpsServer({ cert: pair.cert, key: pair.key });
    const proxy = new StatusProxy(server, new URL(upstream), new Agent({ ca: upstreamCa, keepAlive: true }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${String((this.server.address() as AddressInfo).port)}`;
  }

  /** Answer matching requests with `rule.status`; returns a function that removes the rule. */
  answer(rule: StatusRule): () => void {
    const entry = { ...rule, left: rule.times ?? Number.POSITIVE_INFINITY };
    this.rules.push(entry);
    return () => { this.rules = this.rules.filter((r) => r !== entry); };
  }

  clear(): void {
    this.rules = [];
  }

  /** Ends every request in flight (watches included), as an apiserver restart would. */
  endOpen(): void {
    for (const req of this.open) req.socket.destroy();
  }

  async close(): Promise<void> {
    this.endOpen();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => { resolve(); }));
    this.agent.destroy();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const seen: SeenRequest = { method, path, at: performance.now() - this.t0, answered: undefined, relayed: undefined, connection: this.ids.get(req.socket) ?? 0 };
    this.seen.push(seen);
    const rule = this.rules.find((r) => r.left > 0 && (r.method === undefined || r.method === method) && r.path.test(path));
    if (rule !== undefined) {
      rule.left--;
      seen.answered = rule.status;
      req.resume();
      const reason = REASONS[rule.status] ?? 'InternalError';
      const body = JSON.stringify({
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
        message: rule.message ?? `fault proxy: ${reason}`, reason, code: rule.status,
        ...(rule.retryAfter === undefined ? {} : { details: { retryAfterSeconds: rule.retryAfter } }),
      });
      res.writeHead(rule.status, {
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(body)),
        ...(rule.retryAfter === undefined ? {} : { 'Retry-After': String(rule.retryAfter) }),
      });
      res.end(body);
      return;
    }
    this.open.add(req);
    const headers = { ...req.headers, host: this.upstream.host };
    const out = httpsRequest({ host: this.upstream.hostname, port: this.upstream.port, method, path, headers, agent: this.agent }, (up) => {
      seen.relayed = up.statusCode;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    const end = (): void => {
      this.open.delete(req);
      out.destroy();
    };
    res.on('close', end);
    out.on('error', () => {
      this.open.delete(req);
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    req.pipe(out);
  }
}
