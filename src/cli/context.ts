// Everything a command may touch of the outside world, handed in by main.ts so commands stay
// testable: tests call `run(args, ctx)` with their own streams, env and logger.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';

export interface CliContext {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  version: string;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT). */
  shutdownSignal: AbortSignal;
}

/** A command returns its exit code; only main.ts calls process.exit. */
export type Command = (args: string[], ctx: CliContext) => Promise<number>;

/** Bad flags or arguments: main prints the message and the command's usage, exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
