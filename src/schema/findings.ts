// What a check reports, and where: the proto path of the value and its line/column in the file.
import type { Document, LineCounter } from 'yaml';

export type Severity = 'error' | 'warning';
/** A step of a path into the file's JSON value: a mapping key as written, or a list index. */
export type Segment = string | number;

export interface Finding {
  severity: Severity;
  file: string;
  /** 1-based, when the position is known. */
  line?: number;
  column?: number;
  /** The proto path, e.g. `resources[0].filter_chains[0].filters[0].typed_config.stream_idle_timeoutt`. */
  path?: string;
  message: string;
}

/** A finding before it has a position: `atKey` points at the mapping key rather than its value. */
export interface RawFinding {
  severity: Severity;
  path: Segment[];
  atKey?: boolean;
  message: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `resources[0].filter_chains[0].name`; keys that are not identifiers as `["key"]`. */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** One line for a terminal or a log: `file:line:column: error: path: message`. */
export function formatFinding(finding: Finding): string {
  const where = [finding.file, finding.line, finding.column].filter((part) => part !== undefined).join(':');
  return `${where}: ${finding.severity}: ${finding.path ? `${finding.path}: ` : ''}${finding.message}`;
}

interface YamlNode {
  range?: [number, number, number];
  items?: unknown[];
}
interface YamlPair {
  key: { value?: unknown; source?: string; range?: [number, number, number] } | null;
  value: unknown;
}

/**
 * Positions for findings, from the position-aware `yaml` parser (loaded only when a file has
 * findings: the check itself reads with js-yaml, several times faster). Returns a function giving
 * the 1-based line/column of a path, or of its nearest ancestor that exists in the document.
 */
export async function positions(text: string): Promise<(path: readonly Segment[], atKey?: boolean) => { line: number; column: number } | undefined> {
  const { LineCounter, parseDocument, isAlias, isMap, isSeq, isScalar } = await import('yaml');
  const lineCounter: LineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, uniqueKeys: false, strict: false });
  const pos = (node: YamlNode | null | undefined): { line: number; column: number } | undefined => {
    if (!node?.range) return undefined;
    const { line, col } = lineCounter.linePos(node.range[0]);
    return { line, column: col };
  };
  return (path, atKey = false) => {
    let node: unknown = doc.contents;
    let best = pos(node as YamlNode);
    for (const [index, segment] of path.entries()) {
      if (isAlias(node)) node = node.resolve(doc);
      const last = index === path.length - 1;
      if (typeof segment === 'number' && isSeq(node)) {
        node = node.items[segment];
      } else if (isMap(node)) {
        // The last pair with that key wins, as in Envoy's reader.
        const pair = [...(node.items as YamlPair[])].reverse().find((item) => {
          const key = isScalar(item.key) ? item.key.value : undefined;
          return (typeof key === 'string' || typeof key === 'number' || typeof key === 'boolean') && String(key) === String(segment);
        });
        if (!pair) return best;
        if (last && atKey) return pos(pair.key) ?? best;
        node = pair.value ?? pair.key;
      } else {
        return best;
      }
      best = pos(node as YamlNode) ?? best;
    }
    return best;
  };
}
