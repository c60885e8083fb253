// Pods reach us as parsed JSON or YAML of any shape (the apiserver validates after mutating
// webhooks run), so the rules read them as unknown data through these guards.
import { Denial } from './denial.js';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The list at `object[key]`: absent or null is an empty list; anything else that is not a list is a denial. */
export function listAt(object: JsonObject, key: string, where: string): unknown[] {
  const value = object[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Denial(`${where} must be a list, got ${typeof value}`);
  return value as unknown[];
}

/** The `name` of a list entry, if it is an object with a string name. */
export function nameOf(entry: unknown): string | undefined {
  return isObject(entry) && typeof entry.name === 'string' ? entry.name : undefined;
}
