// `inject` writes nothing on stdout until every document was read and injected: a stream cut short
// by a denied document, piped into `kubectl apply -f -`, would apply half of it. The output waits
// here meanwhile: in memory up to `memoryLimit` characters, then in an unlinked temporary file (so
// memory stays bounded on any input and nothing is left behind, even after SIGKILL).
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';

/** How writing the spool out ended: all of it, the reader closed the pipe, or a signal stopped it. */
export type DeliveryResult = 'done' | 'closed' | 'aborted';

const FILE_CHUNK = 1 << 20;

export class OutputSpool {
  private chunks: string[] = [];
  private held = 0;
  private fd: number | undefined;
  private fileBytes = 0;

  /**
   * `memoryLimit` in UTF-16 code units (default 8 Mi); `dir` holds the temporary file (default
   * os.tmpdir(), i.e. $TMPDIR). If it cannot be created, the output stays in memory.
   */
  constructor(
    private readonly memoryLimit = 8 << 20,
    private readonly dir = tmpdir(),
  ) {}

  write(text: string): void {
    this.chunks.push(text);
    this.held += text.length;
    if (this.held < (this.fd === undefined ? this.memoryLimit : FILE_CHUNK)) return;
    this.fd ??= this.openFile();
    if (this.fd !== undefined) this.flushToFile(this.fd);
  }

  private openFile(): number | undefined {
    const path = join(this.dir, `.envoy-xds-inject-${String(process.pid)}-${randomBytes(6).toString('hex')}`);
    try {
      const fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
      return fd;
    } catch {
      return undefined;
    }
  }

  private flushToFile(fd: number): void {
    const bytes = Buffer.from(this.chunks.join(''), 'utf8');
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written, this.fileBytes + written);
    this.fileBytes += bytes.length;
    this.chunks = [];
    this.held = 0;
  }

  /** Writes everything held to `out`, honouring backpressure; stops at EPIPE (or any write error) and on `signal`. */
  async deliver(out: Writable, signal: AbortSignal): Promise<DeliveryResult> {
    const state = { closed: false };
    // Kept after we return: a late EPIPE must not become an uncaught 'error' event.
    out.on('error', () => {
      state.closed = true;
    });
    const stopped = (): DeliveryResult | undefined => (signal.aborted ? 'aborted' : state.closed || out.destroyed ? 'closed' : undefined);
    const send = async (chunk: string | Buffer): Promise<DeliveryResult | undefined> => {
      const before = stopped();
      if (before !== undefined) return before;
      if (out.write(chunk)) return undefined;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          out.off('drain', done);
          out.off('error', done);
          out.off('close', done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        out.on('drain', done);
        out.on('error', done);
        out.on('close', done);
        signal.addEventListener('abort', done);
      });
      return stopped();
    };
    try {
      if (this.fd !== undefined) {
        const fd = this.fd;
        this.flushToFile(fd);
        for (let position = 0; position < this.fileBytes; ) {
          const buffer = Buffer.allocUnsafe(Math.min(FILE_CHUNK, this.fileBytes - position));
          const read = readSync(fd, buffer, 0, buffer.length, position);
          if (read === 0) break;
          position += read;
          const stop = await send(read === buffer.length ? buffer : buffer.subarray(0, read));
          if (stop !== undefined) return stop;
        }
        return 'done';
      }
      for (let i = 0; i < this.chunks.length; ) {
        // About FILE_CHUNK characters per write.
        let size = 0;
        let j = i;
        while (j < this.chunks.length && size < FILE_CHUNK) size += this.chunks[j++]?.length ?? 0;
        const stop = await send(this.chunks.slice(i, j).join(''));
        if (stop !== undefined) return stop;
        i = j;
      }
      return 'done';
    } finally {
      this.discard();
    }
  }

  /** Drops what is held and closes the temporary file. */
  discard(): void {
    this.chunks = [];
    this.held = 0;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
