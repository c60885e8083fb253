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
  /** Held files → the ConfigMap the content was refused with (key → sha256 of its content). */
  private readonly refusedWith = new Map<string, ReadonlyMap<string, string>>();
  /** Held files → the other keys whose change could change the refusal (refusal-cause.ts); absent: any key. */
  private readonly dependsOn = new Map<string, ReadonlySet<string>>();
  /** Keys whose change cannot change Envoy's verdict: its bootstrap, which Envoy never reloads. */
  private readonly neverReloaded = new Set<string>();
  private releaseListener: ((name: string) => void) | undefined;

  /** `name` is Envoy's bootstrap: Envoy never reloads it, so a change to it releases no hold. */
  bootstrap(name: string): void {
    this.neverReloaded.add(name);
  }

  /** Whether a change to `key` can end a hold (not Envoy's bootstrap, which Envoy never reloads). */
  reloads(key: string): boolean {
    return !this.neverReloaded.has(key);
  }

  /** Called when `isHeld` sees other content and lets the hold go (the state file forgets the refusal). */
  onRelease(listener: (name: string) => void): void {
    this.releaseListener = listener;
  }

  /**
   * Holds `sha256` for `name` (after a rollback, or from the state file at start). `names`: the
   * files the refused content names; publishing one of them releases the hold (arrived).
   * `configMap`: the ConfigMap it was published from (key → sha256 of its content); the hold lasts
   * while the other keys keep that content (unknown: the first pass's ConfigMap counts).
   * `dependsOn`: the other keys whose change could change the refusal (refusal-cause.ts; undefined:
   * any); a change of another key, a file it names arriving, Envoy accepting another file release
   * it only for those (none: Envoy's refusal of the content alone, held until that key changes; a
   * refusal from another Pod's Envoy: held until that key changes or this Envoy judges it,
   * restored-holds.ts).
   */
  hold(name: string, sha256: string, fromStore = false, names: readonly string[] = [], configMap?: ReadonlyMap<string, string>, dependsOn?: readonly string[]): void {
    this.held.set(name, sha256);
    const deps = dependsOn === undefined ? undefined : new Set(dependsOn);
    if (deps === undefined) this.dependsOn.delete(name);
    else this.dependsOn.set(name, deps);
    const waits = names.filter((file) => deps?.has(file) !== false);
    if (configMap !== undefined) this.refusedWith.set(name, configMap);
    else this.refusedWith.delete(name);
    if (fromStore) this.fromStore.add(name);
    if (waits.length > 0) this.waitsFor.set(name, new Set(waits));
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
      if (!this.held.has(name)) continue;
      this.release(name);
      released.push(name);
    }
    return released;
  }

  /**
   * Envoy accepted a new version of `name`: every hold on another file that this Envoy refused
   * ends, so that content is tried again. Envoy's verdict on a file can depend on what the others
   * hold (a route naming a cluster only checks that Envoy knows the cluster,
   * `RouteEntryImplBase::validateClusters` in source/common/router/config_impl.cc), and the watcher
   * does not rebuild those links: any change Envoy took may make the refused content loadable.
   * Holds from another Pod's Envoy (`fromStore`) are left to `acceptedHere`; a refusal that does
   * not depend on `name` (`dependsOn`) stays. Returns the files released (the caller asks for a pass);
   * each is tried once per such change.
   */
  otherAccepted(name: string): string[] {
    const released: string[] = [];
    for (const held of [...this.held.keys()]) {
      if (held === name || this.fromStore.has(held) || this.dependsOn.get(held)?.has(name) === false) continue;
      this.release(held);
      released.push(held);
    }
    return released;
  }

  /** Whether any file is held now. */
  any(): boolean {
    return this.held.size > 0;
  }

  has(name: string): boolean {
    return this.held.has(name);
  }

  /**
   * Whether the syncer must not publish this content (sha256 of the stamped file) as `name`: Envoy
   * refused it. Asked for every file of every pass, with the whole ConfigMap (key → sha256 of its
   * content). Other content releases the hold: the ConfigMap no longer has the refused content
   * (fixed, or reverted), so that content may be tried again later. So does a change to another
   * key: Envoy refused this content next to the others' (a certificate next to its key, a route
   * next to the clusters), and its verdict on the new combination is Envoy's to give: a key of
   * those the refusal depends on (`dependsOn`), when it says.
   */
  isHeld(name: string, contentSha256: string, configMap?: ReadonlyMap<string, string>): boolean {
    const held = this.held.get(name);
    if (held === undefined) return false;
    if (held === contentSha256) {
      const refusedWith = this.refusedWith.get(name);
      if (configMap === undefined) return true;
      if (refusedWith === undefined) {
        this.refusedWith.set(name, configMap);
        return true;
      }
      const deps = this.dependsOn.get(name);
      if (!changedElsewhere(refusedWith, configMap, (key) => key !== name && !this.neverReloaded.has(key) && deps?.has(key) !== false)) return true;
    }
    this.release(name);
    return false;
  }

  /** Other content than the held one was published as `name`: the hold ends. */
  published(name: string, sha256: string): void {
    if (this.held.get(name) === sha256) return;
    this.held.delete(name);
    this.fromStore.delete(name);
    this.waitsFor.delete(name);
    this.refusedWith.delete(name);
    this.dependsOn.delete(name);
  }

  private release(name: string): void {
    this.held.delete(name);
    this.dependsOn.delete(name);
    this.fromStore.delete(name);
    this.waitsFor.delete(name);
    this.refusedWith.delete(name);
    this.releaseListener?.(name);
  }

  /**
   * This Envoy accepted `name`: a hold from another Pod's refusal ends, so that this Envoy judges the
   * ConfigMap's content once. Returns whether such a hold ended (the caller asks for a pass).
   */
  acceptedHere(name: string): boolean {
    const ended = this.fromStore.delete(name) && this.held.delete(name);
    if (ended) {
      this.waitsFor.delete(name);
      this.refusedWith.delete(name);
      this.dependsOn.delete(name);
    }
    return ended;
  }
}

/** Whether a key that `counts` was added, removed or changed between two ConfigMaps. */
function changedElsewhere(before: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>, counts: (key: string) => boolean): boolean {
  for (const [key, digest] of now) if (counts(key) && before.get(key) !== digest) return true;
  for (const key of before.keys()) if (counts(key) && !now.has(key)) return true;
  return false;
}
