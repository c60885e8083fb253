// The `validate` command the watcher's messages suggest (an accepted file with ignored unknown
// fields, a refusal a schema check can see). It checks the ConfigMap's own files, never the
// published copy in the target: the watcher stamps a version on what it publishes and may add a
// `version_info` line (envoy/version-stamp.ts), so the copy's line numbers are one below the
// user's. The operator edits the ConfigMap's keys: the lines `validate` prints must be theirs.
import { join } from 'node:path';

/** The command line for `file` (a key of the ConfigMap), or for all of its files when undefined. */
export type ValidateHint = (file?: string) => string;

/**
 * `CLI validate DIR/FILE` on the ConfigMap's source directory (`--from`): the ConfigMap volume the
 * kubelet writes (each key byte for byte) in a Pod, the operator's own directory outside one.
 */
export function sourceValidateHint(cli: string, sourceDir: string): ValidateHint {
  return (file) => `${cli} validate ${file === undefined ? sourceDir : join(sourceDir, file)}`;
}

/**
 * `kubectl get configmap NAME -n NS -o yaml | CLI validate -f -`: the ConfigMap as the API has it
 * now (findings read `ConfigMap/NS/NAME/KEY:LINE:COLUMN`, lines of the key). For a watcher that
 * reads the ConfigMap from the API (its volume may lag) and for `status TYPE/NAME`, which compares
 * with the ConfigMap now. `cliWithStdin` must pass stdin on (`kubectl exec -i ...`). Every key is
 * checked: the command is the same for one file and for all.
 */
export function configMapValidateHint(cliWithStdin: string, namespace: string, configMap: string): ValidateHint {
  return () => `kubectl get configmap ${configMap} -n ${namespace} -o yaml | ${cliWithStdin} validate -f -`;
}
