// Where each command's log lines go, and whether they are written before the logging call returns.

/** pino.destination() options: `dest` a file descriptor, `sync` whether each line is written in the call. */
export interface LogDestination {
  dest: 1 | 2;
  sync: boolean;
}

/**
 * The destination for `command`'s logger; undefined: pino's default (stdout, written
 * asynchronously), kept by `serve`, whose admission reviews do not wait on the log pipe.
 * `inject` prints YAML on stdout (piped into kubectl): its log lines, if any, go to stderr.
 * `watch` and `copy` write each line before the logging call returns, as Node itself writes
 * process.stdout to a pipe (a container's stdout) on Linux: a verdict line is out when it is
 * decided, not after what the watcher does next (the garbage collection it runs once every
 * verdict is in, measured landing before the last line's write in bench:sync), and no line is
 * left in a buffer when the process exits.
 */
export function logDestination(command: string): LogDestination | undefined {
  if (command === 'inject') return { dest: 2, sync: false };
  if (command === 'watch' || command === 'copy') return { dest: 1, sync: true };
  return undefined;
}
