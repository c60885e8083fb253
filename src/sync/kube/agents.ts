// The HTTP agents of one KubeConnection (connection.ts): the pool (the watch, lists, writes) and one
// per check period (a KubeSession: the period's reads on one short-lived connection). They count
// the TCP connections they open and the TLS handshakes that resumed a session, and the periods'
// agents resume the TLS session the last connection got (the pool's included): a new agent has an
// empty session cache of its own, and a full handshake costs the apiserver its certificate
// signature, a resumed one does not.
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';

/** What a KubeConnection's agents opened: TCP connections, and among them TLS handshakes that resumed a session. */
export interface ConnectionCounts {
  opened: number;
  resumed: number;
}

/** The last TLS session (ticket) a connection to the apiserver got, for the next period's connection to resume. */
export interface TlsSessionCache {
  session?: Buffer;
}

export interface AgentSpec {
  secure: boolean;
  options: HttpsAgentOptions & HttpAgentOptions;
  counts: ConnectionCounts;
  tickets: TlsSessionCache;
  /** Start each TLS connection from `tickets` (a period's agent); else only keep the tickets this agent's connections get (the pool). */
  resume: boolean;
}

type Create = (options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void) => Duplex | null | undefined;

/** An http(s).Agent whose new connections are counted (and their TLS sessions kept, or resumed). */
export function countingAgent(spec: AgentSpec): HttpAgent {
  const agent = spec.secure ? new HttpsAgent(spec.options) : new HttpAgent(spec.options);
  const create: Create = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const session = spec.resume && spec.secure ? spec.tickets.session : undefined;
    // tls.connect's `session`: Node's https.Agent puts its own cached one first, so this one wins.
    const socket = create(session === undefined ? options : { ...options, session } as ClientRequestArgs, callback);
    if (socket !== null && socket !== undefined) {
      spec.counts.opened++;
      if (socket instanceof TLSSocket) {
        const tls = socket;
        tls.once('secureConnect', () => { if (tls.isSessionReused()) spec.counts.resumed++; });
        tls.on('session', (ticket: Buffer) => { spec.tickets.session = ticket; });
      }
    }
    return socket;
  };
  return agent;
}

/**
 * One KubeConnection's agents: `pool` (keep-alive, up to 4 connections: the watch holds one over
 * HTTP/1.1, a list or a write takes another), and one per check period (`period()`, one connection:
 * each request waits for the one before it and takes its connection), which resumes the TLS session
 * the last connection got, so its handshake skips the certificate.
 */
export class ConnectionAgents {
  readonly counts: ConnectionCounts = { opened: 0, resumed: 0 };
  readonly pool: HttpAgent;
  private readonly tickets: TlsSessionCache = {};
  /** The periods' agents still open: ended with the pool's connections. */
  private readonly periods = new Set<HttpAgent>();

  private readonly tls: HttpsAgentOptions;

  /** `tls`: the CA, the client certificate and key, and whether not to verify the server (insecure-skip-tls-verify). */
  constructor(private readonly secure: boolean, tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; insecure?: boolean }) {
    this.tls = secure
      ? {
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
          rejectUnauthorized: tls.insecure !== true,
        }
      : {};
    this.pool = countingAgent({ secure, options: { keepAlive: true, maxSockets: 4, ...tls }, counts: this.counts, tickets: this.tickets, resume: false });
  }

  /** A new agent for one period's requests; `end(agent)` closes its connection. */
  period(): HttpAgent {
    const agent = countingAgent({ secure: this.secure, options: { keepAlive: true, maxSockets: 1, ...this.tls }, counts: this.counts, tickets: this.tickets, resume: true });
    this.periods.add(agent);
    return agent;
  }

  end(agent: HttpAgent): void {
    this.periods.delete(agent);
    agent.destroy();
  }

  /** Ends every open connection (the pool's, the watch's included, and the periods'); new ones are made on the next request. */
  reset(): void {
    for (const sockets of [...Object.values(this.pool.sockets), ...Object.values(this.pool.freeSockets)]) {
      for (const socket of sockets ?? []) socket.destroy();
    }
    for (const agent of this.periods) agent.destroy();
  }

  destroy(): void {
    this.pool.destroy();
    for (const agent of this.periods) agent.destroy();
    this.periods.clear();
  }
}
