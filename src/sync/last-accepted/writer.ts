// `source: api`: Envoy's verdicts kept outside the Pod, in `<configmap>-envoy-xds-accepted`
// (src/inject/last-accepted.ts): after an accepted verdict the content (as published) and a mark,
// after a refusal a mark. A new Pod's `copy` reads it (reader.ts), so a Pod deleted while the
// ConfigMap holds a refused edit comes back serving what Envoy last accepted. Every Pod of a
// workload writes the same facts, so writes are idempotent: read, change what differs, PUT with the
// resourceVersion read (a 409 re-reads), no request when the last known record (at the start the
// one `copy` read: handoff.ts) already says so. Best effort: never waited on; a failure is logged
// once per kind and retried with backoff. Each write puts back what of this Pod's verdicts the store
// lost (changes.ts `refill`), and while its Envoy holds a refusal (`holdsRefusal`: only then does
// the store matter to a new Pod) the store is read every `--store-check` (whole only when it
// changed: store-check.ts; on which connection: store-check-timer.ts) to put them back without
// waiting for a write. Content the store cannot hold (422/413: over 1 MiB with the record) is said
// at error level once per version and marked `unkept`, dropping the older accepted content so that
// `copy` never presents it as the last accepted. `rbac`'s Role cannot create it (RBAC cannot limit
// `create` to one name): `rbac` prints it, and the watcher creates it itself only where allowed.
import type { Logger } from 'pino';
import { LAST_ACCEPTED_RECORD_KEY, lastAcceptedConfigMapName } from '../../inject/last-accepted.js';
import { sha256 } from '../envoy/version-stamp.js';
import { ApiUnreachableError, statusOf } from '../kube/connection.js';
import type { KubeConnection, KubeSession } from '../kube/connection.js';
import { alreadyHeld, apply, formatRecord, holdsRefusal, keyOf, refill, unkept, type Change, type OwnVerdicts } from './changes.js';
import type { JudgedFile, LastAcceptedRecord, Mark } from './record.js';
import { newStoreBody, notOurs, recordOf, writeStatus, type ConfigMapBody } from './store-body.js';
import { lostVerdicts, type CompleteStore } from './store-check.js';
import { StoreCheckTimer } from './store-check-timer.js';

export interface LastAcceptedWriterOptions {
  connection: KubeConnection;
  namespace: string;
  /** The source ConfigMap. */
  configMap: string;
  /** The Pod whose Envoy judges (recorded in marks). */
  pod?: string;
  /** The content the watcher kept of Envoy's last accepted version of `file` (its `..envoy-xds-verdict/accepted/`). */
  acceptedCopy: (file: string) => Promise<Buffer | undefined>;
  logger: Logger;
  /** The `rbac` command line, for the "forbidden" hint. */
  fixCommand: string;
  backoff?: { initialMs: number; maxMs: number };
  /** How often the store is read to put back what it lost (ms, default 30 s; 0: never): store-check-timer.ts. */
  storeCheckMs?: number;
  /** The record as `copy` read it (handoff.ts): a verdict it already holds sends no request. */
  known?: LastAcceptedRecord;
}

export const DEFAULT_STORE_CHECK_MS = 30_000;

const MAX_ATTEMPTS = 5;
/**
 * After a 403: the Role is missing; asking again every few seconds would only load the apiserver. The
 * wait ends early once the watcher reads its ConfigMap again (permissionsMayHaveChanged).
 */
const FORBIDDEN_RETRY_MS = 5 * 60_000;

export class LastAcceptedWriter {
  /** The last-accepted ConfigMap's name. */
  readonly name: string;
  private readonly path: string;
  private readonly logger: Logger;
  /** Pending changes, the latest per (file, kind). */
  private readonly pending = new Map<string, Change>();
  private known: LastAcceptedRecord | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private delayMs: number;
  private readonly reported = new Set<string>();
  private wrote = false;
  private forbidden = false;
  /** Ends the wait after a 403 (permissionsMayHaveChanged). */
  private wakeForbidden: (() => void) | undefined;
  /** This Pod's Envoy's last verdicts, per file: what a store that lost them gets back. */
  private readonly own = new Map<string, OwnVerdicts>();
  /** The --store-check: `carry()` it on the watch's checks (configmap-watch.ts `companion`); `stats`. */
  readonly storeCheck: StoreCheckTimer;
  /** The store as a full read last found it holding all of `own` (store-check.ts). */
  private complete: CompleteStore | undefined;

  constructor(private readonly options: LastAcceptedWriterOptions) {
    this.name = lastAcceptedConfigMapName(options.configMap);
    this.path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/configmaps`;
    this.logger = options.logger;
    this.delayMs = options.backoff?.initialMs ?? 1000;
    this.known = options.known;
    this.storeCheck = new StoreCheckTimer({
      connection: options.connection,
      everyMs: options.storeCheckMs ?? DEFAULT_STORE_CHECK_MS,
      wanted: () => holdsRefusal(this.own) && this.running === undefined && !this.closed,
      check: (session) => this.checkStore(session),
      onError: (err) => { this.logger.debug({ err }, 'last-accepted store check failed'); },
    });
  }

  /** The API reads the ConfigMap again: `rbac`'s Role that allows it allows the store too, so a wait after a 403 ends now. */
  permissionsMayHaveChanged(): void {
    this.wakeForbidden?.();
  }

  /** A verdict listener (verdict/tracker.ts `onVerdict`). `unknown` verdicts are not kept. */
  record(verdict: JudgedFile): void {
    if (this.closed || verdict.outcome === 'unknown' || verdict.file === LAST_ACCEPTED_RECORD_KEY) return;
    const mark: Mark = {
      sha256: verdict.sha256,
      ...(verdict.version === undefined ? {} : { version: verdict.version }),
      at: new Date().toISOString(),
      ...(this.options.pod === undefined ? {} : { pod: `${this.options.namespace}/${this.options.pod}` }),
    };
    if (verdict.outcome === 'rejected') {
      this.own.set(verdict.file, { ...this.own.get(verdict.file), refused: mark });
      this.queue({ file: verdict.file, refused: mark });
      return;
    }
    // The copy the verdict kept; a newer accepted version may already have replaced it.
    void this.options.acceptedCopy(verdict.file).then((content) => {
      if (content === undefined || sha256(content) !== verdict.sha256) return;
      const text = content.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(content)) {
        this.reportOnce(`utf8:${verdict.file}`, 'warn', `${verdict.file} is not UTF-8 text: not kept in ConfigMap ${this.name}`);
        return;
      }
      this.own.set(verdict.file, { ...this.own.get(verdict.file), accepted: { mark, content: text } });
      this.queue({ file: verdict.file, accepted: mark, content: text });
    }, (err: unknown) => { this.logger.warn({ err, file: verdict.file }, 'could not read the accepted copy to keep it'); });
  }

  /** Waits for the write in progress (and what is queued) for at most `timeoutMs`. */
  async close(timeoutMs = 2000): Promise<void> {
    const running = this.running;
    this.closed = true;
    this.storeCheck.stop();
    if (running === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
    clearTimeout(timer);
  }

  /** What of this Pod's verdicts a store read as `record` and `data` lost: written with the next change. */
  private lacking(record: LastAcceptedRecord | undefined, data: Readonly<Record<string, string>>): Change[] {
    return refill(record, data, this.own, (text) => sha256(Buffer.from(text, 'utf8')));
  }

  /** Reads the store (from the apiserver's cache; whole only when it changed) and queues what of this Pod's verdicts it lacks. */
  private async checkStore(session: KubeSession): Promise<void> {
    if (!holdsRefusal(this.own) || this.running !== undefined || this.closed) return;
    const found = await lostVerdicts(session, `${this.path}/${encodeURIComponent(this.name)}`, this.complete, this.own);
    if (found === undefined) return; // unchanged, or another status: the next write says why
    const { changes, complete, deleted } = found;
    this.complete = complete;
    if (changes.length === 0) return void this.reported.delete('refill');
    if (!this.reported.has('refill')) this.logger.warn({ configMap: this.name, files: [...new Set(changes.map((c) => c.file))] }, `ConfigMap ${this.name} lacks what this Pod's Envoy last judged (${deleted ? 'deleted' : 're-created empty or edited'}?): putting it back`);
    this.reported.add('refill');
    this.known = undefined;
    for (const change of changes) this.queue(change);
  }

  private queue(change: Change): void {
    this.pending.set(keyOf(change), change);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const changes = [...this.pending.values()];
      this.pending.clear();
      // The store as last read (at the start: as `copy` read it) holds them all: no request.
      if (alreadyHeld(this.known, changes)) { this.logger.debug({ configMap: this.name, files: changes.map((c) => c.file) }, 'the last-accepted store already holds these verdicts: nothing sent'); continue; }
      let done = false;
      try {
        done = await this.write(changes);
      } catch (err) {
        if (!(err instanceof ApiUnreachableError)) throw err;
        this.reportOnce('unreachable', 'warn', `cannot keep Envoy's verdicts in ConfigMap ${this.name}: ${err.message}; retrying`);
      }
      if (done || this.closed) {
        this.delayMs = this.options.backoff?.initialMs ?? 1000;
        continue;
      }
      // Put back under anything newer that arrived meanwhile, then back off.
      for (const change of changes) {
        if (!this.pending.has(keyOf(change))) this.pending.set(keyOf(change), change);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.forbidden ? FORBIDDEN_RETRY_MS : this.delayMs).unref();
        this.wakeForbidden = this.forbidden ? () => { clearTimeout(timer); resolve(); } : undefined;
      });
      this.wakeForbidden = undefined;
      this.delayMs = Math.min(this.delayMs * 2, this.options.backoff?.maxMs ?? 30_000);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the wait
      if (this.closed) return;
    }
  }

  /** true: written (or nothing to write, or cannot be written at all: logged); false: retry later. */
  private async write(pending: Change[]): Promise<boolean> {
    let changes = pending;
    const { connection } = this.options;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const got = await connection.request('GET', `${this.path}/${encodeURIComponent(this.name)}`);
      if (got.status === 404) {
        const body = newStoreBody(this.name, this.options.namespace, this.options.configMap);
        const record: LastAcceptedRecord = { configMap: this.options.configMap, files: {} };
        for (const change of [...this.lacking(undefined, {}), ...changes]) apply(record, body, change);
        body.data = { ...body.data, [LAST_ACCEPTED_RECORD_KEY]: formatRecord(record) };
        const created = await connection.request('POST', this.path, body);
        if (created.status === 409) continue; // another Pod created it meanwhile: read it
        if (this.tooBig(created.status, created.body, changes)) {
          changes = unkept(changes, statusOf(created.body).message ?? `HTTP ${String(created.status)}`);
          continue;
        }
        return this.settle(created.status, created.body, record, 'create');
      }
      if (got.status !== 200) return this.settle(got.status, got.body, undefined, 'get');
      const body = got.body as ConfigMapBody;
      const foreign = notOurs(body, this.options.configMap);
      if (foreign !== undefined) {
        this.reportOnce('not-ours', 'error', `ConfigMap ${this.name} exists but is not the injector's last-accepted store for ${this.options.configMap} (${foreign}): not written; rename or delete it`);
        return true;
      }
      const { record, absent, error } = recordOf(body, this.options.configMap);
      if (error !== undefined) this.reportOnce('bad-record', 'warn', `ConfigMap ${this.name} key ${LAST_ACCEPTED_RECORD_KEY} does not parse (${error}): rewriting it`);
      let changed = absent;
      for (const change of [...this.lacking(record, body.data ?? {}), ...changes]) changed = apply(record, body, change) || changed;
      this.known = record;
      if (!changed) return true;
      body.data = { ...body.data, [LAST_ACCEPTED_RECORD_KEY]: formatRecord(record) };
      const put = await connection.request('PUT', `${this.path}/${encodeURIComponent(this.name)}`, body);
      if (put.status === 409) continue; // another Pod wrote first: re-read, re-apply
      if (this.tooBig(put.status, put.body, changes)) {
        changes = unkept(changes, statusOf(put.body).message ?? `HTTP ${String(put.status)}`);
        continue;
      }
      return this.settle(put.status, put.body, record, 'update');
    }
    return false;
  }

  /**
   * The store refused a write holding accepted content as too big (422 Invalid: "Too long", 413):
   * says so loudly, once per version, and keeps that version's mark only (`unkept`) from then on.
   */
  private tooBig(status: number, body: unknown, changes: readonly Change[]): boolean {
    if (status !== 422 && status !== 413) return false;
    const big = changes.filter((c): c is Extract<Change, { accepted: Mark }> => 'accepted' in c && c.content !== undefined);
    if (big.length === 0) return false;
    const message = statusOf(body).message ?? `HTTP ${String(status)}`;
    for (const c of big) {
      const mine = this.own.get(c.file);
      if (mine?.accepted?.mark.sha256 === c.accepted.sha256) mine.accepted = { mark: { ...c.accepted, unkept: message }, content: undefined };
      this.reportOnce(`unkept:${c.file}:${c.accepted.sha256}`, 'error', `Envoy accepted ${c.file} version ${c.accepted.version ?? '(no version_info)'}, but ConfigMap ${this.name} cannot hold it (${message}): a new Pod cannot start from it, and its copy will say so rather than start from an older version. Fix: keep the ConfigMap's files well under 1 MiB in total (the store holds them plus a record)`);
    }
    return true;
  }

  private settle(status: number, body: unknown, record: LastAcceptedRecord | undefined, verb: string): boolean {
    const kind = writeStatus(status);
    this.forbidden = kind === 'forbidden';
    if (kind === 'written') {
      if (record !== undefined) this.known = record;
      if (!this.wrote) this.logger.info({ configMap: this.name }, `keeping Envoy's verdicts in ConfigMap ${this.name} (a new Pod starts from what Envoy last accepted)`);
      this.wrote = true;
      this.reported.delete('unreachable');
      return true;
    }
    const message = statusOf(body).message ?? `HTTP ${String(status)}`;
    if (kind === 'forbidden') {
      this.reportOnce(`forbidden:${verb}`, 'warn', `cannot ${verb} ConfigMap ${this.name}, where a new Pod finds what Envoy last accepted (${message}); fix: ${this.options.fixCommand}`);
      return false;
    }
    if (kind === 'invalid') {
      this.reportOnce(`invalid:${message}`, 'error', `ConfigMap ${this.name} refused the accepted files (${message}): not kept`);
      return true;
    }
    this.reportOnce(`status:${String(status)}`, 'warn', `cannot ${verb} ConfigMap ${this.name}: ${message}; retrying`);
    return false;
  }

  private reportOnce(key: string, level: 'warn' | 'error', message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.logger[level]({ configMap: this.name }, message);
  }
}
