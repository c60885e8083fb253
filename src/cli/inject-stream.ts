// The `inject` transformation of one multi-document YAML stream, fed in pieces as they are read,
// so memory holds a few documents, never the stream. Pure: text in, text and messages out.
//
// The yaml library's Parser and Composer parse incrementally, but a piece that ends inside a line
// can be misread (a plain scalar cut in two parses as two tokens: measured with yaml 2.9). So the
// parser is fed only up to the start of a `---` or `...` line: YAML forbids those at the start of a
// line inside any node (spec 1.2.2 §9.1.4 c-forbidden), so the text before one is whole documents.
// Documents that need no change are passed on byte for byte; injected ones are printed by
// inject-render.ts.
import { Composer, Parser } from 'yaml';
import type { Document } from 'yaml';
import type { InjectorConfig } from '../inject/index.js';
import { injectManifest } from '../inject/index.js';
import { describeDocument } from '../inject/manifest.js';
import { isObject } from '../inject/json.js';
import { documentValue, renderInjected, YAML_OPTIONS } from './inject-render.js';

/** Where the stream's output and messages go, in stream order. */
export interface StreamSink {
  /** Output text, to be written in order (only meaningful if no error was reported). */
  output(text: string): void;
  /** `FILE: document N (Kind/name): ...`, for stderr. */
  warning(message: string): void;
  /** `FILE: document N (Kind/name): ...`: the stream must not be written. */
  error(message: string): void;
}

/** What the stream held, once ended. */
export interface StreamSummary {
  /** Documents that are mappings with a string apiVersion and kind, as kubectl needs. */
  objects: number;
  /** 1-based indexes of non-empty documents that are not such objects (kubectl would refuse them). */
  notObjects: number[];
  errors: number;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const isKubernetesObject = (value: unknown): boolean =>
  isObject(value) && typeof value.apiVersion === 'string' && value.apiVersion !== '' && typeof value.kind === 'string' && value.kind !== '';

/** Stream offset of the start of the last `---`/`...` line in `text` (which starts at `offset`) after `from`, or -1. */
function lastMarkerLine(text: string, offset: number, from: number): number {
  let found = -1;
  for (const marker of ['\n---', '\n...']) {
    for (let i = text.indexOf(marker); i !== -1; i = text.indexOf(marker, i + 1)) {
      const after = text[i + 4];
      if ((after === ' ' || after === '\t' || after === '\r' || after === '\n') && offset + i + 1 > from) found = Math.max(found, offset + i + 1);
    }
  }
  return found;
}

export class ManifestStream {
  private readonly parser = new Parser();
  private readonly composer = new Composer(YAML_OPTIONS);
  /** Text handed to the parser and not yet passed on; starts at stream offset `textStart`. */
  private text = '';
  private textStart = 0;
  /** Text read but not yet handed to the parser (it may end inside a document). */
  private unfed: string[] = [];
  private unfedLength = 0;
  /** Last few characters read, so a marker split across two pieces is still found. */
  private tail = '';
  /** Newlines before `textStart`, for error line numbers. */
  private lines = 0;
  private index = 0;
  /** The last character passed on ('' before any). */
  private lastChar = '';
  private readonly summary: StreamSummary = { objects: 0, notObjects: [], errors: 0 };

  /** `name` labels messages (the file, or `stdin`). */
  constructor(
    private readonly config: InjectorConfig,
    private readonly name: string,
    private readonly sink: StreamSink,
  ) {}

  /** Adds the next piece of the stream; whole documents in it are processed before it returns. */
  push(piece: string): void {
    if (piece === '') return;
    const readSoFar = this.textStart + this.text.length + this.unfedLength;
    const probe = this.tail + piece;
    const marker = lastMarkerLine(probe, readSoFar - this.tail.length, this.textStart + this.text.length);
    this.unfed.push(piece);
    this.unfedLength += piece.length;
    this.tail = probe.slice(-4);
    if (marker === -1) return;
    const pending = this.unfed.join('');
    const cut = marker - (this.textStart + this.text.length);
    this.unfed = [pending.slice(cut)];
    this.unfedLength = pending.length - cut;
    this.feed(pending.slice(0, cut), true);
  }

  /** The end of the stream: processes what is left and returns what the stream held. */
  end(): StreamSummary {
    this.feed(this.unfed.join(''), false);
    this.unfed = [];
    this.unfedLength = 0;
    for (const doc of this.composer.end()) this.document(doc);
    this.emit(this.text);
    this.text = '';
    return this.summary;
  }

  private feed(text: string, incomplete: boolean): void {
    this.text += text;
    for (const token of this.parser.parse(text, incomplete)) {
      for (const doc of this.composer.next(token)) this.document(doc);
    }
  }

  private emit(text: string): void {
    if (text === '') return;
    this.lastChar = text.at(-1) ?? '';
    this.sink.output(text);
  }

  /** `at` (a stream offset inside `text`) as ` at line L, column C:` and the line, as the yaml library words it. */
  private position(at: number): string {
    const local = Math.max(0, Math.min(at - this.textStart, this.text.length));
    let line = this.lines + 1;
    for (let i = this.text.indexOf('\n'); i !== -1 && i < local; i = this.text.indexOf('\n', i + 1)) line++;
    const start = this.text.lastIndexOf('\n', local - 1) + 1;
    const endOfLine = this.text.indexOf('\n', local);
    const lineText = this.text.slice(start, endOfLine === -1 ? undefined : endOfLine).replace(/\r$/, '').slice(0, 80);
    const col = local - start + 1;
    return ` at line ${String(line)}, column ${String(col)}:\n\n${lineText}\n${' '.repeat(Math.min(col - 1, 80))}^\n`;
  }

  private document(doc: Document.Parsed): void {
    this.index++;
    const end = doc.range[2];
    const original = this.text.slice(0, end - this.textStart);
    const where = `${this.name}: document ${String(this.index)}`;
    try {
      this.process(doc, original, where);
    } finally {
      for (let i = original.indexOf('\n'); i !== -1; i = original.indexOf('\n', i + 1)) this.lines++;
      this.text = this.text.slice(original.length);
      this.textStart = end;
    }
  }

  private fail(message: string): void {
    this.summary.errors++;
    this.sink.error(message);
  }

  private process(doc: Document.Parsed, original: string, where: string): void {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) this.fail(`${where}: ${err.message}${this.position(err.pos[0])}`);
      return;
    }
    let value: unknown;
    try {
      value = documentValue(doc);
    } catch (err) {
      this.fail(`${where}: ${messageOf(err)}`);
      return;
    }
    if (isKubernetesObject(value)) this.summary.objects++;
    else if (value !== null && value !== undefined) this.summary.notObjects.push(this.index);
    const label = `${where} (${describeDocument(value)})`;
    // Anything unexpected still becomes this document's error line, never a crash.
    try {
      const result = injectManifest(value, this.config);
      for (const warning of result.warnings) this.sink.warning(`${label}: ${warning}`);
      if (result.decision === 'denied') this.fail(`${label}: ${result.message}`);
      if (result.decision !== 'injected') {
        this.emit(original);
        return;
      }
      const rendered = renderInjected(doc, original, value, result.document);
      const newline = this.lastChar === '' || this.lastChar === '\n' ? '' : '\n';
      const separator = this.index > 1 && !rendered.startsWith('---') ? '---\n' : '';
      this.emit(`${newline}${separator}${rendered}`);
    } catch (err) {
      this.fail(`${label}: envoy-xds-injector cannot inject this document: ${messageOf(err)}`);
    }
  }
}

export interface StreamResult {
  /** The injected stream; only meaningful when `errors` is empty. */
  output: string;
  errors: string[];
  warnings: string[];
}

/** The whole transformation of a stream held in memory (tests, small inputs). */
export function injectYamlStream(source: string, config: InjectorConfig, name: string): StreamResult {
  const result: StreamResult = { output: '', errors: [], warnings: [] };
  const chunks: string[] = [];
  const stream = new ManifestStream(config, name, {
    output: (text) => chunks.push(text),
    warning: (message) => result.warnings.push(message),
    error: (message) => result.errors.push(message),
  });
  stream.push(source);
  stream.end();
  result.output = chunks.join('');
  return result;
}
