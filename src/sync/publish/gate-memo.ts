// The gate's verdict on each file (envoy/gate.ts), remembered for the content it judged, and the
// ConfigMap as Envoy can see it. A key whose new content the gate refuses is not published: Envoy
// keeps reading what it read before, so for a hold on another file (verdict/holds.ts: the hold
// lasts while the other keys keep the content Envoy refused it with) nothing changed.
import { validateConfigFile } from '../envoy/gate.js';
import type { Validation } from '../envoy/gate.js';

export class GateMemo {
  /** File → the gate's verdict on the content of that sha256 (of the ConfigMap's content). */
  private readonly judged = new Map<string, { digest: string; validation: Validation }>();
  /** File → sha256 of the last content the gate let through. */
  private readonly passed = new Map<string, string>();

  constructor(private readonly bootstrapName: string | undefined) {}

  /** The gate's verdict on `source` (sha256 `digest`) as `name`; judged once per content. */
  async validate(name: string, source: Buffer, digest: string): Promise<Validation> {
    const memo = this.judged.get(name);
    if (memo?.digest === digest) return memo.validation;
    const validation = await validateConfigFile(name, source, this.bootstrapName);
    this.judged.set(name, { digest, validation });
    if (validation.ok) this.passed.set(name, digest);
    return validation;
  }

  /** Judges every file of `files` (key → content; `configMap` their sha256) not judged yet, then asPublished. */
  async judgeAll(files: ReadonlyMap<string, Buffer>, configMap: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    for (const [name, source] of files) {
      const digest = configMap.get(name);
      if (digest !== undefined) await this.validate(name, source, digest);
    }
    return this.asPublished(configMap);
  }

  /**
   * `configMap` (key → sha256 of its content) with each key the gate refused as the last content
   * it let through (what is published), or as is when it never let any through. Only keys already
   * judged (validate) are replaced.
   */
  asPublished(configMap: ReadonlyMap<string, string>): Map<string, string> {
    const out = new Map<string, string>();
    for (const [name, digest] of configMap) {
      const memo = this.judged.get(name);
      out.set(name, memo?.digest === digest && !memo.validation.ok ? (this.passed.get(name) ?? digest) : digest);
    }
    return out;
  }
}
