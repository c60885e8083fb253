// Which of two readings of Envoy's counters Envoy answered first, pure. A poll round reads Envoy
// once and then judges every pending publish, awaiting IO in between (the lines of replaced
// publishes, Envoy's reasons, rollbacks): a pass may rename and be tracked meanwhile, with a
// baseline Envoy answered after the round's reading. Judged against that older reading, its
// counters look lower than the baseline's, which judge.ts takes for a scope counting from zero:
// every refusal since Envoy started became the new publish's (a full `npm test` on a loaded
// machine, test/envoy/plain-dir-bursts.test.ts: the burst's last good version judged rejected
// with "refusals 11" and rolled back).

/** What the order needs of a reading: performance.now() when its answer came (envoy/admin.ts; absent in readings built otherwise). */
interface Answered {
  answeredAt?: number;
}

/**
 * Whether `reading` was answered before `baseline` (both known): it holds nothing of the renames
 * after that baseline, and comparing them says nothing. False when either time is unknown.
 */
export function answeredBefore(reading: Answered | undefined, baseline: Answered | undefined): boolean {
  return reading?.answeredAt !== undefined && baseline?.answeredAt !== undefined && reading.answeredAt < baseline.answeredAt;
}
