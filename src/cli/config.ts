// The injector's config: defaults, then a YAML/JSON file (in-cluster a mounted ConfigMap), then
// flags. Each layer is validated with the same JSON schema; an error names the file or flag and
// the offending key, because a webhook that starts with a wrong image breaks every Envoy Pod.
import { readFile } from 'node:fs/promises';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { InjectorConfig, SyncResources } from '../inject/index.js';
import { defaultConfig, parseQuantity, QUANTITY_PATTERN } from '../inject/index.js';

/** What a config file or the flags may set: every key optional, `version` is the binary's. */
export type InjectorConfigInput = Partial<Omit<InjectorConfig, 'version' | 'resources'>> & {
  resources?: Partial<SyncResources>;
};

const quantity = {
  // YAML users write `cpuRequest: 1` as readily as "1"; numbers are turned into strings below.
  type: ['string', 'number'],
  minimum: 0,
  // The shared Kubernetes grammar without a sign: a negative request is never meant.
  pattern: QUANTITY_PATTERN.replace(/^\^/, '^(?![-+])'),
  description: 'a Kubernetes quantity such as 10m, 0.5, 64Mi or 1Gi',
} as const;

export const injectorConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    image: { type: 'string', pattern: '^\\S+$', description: 'an image reference without spaces' },
    imagePullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'], description: 'one of Always, IfNotPresent, Never' },
    mountPath: {
      type: 'string',
      // Absolute, not the root, no `..` segment (Kubernetes refuses `..` in a volumeMount).
      pattern: '^(?!.*(^|/)\\.\\.(/|$))(/[^/]+)+/?$',
      description: 'an absolute directory such as /etc/envoy (not /, no ".." segments)',
    },
    sidecar: { enum: ['native', 'container'], description: 'native or container' },
    resources: {
      type: 'object',
      additionalProperties: false,
      properties: { cpuRequest: quantity, memoryRequest: quantity, memoryLimit: quantity, cpuLimit: quantity },
      description: 'a mapping with cpuRequest, memoryRequest, memoryLimit and optionally cpuLimit',
    },
  },
  description: 'a mapping with the keys image, imagePullPolicy, mountPath, sidecar and resources',
} as const;

/** Flags that override the file, as node:util parseArgs options (shared by `serve` and `inject`). */
export const injectorConfigFlags = {
  image: { type: 'string' },
  'image-pull-policy': { type: 'string' },
  'mount-path': { type: 'string' },
  sidecar: { type: 'string' },
  'cpu-request': { type: 'string' },
  'memory-request': { type: 'string' },
  'memory-limit': { type: 'string' },
  'cpu-limit': { type: 'string' },
} as const;

type FlagName = keyof typeof injectorConfigFlags;

/** Each flag's config key, as the JSON Pointer ajv reports errors at. */
const keyOfFlag: Record<FlagName, string> = {
  image: '/image',
  'image-pull-policy': '/imagePullPolicy',
  'mount-path': '/mountPath',
  sidecar: '/sidecar',
  'cpu-request': '/resources/cpuRequest',
  'memory-request': '/resources/memoryRequest',
  'memory-limit': '/resources/memoryLimit',
  'cpu-limit': '/resources/cpuLimit',
};

const flagForKey = new Map(Object.entries(keyOfFlag).map(([flag, key]) => [key, flag]));

/** The config keys set by flags (parseArgs `values`); unset flags are left out. */
export function configFromFlags(values: Partial<Record<string, string | boolean | (string | boolean)[] | undefined>>): InjectorConfigInput {
  const out: Record<string, unknown> = {};
  const resources: Record<string, string> = {};
  for (const [flag, key] of Object.entries(keyOfFlag)) {
    const value = values[flag];
    if (typeof value !== 'string') continue;
    const [name = '', resource] = key.slice(1).split('/');
    if (resource === undefined) out[name] = value;
    else resources[resource] = value;
  }
  if (Object.keys(resources).length > 0) out.resources = resources;
  return out;
}

/** An invalid config file or flag; the message is meant for the operator as is. */
export class InvalidConfigError extends Error {
  override name = 'InvalidConfigError';
}

/** An invalid value of a config flag (no config file involved): a usage error, exit 2 like any bad flag. */
export class InvalidConfigFlagError extends InvalidConfigError {
  override name = 'InvalidConfigFlagError';
}

function keyName(instancePath: string): string {
  return instancePath.split('/').filter(Boolean).join('.');
}

/** One ajv error as a sentence naming the key (or flag), its value and what it must be. */
function describe(err: ErrorObject, source: 'file' | 'flags'): string {
  const where = (path: string): string => {
    if (source === 'flags') return `--${flagForKey.get(path) ?? keyName(path)}`;
    return path === '' ? 'the top level' : `key "${keyName(path)}"`;
  };
  if (err.keyword === 'additionalProperty' || err.keyword === 'additionalProperties') {
    const extra = (err.params as { additionalProperty: string }).additionalProperty;
    const allowed = Object.keys((err.parentSchema as { properties?: object } | undefined)?.properties ?? {}).join(', ');
    return `unknown key "${keyName(`${err.instancePath}/${extra}`)}" (allowed here: ${allowed})`;
  }
  const description = (err.parentSchema as { description?: string } | undefined)?.description;
  const got = err.data === undefined ? '' : ` is ${JSON.stringify(err.data)} but`;
  return `${where(err.instancePath)}${got} must be ${description ?? err.message ?? 'valid'}`;
}

// ajv is loaded only when there is something to validate: it is most of `inject`'s start-up time.
async function compileValidator(): Promise<ValidateFunction<InjectorConfigInput>> {
  const { Ajv } = await import('ajv');
  // allErrors: report every wrong key at once instead of one per restart.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  return ajv.compile<InjectorConfigInput>(injectorConfigSchema);
}

function validate(
  validator: ValidateFunction<InjectorConfigInput>,
  input: unknown,
  source: 'file' | 'flags',
  label: string,
): InjectorConfigInput {
  if (validator(input)) return input;
  const sentences = [...new Set((validator.errors ?? []).map((e) => describe(e, source)))];
  const Err = source === 'flags' ? InvalidConfigFlagError : InvalidConfigError;
  throw new Err(`${label}: ${sentences.join('; ')}`);
}

async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new InvalidConfigError(`config file ${path}: cannot read it (${code || String(err)})`, { cause: err });
  }
  try {
    // YAML 1.2 is a superset of JSON, so one parser serves both formats.
    const doc: unknown = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
    return doc ?? {}; // an empty file (or only comments) means "all defaults"
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message : String(err);
    throw new InvalidConfigError(`config file ${path}: not valid YAML or JSON: ${detail}`, { cause: err });
  }
}

function merge(base: InjectorConfig, layer: InjectorConfigInput): InjectorConfig {
  const resources: Record<string, unknown> = { ...base.resources, ...layer.resources };
  for (const [key, value] of Object.entries(resources)) if (typeof value === 'number') resources[key] = String(value);
  return { ...base, ...layer, resources: resources as unknown as SyncResources };
}

/** Requests above limits would make every injected Pod fail validation at the apiserver. */
function checkRequestsWithinLimits(config: InjectorConfig, label: string, flagsOnly: boolean): void {
  const { cpuRequest, cpuLimit, memoryRequest, memoryLimit } = config.resources;
  const over = (request: string, limit: string | undefined): boolean =>
    limit !== undefined && (parseQuantity(request) ?? 0) > (parseQuantity(limit) ?? Infinity);
  const Err = flagsOnly ? InvalidConfigFlagError : InvalidConfigError;
  if (over(memoryRequest, memoryLimit)) {
    throw new Err(`${label}: resources.memoryRequest ${memoryRequest} is larger than resources.memoryLimit ${memoryLimit}`);
  }
  if (over(cpuRequest, cpuLimit)) {
    throw new Err(`${label}: resources.cpuRequest ${cpuRequest} is larger than resources.cpuLimit ${String(cpuLimit)}`);
  }
}

/**
 * defaultConfig(version), overlaid by the file at `path` (YAML or JSON, every key optional), then by
 * `overrides` (from flags). Throws InvalidConfigError naming the file or flag and the key;
 * InvalidConfigFlagError when the flags alone are at fault.
 */
export async function loadInjectorConfig(
  path: string | undefined,
  version: string,
  overrides: InjectorConfigInput = {},
): Promise<InjectorConfig> {
  let config = defaultConfig(version);
  const flagsUsed = Object.keys(overrides).length > 0;
  if (path === undefined && !flagsUsed) return config; // the defaults are valid by construction
  const validator = await compileValidator();
  if (path !== undefined) {
    config = merge(config, validate(validator, await readConfigFile(path), 'file', `config file ${path}`));
  }
  config = merge(config, validate(validator, overrides, 'flags', 'invalid flag'));
  const sources = [path === undefined ? undefined : `config file ${path}`, flagsUsed ? 'flags' : undefined].filter(Boolean);
  checkRequestsWithinLimits(config, sources.length === 0 ? 'injector config' : sources.join(' and '), path === undefined && flagsUsed);
  return config;
}
