// A small Kubernetes API connection for the watcher: server URL, CA, and a bearer token (or a
// client certificate) from the Pod's ServiceAccount mount or from a kubeconfig file (kubeconfig.ts).
// It deliberately does not load @kubernetes/client-node's KubeConfig: that module imports the whole
// generated API (measured: +28 MiB RssAnon in a process that has a 32 MiB budget). Over HTTP/2
// (h2-client.ts) the watch and every request are streams on one connection, as client-go has them;
// with a server that speaks only HTTP/1.1 the watch and other requests go over its keep-alive agent
// (watch-stream.ts, http1-request.ts), a check period's on a connection of their own (KubeSession;
// agents.ts).
import type { Agent as HttpAgent, IncomingHttpHeaders } from 'node:http';
import type { ClientHttp2Stream } from 'node:http2';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { ConnectionAgents, type ConnectionCounts } from './agents.js';
import { H2Client, NoHttp2Error } from './h2-client.js';
import { http1Request, type RawAnswer } from './http1-request.js';

export type { ConnectionCounts } from './agents.js';

/** Where the kubelet mounts the projected ServiceAccount token (Kubernetes "in-cluster config"). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** client-go and client-node re-read a token file at most once a minute; bound tokens rotate hourly. */
const TOKEN_REREAD_MS = 60_000;
/** How long a request may go unanswered (no byte) before it counts as unreachable, by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface ConnectionOptions {
  /** A request with no byte from the server for this long fails as unreachable (ms; default 30 s). */
  requestTimeoutMs?: number;
  /** Speak HTTP/2 to an https server that offers it (default true); HTTP/1.1 otherwise. */
  http2?: boolean;
  /** Over HTTP/2: a PING after this long (ms) with nothing from the server (default 30 s, client-go's ReadIdleTimeout). */
  pingAfterMs?: number;
  /** Over HTTP/2: the PING's answer within this long (ms), else the connection ends (default 15 s, client-go's PingTimeout). */
  pingTimeoutMs?: number;
}

export const DEFAULT_PING_AFTER_MS = 30_000;
export const DEFAULT_PING_TIMEOUT_MS = 15_000;

/** How one request is sent, besides its method, path and body. */
export interface RequestOptions {
  /** The Accept header (default `application/json`): e.g. METADATA_ONLY_LIST for a list's metadata only. */
  accept?: string;
}

/** Sends a request; never throws on an HTTP status (KubeConnection.request). */
export type Requester = (method: string, path: string, body?: unknown, contentType?: string, timeoutMs?: number, options?: RequestOptions) => Promise<ApiResponse>;

/**
 * One period's checks: requests in turn on one new connection (never a pooled one, which may have
 * gone silent), closed by `end()`. Kept open between periods, it would cost the apiserver more (TLS
 * buffers, goroutines, per Pod) than a resumed TLS handshake per period (bench:fanout).
 */
export interface KubeSession {
  /** As KubeConnection.request; an unanswered request ends the session's connection. */
  request: Requester;
  /** Closes the connection (idempotent); a request sent after it opens a new one. */
  end(): void;
}

/**
 * Accept headers asking the apiserver for objects' metadata only (meta.k8s.io/v1
 * PartialObjectMetadata[List], as client-go's metadata client asks; served since Kubernetes 1.15
 * from the same `get`/`list` RBAC, from the watch cache like any read), falling back to the full
 * object where a server does not serve them. Their items carry `metadata.name`, `uid` and
 * `resourceVersion` as the full objects do.
 */
export const METADATA_ONLY_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json';
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json';

export interface ApiResponse {
  status: number;
  /** Parsed JSON body; undefined when the body was empty or not JSON. */
  body: unknown;
  text: string;
  /** Response headers (Retry-After); absent in test fakes. */
  headers?: IncomingHttpHeaders;
}

/** A failure to reach the apiserver at all (refused, reset, timeout, TLS). */
export class ApiUnreachableError extends Error {
  override name = 'ApiUnreachableError';
}

export interface KubeConnection {
  /** e.g. https://10.96.0.1:443 */
  readonly server: string;
  /** Where the credentials came from, for log lines. */
  readonly origin: string;
  /**
   * JSON request; never throws on an HTTP status, throws ApiUnreachableError when no response came
   * (no answer within `timeoutMs` of sending, or a silence of `timeoutMs` while it streams: default
   * the connection's requestTimeoutMs).
   */
  request: Requester;
  /** A short-lived connection of its own for one period's checks (absent in test fakes: sessionOf). */
  session?(): KubeSession;
  /** Connections opened so far, the watch's included, and TLS handshakes among them that resumed a session. */
  readonly counts?: Readonly<ConnectionCounts>;
  /** Whether requests go over HTTP/2, whose PINGs prove the connection alive (h2-client.ts); absent or false: HTTP/1.1. */
  pings?(): boolean;
  /** A GET streamed on the HTTP/2 connection (a watch), or undefined when the server speaks only HTTP/1.1. */
  stream?(path: string): { stream: ClientHttp2Stream; explain(err: Error): Error } | undefined;
  /** The HTTP/1.1 watch's server, agent and headers (watch-stream.ts; the shape of client-node's KubeConfig methods of those names). */
  readonly watchConfig: {
    getCurrentCluster(): { server: string };
    applyToFetchOptions(opts: object): Promise<{ agent: HttpAgent | undefined; headers: Record<string, string> }>;
  };
  /**
   * Ends every open connection (the watch's included): after a request went unanswered, the pooled
   * keep-alive connections may be silent too (a NAT entry gone, a dead load balancer); new ones
   * are made on the next request.
   */
  resetConnections?(): void;
  close(): void;
}

/** `connection.session()`, or for a connection without sessions (a test fake) its own request and nothing to end. */
export function sessionOf(connection: KubeConnection): KubeSession {
  return connection.session?.() ?? { request: connection.request, end: () => undefined };
}

export interface Credentials {
  server: string;
  origin: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  insecure?: boolean;
  /** Bearer token: fixed, or re-read from a file. */
  token?: string;
  tokenFile?: string;
}

/**
 * In-cluster config as client-go's rest.InClusterConfig builds it: KUBERNETES_SERVICE_HOST/PORT
 * (injected by the kubelet into every container) and `<dir>/token` + `<dir>/ca.crt`.
 * Throws when the env or the token mount is missing, saying which.
 */
export function inClusterConnection(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR, options: ConnectionOptions = {}): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host === undefined || host === '' || port === undefined || port === '') {
    throw new Error('KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set: not running in a Pod (use --kubeconfig)');
  }
  let ca: Buffer;
  try {
    readFileSync(`${dir}/token`);
    ca = readFileSync(`${dir}/ca.crt`);
  } catch (err) {
    throw new Error(
      `no ServiceAccount token at ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}): the Pod has automountServiceAccountToken: false and no token volume`,
      { cause: err },
    );
  }
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return connect({ server, origin: `ServiceAccount token ${dir}`, ca, tokenFile: `${dir}/token` }, options);
}

/** The connection for `credentials` (in-cluster above, kubeconfig.ts). */
export function connect(credentials: Credentials, options: ConnectionOptions): KubeConnection {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const secure = new URL(credentials.server).protocol === 'https:';
  const agents = new ConnectionAgents(secure, credentials);
  // HTTP/2 where the server speaks it (an https server): every request a stream on one connection.
  const h2 = secure && options.http2 !== false
    ? new H2Client({
        server: credentials.server,
        tls: { ...(credentials.ca === undefined ? {} : { ca: credentials.ca }), ...(credentials.cert === undefined ? {} : { cert: credentials.cert, key: credentials.key }), rejectUnauthorized: credentials.insecure !== true },
        pingAfterMs: options.pingAfterMs ?? DEFAULT_PING_AFTER_MS,
        pingTimeoutMs: options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS,
        counts: agents.counts,
      })
    : undefined;
  const onH2 = (): boolean => h2 !== undefined && !h2.refused;

  let token = credentials.token;
  /** When the token file was last read (performance.now: a wall-clock step must not delay it); undefined: read it now. */
  let tokenReadAt: number | undefined;
  const bearer = (): string | undefined => {
    if (credentials.tokenFile !== undefined && (tokenReadAt === undefined || performance.now() - tokenReadAt > TOKEN_REREAD_MS)) {
      try {
        token = readFileSync(credentials.tokenFile, 'utf8').trim();
        tokenReadAt = performance.now();
      } catch {
        // keep the last token; the request's 401 will say what is wrong
      }
    }
    return token;
  };
  /** The request's headers, lower-case (HTTP/2 wants them so; HTTP/1.1 does not mind). */
  const headers = (accept = 'application/json', payload?: Buffer, contentType = 'application/json'): Record<string, string> => {
    const t = bearer();
    return {
      accept,
      ...(t === undefined ? {} : { authorization: `Bearer ${t}` }),
      ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': String(payload.length) }),
    };
  };
  const answer = (raw: RawAnswer): ApiResponse => {
    let parsed: unknown;
    try {
      parsed = raw.text === '' ? undefined : JSON.parse(raw.text);
    } catch {
      parsed = undefined;
    }
    // As client-go does on a 401: the token file may hold a rotated token already; read it again.
    if (raw.status === 401) tokenReadAt = undefined;
    return { status: raw.status, body: parsed, text: raw.text, headers: raw.headers };
  };
  const unreachable = (err: unknown): never => {
    throw new ApiUnreachableError(`${credentials.server}: ${(err as Error).message}`, { cause: err });
  };
  const send = async (via: HttpAgent | undefined, method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = requestTimeoutMs, options: RequestOptions = {}): Promise<ApiResponse> => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const sent = headers(options.accept, payload, contentType);
    if (via === undefined && h2 !== undefined && onH2()) {
      try {
        return answer(await h2.request({ ':method': method, ':path': path, ...sent }, payload, timeoutMs));
      } catch (err) {
        if (!(err instanceof NoHttp2Error)) return unreachable(err);
        // The server said it will not speak HTTP/2: HTTP/1.1 from now on.
      }
    }
    return answer(await http1Request(new URL(path, credentials.server), via ?? agents.pool, method, sent, payload, timeoutMs).catch(unreachable));
  };

  // On the one HTTP/2 connection, or the pooled HTTP/1.1 ones.
  const request: Requester = (method, path, body, contentType, timeoutMs, options) => send(undefined, method, path, body, contentType, timeoutMs, options);
  return {
    server: credentials.server,
    origin: credentials.origin,
    request,
    session: () => {
      // Over HTTP/2 a period's reads are streams on the one connection, proven alive by its PINGs.
      if (onH2()) return { request, end: () => undefined };
      const own = agents.period();
      return { request: (method, path, body, contentType, timeoutMs, options) => send(own, method, path, body, contentType, timeoutMs, options), end: () => { agents.end(own); } };
    },
    counts: agents.counts,
    pings: () => h2?.speaks === true,
    stream: (path) => {
      if (h2 === undefined || !onH2()) return undefined;
      return { stream: h2.stream({ ':method': 'GET', ':path': path, ...headers() }), explain: (err) => h2.explain(err) };
    },
    watchConfig: {
      getCurrentCluster: () => ({ server: credentials.server }),
      applyToFetchOptions: () => Promise.resolve({ agent: agents.pool, headers: headers() }),
    },
    resetConnections: () => { agents.reset(); h2?.reset(); },
    close: () => { agents.destroy(); h2?.close(); },
  };
}

/** The apiserver's Status object, as far as the watcher reads it. */
export interface ApiStatus {
  code?: number;
  reason?: string;
  message?: string;
}

export function statusOf(body: unknown): ApiStatus {
  return typeof body === 'object' && body !== null ? body : {};
}
