// Which reading of Envoy's counters a pass's files are judged against (the baseline, judge.ts).
// It must be Envoy's answer to a request sent after every earlier rename into the target and
// answered before the pass's first rename: then it holds everything Envoy counted for earlier
// renames and nothing for this pass's, whatever order Envoy handles the inotify events and the
// admin request in. A reading kept from an earlier verdict does not qualify: Envoy's counters move
// without a rename of ours too (a subscription created by another source of config, the
// `update_attempt` every FilesystemSubscriptionImpl::updateResourceInterest adds, every rename
// into a `watched_directory`, an Envoy restart), and proving none happened costs a request of its own.
// What can be gained is when the request goes: as soon as the watcher is told of a change, so
// Envoy answers while the pass reads, validates and stages, instead of after the first changed file.

/**
 * Where the pass's baseline comes from: `sent`, Envoy's answer to the request sent for this pass
 * when the watcher was told of the change, if nothing was renamed into the target since it was sent
 * (`sentAtRenames`: renames into the target then, undefined: none sent; `renamesNow`: just before
 * the pass's first rename); else `ask`: a request now, as it did not qualify.
 */
export function baselineSource(sentAtRenames: number | undefined, renamesNow: number): 'sent' | 'ask' {
  return sentAtRenames === renamesNow ? 'sent' : 'ask';
}
