// Runs the real `serve` command, in this process (for log access and speed) or as a child process
// (for signals and exit codes), and follows its JSON log lines.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import type { CliContext } from '../../src/cli/context.js';
import { serve } from '../../src/cli/serve.js';

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

const mainTs = new URL('../../src/cli/main.ts', import.meta.url).pathname;
// Resolved here, not by the child: the child may run in a directory outside the repository.
const tsxLoader = import.meta.resolve('tsx');

/** Collects JSON log lines and lets tests wait for one. */
export class LogFollower {
  readonly lines: LogLine[] = [];
  #partial = '';
  #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  push(chunk: string): void {
    const text = this.#partial + chunk;
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      let line: LogLine;
      try {
        line = JSON.parse(part) as LogLine;
      } catch {
        line = { msg: part, level: -1 };
      }
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  }

  /** Resolves with the first line (already seen or future) that matches. */
  waitFor(match: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out after ${String(timeoutMs)} ms waiting for log: ${what}\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      this.#waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  byMessage(msg: string | RegExp): LogLine[] {
    return this.lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
  }
}

const isListening = (l: LogLine): boolean => typeof l.msg === 'string' && l.msg.startsWith('serving admission reviews at ');

export interface InProcessServe {
  url: string;
  logs: LogFollower;
  stderr: () => string;
  /** Abort the shutdown signal (as SIGTERM does) and wait for the command's exit code. */
  stop(): Promise<number>;
}

/** `serve` in this process with its own logger and shutdown signal. Rejects if it exits before listening. */
export async function startServeInProcess(args: string[]): Promise<InProcessServe> {
  const logs = new LogFollower();
  let stderr = '';
  const shutdown = new AbortController();
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const ctx: CliContext = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new Writable({
      write(chunk: Buffer, _enc, done) {
        stderr += chunk.toString('utf8');
        done();
      },
    }),
    env: {},
    logger: pino({ level: 'debug' }, logStream),
    version: '0.0.0-test',
    shutdownSignal: shutdown.signal,
  };
  const exit = serve(args, ctx);
  const listening = await Promise.race([
    logs.waitFor(isListening, 'serving admission reviews'),
    exit.then((code) => {
      throw new Error(`serve exited with ${String(code)} before listening: ${stderr}`);
    }),
  ]);
  return {
    url: `https://localhost:${String(listening.port)}`,
    logs,
    stderr: () => stderr,
    stop: () => {
      shutdown.abort('SIGTERM');
      return exit;
    },
  };
}

export interface ChildServe {
  url: string;
  port: number;
  logs: LogFollower;
  stderr: () => string;
  pid: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** Spawn `node --import tsx src/cli/main.ts serve ...args`; resolves once it listens. */
export async function spawnServe(args: string[], opts: { cwd?: string } = {}): Promise<ChildServe> {
  const started = startServeProcess(args, opts);
  const listening = await Promise.race([
    started.logs.waitFor(isListening, 'serving admission reviews'),
    started.exit.then(({ code }) => {
      throw new Error(`serve exited with ${String(code)} before listening: ${started.stderr()}`);
    }),
  ]);
  const port = Number(listening.port);
  return { ...started, port, url: `https://localhost:${String(port)}` };
}

/** Spawn `serve` without waiting for anything (e.g. to watch it refuse to start). */
export function startServeProcess(args: string[], opts: { cwd?: string } = {}): Omit<ChildServe, 'url' | 'port'> {
  const child = spawn(process.execPath, ['--import', tsxLoader, mainTs, 'serve', ...args], {
    cwd: opts.cwd ?? process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  const logs = new LogFollower();
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    logs.push(c);
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  if (child.pid === undefined) throw new Error('could not spawn serve');
  return {
    logs,
    stderr: () => stderr,
    pid: child.pid,
    exit,
    kill: (signal) => {
      child.kill(signal);
    },
  };
}
