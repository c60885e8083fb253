// Envoy's config dump, the parts the verdict reads: when the process started (and its bootstrap,
// when asked), and the listeners' error states. Pure: envoy/admin.ts asks, these read the answers.
import type { ListenerError } from './rejection-reason.js';

/**
 * Asks only the config dump's top-level `last_updated`: the one of the BootstrapConfigDump (other
 * dumps keep theirs per resource, so the mask leaves them empty). A body of ~150 bytes.
 */
export const PROCESS_START_PATH = '/config_dump?mask=last_updated';

/**
 * The same, with the parts of Envoy's bootstrap that hold its config sources: `dynamic_resources`
 * (`lds_config`, `cds_config`) and `static_resources` (static listeners' RDS and ECDS sources,
 * clusters' EDS, SDS sources), as Envoy loaded them (BootstrapConfigDump.bootstrap,
 * envoy/admin/v3/config_dump.proto). Only the BootstrapConfigDump has these fields: Envoy leaves
 * out every dump a mask does not fit (ConfigDumpHandler::addAllConfigToDump,
 * source/server/admin/config_dump_handler.cc).
 */
export const PROCESS_START_AND_BOOTSTRAP_PATH = '/config_dump?mask=last_updated,bootstrap.dynamic_resources,bootstrap.static_resources';

/** Envoy's Bootstrap (JSON, field names as in the proto) in a `PROCESS_START_AND_BOOTSTRAP_PATH` body; undefined when the body has none. */
export function bootstrapFromConfigDump(body: string): Record<string, unknown> | undefined {
  try {
    const dump = JSON.parse(body) as { configs?: { '@type'?: string; bootstrap?: unknown }[] };
    const bootstrap = dump.configs?.find((config) => config['@type']?.endsWith('.BootstrapConfigDump') === true)?.bootstrap;
    return typeof bootstrap === 'object' && bootstrap !== null && !Array.isArray(bootstrap) ? (bootstrap as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When the Envoy process that wrote a `PROCESS_START_PATH` body started (epoch ms): its
 * BootstrapConfigDump's `last_updated`, the time it loaded its bootstrap
 * (`bootstrap_config_update_time_`, set once in `InstanceBase::initialize`, source/server/server.cc;
 * a protobuf Timestamp Envoy writes to the millisecond). One value per process, the same on every
 * reading of it: two processes never share it (a restart takes far more than a millisecond).
 * Undefined when the body has none.
 */
export function startedAtFromConfigDump(body: string): number | undefined {
  let dump: { configs?: { '@type'?: string; last_updated?: string }[] };
  try {
    dump = JSON.parse(body) as typeof dump;
  } catch {
    return undefined;
  }
  const bootstrap = dump.configs?.find((config) => config['@type']?.endsWith('.BootstrapConfigDump') === true);
  const ms = bootstrap?.last_updated === undefined ? Number.NaN : Date.parse(bootstrap.last_updated);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The `error_state` of every dynamic listener in a `/config_dump?resource=dynamic_listeners` body
 * (ListenersConfigDump, envoy/admin/v3/config_dump_shared.proto): `details`, and the listener's
 * `name` and `last_update_attempt` when Envoy sets them. Envoy lists every error state among the
 * dynamic listeners, a listener it only refused included (ListenerManagerImpl::dumpListenerConfigs,
 * source/common/listener_manager/listener_manager_impl.cc), so an Envoy with no dynamic listener
 * has none: it answers `{}` (an empty `configs` is left out of the JSON;
 * ConfigDumpHandler::addResourceToDump, source/server/admin/config_dump_handler.cc), as an Envoy
 * that refused its first LDS file at start does. Throws on a body that is not a config dump.
 */
export function parseListenerErrors(body: string): ListenerError[] {
  const dump = JSON.parse(body) as { configs?: { name?: string; error_state?: { details?: string; last_update_attempt?: string } }[] } | null;
  if (dump === null || typeof dump !== 'object') throw new Error(`envoy admin /config_dump: not a config dump: ${body.slice(0, 200)}`);
  if (dump.configs === undefined) return [];
  if (!Array.isArray(dump.configs)) throw new Error(`envoy admin /config_dump: not a config dump (configs is no list): ${body.slice(0, 200)}`);
  const out: ListenerError[] = [];
  for (const entry of dump.configs) {
    const details = entry.error_state?.details;
    if (details === undefined || details === '') continue;
    const at = entry.error_state?.last_update_attempt === undefined ? NaN : Date.parse(entry.error_state.last_update_attempt);
    out.push({ ...(entry.name === undefined || entry.name === '' ? {} : { name: entry.name }), details, ...(Number.isNaN(at) ? {} : { at }) });
  }
  return out;
}
