// Whether this replica should receive new admission reviews. /readyz reports it; shutdown flips it
// first so the Service drops the endpoint before we stop accepting connections.
export type ReadinessState = 'starting' | 'ready' | 'shutting-down';

export class Readiness {
  #state: ReadinessState;

  constructor(initial: ReadinessState = 'starting') {
    this.#state = initial;
  }

  get state(): ReadinessState {
    return this.#state;
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  get shuttingDown(): boolean {
    return this.#state === 'shutting-down';
  }

  #closingConnections = false;

  /**
   * Once set (when the server has stopped listening), responses carry `Connection: close` so
   * keep-alive clients move to other replicas.
   */
  get closingConnections(): boolean {
    return this.#closingConnections;
  }

  markClosingConnections(): void {
    this.#closingConnections = true;
  }

  markReady(): void {
    if (this.#state === 'starting') this.#state = 'ready';
  }

  markShuttingDown(): void {
    this.#state = 'shutting-down';
  }
}
