// Envoy as the oracle: which files does Envoy 1.40's `path_config_source` loader accept? One Envoy
// per file extension (Envoy picks its parser by extension: .yaml/.yml → yaml-cpp, anything else →
// protobuf's JSON parser), each file renamed onto the watched LDS path in turn, the verdict read
// from the subscription's counters (filesystem_subscription_impl.cc: every refresh bumps
// update_attempt and then exactly one of update_success, update_rejected, update_failure).
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { bootstrapYaml, freePorts, ldsYaml, startEnvoy, waitFor, type EnvoyProcess } from './envoy.js';

export type EnvoyVerdict = 'accepted' | 'rejected' | 'failed';

/** The listener port a corpus file uses; replaced by a free port before Envoy sees the file. */
export const CORPUS_PORT = '18080';

const OUTCOMES = ['update_success', 'update_rejected', 'update_failure'] as const;

async function outcomes(envoy: EnvoyProcess, prefix: string): Promise<number[]> {
  const stats = await envoy.stats(`^${prefix.replace(/[.]/g, '\\.')}\\.`);
  return OUTCOMES.map((name) => stats.get(`${prefix}.${name}`) ?? 0);
}

/**
 * Renames `content` onto Envoy's watched LDS file and returns how the subscription counted it:
 * `accepted` (update_success), `rejected` (update_rejected: decoded, refused by the listener
 * manager or an unknown field) or `failed` (update_failure: the file could not be parsed into a
 * DiscoveryResponse). Throws if no counter moves within `timeoutMs`.
 */
export async function verdictOf(envoy: EnvoyProcess, watchedPath: string, content: string | Buffer, timeoutMs = 30_000): Promise<EnvoyVerdict> {
  const before = await outcomes(envoy, 'listener_manager.lds');
  const tmp = `${watchedPath}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, watchedPath);
  const moved = await waitFor(
    `Envoy to count an LDS update from ${watchedPath}`,
    async () => {
      const after = await outcomes(envoy, 'listener_manager.lds');
      const index = after.findIndex((value, i) => value > (before[i] ?? 0));
      return index < 0 ? undefined : index;
    },
    { timeoutMs, intervalMs: 10 },
  );
  return (['accepted', 'rejected', 'failed'] as const)[moved] ?? 'failed';
}

/** A DiscoveryResponse Envoy accepts, in the syntax of `ext`: the state each probe starts from. */
function baseline(ext: string, port: number): string {
  const yaml = ldsYaml({ port, body: 'baseline', versionInfo: 'baseline' });
  return ext === '.yaml' || ext === '.yml' ? yaml : JSON.stringify({ version_info: 'baseline', resources: [] });
}

/**
 * Envoy's verdict on each file, loaded as an LDS file with the file's own extension. Occurrences of
 * CORPUS_PORT in the text are replaced by a free port. Starts (and stops) one Envoy per extension,
 * with `args` on its command line (e.g. `--reject-unknown-dynamic-fields`).
 */
export async function envoyVerdicts(files: readonly { name: string; content: Buffer }[], args: readonly string[] = []): Promise<Map<string, EnvoyVerdict>> {
  const verdicts = new Map<string, EnvoyVerdict>();
  const byExt = new Map<string, { name: string; content: Buffer }[]>();
  for (const file of files) {
    const ext = extname(file.name).toLowerCase();
    byExt.set(ext, [...(byExt.get(ext) ?? []), file]);
  }
  for (const [ext, group] of byExt) {
    const dir = await mkdtemp(join(tmpdir(), 'envoy-oracle-'));
    const [port] = (await freePorts(1)) as [number];
    const lds = join(dir, `lds${ext}`);
    await writeFile(lds, baseline(ext, port));
    const envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds }) }, workDir: dir, logLevel: 'warning', args: [...args] });
    try {
      for (const file of group) {
        const content = Buffer.from(file.content.toString('latin1').replaceAll(CORPUS_PORT, String(port)), 'latin1');
        verdicts.set(file.name, await verdictOf(envoy, lds, content));
      }
    } finally {
      await envoy.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  return verdicts;
}
