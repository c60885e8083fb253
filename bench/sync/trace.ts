// What the benchmarked watcher did and when, seen from inside its process without changing the product:
// a module loaded into the watcher with `node --import` that appends to a log file, on the monotonic
// clock every process on the machine shares (process.hrtime), one line per
//   gc <start> <duration> <kind> <flags>   a V8 garbage collection (kind, flags: perf_hooks.constants),
//                                           written from the gc observer (Node calls it after the collection)
//   verdict <at> <log line>                a verdict log line as the watcher hands it to stdout (pino writes
//                                           through fs.write/fs.writeSync); its arrival through a pipe on a
//                                           loaded machine can come after a collection run once it was out
//   notice <at> <dir>                      an inotify event for `..data` reaching fs.watch's listener
//                                           (kubelet's swap, as the watcher learns of it)
//   read <at>                              a readlinkSync of `..data` (a pass starting to read the volume)
//   rename <at> <path>                     a renameSync returned (the watcher publishes by renameSync)
// fs.watch, readlinkSync and renameSync are wrapped on node:fs and synced into the ESM named exports
// (module.syncBuiltinESMExports) before the product loads. notice/read/rename lines are kept in memory and
// written on the next setImmediate, so nothing is written between two renames of one pass.
import { existsSync, readFileSync } from 'node:fs';
import { constants as perfConstants, performance } from 'node:perf_hooks';

/** For `node --import`: the watcher writes its trace to the file named by BENCH_GC_LOG. */
export const WATCHER_TRACE_PRELOAD = `data:text/javascript,${encodeURIComponent(`
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { PerformanceObserver, performance } from 'node:perf_hooks';
const fd = fs.openSync(process.env.BENCH_GC_LOG, 'a');
const append = fs.writeSync;
const now = () => (Number(process.hrtime.bigint()) / 1e6).toFixed(3);
const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) append(fd, \`gc \${(offset + e.startTime).toFixed(3)} \${e.duration.toFixed(3)} \${e.detail.kind} \${e.detail.flags}\\n\`);
}).observe({ entryTypes: ['gc'] });
let later = [];
const note = (line) => {
  if (later.length === 0) setImmediate(() => { const lines = later; later = []; append(fd, lines.join('')); });
  later.push(line);
};
for (const name of ['write', 'writeSync']) {
  const original = fs[name];
  fs[name] = function (out, data, ...rest) {
    if (out === 1 && String(data).includes('"event":"verdict"')) {
      const at = now();
      for (const line of String(data).split('\\n')) if (line.includes('"event":"verdict"')) append(fd, \`verdict \${at} \${line}\\n\`);
    }
    return original.call(this, out, data, ...rest);
  };
}
const watch = fs.watch;
fs.watch = function (dir, ...args) {
  const index = args.findIndex((arg) => typeof arg === 'function');
  if (index >= 0) {
    const listener = args[index];
    args[index] = function (event, filename) {
      if (String(filename) === '..data') note(\`notice \${now()} \${String(dir)}\\n\`);
      return listener.call(this, event, filename);
    };
  }
  return watch.call(this, dir, ...args);
};
const readlinkSync = fs.readlinkSync;
fs.readlinkSync = function (path, ...rest) {
  if (String(path).endsWith('/..data')) note(\`read \${now()}\\n\`);
  return readlinkSync.call(this, path, ...rest);
};
const renameSync = fs.renameSync;
fs.renameSync = function (from, to) {
  const result = renameSync.call(this, from, to);
  note(\`rename \${now()} \${String(to)}\\n\`);
  return result;
};
syncBuiltinESMExports();
`)}`;

/** performance.now() of this process + this = the monotonic clock of the trace's lines. */
export const MONOTONIC_OFFSET_MS = Number(process.hrtime.bigint()) / 1e6 - performance.now();

export interface GcEntry {
  /** performance.now() of this process. */
  at: number;
  ms: number;
  major: boolean;
  forced: boolean;
}

/** The trace, times as performance.now() of this process. */
export interface WatcherTrace {
  gcs: GcEntry[];
  /** Verdict log lines as the watcher wrote them. */
  verdicts: { at: number; line: string }[];
  /** `..data` events reaching the watcher's fs.watch listener, with the watched directory. */
  notices: { at: number; dir: string }[];
  /** readlinkSync calls on a `..data`. */
  reads: number[];
  /** renameSync calls, with the destination path. */
  renames: { at: number; to: string }[];
}

export function readTrace(path: string): WatcherTrace {
  const trace: WatcherTrace = { gcs: [], verdicts: [], notices: [], reads: [], renames: [] };
  if (!existsSync(path)) return trace;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [what, atText, ...rest] = line.split(' ');
    if (atText === undefined) continue;
    const at = Number(atText) - MONOTONIC_OFFSET_MS;
    if (what === 'verdict') trace.verdicts.push({ at, line: rest.join(' ') });
    else if (what === 'notice') trace.notices.push({ at, dir: rest.join(' ') });
    else if (what === 'read') trace.reads.push(at);
    else if (what === 'rename') trace.renames.push({ at, to: rest.join(' ') });
    else if (what === 'gc') {
      const [duration, kind, flags] = rest.map(Number);
      if (duration === undefined || kind === undefined || flags === undefined || Number.isNaN(flags)) continue;
      trace.gcs.push({
        at,
        ms: duration,
        major: kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR,
        forced: (flags & perfConstants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0,
      });
    }
  }
  return trace;
}
