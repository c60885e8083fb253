// A small Kubernetes API connection for the watcher: server URL, CA, and a bearer token (or a
// client certificate) from the Pod's ServiceAccount mount or from a kubeconfig file (tests, local
// runs). It deliberately does not load @kubernetes/client-node's KubeConfig: that module imports
// the whole generated API (measured: +28 MiB RssAnon in a process that has a 32 MiB budget). The
// watch itself is client-node's Watch (dist/watch.js, which only needs node-fetch); list, get and
// Events writes are plain JSON requests over its keep-alive agent, a check period's on a connection
// of their own (KubeSession; agents.ts).
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { Agent as HttpAgent, IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { load } from 'js-yaml';
import { ConnectionAgents, type ConnectionCounts } from './agents.js';

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
}

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
  /** What client-node's Watch needs of a KubeConfig (getCurrentCluster, applyToFetchOptions). */
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

interface Credentials {
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

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

/** The namespace of a kubeconfig's current context (kubectl's default namespace), if it sets one. */
export function kubeconfigNamespace(path: string): string | undefined {
  const doc = load(readFileSync(path, 'utf8')) as KubeconfigFile;
  const namespace = doc.contexts?.find((c) => c.name === doc['current-context'])?.context.namespace;
  return typeof namespace === 'string' && namespace !== '' ? namespace : undefined;
}

/**
 * A kubeconfig's current context: server, CA (`certificate-authority[-data]`), and a token
 * (`token`, `tokenFile`) or client certificate (`client-certificate[-data]`, `client-key[-data]`).
 * Exec plugins and auth providers are not supported: the watcher runs with a ServiceAccount token.
 */
export function kubeconfigConnection(path: string, options: ConnectionOptions = {}): KubeConnection {
  const doc = load(readFileSync(path, 'utf8')) as KubeconfigFile;
  const contextName = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  const cluster = doc.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context?.user)?.user ?? {};
  if (context === undefined || cluster === undefined || typeof cluster.server !== 'string') {
    throw new Error(`kubeconfig ${path}: no current context with a cluster server`);
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const fileOrData = (file: unknown, data: unknown): Buffer | undefined => {
    const d = str(data);
    if (d !== undefined) return Buffer.from(d, 'base64');
    const f = str(file);
    return f === undefined ? undefined : readFileSync(f);
  };
  const credentials: Credentials = { server: cluster.server.replace(/\/$/, ''), origin: `kubeconfig ${path}` };
  const ca = fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']);
  if (ca !== undefined) credentials.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) credentials.insecure = true;
  const cert = fileOrData(user['client-certificate'], user['client-certificate-data']);
  const key = fileOrData(user['client-key'], user['client-key-data']);
  if (cert !== undefined && key !== undefined) {
    credentials.cert = cert;
    credentials.key = key;
  }
  const token = str(user.token);
  if (token !== undefined) credentials.token = token;
  const tokenFile = str(user.tokenFile);
  if (tokenFile !== undefined) credentials.tokenFile = tokenFile;
  return connect(credentials, options);
}

function connect(credentials: Credentials, options: ConnectionOptions): KubeConnection {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const secure = new URL(credentials.server).protocol === 'https:';
  const agents = new ConnectionAgents(secure, credentials);

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
  const headers = (): Record<string, string> => {
    const t = bearer();
    return { Accept: 'application/json', ...(t === undefined ? {} : { Authorization: `Bearer ${t}` }) };
  };

  const send = (via: HttpAgent, method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = requestTimeoutMs, options: RequestOptions = {}): Promise<ApiResponse> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const send = secure ? httpsRequest : httpRequest;
      const req = send(
        new URL(path, credentials.server),
        {
          method,
          agent: via,
          headers: {
            ...headers(),
            ...(options.accept === undefined ? {} : { Accept: options.accept }),
            ...(payload === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': String(payload.length) }),
          },
          timeout: timeoutMs,
        },
        (res) => {
          clearTimeout(deadline);
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (err) => { reject(new ApiUnreachableError(err.message, { cause: err })); });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            // As client-go does on a 401: the token file may hold a rotated token already; read it again.
            if (res.statusCode === 401) tokenReadAt = undefined;
            resolve({ status: res.statusCode ?? 0, body: parsed, text, headers: res.headers });
          });
        },
      );
      const silent = (): Error => new Error(`no answer within ${String(Math.round(timeoutMs / 1000))}s`);
      // The socket's idle timeout bounds a silence once a socket is assigned; until the answer
      // starts, a deadline from the send bounds the whole wait too: for a queued request, and for a
      // new TLS connection whose handshake is never answered, where Node lets the socket's first
      // timeout pass (measured behind a silent proxy: twice the timeout).
      const deadline = setTimeout(() => req.destroy(silent()), timeoutMs);
      req.on('close', () => { clearTimeout(deadline); });
      req.on('timeout', () => req.destroy(silent()));
      req.on('error', (err) => { reject(new ApiUnreachableError(`${credentials.server}: ${err.message}`, { cause: err })); });
      req.end(payload);
    });

  return {
    server: credentials.server,
    origin: credentials.origin,
    request: (method, path, body, contentType, timeoutMs, options) => send(agents.pool, method, path, body, contentType, timeoutMs, options),
    session: () => {
      const own = agents.period();
      return { request: (method, path, body, contentType, timeoutMs, options) => send(own, method, path, body, contentType, timeoutMs, options), end: () => { agents.end(own); } };
    },
    counts: agents.counts,
    watchConfig: {
      getCurrentCluster: () => ({ server: credentials.server }),
      applyToFetchOptions: () => Promise.resolve({ agent: agents.pool, headers: headers() }),
    },
    resetConnections: () => { agents.reset(); },
    close: () => { agents.destroy(); },
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
