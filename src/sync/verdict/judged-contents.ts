// What the watcher knows Envoy did with each content of a file (superseded-fate.ts KnownContents):
// the content it last accepted (state.ts), and the contents judged since a pass last published
// another file, by a verdict or a replaced publish settled. A file subscription judges a content
// alike at each read (FilesystemSubscriptionImpl::refresh parses the file and hands it to the same
// callbacks every time), as long as nothing else Envoy reads changed: a publish of any other file,
// or a refusal of one (it may be rolled back), forgets what was learnt, and a content published
// before such a change is not learnt (an RDS content may be refused once a cluster it names is gone).

/** Contents remembered per file (the oldest forgotten first). */
const REMEMBERED = 16;

export class JudgedContents {
  /** File → sha256 of a content → how Envoy judged it. */
  private readonly byFile = new Map<string, Map<string, 'accepted' | 'refused'>>();
  /** File → performance.now() of its last change (a publish, a refusal that may be rolled back). */
  private readonly changedAt = new Map<string, number>();

  /** `lastAccepted`: the sha256 of the content of a file Envoy last accepted (state.ts). */
  constructor(private readonly lastAccepted: (file: string) => string | undefined) {}

  /** `names` changed at `at` (performance.now()): what was learnt of every other file no longer holds. */
  changed(names: readonly string[], at: number): void {
    for (const name of names) this.changedAt.set(name, Math.max(at, this.changedAt.get(name) ?? at));
    for (const file of [...this.byFile.keys()]) if (names.some((name) => name !== file)) this.byFile.delete(file);
  }

  /** Envoy judged this content of `file`, renamed at `publishedAt` (performance.now()), so; not learnt when another file changed since. */
  learn(file: string, sha256: string, judgement: 'accepted' | 'refused', publishedAt: number): void {
    for (const [name, at] of this.changedAt) if (name !== file && at >= publishedAt) return;
    const known = this.byFile.get(file) ?? new Map<string, 'accepted' | 'refused'>();
    known.delete(sha256);
    known.set(sha256, judgement);
    const oldest = known.keys().next().value;
    if (known.size > REMEMBERED && oldest !== undefined) known.delete(oldest);
    this.byFile.set(file, known);
  }

  /** What is known of the contents of `file` (a copy, for one decision to add to). */
  of(file: string): Map<string, 'accepted' | 'refused'> {
    const accepted = this.lastAccepted(file);
    const known = new Map<string, 'accepted' | 'refused'>(accepted === undefined ? [] : [[accepted, 'accepted']]);
    for (const [sha256, judgement] of this.byFile.get(file) ?? []) known.set(sha256, judgement);
    return known;
  }
}
