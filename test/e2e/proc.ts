// Child processes for the e2e suite: each runs in its own process group (so helpers it forks die
// with it), logs to a file, and is killed when the test process exits - even on a crash or signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { inspect } from 'node:util';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Exit status once exited, else undefined. */
  exitInfo(): ExitInfo | undefined;
  /** SIGTERM the process group, SIGKILL it after `graceMs`; resolves once the leader exited. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** The whole log so far. */
  log(): string;
  /** The last `lines` lines of the log. */
  tail(lines?: number): string;
  /** Resolve when the log matches `re` (polling); reject on exit or timeout. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

const live = new Set<number>(); // process-group ids still to be killed
const tempDirs = new Set<string>(); // removed synchronously if the process exits before cleanup
let hooksInstalled = false;

/** Remove `dir` on process exit (also on SIGINT/SIGTERM) unless unregistered first. */
export function removeOnExit(dir: string): () => void {
  installExitHooks();
  tempDirs.add(dir);
  return () => tempDirs.delete(dir);
}

function emergencyCleanup(): void {
  for (const pgid of live) killGroup(pgid, 'SIGKILL');
  live.clear();
  if (process.env.E2E_KEEP_WORKDIR === '1') return;
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: already gone
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL whatever is left.
  process.on('exit', emergencyCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      emergencyCleanup();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logFile: string;
}

export function startProcess(name: string, command: string, args: string[], opts: StartOptions): ManagedProcess {
  installExitHooks();
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true, // new process group: we kill -pgid
    });
  } finally {
    closeSync(fd);
  }
  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    child.once('error', (err) => {
      info = { code: -1, signal: null };
      try {
        appendFileSync(opts.logFile, `\n[e2e] failed to start ${command}: ${err.message}\n`);
      } catch {
        // ignore
      }
      resolve(info);
    });
  });
  const pid = child.pid ?? -1;
  if (pid > 0) live.add(pid);
  void exited.then(() => {
    // The leader is gone; make sure nothing else in its group survives.
    if (pid > 0) {
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
    }
  });

  const log = (): string => {
    try {
      return readFileSync(opts.logFile, 'utf8');
    } catch {
      return '';
    }
  };

  const proc: ManagedProcess = {
    name,
    pid,
    child,
    logFile: opts.logFile,
    exited,
    exitInfo: () => info,
    async stop(graceMs = 10_000) {
      if (info !== undefined || pid <= 0) return exited;
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => { killGroup(pid, 'SIGKILL'); }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    log,
    tail(lines = 40) {
      return log().split('\n').slice(-lines).join('\n');
    },
    async waitForLog(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = log().match(re);
        if (m) return m;
        if (info !== undefined) {
          throw new Error(`${name} exited (${describeExit(info)}) before logging ${re}:\n${proc.tail()}`);
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${name} to log ${re}:\n${proc.tail()}`);
        await sleep(100);
      }
    },
  };
  return proc;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `command` to completion, collecting stdout/stderr; never throws on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input);
  });
}

export function describeExit(info: ExitInfo): string {
  return info.signal !== null ? `signal ${info.signal}` : `code ${String(info.code)}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reserve `n` distinct free TCP ports on 127.0.0.1 (all held open together, then released). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, host, () => { resolve(s); });
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => { r(); }))));
  return ports;
}

/** One free TCP port on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  if (port === undefined) throw new Error('no free port');
  return port;
}

/** Poll `check` until it returns a value other than undefined; throw the last error on timeout. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; intervalMs?: number; abortIf?: () => string | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    const reason = opts.abortIf?.();
    if (reason !== undefined) throw new Error(`while waiting for ${what}: ${reason}`);
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : last !== undefined ? `: ${inspect(last)}` : '';
      throw new Error(`timed out waiting for ${what}${detail}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}
