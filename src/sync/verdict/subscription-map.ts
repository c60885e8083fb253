// Which published file feeds which of Envoy's file subscriptions, pure: learned from the files as
// they are published (the bootstrap declares LDS/CDS and the admin address; LDS/CDS files declare
// RDS/EDS/SDS files in turn, envoy/subscriptions.ts). Without a bootstrap, a file's resource
// `@type` tells LDS from CDS.
import type { AdminAddress, Subscription, XdsType } from '../envoy/subscriptions.js';
import { bootstrapInfo, findSubscriptions, parseConfig } from '../envoy/subscriptions.js';
import type { PublishedFile } from '../publish/syncer.js';

// An LDS file holds Listeners, a CDS file Clusters (an HttpConnectionManager's @type is envoy.extensions...).
const GUESS = /type\.googleapis\.com\/envoy\.config\.(listener\.v3\.Listener|cluster\.v3\.Cluster)\b/;

export class SubscriptionMap {
  /** Subscriptions declared by each file (the bootstrap, LDS files for RDS, CDS files for EDS). */
  private readonly declared = new Map<string, Subscription[]>();
  private bootstrapFile: string | undefined;
  private bootstrap: { admin: AdminAddress | undefined; adminProblem?: string } | undefined;
  /** Without a bootstrap: LDS/CDS guessed from a file's resource @type. */
  private readonly guessed = new Map<string, Subscription>();

  /** `bootstrapName`: base name of Envoy's bootstrap in the target (`--bootstrap`), if published there. */
  constructor(private readonly bootstrapName?: string) {}

  /**
   * Records what `name` declares (bootstrap: admin and subscriptions; LDS/CDS: nested ones) and
   * returns its kind (`kind` when the syncer already knows it, else guessed from the text).
   */
  learn(name: string, content: Buffer, kind?: PublishedFile['kind']): PublishedFile['kind'] {
    const text = content.toString('utf8');
    const isBootstrap = kind === 'bootstrap' || name === this.bootstrapName || (kind === undefined && /^(["']?)(dynamic_resources|static_resources)\1\s*:/m.test(text));
    if (isBootstrap) {
      // Envoy never reloads its bootstrap: the running Envoy keeps the admin address and LDS/CDS
      // files it started with, so verdicts follow the first bootstrap seen (the syncer already warns
      // that a changed one needs a restart, which restarts the watcher too).
      if (this.bootstrapFile === undefined) {
        this.bootstrapFile = name;
        this.declared.set(name, findSubscriptions(parseConfig(text)));
        this.bootstrap = bootstrapInfo(parseConfig(text));
      }
      return 'bootstrap';
    }
    const type = GUESS.exec(text)?.[1];
    if (type === undefined) this.guessed.delete(name);
    else this.guessed.set(name, type.startsWith('listener') ? { type: 'LDS', file: name, path: name, statPrefix: 'listener_manager.lds' } : { type: 'CDS', file: name, path: name, statPrefix: 'cluster_manager.cds' });
    // Only an xDS file that points at other files declares anything; skip the parse otherwise.
    if (text.includes('path_config_source')) this.declared.set(name, findSubscriptions(parseConfig(text)));
    else this.declared.delete(name);
    return kind ?? (/^(["']?)resources\1\s*:/m.test(text) || text.includes('"resources"') ? 'xds' : 'data');
  }

  /** The bootstrap's admin address, or why there is none. */
  bootstrapAdmin(): { admin: AdminAddress | undefined; problem: string | undefined } {
    if (this.bootstrap === undefined) return { admin: undefined, problem: 'no bootstrap in the ConfigMap (--bootstrap NAME) to read admin.address from' };
    return { admin: this.bootstrap.admin, problem: this.bootstrap.adminProblem };
  }

  /** Every subscription known, for the start-up log line. */
  list(): { file: string; type: XdsType; statPrefix: string }[] {
    return [...this.declared.values()].flat().map(({ file, type, statPrefix }) => ({ file, type, statPrefix }));
  }

  /** The subscriptions fed by `name`, from the bootstrap and the published LDS/CDS files. */
  of(name: string): Subscription[] {
    const out: Subscription[] = [];
    const guess = this.guessed.get(name);
    if (this.bootstrapFile === undefined && guess !== undefined) out.push(guess);
    for (const list of this.declared.values()) for (const s of list) if (s.file === name && !out.some((o) => o.statPrefix === s.statPrefix)) out.push(s);
    return out;
  }
}
