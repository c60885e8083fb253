// Asking the benchmarked Envoy what it serves and counts, and reading the watcher's verdict lines.
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EnvoyProcess } from '../../test/envoy/envoy.js';

/**
 * Asks Envoy's probe listener for its body, one new connection per request, from the moment a
 * version is wanted until Envoy serves it (or a newer one), then idles: a poller spinning all the
 * time would take CPU from Envoy and the sidecar on a small machine. Records when each version's
 * body was first served.
 */
export class ServedPoller {
  readonly firstServed = new Map<number, number>();
  /** Per wanted version: answers with an older version (and when the last came), failed probes. */
  readonly probesFor = new Map<number, { older: number; lastOlderAt: number | undefined; failed: number }>();
  private newest = -1;
  private wanted = -1;
  private running = true;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly port: number) {
    this.loop = this.run();
  }

  /** Poll until version `version` (or a newer one) is served. */
  want(version: number): void {
    this.wanted = Math.max(this.wanted, version);
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.newest >= this.wanted) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      const wanted = this.wanted;
      const body = await probe(this.port);
      const at = performance.now();
      const version = body === undefined ? undefined : /^lds v(\d+)$/.exec(body)?.[1];
      const counts = this.probesFor.get(wanted) ?? { older: 0, lastOlderAt: undefined, failed: 0 };
      this.probesFor.set(wanted, counts);
      if (version === undefined) {
        counts.failed++;
        await sleep(1);
        continue;
      }
      const n = Number(version);
      if (n < wanted) {
        counts.older++;
        counts.lastOlderAt = at;
      }
      if (!this.firstServed.has(n)) this.firstServed.set(n, at);
      this.newest = Math.max(this.newest, n);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }
}

/** One HTTP/1.1 GET over a fresh TCP connection; the body, or undefined on any error. */
function probe(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.end('GET / HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n');
    });
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => { resolve(undefined); });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve(text.startsWith('HTTP/1.1 200') && split >= 0 ? text.slice(split + 4) : undefined);
    });
  });
}

export const SUBSCRIPTIONS = { 'cds.yaml': 'cluster_manager.cds', 'lds.yaml': 'listener_manager.lds' } as const;

export interface Counters {
  attempt: number;
  bad: number;
}

export async function counters(envoy: EnvoyProcess, file: keyof typeof SUBSCRIPTIONS): Promise<Counters> {
  const prefix = SUBSCRIPTIONS[file];
  const stats = await envoy.stats(`^${prefix.replace(/[.]/g, '\\.')}\\.update_`);
  const get = (name: string) => stats.get(`${prefix}.update_${name}`) ?? 0;
  return { attempt: get('attempt'), bad: get('rejected') + get('failure') };
}

// `watch` logs one line per Envoy verdict (docs/sync.md): {"event":"verdict","file":"lds.yaml",
// "outcome":"accepted","xdsVersion":"N+sha256:<12 hex>",...}: xdsFile() writes version_info "N", which
// the watcher keeps as the user's part of the version it stamps. Returns N for an accepted lds.yaml,
// else undefined: swap → verdict per version.
export function acceptedLdsVersion(line: string): number | undefined {
  if (!line.includes('"verdict"')) return undefined;
  try {
    const entry = JSON.parse(line) as { event?: string; file?: string; outcome?: string; xdsVersion?: string };
    if (entry.event !== 'verdict' || entry.file !== 'lds.yaml' || entry.outcome !== 'accepted') return undefined;
    const version = /^(\d+)(\+sha256:[0-9a-f]+)?$/.exec(entry.xdsVersion ?? '')?.[1];
    return version === undefined ? undefined : Number(version);
  } catch {
    return undefined;
  }
}


/**
 * When Envoy last applied an LDS update to a listener: the latest `last_updated` among the dynamic
 * listeners in `/config_dump?resource=dynamic_listeners` (ListenersConfigDump.DynamicListener
 * .active_state), set on Envoy's main thread when its listener manager took the update, before the
 * new listener reaches a worker. Envoy 1.40 keeps an updated listener's `version_info` at the
 * version that created it, so the version cannot be read there: with one change in flight, a time
 * after the swap is that change's. As performance.now() of this process (Envoy's wall clock in RFC
 * 3339, to the millisecond, against performance.timeOrigin); undefined with no dynamic listener.
 */
export async function ldsAppliedAt(envoy: EnvoyProcess): Promise<number | undefined> {
  const dump = (await envoy.configDump('resource=dynamic_listeners')) as { configs?: { active_state?: { last_updated?: string } }[] };
  let latest: number | undefined;
  for (const listener of dump.configs ?? []) {
    const match = /^(.+T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(listener.active_state?.last_updated ?? '');
    if (match?.[1] === undefined) continue;
    const wallMs = Date.parse(`${match[1]}Z`) + Number(`0${match[2] ?? ''}`) * 1000;
    latest = Math.max(latest ?? -Infinity, wallMs - performance.timeOrigin);
  }
  return latest;
}
