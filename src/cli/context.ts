// Everything a command may touch of the outside world, handed in by main.ts so commands stay
// testable: tests call `run(args, ctx)` with their own streams, env and logger.
import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration } from './duration.js';
import type { Logger } from 'pino';

export interface CliContext {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  version: string;
  /** How the user runs this program again, for commands a hint prints (self-command.ts); default `envoy-xds-injector`. */
  self?: string;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT). */
  shutdownSignal: AbortSignal;
}

/** A command returns its exit code; only main.ts calls process.exit. */
export type Command = (args: string[], ctx: CliContext) => Promise<number>;

/** Bad flags or arguments: main prints the message and the command's usage, exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** Every command's flags: strict, no positionals; a bad flag is a UsageError (exit 2), `usage` appended. */
export function parseFlags<const O extends FlagOptions>(args: string[], options: O, usage?: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(usage === undefined ? message : `${message}\n\n${usage}`);
  }
}

/** A duration flag (`500ms`, `5s`, `1m30s`); malformed or below `minMs` is a UsageError naming the flag. */
export function durationFlag(name: string, text: string, minMs = 0): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < minMs) {
    const atLeast = minMs > 0 ? ` of at least ${String(minMs)}ms` : '';
    throw new UsageError(`--${name}: expected a duration${atLeast} such as 5s or 500ms, got '${text}'`);
  }
  return ms;
}
