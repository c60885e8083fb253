// Which keep-alive connections are idle, and since when: at shutdown, a connection is closed by the
// server only after it has been idle for a while, never the instant its last response went out.
// Node's own closeIdleConnections() (also run by http.Server#close) closes a connection whose client
// may already be sending its next request on it: that request is then answered with a TCP reset.
import type { Server } from 'node:https';
import type { Socket } from 'node:net';

export class ConnectionTracker {
  /** Socket → when it last became idle (ms, `now()`); absent while a request is in flight. */
  readonly #idleSince = new Map<Socket, number>();
  readonly #now: () => number;

  /** Starts tracking `server`'s TLS connections; call before it listens. */
  constructor(server: Server, now: () => number = Date.now) {
    this.#now = now;
    server.on('secureConnection', (socket: Socket) => {
      this.#idleSince.set(socket, this.#now());
      socket.once('close', () => this.#idleSince.delete(socket));
    });
    server.on('request', (request: { socket: Socket }, response: { once: (e: 'close', f: () => void) => void }) => {
      const socket = request.socket;
      this.#idleSince.delete(socket);
      response.once('close', () => {
        if (!socket.destroyed) this.#idleSince.set(socket, this.#now());
      });
    });
  }

  /** Destroys connections idle for at least `minIdleMs`; returns how many. */
  destroyIdle(minIdleMs: number): number {
    const now = this.#now();
    let destroyed = 0;
    for (const [socket, since] of this.#idleSince) {
      if (now - since < minIdleMs) continue;
      socket.destroy();
      this.#idleSince.delete(socket);
      destroyed++;
    }
    return destroyed;
  }
}
