// How `inject` prints one injected document: the parsed YAML tree edited by the same patch the
// webhook would send (yaml-edit.ts), so comments, quoting and key order survive; a JSON document
// stays JSON. Where the edit is intricate (anchors, aliases, merge keys, tags) or the text is
// printed afresh, the printed text is read back and must be exactly the injected object. A plain
// document is not read back: that doubled the time of `inject` (the injected text is about twice
// the original), and test/unit/inject-yaml-stream.test.ts checks the same on generated documents.
import { isDeepStrictEqual } from 'node:util';
import jsonPatch from 'fast-json-patch';
import { Document, isCollection, parseAllDocuments } from 'yaml';
import { applyPatchToYaml, UneditableYamlError } from './yaml-edit.js';

// kubectl parses manifests as YAML 1.1 (go-yaml): `0644` is octal, `<<` merges, `yes` is a bool.
export const YAML_OPTIONS = { version: '1.1', prettyErrors: true } as const;

/** JSON Pointer segments of a patch path (`~1` is `/`, `~0` is `~`, RFC 6901). */
function pointerSegments(path: string): string[] {
  return path.split('/').slice(1).map(jsonPatch.unescapePathComponent);
}

/** The document's value as `inject` sees it; aliases are limited as in kubectl's parser. */
export const documentValue = (doc: Document): unknown => doc.toJS({ maxAliasCount: 100 });

function sameValue(text: string, expected: unknown): boolean {
  const reparsed = parseAllDocuments(text, { version: '1.1', prettyErrors: false });
  const [doc] = reparsed;
  return reparsed.length === 1 && doc?.errors.length === 0 && isDeepStrictEqual(documentValue(doc), expected);
}

/** Text that may hold an anchor (&), alias (*), tag (!) or merge key (<<); a conservative test. */
const MAY_SHARE_NODES = /[&*!]|<</;

// kubectl's `key:\n- item` list style: a key line followed by a `- ` line at the same indent.
const KUBECTL_SEQ_STYLE = /^( *)[^\s#-][^\n]*:[ \t]*\n\1- /m;

/**
 * The injected document as YAML. `doc` is edited in place (the caller no longer needs it);
 * `sourceText` is its original text, `original` its value, `injected` the injection's result.
 * Falls back to printing the whole document afresh if the edit cannot be made or does not read
 * back as exactly the injected object. Throws if neither does.
 */
export function renderInjected(doc: Document, sourceText: string, original: unknown, injected: object): string {
  if (isCollection(doc.contents) && doc.contents.flow === true) {
    const json = `${JSON.stringify(injected, null, 2)}\n`;
    if (sameValue(json, injected)) return json;
  }
  // Keep kubectl's list style if the document used it; never fold the long status line.
  const indentSeq = !KUBECTL_SEQ_STYLE.test(sourceText);
  const print = (d: Document): string => d.toString({ lineWidth: 0, indentSeq, flowCollectionPadding: false });
  try {
    const ops = jsonPatch.compare(original as object, injected).map((op) => ({ ...op, path: pointerSegments(op.path) }));
    applyPatchToYaml(doc, ops);
    const text = print(doc);
    if (!MAY_SHARE_NODES.test(sourceText) || sameValue(text, injected)) return text;
  } catch (err) {
    if (!(err instanceof UneditableYamlError || err instanceof ReferenceError)) throw err;
  }
  const text = print(new Document(injected, { ...YAML_OPTIONS, aliasDuplicateObjects: false }));
  if (!sameValue(text, injected)) throw new Error('the injected document does not print as YAML that reads back the same');
  return text;
}
