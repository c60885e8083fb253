// Reading the shipped manifests the way kubectl does: YAML 1.1 (octal 0440, yes/no booleans), every
// document of a multi-document file, kustomizations as plain data.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const repo = fileURLToPath(new URL('../../', import.meta.url));
export const manifests = join(repo, 'manifests');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** All documents of a YAML file, parsed as YAML 1.1 like kubectl; throws on any YAML error. */
export function loadYaml(path: string, version: '1.1' | '1.2' = '1.1'): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { version, uniqueKeys: true });
  return docs
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

export function loadObjects(path: string): K8sObject[] {
  return loadYaml(path).map((doc) => {
    const obj = doc as Partial<K8sObject>;
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new Error(`${path}: a document without apiVersion, kind or metadata.name`);
    }
    return obj as K8sObject;
  });
}

export interface Kustomization {
  apiVersion: string;
  kind: 'Kustomization' | 'Component';
  namespace?: string;
  resources?: string[];
  components?: string[];
  patches?: { path?: string; patch?: string; target?: Record<string, string> }[];
  configMapGenerator?: { name: string; namespace?: string; files?: string[] }[];
  secretGenerator?: {
    name: string;
    namespace?: string;
    type?: string;
    files?: string[];
    options?: { disableNameSuffixHash?: boolean };
  }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

export function loadKustomization(dir: string): Kustomization {
  const [doc] = loadYaml(join(dir, 'kustomization.yaml'));
  return doc as Kustomization;
}

/** The one object of `kind` (and `name`, if given) among `objects`; fails loudly otherwise. */
export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  const [first] = found;
  if (first === undefined || found.length > 1) {
    throw new Error(`expected one ${kind}${name === undefined ? '' : `/${name}`}, found ${found.length}`);
  }
  return first;
}

/** `only`, untyped, for a cast to the client-node type of that kind. */
export function onlyWire(objects: K8sObject[], kind: string, name?: string): unknown {
  return only(objects, kind, name);
}
