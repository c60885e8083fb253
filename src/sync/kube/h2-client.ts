// The watcher's one HTTP/2 connection to the apiserver, as client-go has it: the watch, the lists,
// the store's reads and the Events writes are streams on it, and its liveness is proven by HTTP/2
// PINGs, not by requests. After `pingAfterMs` with nothing from the server a PING goes out; no answer
// within `pingTimeoutMs` ends the connection, and every stream on it fails as unreachable (client-go:
// ReadIdleTimeout 30 s, PingTimeout 15 s, k8s.io/apimachinery/pkg/util/net/http.go). A PING is
// answered by the apiserver's HTTP/2 layer (golang.org/x/net/http2 server.go processPing): no
// request, no authentication, no authorization, no cache read, so an idle Pod costs the apiserver
// almost nothing (bench:fanout: the floor over HTTP/2 with a PING every 30 s, 1,000 Pods).
// A server that does not speak HTTP/2 (ALPN without h2: a proxy, an apiserver run with HTTP/2 off)
// answers the handshake with `no_application_protocol`: NoHttp2Error, and the caller uses HTTP/1.1.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { ConnectionCounts } from './agents.js';

export interface H2ClientOptions {
  /** https://host:port */
  server: string;
  tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean };
  /** A PING after this long (ms) with nothing from the server (an answer, an event, a PING's answer). */
  pingAfterMs: number;
  /** The PING's answer must come within this long (ms), else the connection ends. */
  pingTimeoutMs: number;
  counts: ConnectionCounts;
}

/**
 * What the connection asks of the server. As client-go's transport (golang.org/x/net/http2
 * transport.go newClientConn, config.go setConfigDefaults): no server push, 4 MiB of flow-control
 * window per stream (transportDefaultStreamFlow) and 1 GiB more for the connection
 * (transportDefaultConnFlow, sent as a WINDOW_UPDATE on stream 0), header lists up to 10 MiB. Node's
 * defaults (64 KiB per stream and per connection) make a 1 MiB ConfigMap take 16 round trips of
 * WINDOW_UPDATEs. Unlike client-go, two things the apiserver would hold per connection for the
 * connection's life are not asked for (golang.org/x/net/http2 v0.38.0, kube-apiserver v1.33):
 * - frames stay at HTTP/2's 16 KiB (client-go offers 1 MiB, defaultMaxReadFrameSize): the server's
 *   Framer keeps its write buffer at the largest frame it wrote (frame.go: wbuf, reused, never
 *   shrunk), so after one 1 MiB list or event every connection held a 1 MiB buffer;
 * - no HPACK dynamic table either way: SETTINGS_HEADER_TABLE_SIZE 0 keeps the server's encoder from
 *   indexing the response headers (a fresh audit-id per answer), and this side indexes nothing
 *   (maxDeflateDynamicTableSize 0), so the server's decoder table stays empty. Each table holds up to
 *   4 KiB of entries (with the encoder's lookup maps); what they save is a few hundred bytes per request,
 *   and the watcher sends a request every few minutes. The bearer token is never indexed anyway.
 */
export const HTTP2_SETTINGS = { enablePush: false, initialWindowSize: 4 << 20, maxHeaderListSize: 10 << 20, headerTableSize: 0 } as const;
/** The connection's receive window: HTTP/2's initial 65,535 bytes plus client-go's WINDOW_UPDATE of 1 GiB. */
export const CONNECTION_WINDOW = 65_535 + (1 << 30);
/** The HPACK table this side's encoder may use: none (see HTTP2_SETTINGS). */
export const DEFLATE_TABLE_SIZE = 0;

/** The server will not speak HTTP/2 (its TLS handshake chose no h2): use HTTP/1.1. */
export class NoHttp2Error extends Error {
  override name = 'NoHttp2Error';
}

/** The connection went silent (a PING unanswered, a handshake never finished): its streams end with this. */
export class SilentConnectionError extends Error {
  override name = 'SilentConnectionError';
}

/** One answer: status, headers, body text. */
export interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

// The alert a server without h2 answers an h2-only offer with (RFC 7301 section 3.2; measured
// against node:https; Go's crypto/tls answers so since Go 1.17); ERR_HTTP2_ERROR for a handshake
// that chose no protocol at all.
const NO_ALPN = new Set(['ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'ERR_HTTP2_ERROR']);

/** The TLS handshake chose no h2 (the server's `no_application_protocol` alert). */
function noAlpn(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NO_ALPN.has(code);
}

export class H2Client {
  private session: ClientHttp2Session | undefined;
  /** Something came from the server on the current connection: its PING waits another pingAfterMs. */
  private heard: () => void = () => undefined;
  /** Sends the current connection's PING now (unless one is out). */
  private pingSoon: (() => void) | undefined;
  /** Set once a handshake proved the server will not speak HTTP/2. */
  refused = false;
  /** Whether some connection has spoken HTTP/2 (a later failure is then no sign of HTTP/1.1 only). */
  private spoken = false;
  readonly stats = { connections: 0, pings: 0, pingTimeouts: 0 };

  constructor(private readonly options: H2ClientOptions) {}

  /** The open session, or a new one. */
  private open(): ClientHttp2Session {
    const current = this.session;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    const { tls, pingAfterMs, pingTimeoutMs } = this.options;
    const session = connect(this.options.server, { ...tls, settings: HTTP2_SETTINGS, maxDeflateDynamicTableSize: DEFLATE_TABLE_SIZE });
    this.session = session;
    this.stats.connections++;
    this.options.counts.opened++;
    session.once('connect', () => {
      if (!session.destroyed) session.setLocalWindowSize(CONNECTION_WINDOW);
      if (session.alpnProtocol === 'h2') this.spoken = true;
      if ('isSessionReused' in session.socket && (session.socket as { isSessionReused(): boolean }).isSessionReused()) this.options.counts.resumed++;
    });
    session.on('error', (err: Error) => { if (!this.spoken && noAlpn(err)) this.refused = true; });
    // A GOAWAY (the apiserver shutting down, or --goaway-chance): the streams open finish, new ones go on a new connection.
    session.on('goaway', () => { if (this.session === session) this.session = undefined; });
    // client-go's ReadIdleTimeout: a PING after pingAfterMs with nothing heard from the server. Only
    // what the server sends counts (answers, watch events, PING answers): the watcher's own requests
    // on a silent connection must not put the PING off (Http2Session.setTimeout counts them).
    let pinging = false;
    const ping = (): void => {
      if (pinging || session.destroyed) return;
      // A handshake that never finished: nothing to PING.
      if (session.connecting) { session.destroy(new SilentConnectionError(`no TLS handshake within ${String(Math.round(pingAfterMs / 1000))}s`)); return; }
      pinging = true;
      this.stats.pings++;
      const timer = setTimeout(() => {
        this.stats.pingTimeouts++;
        session.destroy(new SilentConnectionError(`no answer within ${String(Math.round(pingTimeoutMs / 1000))}s (HTTP/2 PING)`));
      }, pingTimeoutMs).unref();
      const sent = session.ping((err) => {
        clearTimeout(timer);
        pinging = false;
        if (err !== null) session.destroy(err);
        else idle.refresh();
      });
      if (!sent) { clearTimeout(timer); pinging = false; idle.refresh(); }
    };
    const idle = setTimeout(ping, pingAfterMs).unref();
    this.heard = () => { idle.refresh(); };
    this.pingSoon = ping;
    session.on('close', () => {
      clearTimeout(idle);
      if (this.session === session) this.session = undefined;
    });
    return session;
  }

  /**
   * A stream for `headers` (`:method`, `:path`, ...), its body `payload` sent. Errors of the
   * connection reach the stream ('error'); a handshake without h2 rejects as NoHttp2Error.
   */
  stream(headers: OutgoingHttpHeaders, payload?: Buffer): ClientHttp2Stream {
    const session = this.open();
    const heard = this.heard;
    const stream = session.request(headers, { endStream: payload === undefined });
    stream.on('response', heard);
    stream.on('data', heard);
    if (payload !== undefined) stream.end(payload);
    return stream;
  }

  /** The error a stream ended with, as the caller should see it. */
  explain(err: Error): Error {
    // A stream cancelled by the failed handshake may say so before the session does (its cause).
    if (!this.spoken && (noAlpn(err) || noAlpn(err.cause))) this.refused = true;
    return this.refused ? new NoHttp2Error(`${this.options.server} does not speak HTTP/2: ${err.message}`, { cause: err }) : err;
  }

  /**
   * One request: the answer, or a rejection (NoHttp2Error; an Error when the connection failed or
   * no byte came for `timeoutMs`, from the send and between chunks).
   */
  request(headers: OutgoingHttpHeaders, payload: Buffer | undefined, timeoutMs: number): Promise<H2Answer> {
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.stream(headers, payload);
      } catch (err) {
        reject(this.explain(err as Error));
        return;
      }
      let status = 0;
      let answered: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          stream.close(constants.NGHTTP2_CANCEL);
          // A connection still in its handshake is silent, not slow: the next request makes a new one.
          if (this.session?.connecting === true) this.reset();
          // Else ask the connection now whether it is alive, rather than after pingAfterMs.
          else this.pingSoon?.();
          reject(new Error(`no answer within ${String(Math.round(timeoutMs / 1000))}s`));
        }, timeoutMs);
      };
      arm();
      stream.on('response', (h) => { status = Number(h[':status']); answered = h; arm(); });
      stream.on('data', (chunk: Buffer) => { chunks.push(chunk); arm(); });
      stream.on('end', () => { clearTimeout(timer); resolve({ status, headers: answered, text: Buffer.concat(chunks).toString('utf8') }); });
      stream.on('error', (err: Error) => { clearTimeout(timer); reject(this.explain(err)); });
      stream.on('close', () => { clearTimeout(timer); if (status === 0) reject(this.explain(new Error(`stream closed (code ${String(stream.rstCode)})`))); });
    });
  }

  /** Whether the connection has spoken HTTP/2 (its streams are proven alive by PINGs). */
  get speaks(): boolean {
    return this.spoken && !this.refused;
  }

  /** Ends the connection (its streams fail); the next stream opens a new one. */
  reset(): void {
    this.session?.destroy();
    this.session = undefined;
  }

  close(): void {
    this.session?.close();
    this.session?.destroy();
    this.session = undefined;
  }
}
