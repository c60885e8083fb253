// Public surface of the pure injection rules. The webhook and the offline `inject` CLI call these
// and nothing else; all rules live below this folder.
import type { V1Pod } from '@kubernetes/client-node';
import type { Operation } from 'fast-json-patch';
import type { InjectorConfig } from './config.js';

export type { InjectorConfig, SidecarMode, SyncResources } from './config.js';
export { defaultConfig } from './config.js';

export type InjectResult =
  /** Not ours to touch (no opt-in annotation) or already injected: no patch. */
  | { decision: 'skipped'; reason: string; warnings: string[] }
  /** `pod` is the mutated Pod; `patch` turns the original into it (RFC 6902). */
  | { decision: 'injected'; pod: V1Pod; patch: Operation[]; warnings: string[] }
  /** The Pod asked for injection but cannot get it; `message` names the annotation and the fix. */
  | { decision: 'denied'; message: string; warnings: string[] };

// Placeholder so the tree compiles while the rules are being written.
export function injectPod(_pod: V1Pod, _config: InjectorConfig): InjectResult {
  return { decision: 'skipped', reason: 'not implemented', warnings: [] };
}
