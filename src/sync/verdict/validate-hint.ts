// The `validate` command the watcher's messages suggest (an accepted file with ignored unknown
// fields, a refusal a schema check can see). The operator edits the ConfigMap's keys: the lines
// `validate` prints must be theirs. It checks the very content Envoy loaded, as kept under the state
// directory (a refused version, or an accepted one Envoy ignored fields in), never the published
// copy in the target (the watcher stamps a version on what it publishes and may add a
// `version_info` line, envoy/version-stamp.ts, which `validate` takes out again only under the state
// directory: cli/validate.ts); the ConfigMap's own files where no such copy is named (the files
// Envoy loaded together, any of which holds the fields).
import { join } from 'node:path';
import { STATE_DIR, refusedVersionDir } from './state-dir.js';

/**
 * The command line for `file` (a key of the ConfigMap), or for all of its files when undefined.
 * `key`: the key the content is kept under (refused-versions.ts), and `kind` under which directory
 * (default `refused`); only the kept hint (refusedValidateHint) reads them.
 */
export type ValidateHint = (file?: string, key?: string, kind?: 'refused' | 'accepted') => string;

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

/**
 * `CLI validate TARGET/..envoy-xds-verdict/refused/..sha256-KEY/FILE`: the very content refused, as
 * the watcher kept it (kept.ts), for what a refusal says (its line, Event and `status`'s WHY); with
 * `kind` accepted, `.../accepted/..sha256-KEY/FILE`, an accepted version Envoy ignored fields in. The
 * ConfigMap's key may already hold a fix or a newer version when the operator reads it (a
 * superseded refusal: it does), and `refused/FILE` holds only the file's last refusal, so a command
 * on either would check another version. The kept copy is the published one; where the watcher
 * added a `version_info` line, `validate` reads it without that line, so the lines it prints are
 * the key's. `refused/FILE` when no key is given; the last refused version of each file when
 * `file` is undefined (`validate` walks past the `..sha256-` directories).
 */
export function refusedValidateHint(cli: string, targetDir: string): ValidateHint {
  return (file, key, kind = 'refused') => {
    const dir = join(targetDir, STATE_DIR, kind);
    return `${cli} validate ${file === undefined ? dir : key === undefined ? join(dir, file) : join(dir, refusedVersionDir(key), file)}`;
  };
}

/** Whether `validate` (a command of this file) checks a refused version kept under the state directory (refusedValidateHint). */
export const checksRefusedCopy = (validate: string): boolean => validate.includes(`/${STATE_DIR}/refused`);

/** Whether `validate` checks an accepted version kept under its key (`kind` accepted of refusedValidateHint). */
export const checksAcceptedCopy = (validate: string): boolean => validate.includes(`/${STATE_DIR}/accepted/`);

/**
 * The `validate` a verdict's message suggests for `file` of the ConfigMap (all of them when
 * undefined), by the watcher's options (this program on `--from` and `--to` by default);
 * `refused`: for a version kept under the state directory (under `key`, refused-versions.ts, in
 * `kind`'s directory: refused by default).
 */
export function verdictValidateHint(
  options: { sourceDir: string; targetDir: string; validateHint?: ValidateHint | undefined; refusedValidateHint?: ValidateHint | undefined },
  file?: string,
  refused = false,
  key?: string,
  kind?: 'accepted',
): string {
  if (refused) return (options.refusedValidateHint ?? refusedValidateHint('envoy-xds-injector', options.targetDir))(file, key, kind);
  return (options.validateHint ?? sourceValidateHint('envoy-xds-injector', options.sourceDir))(file);
}
