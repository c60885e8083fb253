// Checks one file source against Envoy's schema, the way Envoy would read it: errors for what Envoy
// refuses (unknown @type, wrong types, bad durations and enums, oneof conflicts, PGV rules),
// warnings for what it loads but ignores or deprecates (unknown and deprecated fields).
//
// Parsing is @bufbuild/protobuf's proto3 JSON (fromJson, Any through the schema's registry). When
// a resource does not parse, the error is located by parsing its fields one by one, down to the
// value the parser refuses; what parses is then walked for rules and warnings (walk.ts).
import { fromJson, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { YAMLException } from 'js-yaml';
import { envoyJson } from './envoy-json.js';
import { yamlErrorReason } from './envoy-yaml.js';
import { formatPath, positions, type Finding, type RawFinding, type Segment } from './findings.js';
import { CUSTOM_JSON, type MessagePlan } from './plan.js';
import type { EnvoySchema } from './schema.js';
import { walkMessage, writtenKey, writtenStack, type WalkContext } from './walk.js';

export type FileKind = 'xds' | 'bootstrap' | 'data';

export interface FileCheck {
  file: string;
  kind: FileKind;
  findings: Finding[];
}

export interface CheckOptions {
  /** Treat the file as Envoy's bootstrap (unknown fields are errors there, as Envoy refuses them). */
  bootstrap?: boolean;
  /**
   * Check for an Envoy started with --reject-unknown-dynamic-fields (`validate --strict`): unknown
   * fields and enum names are errors, said as that Envoy refuses the file; deprecated fields stay
   * warnings, since that Envoy loads them (measured with Envoy 1.40: update_rejected "has unknown
   * fields" for the first two, update_success and runtime.deprecated_feature_use for the last;
   * StrictValidationVisitorImpl in source/common/protobuf/message_validator_impl.cc).
   */
  rejectUnknownDynamicFields?: boolean;
}

/** What an error for an unknown field or enum name says under rejectUnknownDynamicFields. */
export const REJECT_UNKNOWN_REFUSAL = ': Envoy started with --reject-unknown-dynamic-fields refuses the file';

const STRUCTURED = /\.(ya?ml|json)$/i;
const BOOTSTRAP_FIELDS = ['static_resources', 'dynamic_resources', 'admin', 'node', 'layered_runtime', 'cluster_manager', 'overload_manager', 'stats_sinks', 'stats_config', 'tracing', 'staticResources', 'dynamicResources'];
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Checks `content` (the text of the file named `file`) against the schema. A file that is not
 * YAML/JSON, or holds no top-level `resources` and no bootstrap fields, is `data`: not checked.
 */
export async function checkFile(schema: EnvoySchema, file: string, content: string | Buffer, options: CheckOptions = {}): Promise<FileCheck> {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  if (!STRUCTURED.test(file) && !options.bootstrap) return { file, kind: 'data', findings: [] };
  if (text.trim() === '') return done(file, 'xds', text, [{ severity: 'error', path: [], message: 'file is empty (an xDS file with no resources is written `resources: []`)' }]);
  let root: unknown;
  try {
    root = envoyJson(text, file);
  } catch (err) {
    if (err instanceof YAMLException) {
      const mark = (err as { mark?: { line: number; column: number } }).mark;
      return { file, kind: 'xds', findings: [{ severity: 'error', file, ...(mark ? { line: mark.line + 1, column: mark.column + 1 } : {}), message: `invalid YAML: ${yamlErrorReason(err, text)}` }] };
    }
    if (err instanceof SyntaxError) return { file, kind: 'xds', findings: [{ severity: 'error', file, ...jsonErrorPosition(err.message, text), message: `invalid JSON: ${err.message}` }] };
    throw err;
  }
  const strict = options.rejectUnknownDynamicFields === true;
  const ctx: WalkContext = { schema, findings: [], unknownIsError: strict, ...(strict ? { unknownRefusal: REJECT_UNKNOWN_REFUSAL } : {}), ...caches(schema), written: writtenStack() };
  const bootstrap = options.bootstrap === true || (isObject(root) && !('resources' in root) && BOOTSTRAP_FIELDS.some((key) => key in root));
  if (bootstrap) {
    ctx.unknownIsError = true; // Envoy refuses unknown fields in its bootstrap (static config), whatever its flags
    delete ctx.unknownRefusal;
    checkMessage(ctx, schema.bootstrap, root, []);
    return done(file, 'bootstrap', text, ctx.findings);
  }
  if (!isObject(root) || !('resources' in root)) {
    const what = root === null ? 'holds no document' : Array.isArray(root) ? 'is a list' : !isObject(root) ? 'is a scalar' : 'has no top-level `resources`';
    return { file, kind: 'data', findings: [{ severity: 'warning', file, message: `not an xDS file (it ${what}): not checked` }] };
  }
  const { resources, ...top } = root;
  checkMessage(ctx, schema.discoveryResponse, top, []);
  if (resources !== null) {
    if (!Array.isArray(resources)) ctx.findings.push({ severity: 'error', path: ['resources'], message: '`resources` must be a list of resources, each with an "@type"' });
    else for (const [index, resource] of resources.entries()) checkAny(ctx, resource, ['resources', index]);
  }
  return done(file, 'xds', text, ctx.findings);
}

// Per schema, shared by every check: the rules and plans read from the descriptors' options.
const cachesBySchema = new WeakMap<EnvoySchema, Pick<WalkContext, 'plans'>>();
function caches(schema: EnvoySchema): Pick<WalkContext, 'plans'> {
  let cache = cachesBySchema.get(schema);
  if (!cache) {
    cache = { plans: new Map<DescMessage, MessagePlan>() };
    cachesBySchema.set(schema, cache);
  }
  return cache;
}

async function done(file: string, kind: FileKind, text: string, raw: RawFinding[]): Promise<FileCheck> {
  if (raw.length === 0) return { file, kind, findings: [] };
  const at = await positions(text);
  const findings = raw.map(({ severity, path, atKey, message }): Finding => {
    const position = at(path, atKey);
    return { severity, file, ...(position ?? {}), ...(path.length > 0 ? { path: formatPath(path) } : {}), message };
  });
  findings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return { file, kind, findings };
}

/** An Any written inline (`"@type"` and the fields): its type resolved, then its message checked. */
function checkAny(ctx: WalkContext, json: unknown, path: Segment[]): void {
  if (!isObject(json)) {
    ctx.findings.push({ severity: 'error', path, message: json === null ? 'is null (a resource must be a mapping with an "@type")' : 'is not a mapping (a resource must be a mapping with an "@type")' });
    return;
  }
  const typeUrl = json['@type'];
  if (typeof typeUrl !== 'string' || typeUrl === '') {
    ctx.findings.push({ severity: 'error', path, message: 'has no "@type" (Envoy cannot decode it)' });
    return;
  }
  const desc = resolveType(ctx, typeUrl, [...path, '@type']);
  if (!desc) return;
  if (CUSTOM_JSON.has(desc.typeName)) {
    checkMessage(ctx, ctx.schema.any, json, path);
    return;
  }
  checkMessage(ctx, desc, json, path, true, true); // its "@type" key skipped, not copied away: fromJson ignores it as an unknown key
}

/** The message an `@type` names, or undefined after reporting why not (error, or newer type). */
function resolveType(ctx: WalkContext, typeUrl: string, path: Segment[]): DescMessage | undefined {
  const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const desc = ctx.schema.registry.getMessage(typeName);
  if (desc) return desc;
  const pkg = typeName.slice(0, typeName.lastIndexOf('.'));
  const version = ctx.schema.envoyVersion;
  if (ctx.schema.packages.has(pkg)) {
    const near = nearest(typeName, ctx.schema, pkg);
    ctx.findings.push({ severity: 'error', path, message: `unknown type "${typeName}": Envoy cannot find this @type${near ? ` (did you mean "${near}"?)` : ''}` });
  } else {
    ctx.findings.push({ severity: 'warning', path, message: `type "${typeName}" is not in the API of Envoy ${version} (this schema's version): not checked; Envoy ${version} and older refuse it` });
  }
  return undefined;
}

/** The closest message name of the same package (edit distance at most 3), for "did you mean". */
function nearest(typeName: string, schema: EnvoySchema, pkg: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const file of schema.registry.files) {
    if (file.proto.package !== pkg) continue;
    for (const message of file.messages) {
      const distance = editDistance(typeName, message.typeName);
      if (distance <= 3 && (!best || distance < best.distance)) best = { name: message.typeName, distance };
    }
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * Parses `json` as `desc` (unknown fields ignored, as Envoy does for dynamic resources); on
 * success walks it for rules and warnings, on failure locates the refused values. An Any of a type
 * newer than the schema is replaced by an empty Struct in a copy (warned about), and the copy checked.
 */
function checkMessage(ctx: WalkContext, desc: DescMessage, json: unknown, path: Segment[], retry = true, typed = false): void {
  let message: Message;
  try {
    message = fromJson(desc, json as never, { registry: ctx.schema.registry, ignoreUnknownFields: true });
  } catch (err) {
    const copy = structuredClone(json);
    const before = ctx.findings.length;
    locate(ctx, desc, copy, path, err);
    const errors = ctx.findings.slice(before).some((finding) => finding.severity === 'error');
    if (!errors && retry) checkMessage(ctx, desc, copy, path, false, typed);
    else if (!errors) ctx.findings.push({ severity: 'error', path, message: errorText(err) });
    return;
  }
  walkMessage(ctx, desc, message, json, path, typed);
}

const parses = (ctx: WalkContext, desc: DescMessage, json: unknown): unknown => {
  try {
    fromJson(desc, json as never, { registry: ctx.schema.registry, ignoreUnknownFields: true });
    return undefined;
  } catch (err) {
    return err;
  }
};

const EMPTY_ANY = { '@type': 'type.googleapis.com/google.protobuf.Struct', value: {} };

/** Finds the values `desc` refuses in `json` (which it may edit: newer types are blanked). */
function locate(ctx: WalkContext, desc: DescMessage, json: unknown, path: Segment[], err: unknown): void {
  if (desc.typeName === 'google.protobuf.Any' && isObject(json) && typeof json['@type'] === 'string') {
    const inner = resolveType(ctx, json['@type'], [...path, '@type']);
    if (!inner) {
      if (ctx.findings.at(-1)?.severity === 'warning') {
        for (const key of Object.keys(json)) Reflect.deleteProperty(json, key);
        Object.assign(json, structuredClone(EMPTY_ANY));
      }
      return;
    }
    if (CUSTOM_JSON.has(inner.typeName)) {
      ctx.findings.push({ severity: 'error', path: [...path, 'value'], message: errorText(err) });
      return;
    }
    const { '@type': _type, ...fields } = json;
    const innerErr = parses(ctx, inner, fields);
    if (innerErr) locate(ctx, inner, json, path, innerErr); // `json` keeps its @type key: unknown to `inner`, skipped
    return;
  }
  if (CUSTOM_JSON.has(desc.typeName) || !isObject(json)) {
    ctx.findings.push({ severity: 'error', path, message: errorText(err) });
    return;
  }
  const before = ctx.findings.length;
  for (const field of desc.fields) {
    const key = writtenKey(json, field);
    if (key === undefined) continue;
    const fieldErr = parses(ctx, desc, { [key]: json[key] });
    if (fieldErr) locateField(ctx, field, json[key], [...path, key], fieldErr);
  }
  if (ctx.findings.length === before) ctx.findings.push({ severity: 'error', path, message: errorText(err) }); // e.g. a oneof set twice
}

function locateField(ctx: WalkContext, field: DescField, value: unknown, path: Segment[], err: unknown): void {
  const parent = field.parent;
  const key = path.at(-1) as string;
  if (field.fieldKind === 'list' && Array.isArray(value)) {
    const before = ctx.findings.length;
    for (const [index, item] of value.entries()) {
      const itemErr = parses(ctx, parent, { [key]: [item] });
      if (!itemErr) continue;
      if (field.listKind === 'message') locate(ctx, field.message, item, [...path, index], itemErr);
      else ctx.findings.push({ severity: 'error', path: [...path, index], message: errorText(itemErr) });
    }
    if (ctx.findings.length === before) ctx.findings.push({ severity: 'error', path, message: errorText(err) });
    return;
  }
  if (field.fieldKind === 'map' && isObject(value)) {
    const before = ctx.findings.length;
    for (const [mapKey, item] of Object.entries(value)) {
      const itemErr = parses(ctx, parent, { [key]: { [mapKey]: item } });
      if (!itemErr) continue;
      if (field.mapKind === 'message') locate(ctx, field.message, item, [...path, mapKey], itemErr);
      else ctx.findings.push({ severity: 'error', path: [...path, mapKey], message: errorText(itemErr) });
    }
    if (ctx.findings.length === before) ctx.findings.push({ severity: 'error', path, message: errorText(err) });
    return;
  }
  if (field.fieldKind === 'message' && value !== null) {
    locate(ctx, field.message, value, path, err);
    return;
  }
  ctx.findings.push({ severity: 'error', path, message: errorText(err) });
}

// V8 reports "... in JSON at position N" (newer versions "(line L column C)").
function jsonErrorPosition(message: string, text: string): { line: number; column: number } | Record<string, never> {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  const offset = position ? Number(position[1]) : message.includes('end of JSON input') ? text.length : undefined;
  if (offset === undefined) return {};
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}
