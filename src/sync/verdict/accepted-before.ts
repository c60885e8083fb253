// A file a restarted watcher finds on disk as Envoy had accepted it: its verdict at start releases
// no refusal (Envoy took nothing new). Pure.
/**
 * Whether `pending`, found on disk at the watcher's start, is the content Envoy had accepted before
 * (`accepted`: the state's record before this verdict; by sha256, or by version in a record
 * written without it). Pure.
 */
export function acceptedBefore(pending: { foundAtStart?: boolean; sha256: string; version: string | undefined }, accepted: { version?: string; sha256?: string } | undefined): boolean {
  if (pending.foundAtStart !== true || accepted === undefined) return false;
  if (accepted.sha256 !== undefined) return accepted.sha256 === pending.sha256;
  return pending.version !== undefined && accepted.version === pending.version;
}
