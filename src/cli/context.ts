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

/**
 * Bad flags or arguments: main prints `error: MESSAGE` and `run '... COMMAND --help' for usage`,
 * exits 2. The message is one line: the whole usage is for --help.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs's error as one line naming the flag or argument: its own messages run on with
 * advice about `--` (allowPositionals) or over three lines (a value that looks like a flag).
 */
export function argsProblem(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag '${quoted}'`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${quoted}': this command takes flags only`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // `-f, --file <value>` → `--file`; `--strict` as is.
      const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
      if (message.includes('argument missing')) return `${flag} needs a value`;
      if (message.includes('does not take an argument')) return `${flag} takes no value`;
      // Its advice names the long form: `use '--file=-XYZ' or '-f-XYZ'`.
      const long = /'(--[\w-]+)=-XYZ'/.exec(message)?.[1] ?? flag;
      if (message.includes('is ambiguous')) return `${long} needs a value, and what follows it is a flag (a value that starts with '-' is written ${long}=-VALUE)`;
      break;
    }
    default:
      break;
  }
  return (message.split('\n', 1)[0] ?? message).replace(/\.$/, '');
}

/** Every command's flags: strict, no positionals; a bad flag is a UsageError (exit 2). */
export function parseFlags<const O extends FlagOptions>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(argsProblem(err));
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
