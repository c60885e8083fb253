// What `watch` holds back, pure: content (sha256 of what watch would publish) Envoy refused is
// not republished until the ConfigMap changes; the last accepted version stays on disk. A hold that
// came from another Pod's Envoy (`copy` started from the last-accepted store, state `fromStore`)
// lasts only until this Envoy runs the accepted version; then this Envoy judges the content once.
// No IO: the tracker (tracker.ts) keeps the state file in step through `onRelease`.

export class Holds {
  /** file → sha256 of content Envoy refused. */
  private readonly held = new Map<string, string>();
  /** Held files whose refusal came from another Pod's Envoy. */
  private readonly fromStore = new Set<string>();
  /** Held files → the files their refused content names (a refusal for a missing file is retried once it arrives). */
  private readonly waitsFor = new Map<string, ReadonlySet<string>>();
  private releaseListener: ((name: string) => void) | undefined;

  /** Called when `isHeld` sees other content and lets the hold go (the state file forgets the refusal). */
  onRelease(listener: (name: string) => void): void {
    this.releaseListener = listener;
  }

  /**
   * Holds `sha256` for `name` (after a rollback, or from the state file at start). `names`: the
   * files the refused content names; publishing one of them releases the hold (arrived).
   */
  hold(name: string, sha256: string, fromStore = false, names: readonly string[] = []): void {
    this.held.set(name, sha256);
    if (fromStore) this.fromStore.add(name);
    if (names.length > 0) this.waitsFor.set(name, new Set(names));
    else this.waitsFor.delete(name);
  }

  /**
   * Files were published: holds on content that names one of them end, so that content is tried
   * again (Envoy refuses a file naming a path that does not exist yet; it may take it now).
   * Returns the files released (the caller asks for a pass).
   */
  arrived(published: readonly string[]): string[] {
    const released: string[] = [];
    for (const [name, names] of this.waitsFor) {
      if (!published.some((file) => names.has(file))) continue;
      this.waitsFor.delete(name);
      if (!this.held.delete(name)) continue;
      this.fromStore.delete(name);
      released.push(name);
      this.releaseListener?.(name);
    }
    return released;
  }

  /**
   * Envoy accepted a new version of `name`: every hold on another file that this Envoy refused
   * ends, so that content is tried again. Envoy's verdict on a file can depend on what the others
   * hold (a route naming a cluster only checks that Envoy knows the cluster,
   * `RouteEntryImplBase::validateClusters` in source/common/router/config_impl.cc), and the watcher
   * does not rebuild those links: any change Envoy took may make the refused content loadable.
   * Holds from another Pod's Envoy (`fromStore`) are left to `acceptedHere`. Returns the files
   * released (the caller asks for a pass); each is tried once per such change.
   */
  otherAccepted(name: string): string[] {
    const released: string[] = [];
    for (const held of [...this.held.keys()]) {
      if (held === name || this.fromStore.has(held)) continue;
      this.held.delete(held);
      this.waitsFor.delete(held);
      released.push(held);
      this.releaseListener?.(held);
    }
    return released;
  }

  has(name: string): boolean {
    return this.held.has(name);
  }

  /**
   * Whether the syncer must not publish this content (sha256 of the stamped file) as `name`: Envoy
   * refused it. Asked for every file of every pass; other content releases the hold: the ConfigMap
   * no longer has the refused content (fixed, or reverted), so that content may be tried again
   * later (e.g. once what it depended on exists).
   */
  isHeld(name: string, contentSha256: string): boolean {
    const held = this.held.get(name);
    if (held === undefined) return false;
    if (held === contentSha256) return true;
    this.held.delete(name);
    this.fromStore.delete(name);
    this.waitsFor.delete(name);
    this.releaseListener?.(name);
    return false;
  }

  /** Other content than the held one was published as `name`: the hold ends. */
  published(name: string, sha256: string): void {
    if (this.held.get(name) === sha256) return;
    this.held.delete(name);
    this.fromStore.delete(name);
    this.waitsFor.delete(name);
  }

  /**
   * This Envoy accepted `name`: a hold from another Pod's refusal ends, so that this Envoy judges the
   * ConfigMap's content once. Returns whether such a hold ended (the caller asks for a pass).
   */
  acceptedHere(name: string): boolean {
    return this.fromStore.delete(name) && this.held.delete(name);
  }
}
