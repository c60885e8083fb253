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
