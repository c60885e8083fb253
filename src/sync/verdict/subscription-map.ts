// Which published file Envoy reads, and as what, pure: learned from the files as they are published
// (the bootstrap declares LDS/CDS and the admin address; any file may name others by
// path_config_source, and a Secret the files it reads: envoy/references.ts). Without a bootstrap
// in the ConfigMap (Envoy's own, in the image), from the bootstrap Envoy loaded, as its admin API
// shows it (envoy/config-dump.ts PROCESS_START_AND_BOOTSTRAP_PATH); until Envoy has answered, a file's
// resource `@type` stands in for it. Which of Envoy's subscriptions (stats scopes) read a file is
// not rebuilt here: it is read from Envoy (attribution.ts), helped by the versions each file was
// published with.
import type { Reference, ReferenceType } from '../envoy/references.js';
import { findReferences } from '../envoy/references.js';
import { subscriptionOf } from '../envoy/gate.js';
import type { AdminAddress } from '../envoy/subscriptions.js';
import { bootstrapInfo, parseConfig } from '../envoy/subscriptions.js';
import { readOnceReaders } from '../publish/read-once.js';
import type { ReadOnceReader } from '../publish/read-once.js';
import type { PublishedFile } from '../publish/syncer.js';
import type { FileFacts, ScopeName } from './attribution.js';
import type { SubscriptionType } from '../envoy/stat-prefixes.js';
import { scopeRouteNames } from '../envoy/scoped-routes.js';

// Until Envoy's own bootstrap is known (Envoy has not answered yet), a file's kind is the type of
// its resources: the first @type in it that an xDS subscription reads (envoy/gate.ts subscriptionOf;
// an HttpConnectionManager's or a TLS context's @type is none), or the one an earlier content of
// the file showed when this one names none. A guess: a misspelt @type names no type, and a file
// nothing reads may hold Listeners.
const TYPE_URL = /type\.googleapis\.com\/([\w.]+)/g;

function guessedType(text: string): ReferenceType | undefined {
  for (const [, type] of text.matchAll(TYPE_URL)) {
    const subscription = subscriptionOf(type ?? '');
    if (subscription !== undefined) return subscription;
  }
  return undefined;
}

/** The xDS types a subscription judges (a `secret-file` is judged through its secret). */
const XDS_TYPES: readonly SubscriptionType[] = ['LDS', 'CDS', 'RDS', 'EDS', 'SDS', 'ECDS', 'SRDS', 'RTDS'];

const isSubscriptionType = (type: ReferenceType): type is SubscriptionType => (XDS_TYPES as readonly string[]).includes(type);

/** Where the files Envoy's own bootstrap names are kept in `declared`: a `..` name is never a ConfigMap key. */
const ENVOYS_BOOTSTRAP = "..Envoy's bootstrap";

export class SubscriptionMap {
  /** Files named by each file (the bootstrap, LDS files for RDS/ECDS/SDS, CDS files for EDS, SDS files for certificates). */
  private readonly declared = new Map<string, Reference[]>();
  private bootstrapFile: string | undefined;
  private bootstrap: { admin: AdminAddress | undefined; adminProblem?: string } | undefined;
  /** Without a bootstrap: the xDS type guessed from a file's resource @type (guessedType). */
  private readonly guessed = new Map<string, ReferenceType>();
  /** Envoy's bootstrap as its admin API last showed it (learnEnvoyBootstrap). */
  private envoysBootstrap: object | undefined;
  /** Whether Envoy's bootstrap is asked for (no bootstrap in the ConfigMap): until it answers, xDS files may be read. */
  private askingEnvoy = false;
  /** Files published as xDS (a top-level `resources`). */
  private readonly xds = new Set<string>();
  /** Every version each file was published with (each names exactly one content). */
  private readonly versions = new Map<string, Set<string>>();
  /** The route configurations the scopes of each file's published contents name (scoped-routes.ts), all versions: RDS scopes they opened. */
  private readonly scopeRoutes = new Map<string, Set<string>>();

  /** `bootstrapName`: base name of Envoy's bootstrap in the target (`--bootstrap`), if published there. */
  constructor(private readonly bootstrapName?: string) {}

  /**
   * Records what `name` declares (bootstrap: admin and the files it names; others: the files they
   * name) and the version it was published with, and returns its kind (`kind` when the syncer
   * already knows it, else guessed from the text).
   */
  learn(name: string, content: Buffer, kind?: PublishedFile['kind'], version?: string): PublishedFile['kind'] {
    const text = content.toString('utf8');
    if (version !== undefined) {
      const seen = this.versions.get(name) ?? new Set<string>();
      seen.add(version);
      this.versions.set(name, seen);
    }
    const isBootstrap = kind === 'bootstrap' || name === this.bootstrapName || (kind === undefined && /^(["']?)(dynamic_resources|static_resources)\1\s*:/m.test(text));
    if (isBootstrap) {
      // Envoy never reloads its bootstrap: the running Envoy keeps the admin address and LDS/CDS
      // files it started with, so verdicts follow the first bootstrap seen (the syncer already warns
      // that a changed one needs a restart, which restarts the watcher too).
      if (this.bootstrapFile === undefined) {
        this.bootstrapFile = name;
        const parsed = parseConfig(text);
        this.declared.set(name, findReferences(parsed));
        this.bootstrap = bootstrapInfo(parsed);
      }
      return 'bootstrap';
    }
    // Envoy's subscription reads its path whatever the file holds: a content that names no type it
    // reads (a misspelt @type, which Envoy refuses) keeps the type an earlier content showed.
    const guessed = guessedType(text);
    if (guessed !== undefined) this.guessed.set(name, guessed);
    // Only a file that points at other files declares anything; skip the parse otherwise.
    if (text.includes('route_configuration_name')) this.scopeRoutes.set(name, new Set([...(this.scopeRoutes.get(name) ?? []), ...scopeRouteNames(parseConfig(text))]));
    if (text.includes('path') || text.includes('filename')) this.declared.set(name, findReferences(parseConfig(text)));
    else this.declared.delete(name);
    const found = kind ?? (/^(["']?)resources\1\s*:/m.test(text) || text.includes('"resources"') ? 'xds' : 'data');
    if (found === 'xds') this.xds.add(name);
    else this.xds.delete(name);
    return found;
  }

  /** Whether the ConfigMap holds Envoy's bootstrap (else the watcher asks Envoy for its own: `askEnvoy`). */
  hasBootstrap(): boolean {
    return this.bootstrapFile !== undefined;
  }

  /** The watcher asks Envoy for its bootstrap; until it is known, every xDS file may be read (`mayBeRead`). */
  askEnvoy(): void {
    this.askingEnvoy = true;
  }

  /**
   * Records the files Envoy's own bootstrap names (`bootstrap`: its `dynamic_resources` and
   * `static_resources` as Envoy's config dump shows them); from then on, the resources' @type no
   * longer stands in for it. Returns the files read now that were not before (undefined: the same
   * bootstrap object as last time, nothing to do).
   */
  learnEnvoyBootstrap(bootstrap: object): string[] | undefined {
    if (bootstrap === this.envoysBootstrap) return undefined;
    const before = new Set(this.known());
    this.envoysBootstrap = bootstrap;
    this.declared.set(ENVOYS_BOOTSTRAP, findReferences(bootstrap));
    return this.known().filter((name) => !before.has(name));
  }

  /** Whether Envoy's bootstrap has been read from its admin API. */
  envoysBootstrapKnown(): boolean {
    return this.envoysBootstrap !== undefined;
  }

  /** The bootstrap's admin address, or why there is none. */
  bootstrapAdmin(): { admin: AdminAddress | undefined; problem: string | undefined } {
    if (this.bootstrap === undefined) {
      // Named but not learnt: not in the ConfigMap, or its text does not parse (the gate's line says why).
      const problem = this.bootstrapName === undefined ? 'no bootstrap in the ConfigMap (--bootstrap NAME) to read admin.address from' : `no bootstrap ${this.bootstrapName} (--bootstrap) published to read admin.address from: the ConfigMap has no such key, or its ${this.bootstrapName} does not parse (the line saying why names it)`;
      return { admin: undefined, problem };
    }
    return { admin: this.bootstrap.admin, problem: this.bootstrap.adminProblem };
  }

  /** Every file Envoy's configuration names, for the start-up log line. */
  list(): { file: string; type: ReferenceType }[] {
    const out: { file: string; type: ReferenceType }[] = [];
    for (const name of this.known()) for (const type of this.readAs(name)) out.push({ file: name, type });
    return out;
  }

  /** How Envoy reads `name`: the xDS types it is named as (LDS, RDS, ...; empty: not read as xDS). */
  readAs(name: string): Set<ReferenceType> {
    const out = new Set<ReferenceType>();
    const guess = this.guessed.get(name);
    if (this.bootstrapFile === undefined && this.envoysBootstrap === undefined && guess !== undefined) out.add(guess);
    for (const list of this.declared.values()) for (const ref of list) if (ref.file === name && isSubscriptionType(ref.type)) out.add(ref.type);
    return out;
  }

  /** Whether Envoy reads `name` through an xDS subscription (so it gets a verdict). */
  isRead(name: string): boolean {
    return this.readAs(name).size > 0;
  }

  /**
   * `isRead`, or an xDS file while Envoy's bootstrap is asked for and not known yet: whatever its
   * @type says (a misspelt one names none), Envoy's bootstrap may read it. Such a file waits for
   * Envoy's answer, which brings the bootstrap.
   */
  mayBeRead(name: string): boolean {
    return this.isRead(name) || (this.askingEnvoy && this.envoysBootstrap === undefined && this.bootstrapFile === undefined && this.xds.has(name));
  }

  /**
   * The files `name` names (its RDS/EDS/SDS/ECDS files, a secret's certificates), and for a file
   * read as SRDS the route file its scopes open RDS subscriptions on (references.ts `routes`).
   */
  names(name: string): string[] {
    const out = (this.declared.get(name) ?? []).map((ref) => ref.file);
    for (const list of this.declared.values()) for (const ref of list) if (ref.type === 'SRDS' && ref.file === name && ref.routes !== undefined) out.push(ref.routes);
    return [...new Set(out)];
  }

  /**
   * The files that name `name` (`names`: by path, or an SRDS file whose scopes read it), Envoy's
   * own bootstrap as `..Envoy's bootstrap`; empty when nothing names it.
   */
  namersOf(name: string): string[] {
    const out = new Set<string>();
    for (const [declaring, list] of this.declared) {
      for (const ref of list) {
        if (ref.file === name) out.add(declaring);
        if (ref.type === 'SRDS' && ref.routes === name) out.add(ref.file);
      }
    }
    out.delete(name);
    return [...out].sort();
  }

  /**
   * The resources the published files and the bootstrap ask `name` for (references.ts `resource`: a
   * route configuration, a secret, ...), by the xDS types in `types` (all by default); empty when
   * none says.
   */
  resourcesAskedOf(name: string, types: readonly ReferenceType[] = XDS_TYPES): Set<string> {
    const out = new Set<string>();
    for (const list of this.declared.values()) for (const ref of list) if (ref.file === name && ref.resource !== undefined && types.includes(ref.type)) out.add(ref.resource);
    return out;
  }

  /**
   * What the subscriptions reading `name` are named after, by type (attribution.ts ScopeName): an
   * EDS cluster's stats name (references.ts `statName`), else the resource asked for; for the
   * `rds_config_source` file of scoped routes, every route configuration a published content of
   * their SRDS file named (scoped-routes.ts: Envoy opens those on this file, whatever other RDS files exist).
   */
  scopeNamesOf(name: string): ScopeName[] {
    const out: ScopeName[] = [];
    for (const list of this.declared.values()) {
      for (const ref of list) {
        const named = ref.statName ?? ref.resource;
        const prefix = ref.statPrefix === undefined ? {} : { statPrefix: ref.statPrefix };
        if (ref.file === name && named !== undefined && isSubscriptionType(ref.type)) out.push({ type: ref.type, name: named, ...prefix });
        if (ref.type === 'SRDS' && ref.routes === name) for (const route of this.scopeRoutes.get(ref.file) ?? []) out.push({ type: 'RDS', name: route, ...prefix });
      }
    }
    return out;
  }

  /** The route configurations the scopes of SRDS file `srds` named, every published content (scope-route-missing.ts). */
  scopeRoutesOf(srds: string): ReadonlySet<string> {
    return this.scopeRoutes.get(srds) ?? new Set();
  }

  /** The SRDS files whose scopes open their RDS subscriptions on `file` (references.ts `routes`). */
  srdsNamersOf(file: string): string[] {
    return [...new Set([...this.declared.values()].flatMap((list) => list.filter((ref) => ref.type === 'SRDS' && ref.routes === file).map((ref) => ref.file)))];
  }

  /** The path Envoy uses for `name` (as the configuration writes it), else the name. */
  pathOf(name: string): string {
    for (const list of this.declared.values()) for (const ref of list) if (ref.file === name) return ref.path;
    return name;
  }

  /**
   * For a file a Secret reads (a certificate, a key): the files that hold such Secrets (their SDS
   * subscriptions judge it) and the certificate files of those Secrets (what Envoy serves once it
   * took the pair). Empty when no published Secret reads `name`.
   */
  secretReaders(name: string): { sdsFiles: string[]; certificates: string[] } {
    const sdsFiles = new Set<string>();
    const certificates = new Set<string>();
    for (const [declaring, list] of this.declared) {
      for (const ref of list) {
        if (ref.type !== 'secret-file' || ref.file !== name) continue;
        sdsFiles.add(declaring);
        for (const other of list) if (other.type === 'secret-file' && other.resource === ref.resource && other.field === 'certificate_chain') certificates.add(other.file);
      }
    }
    return { sdsFiles: [...sdsFiles], certificates: [...certificates] };
  }

  /** The certificate files of the Secrets `sdsFile` holds (what Envoy serves once it took them). */
  secretCertificates(sdsFile: string): string[] {
    return [...new Set((this.declared.get(sdsFile) ?? []).filter((ref) => ref.type === 'secret-file' && ref.field === 'certificate_chain').map((ref) => ref.file))];
  }

  /** The resources that read `name` once, when they are built (a Lua script's listener), and their files: publish/read-once.ts. */
  readOnceReaders(name: string): ReadOnceReader[] {
    return readOnceReaders(name, this.declared);
  }

  /** Every file some file published (or Envoy's bootstrap) names, read or not. */
  named(): string[] {
    return [...new Set([...this.declared.values()].flatMap((list) => list.map((ref) => ref.file)))];
  }

  /** What attribution needs of every file Envoy reads. */
  facts(): FileFacts[] {
    return this.known().map((name) => ({ name, readAs: this.readAs(name), versions: this.versions.get(name) ?? new Set<string>(), scopeNames: this.scopeNamesOf(name) }));
  }

  private known(): string[] {
    const names = new Set<string>([...this.versions.keys(), ...this.guessed.keys()]);
    for (const list of this.declared.values()) for (const ref of list) names.add(ref.file);
    return [...names].filter((name) => this.isRead(name)).sort();
  }
}
