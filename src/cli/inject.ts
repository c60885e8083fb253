// `inject -f FILE|-`: the webhook's injection, offline, over a multi-document YAML stream (what
// `kubectl apply -f` takes). Documents that need no change are copied byte for byte; injected ones
// are edited in place in the YAML tree (through aliases, anchors and merge keys: yaml-edit.ts), so
// comments and key order survive. Any YAML error, denial or unexpected failure prints nothing on
// stdout (a half-injected stream piped into kubectl would be worse) and one
// `error: FILE: document N (Kind/name): ...` line per document on stderr.
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import jsonPatch from 'fast-json-patch';
import { Document, isCollection, parseAllDocuments } from 'yaml';
import type { InjectorConfig } from '../inject/index.js';
import { injectManifest } from '../inject/index.js';
import { describeDocument } from '../inject/manifest.js';
import { applyPatchToYaml, UneditableYamlError } from './yaml-edit.js';
import { configFromFlags, injectorConfigFlags, InvalidConfigError, loadInjectorConfig } from './config.js';
import type { Command } from './context.js';
import { parseFlags, UsageError } from './context.js';

const USAGE = `Usage: envoy-xds-injector inject -f FILE|- [--config F] [config flags]

Injects every pod template annotated with envoy-xds-injector.io/inject: "true" in the Pods,
Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs (and Lists of them) of a
multi-document YAML stream, and prints the stream on stdout. Other documents pass through
unchanged. Exits 1, printing nothing on stdout, if a document is not valid YAML or is denied.

Flags:
  -f, --file FILE|-         the manifest to read ('-' reads stdin)
      --config FILE         injector config (YAML or JSON), as given to 'serve'
      --image, --image-pull-policy, --mount-path, --sidecar,
      --cpu-request, --memory-request, --memory-limit, --cpu-limit
                            override single config keys
`;

export interface StreamResult {
  /** The injected stream; only meaningful when `errors` is empty. */
  output: string;
  errors: string[];
  warnings: string[];
}

// kubectl parses manifests as YAML 1.1 (go-yaml): `0644` is octal, `<<` merges, `yes` is a bool.
const YAML_OPTIONS = { version: '1.1', prettyErrors: true } as const;

/** JSON Pointer segments of a patch path (`~1` is `/`, `~0` is `~`, RFC 6901). */
function pointerSegments(path: string): string[] {
  return path.split('/').slice(1).map(jsonPatch.unescapePathComponent);
}

/** The document's value as `inject` sees it; aliases are limited as in kubectl's parser. */
const documentValue = (doc: Document): unknown => doc.toJS({ maxAliasCount: 100 });

function sameValue(text: string, expected: unknown): boolean {
  const reparsed = parseAllDocuments(text, YAML_OPTIONS);
  const [doc] = reparsed;
  return reparsed.length === 1 && doc?.errors.length === 0 && isDeepStrictEqual(documentValue(doc), expected);
}

/**
 * The injected document as YAML, edited through the same patch the webhook would send so the
 * rest of the document keeps its comments, quoting and key order, through aliases, anchors and
 * merge keys (yaml-edit.ts). Falls back to printing the whole document afresh if that edit cannot
 * be made or does not read back as exactly the injected object. Throws if neither does.
 */
function renderInjected(doc: Document, sourceText: string, original: unknown, injected: object): string {
  // A JSON document (`kubectl get -o json`) stays JSON, which is also valid YAML.
  if (isCollection(doc.contents) && doc.contents.flow === true) {
    const json = `${JSON.stringify(injected, null, 2)}\n`;
    if (sameValue(json, injected)) return json;
  }
  // Keep kubectl's `key:\n- item` list style if the document used it; never fold the long status line.
  const indentSeq = !/^( *)[^\s#-][^\n]*:[ \t]*\n\1- /m.test(sourceText);
  const print = (d: Document): string => d.toString({ lineWidth: 0, indentSeq, flowCollectionPadding: false });
  try {
    const edited = doc.clone();
    const ops = jsonPatch.compare(original as object, injected).map((op) => ({ ...op, path: pointerSegments(op.path) }));
    applyPatchToYaml(edited, ops);
    const text = print(edited);
    if (sameValue(text, injected)) return text;
  } catch (err) {
    if (!(err instanceof UneditableYamlError || err instanceof ReferenceError)) throw err;
  }
  const text = print(new Document(injected, { ...YAML_OPTIONS, aliasDuplicateObjects: false }));
  if (!sameValue(text, injected)) throw new Error('the injected document does not print as YAML that reads back the same');
  return text;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Pure: the whole `inject` transformation of one YAML stream. `name` labels messages. */
export function injectYamlStream(source: string, config: InjectorConfig, name: string): StreamResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  let output = '';
  let consumed = 0;
  parseAllDocuments(source, YAML_OPTIONS).forEach((doc, i) => {
    const end = doc.range[2];
    const original = source.slice(consumed, end);
    consumed = end;
    const label = (document: unknown): string => `${name}: document ${i + 1} (${describeDocument(document)})`;
    if (doc.errors.length > 0) {
      errors.push(...doc.errors.map((err) => `${name}: document ${i + 1}: ${err.message}`));
      return;
    }
    let value: unknown;
    try {
      value = documentValue(doc);
    } catch (err) {
      errors.push(`${name}: document ${i + 1}: ${messageOf(err)}`);
      return;
    }
    // Anything unexpected still becomes this document's error line, never a crash.
    try {
      const result = injectManifest(value, config);
      warnings.push(...result.warnings.map((warning) => `${label(value)}: ${warning}`));
      if (result.decision === 'denied') errors.push(`${label(value)}: ${result.message}`);
      if (result.decision !== 'injected') {
        output += original;
        return;
      }
      const rendered = renderInjected(doc, original, value, result.document);
      const separator = i > 0 && !rendered.startsWith('---') ? '---\n' : '';
      output += `${output === '' || output.endsWith('\n') ? '' : '\n'}${separator}${rendered}`;
    } catch (err) {
      errors.push(`${label(value)}: envoy-xds-injector cannot inject this document: ${messageOf(err)}`);
    }
  });
  return { output: output + source.slice(consumed), errors, warnings };
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}


export const inject: Command = async (args, ctx) => {
  const flags = parseFlags(args, {
    file: { type: 'string', short: 'f' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    ...injectorConfigFlags,
  });
  if (flags.help === true) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const file = flags.file;
  if (file === undefined) throw new UsageError(`-f FILE (or -f - for stdin) is required\n\n${USAGE}`);

  let config: InjectorConfig;
  let source: string;
  try {
    config = await loadInjectorConfig(flags.config, ctx.version, configFromFlags(flags));
    source = file === '-' ? await readAll(ctx.stdin) : await readFile(file, 'utf8');
  } catch (err) {
    if (!(err instanceof InvalidConfigError) && !(err as NodeJS.ErrnoException).code) throw err;
    const message = (err as NodeJS.ErrnoException).code === 'EISDIR'
      ? `${file} is a directory: -f takes one file or '-' (e.g. kubectl kustomize ${file} | envoy-xds-injector inject -f -, or cat ${file}/*.yaml | envoy-xds-injector inject -f -)`
      : err instanceof Error ? err.message : String(err);
    ctx.stderr.write(`envoy-xds-injector inject: ${message}\n`);
    return 1;
  }

  const label = file === '-' ? 'stdin' : file;
  let result: StreamResult;
  try {
    result = injectYamlStream(source, config, label);
  } catch (err) {
    // Never a stack trace, and never anything but YAML on stdout.
    ctx.stderr.write(`error: ${label}: ${messageOf(err)}\n`);
    return 1;
  }
  for (const warning of result.warnings) ctx.stderr.write(`Warning: ${warning}\n`);
  if (result.errors.length > 0) {
    for (const error of result.errors) ctx.stderr.write(`error: ${error}\n`);
    return 1;
  }
  ctx.stdout.write(result.output);
  return 0;
};
