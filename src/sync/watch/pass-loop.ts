// When `watch` runs a sync pass: every change notice (inotify, the API source, a resync, a released
// hold) asks for one; passes never overlap, and bursts collapse. And when it hands memory back: the
// watcher runs in every Envoy Pod, so its idle memory is multiplied by the fleet (memory.ts).
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SyncResult } from '../publish/syncer.js';
import { collectionAfterPass, heapGrowthBytes, releaseMemory, releaseYoung, youngBeforePass, youngRoomBytes } from './memory.js';
import type { Collection } from './memory.js';

const RELEASE_AFTER_IDLE_MS = 1000;

export interface PassLoopOptions {
  /** One pass over what the source gives now; undefined when it holds (nothing to publish). */
  pass: () => Promise<SyncResult | undefined>;
  logger: Logger;
  /** A pass failed; the next change or resync tries again. */
  onError: (err: unknown) => void;
  /** Resolves once Envoy's verdicts on everything published so far are in (a collection waits for it). */
  settled?: () => Promise<void>;
}

export class PassLoop {
  private started = false;
  private stopping = false;
  private requested = 0;
  private served = 0;
  private running: Promise<void> | undefined;
  private release: NodeJS.Timeout | undefined;
  /** A collection waiting for Envoy's verdicts (the larger one asked for). */
  private waiting: Collection | undefined;

  constructor(private readonly options: PassLoopOptions) {}

  /** Asks for a pass (runs now, or after the pass in progress). */
  readonly trigger = (): void => {
    this.requested++;
    this.kick();
  };

  /** The first pass, before `start`: what it throws propagates (nothing sensible to wait for). */
  async first(): Promise<void> {
    const covering = this.requested;
    await this.options.pass();
    this.served = covering;
  }

  /** From now on a trigger runs passes; one runs now if a change arrived during the first pass. */
  start(): void {
    this.started = true;
    if (this.served !== this.requested) this.kick();
  }

  /** No pass starts any more; resolves when the pass in progress is done. */
  stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.release);
    return this.running ?? Promise.resolve();
  }

  private kick(): void {
    if (!this.started || this.stopping || this.running !== undefined) return;
    clearTimeout(this.release);
    this.running = this.runPasses().finally(() => {
      this.running = undefined;
    });
  }

  // Every relevant event bumps `requested`; a pass covers what was requested when it began. A swap
  // during a pass therefore causes exactly one more pass, which reads the newest version: bursts of
  // swaps collapse into as few passes as the reads take, never into a mix of two versions.
  private async runPasses(): Promise<void> {
    const { logger } = this.options;
    do {
      const covering = this.requested;
      let changedBytes = 0;
      const room = youngRoomBytes();
      if (youngBeforePass(room)) this.collect('young', { roomBytes: room, when: 'before the pass' });
      try {
        const startedAt = performance.now();
        const result = await this.options.pass();
        if (result !== undefined) {
          changedBytes = result.changedBytes;
          logger.debug({ ms: Number((performance.now() - startedAt).toFixed(2)), published: result.published.length, snapshot: result.dataDir, resourceVersion: result.resourceVersion }, 'pass done');
        }
      } catch (err) {
        this.options.onError(err);
      }
      this.served = covering;
      const growthBytes = heapGrowthBytes();
      const plan = collectionAfterPass({ changedBytes, growthBytes, passPending: this.served !== this.requested });
      if (plan?.when === 'now') this.collect(plan.collect, { changedBytes, growthBytes, when: 'after the pass' });
      else if (plan !== undefined) this.collectWhenSettled(plan.collect, { changedBytes, growthBytes });
    } while (this.served !== this.requested && !this.stopping);
    this.scheduleRelease();
  }

  private collect(collection: Collection, fields: Record<string, unknown>): void {
    const startedAt = performance.now();
    if (collection === 'full') releaseMemory();
    else releaseYoung();
    const ms = Number((performance.now() - startedAt).toFixed(2));
    if (collection === 'full') this.options.logger.debug({ ...fields, ms }, 'large pass or heap growth: collected');
    else if (fields.when === 'before the pass') this.options.logger.debug({ ...fields, ms }, 'young generation nearly full: collected before the pass');
  }

  // Once Envoy has judged what was published; a pass running by then asks again when it ends.
  private collectWhenSettled(collection: Collection, fields: Record<string, unknown>): void {
    const waiting = this.waiting;
    this.waiting = waiting === 'full' ? 'full' : collection;
    if (waiting !== undefined) return;
    const settled = this.options.settled?.() ?? Promise.resolve();
    void settled.catch(() => undefined).then(() => {
      const asked = this.waiting ?? collection;
      this.waiting = undefined;
      if (this.running === undefined && !this.stopping) this.collect(asked, { ...fields, when: "after Envoy's verdict" });
    });
  }

  // Between changes (60-90 s apart in a cluster) the watcher holds nothing, but V8 keeps a pass's
  // garbage until its heap grows. Collect once things are quiet; not after every pass, because
  // under a stream of swaps that made each next pass measurably slower.
  private scheduleRelease(): void {
    clearTimeout(this.release);
    this.release = setTimeout(releaseMemory, RELEASE_AFTER_IDLE_MS).unref();
  }
}
