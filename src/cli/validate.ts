// `validate`: Envoy's schema before the Pods. Checks xDS files, directories and ConfigMap
// manifests (`-f -` from `kubectl kustomize` or `helm template`) against the Envoy API the schema
// was generated from. Exit 0 (no errors), 1 (errors; with --strict, unknown fields too), 2 (usage).
import { readdir, readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { checkConfigMap, checkFile, formatFinding, loadEnvoySchema, type ConfigMapLike, type EnvoySchema, type FileCheck, type Finding } from '../schema/index.js';
import { withoutInsertedStamp } from '../sync/envoy/version-stamp.js';
import { STATE_DIR } from '../sync/verdict/state-dir.js';
import type { CliContext, Command } from './context.js';
import { argsProblem, UsageError } from './context.js';

const USAGE = `Usage: envoy-xds-injector validate [flags] PATH...
       envoy-xds-injector validate [flags] -f FILE|-

Checks Envoy xDS files (the files of a path_config_source: .yaml, .yml, .json with top-level
resources) and bootstraps against Envoy's own API (protobuf descriptors and validation rules of the
Envoy release this build carries), as Envoy would read them: errors for what Envoy refuses,
warnings for what it loads but ignores (unknown fields) or deprecates. Each finding gives the
file, line, column and the field's path.

  PATH                  a file or a directory (its .yaml/.yml/.json files, recursively); a file
                        holding Kubernetes manifests has its ConfigMaps checked; files holding
                        no ConfigMap and no xDS (a Service; in a directory, any non-xDS file) are
                        skipped, an error only if nothing at all was checked; a version the
                        watcher kept (..envoy-xds-verdict/refused/FILE) is read without the
                        version_info line it added, so lines are those of the ConfigMap's key
  -f, --file FILE|-     a multi-document manifest stream ('-' reads stdin: kubectl kustomize DIR |
                        envoy-xds-injector validate -f -): every ConfigMap's data files
      --bootstrap NAME  the file (or ConfigMap key) that is Envoy's bootstrap
      --strict          check for an Envoy started with --reject-unknown-dynamic-fields: unknown
                        fields and enum values are errors (that Envoy refuses the file); deprecated
                        fields stay warnings (it loads them)
  -o, --output FORMAT   text (default; findings on stderr) or json (on stdout)

Exit status: 0 no errors, 1 errors, 2 usage.
`;

const STRUCTURED = /\.(ya?ml|json)$/i;

/**
 * A version the watcher kept (`TARGET/..envoy-xds-verdict/refused/FILE`, which a refusal's message
 * says to validate) is the published file: where the ConfigMap key had no `version_info` the watcher
 * inserted one line, taken out here so that the lines printed are the key's, which the operator edits.
 */
function asTheKeyReads(path: string, text: string): string {
  return path.split(/[\\/]/).includes(STATE_DIR) ? withoutInsertedStamp(text).text : text;
}

async function readStream(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The .yaml/.yml/.json files under `dir`, recursively, dot-named directories left out. Symbolic links
 * are followed: a ConfigMap volume's keys are links into its `..data` directory (which is skipped,
 * so each key is read once).
 */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    const target = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (target?.isDirectory() === true && !entry.name.startsWith('.')) out.push(...(await filesUnder(path)));
    else if (target?.isFile() === true && STRUCTURED.test(entry.name)) out.push(path);
  }
  return out;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The ConfigMaps of a manifest stream (Lists unfolded), or undefined if it holds no Kubernetes object. */
function configMapsOf(text: string): ConfigMapLike[] | undefined {
  const objects: Record<string, unknown>[] = [];
  // kubectl reads manifests as YAML 1.1; an xDS file may not read so (Envoy's rules differ): not manifests.
  const docs = parseAllDocuments(text, { version: '1.1' });
  if (!Array.isArray(docs)) return undefined;
  for (const doc of docs) {
    if (doc.errors.length > 0) return undefined;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch {
      return undefined;
    }
    if (!isObject(value)) continue;
    if (value.kind === 'List' && Array.isArray(value.items)) objects.push(...value.items.filter(isObject));
    else objects.push(value);
  }
  const kube = objects.filter((object) => typeof object.apiVersion === 'string' && typeof object.kind === 'string');
  if (kube.length === 0) return undefined;
  return kube.filter((object) => object.kind === 'ConfigMap');
}

/**
 * The checks of a manifest file's ConfigMaps; undefined if it holds no Kubernetes object, 'skip' if
 * it holds only other kinds (a Deployment, a Service, a kustomization.yaml: nothing for Envoy).
 */
async function checkManifest(schema: EnvoySchema, name: string, text: string, bootstrap: string | undefined, strict: boolean): Promise<FileCheck[] | 'skip' | undefined> {
  const configMaps = configMapsOf(text);
  if (configMaps === undefined) return undefined;
  if (configMaps.length === 0) return 'skip';
  const checks: FileCheck[] = [];
  for (const configMap of configMaps) checks.push(...(await checkConfigMap(schema, configMap, { bootstrapKey: bootstrap, rejectUnknownDynamicFields: strict })));
  return checks;
}

/** The command, with the schema loader injectable (tests share one loaded schema). */
export async function runValidate(args: string[], ctx: CliContext, loadSchema: () => EnvoySchema = loadEnvoySchema): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        file: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o', default: 'text' },
        strict: { type: 'boolean', default: false },
        bootstrap: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(argsProblem(err));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError(`--output: expected text or json, got '${values.output}'`);
  if (values.file === undefined && positionals.length === 0) throw new UsageError(`nothing to check: give files or directories, or -f FILE|-`);

  // Inputs are read before the schema is loaded: a missing path is a usage error at once.
  // fromDir: found by walking a directory (not named by the user): a file that is not xDS is skipped.
  const inputs: { name: string; text: string; manifestOnly: boolean; fromDir: boolean }[] = [];
  // A directory with no file to read (a wrong path, files under another extension): nothing checked is an error.
  const emptyDirs: string[] = [];
  if (values.file !== undefined) {
    const name = values.file === '-' ? '(stdin)' : values.file;
    try {
      inputs.push({ name, text: values.file === '-' ? await readStream(ctx.stdin) : await readFile(values.file, 'utf8'), manifestOnly: true, fromDir: false });
    } catch (err) {
      throw new UsageError(`-f ${values.file}: ${(err as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a directory (give it as a PATH, or pipe kubectl kustomize DIR into -f -)' : (err as Error).message}`);
    }
  }
  for (const path of positionals) {
    let files: string[];
    let fromDir: boolean;
    try {
      fromDir = (await stat(path)).isDirectory();
      files = fromDir ? await filesUnder(path) : [path];
    } catch (err) {
      throw new UsageError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
    if (fromDir && files.length === 0) emptyDirs.push(path);
    for (const file of files) inputs.push({ name: file, text: asTheKeyReads(file, await readFile(file, 'utf8')), manifestOnly: false, fromDir });
  }

  const schema = loadSchema();
  const checks: FileCheck[] = [];
  // Files holding neither a ConfigMap nor xDS (other kinds of manifests; in a directory, any non-xDS
  // file): skipped, not findings, so --strict does not fail a directory that also holds a Service.
  const skipped: string[] = [];
  for (const input of inputs) {
    const base = input.name.slice(input.name.lastIndexOf('/') + 1);
    const asManifest = /\.ya?ml$/i.test(base) || input.manifestOnly ? await checkManifest(schema, input.name, input.text, values.bootstrap, values.strict) : undefined;
    if (asManifest === 'skip') skipped.push(input.name);
    else if (asManifest) checks.push(...asManifest);
    else if (input.manifestOnly) checks.push({ file: input.name, kind: 'data', findings: [{ severity: 'error', file: input.name, message: 'not Kubernetes manifests (no object with apiVersion and kind); give xDS files as PATH arguments' }] });
    else {
      const check = await checkFile(schema, input.name, input.text, { bootstrap: values.bootstrap !== undefined && base === values.bootstrap, rejectUnknownDynamicFields: values.strict });
      if (input.fromDir && check.kind === 'data') skipped.push(input.name);
      // Named, and not a file Envoy parses (README.md, cert.pem): saying nothing would read as a pass.
      else if (check.kind === 'data' && check.findings.length === 0) checks.push({ ...check, findings: [{ severity: 'error', file: input.name, message: 'nothing checked: not a .yaml, .yml or .json file (Envoy reads only those as configuration)' }] });
      else checks.push(check);
    }
  }
  for (const dir of emptyDirs) checks.push({ file: dir, kind: 'data', findings: [{ severity: 'error', file: dir, message: 'nothing checked: the directory holds no .yaml, .yml or .json file' }] });
  const checked = checks.filter((check) => check.kind !== 'data').length;
  const skippedLine = `${skipped.length} file(s) hold no ConfigMap and no xDS: skipped`;
  // Only when nothing at all was checked is a skip a fault (a wrong path, a manifest without its ConfigMap).
  if (checked === 0 && skipped.length > 0) {
    const [only] = skipped;
    const finding: Finding =
      skipped.length === 1 && only !== undefined
        ? { severity: 'error', file: only, message: 'nothing checked: it holds no ConfigMap and no xDS' }
        : { severity: 'error', file: inputs.map((input) => input.name).join(', '), message: `nothing checked: ${skipped.length} file(s) hold no ConfigMap and no xDS` };
    checks.push({ file: finding.file, kind: 'data', findings: [finding] });
  }

  const findings: Finding[] = checks.flatMap((check) => check.findings);
  const errors = findings.filter((finding) => finding.severity === 'error').length;
  const warnings = findings.length - errors;
  if (values.output === 'json') {
    ctx.stdout.write(`${JSON.stringify({ envoyVersion: schema.envoyVersion, filesChecked: checked, filesSkipped: skipped, errors, warnings, findings }, null, 2)}\n`);
  } else {
    for (const finding of findings) ctx.stderr.write(`${formatFinding(finding)}\n`);
    if (checked > 0 && skipped.length > 0) ctx.stderr.write(`info: ${skippedLine}\n`);
    ctx.stdout.write(`${checked} file(s) checked against Envoy ${schema.envoyVersion}'s API: ${errors} error(s), ${warnings} warning(s)\n`);
  }
  return errors > 0 ? 1 : 0;
}

export const validate: Command = (args, ctx) => runValidate(args, ctx);
