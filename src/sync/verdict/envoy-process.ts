// Which Envoy process answered, pure. In a Pod the Envoy container restarts (OOMKilled, a crash, a
// failed liveness probe) while the watcher keeps running: the new process counts every counter from
// zero (server.dynamic_unknown_fields, each subscription's update_*) and loads the published files
// at start. Counters of one process compared with another's say nothing, so every reading carries
// the watcher's number for the process that answered (`epoch`), and what the watcher learned of a
// process (what it already reported, Envoy's listener errors) ends with it.
//
// Envoy's facts it relies on:
// - a kept-alive admin connection dies with the process that accepted it, so answers on one
//   connection come from one process (envoy/admin.ts numbers the connections);
// - on a new connection, the config dump's BootstrapConfigDump `last_updated` gives when the
//   process loaded its bootstrap (`bootstrap_config_update_time_`, set once at start in
//   `InstanceBase::initialize`, source/server/server.cc; to the millisecond): every reading of one
//   process gives the same value, and two processes never share one, however short-lived;
// - a counter never goes down within a process (Stats::Counter only adds), so a lower
//   server.dynamic_unknown_fields is another process even when the config dump did not answer.
// Not `/server_info`'s `uptime_current_epoch`: whole seconds computed at the request
// (source/server/admin/server_info_handler.cc), so a process that ran under ~2 s could not be told
// from the next, and its body is ~120 KiB (the node's extension list). Not the `server.uptime`
// gauge: Envoy sets it only when it flushes its stats (every stats_flush_interval, 5 s by default:
// InstanceBase::flushStatsInternal → updateServerStats in source/server/server.cc), and it reads 0
// until the first flush (measured on 1.40).
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';

/** What the watcher knows of the process that answered last. */
export interface ProcessSeen {
  epoch: number;
  /** The connection its last answer came on. */
  connection: number | undefined;
  /** Its start (epoch ms), once read. */
  startedAtMs: number | undefined;
  /** The highest server.dynamic_unknown_fields it reported. */
  unknownFields: number;
}

/** Why a reading comes from another process than the one seen before. */
export interface Restart {
  why: string;
  /** The new process's start (epoch ms), when read. */
  startedAtMs?: number;
  /** The previous process's start, when read. */
  previousStartedAtMs?: number;
}

/** The restart `reading` shows after `seen`, or undefined when the same process answered. */
export function restartOf(seen: ProcessSeen, reading: EnvoyCounters): Restart | undefined {
  const by = reading.answeredBy;
  const starts = {
    ...(by?.startedAtMs === undefined ? {} : { startedAtMs: by.startedAtMs }),
    ...(seen.startedAtMs === undefined ? {} : { previousStartedAtMs: seen.startedAtMs }),
  };
  if (reading.unknownFields < seen.unknownFields) {
    return { why: `server.dynamic_unknown_fields went down from ${String(seen.unknownFields)} to ${String(reading.unknownFields)}`, ...starts };
  }
  if (by === undefined || by.connection === seen.connection) return undefined;
  if (by.startedAtMs === undefined || seen.startedAtMs === undefined) return undefined;
  if (by.startedAtMs === seen.startedAtMs) return undefined;
  return { why: `it started at ${iso(by.startedAtMs)}, the Envoy answering before at ${iso(seen.startedAtMs)}`, ...starts };
}

/** Numbers Envoy's processes as their readings arrive (in the order Envoy answered). */
export class EnvoyProcesses {
  private seen: ProcessSeen | undefined;

  /** Sets `reading.epoch`; returns the restart when `reading` is the first of a new process. */
  observe(reading: EnvoyCounters): Restart | undefined {
    const by = reading.answeredBy;
    const seen = this.seen;
    const restart = seen === undefined ? undefined : restartOf(seen, reading);
    const same = seen !== undefined && restart === undefined;
    const epoch = seen === undefined ? 0 : same ? seen.epoch : seen.epoch + 1;
    this.seen = {
      epoch,
      connection: by?.connection ?? seen?.connection,
      startedAtMs: by?.startedAtMs ?? (same ? seen.startedAtMs : undefined),
      unknownFields: same ? Math.max(seen.unknownFields, reading.unknownFields) : reading.unknownFields,
    };
    reading.epoch = epoch;
    return restart;
  }
}

/** `baseline` when the process that answered `now` also answered it; undefined when Envoy restarted in between. */
export function ofSameProcess(baseline: EnvoyCounters | undefined, now: EnvoyCounters): EnvoyCounters | undefined {
  return baseline === undefined || baseline.epoch === now.epoch ? baseline : undefined;
}

/** To the millisecond: two processes may start within one second. */
function iso(ms: number): string {
  return new Date(ms).toISOString();
}
