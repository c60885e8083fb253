// Applies a JSON Patch to a parsed YAML document in place, so comments, quoting and key order
// survive, through any shape YAML tools write: aliases, anchors, merge keys (`<<`) and tags.
// The rule: a node is edited only where the patch's path reaches it, and only for that place.
// - An alias on the path is replaced by a copy of what it points to (expanded for that place only).
// - An anchored node on the path that aliases use gives its anchor to a copy made before the edit,
//   put where the first such alias was; later aliases then point to that copy. Every other user
//   keeps the anchor's value.
// - A key that a map only gets from a merge key becomes the map's own key, holding a copy of the
//   merged value; YAML gives a map's own keys precedence over merged ones (yaml.org/type/merge).
import type { Document, Node } from 'yaml';
import { isAlias, isCollection, isMap, isNode, isScalar, isSeq, Pair, visit } from 'yaml';
import type { YAMLMap, YAMLSeq } from 'yaml';

/** A JSON Patch operation as fast-json-patch's compare() emits them (add, replace, remove). */
export interface PatchOp {
  op: string;
  /** JSON Pointer segments, already unescaped. */
  path: string[];
  value?: unknown;
}

/** The patch cannot be expressed as an edit of the YAML tree (e.g. removing a merged key). */
export class UneditableYamlError extends Error {}

type Collection = YAMLMap | YAMLSeq;

const isMergeKey = (key: unknown): boolean =>
  isScalar(key) &&
  (key.value === '<<' || (typeof key.value === 'symbol' && key.value.description === '<<')) &&
  (key.type === undefined || key.type === 'PLAIN');

function keyText(doc: Document, key: unknown): string | undefined {
  const node = isAlias(key) ? key.resolve(doc) : key;
  if (isScalar(node)) return typeof node.value === 'symbol' ? undefined : String(node.value);
  return typeof node === 'string' || typeof node === 'number' ? String(node) : undefined;
}

function ownPair(doc: Document, map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((pair) => !isMergeKey(pair.key) && keyText(doc, pair.key) === key);
}

/** The value node `key` has in `map` through its merge keys only (first source wins), or undefined. */
function mergedValue(doc: Document, map: YAMLMap, key: string, seen = new Set<unknown>()): unknown {
  if (seen.has(map)) return undefined;
  seen.add(map);
  for (const pair of map.items) {
    if (!isMergeKey(pair.key)) continue;
    const value = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
    const sources = isSeq(value) ? value.items : [value];
    for (const item of sources) {
      const source = isAlias(item) ? item.resolve(doc) : item;
      if (!isMap(source)) continue;
      const own = ownPair(doc, source, key);
      if (own !== undefined) return own.value;
      const merged = mergedValue(doc, source, key, seen);
      if (merged !== undefined) return merged;
    }
  }
  return undefined;
}

/** A copy of a node for one place: aliases resolved at the top, no anchors (they stay on the original). */
function detachedCopy(doc: Document, value: unknown): unknown {
  const node = isAlias(value) ? value.resolve(doc) : value;
  if (!isNode(node)) return node;
  const copy = node.clone() as Node;
  visit(copy, {
    Node: (_key, n) => {
      if (!isAlias(n)) delete n.anchor;
    },
  });
  return copy;
}

/** Before `node` is edited: aliases that use its anchor keep the unedited value (see the file comment). */
function unshare(doc: Document, node: Node): void {
  if (isAlias(node) || node.anchor === undefined) return;
  const inside = new Set<unknown>();
  visit(node, { Node: (_key, n) => void inside.add(n) });
  let first: unknown;
  visit(doc, {
    Alias: (_key, alias) => {
      if (inside.has(alias) || alias.resolve(doc) !== node) return undefined;
      first = alias;
      return visit.BREAK;
    },
  });
  if (first === undefined) return;
  const copy = node.clone() as Node;
  visit(copy, {
    Node: (_key, n) => {
      if (n !== copy && !isAlias(n)) delete n.anchor;
    },
  });
  delete node.anchor;
  visit(doc, {
    Alias: (_key, alias) => (alias === first ? copy : undefined),
  });
}

/** The child of `parent` at `key`, made safe to edit for this place; undefined if there is none. */
function ownChild(doc: Document, parent: Collection, key: string): unknown {
  let child: unknown;
  if (isMap(parent)) {
    let pair = ownPair(doc, parent, key);
    if (pair === undefined) {
      const merged = mergedValue(doc, parent, key);
      if (merged === undefined) return undefined;
      pair = new Pair(doc.createNode(key), detachedCopy(doc, merged));
      parent.items.push(pair);
    } else if (isAlias(pair.value)) {
      pair.value = detachedCopy(doc, pair.value);
    }
    child = pair.value;
  } else {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= parent.items.length) return undefined;
    if (isAlias(parent.items[index])) parent.items[index] = detachedCopy(doc, parent.items[index]);
    child = parent.items[index];
  }
  if (isNode(child)) unshare(doc, child);
  return child;
}

function collectionAt(doc: Document, path: string[]): Collection {
  let node: unknown = doc.contents;
  if (isNode(node)) unshare(doc, node);
  for (const key of path) {
    if (!isCollection(node)) break;
    node = ownChild(doc, node, key);
  }
  if (!isMap(node) && !isSeq(node)) throw new UneditableYamlError(`no YAML collection at /${path.join('/')}`);
  return node;
}

/**
 * Applies `ops` to `doc` (mutated). New values are written as plain nodes (no anchors of their own).
 * Throws UneditableYamlError when an op's parent is not a collection, or when it removes a key the
 * map only has through a merge key (YAML cannot express that); the caller then re-renders instead.
 */
export function applyPatchToYaml(doc: Document, ops: PatchOp[]): void {
  for (const { op, path, value } of ops) {
    const key = path.at(-1);
    if (key === undefined) throw new UneditableYamlError(`${op} of the whole document`);
    const parent = collectionAt(doc, path.slice(0, -1));
    const node = (): unknown => doc.createNode(value, { aliasDuplicateObjects: false });
    if (isMap(parent)) {
      const pair = ownPair(doc, parent, key);
      if (op === 'remove') {
        if (pair === undefined) throw new UneditableYamlError(`cannot remove /${path.join('/')}: not an own key of its map`);
        parent.items.splice(parent.items.indexOf(pair), 1);
      } else if (pair !== undefined) pair.value = node();
      else parent.items.push(new Pair(doc.createNode(key), node()));
      continue;
    }
    const index = key === '-' ? parent.items.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.items.length) {
      throw new UneditableYamlError(`index ${key} is out of range at /${path.join('/')}`);
    }
    if (op === 'add') parent.items.splice(index, 0, node());
    else if (op === 'replace') parent.items[index] = node();
    else if (op === 'remove') parent.items.splice(index, 1);
  }
}
