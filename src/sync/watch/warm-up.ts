// A ConfigMap change arrives every minute or so: far too rarely for V8 to optimise the YAML parser
// or the publish path on real traffic. Without help, the first changes and every later JIT tier-up
// (a background compile competing for the CPU) would land in the publish path: 15-30 ms instead
// of 3. So, before reporting ready, the watcher parses a representative xDS file many times and
// runs a few complete passes between two scratch directories of its own.
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Syncer } from '../publish/syncer.js';
import { validateConfigFile } from '../envoy/gate.js';

const SCRATCH_PREFIX = '..envoy-xds-warm-up-';
const PARSE_ROUNDS = 60;
const PASS_ROUNDS = 24;

function sampleClusters(version: number): string {
  const cluster = (index: number): string => `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: "warm_up_${version}_${index}"
  connect_timeout: 0.25s
  type: STRICT_DNS
  lb_policy: ROUND_ROBIN
  http2_protocol_options: {}
  ignore_health_on_host_removal: true
  load_assignment:
    cluster_name: warm_up_${index}
    endpoints:
    - lb_endpoints:
      - endpoint: { address: { socket_address: { address: 'backend-${index}.svc', port_value: ${8000 + index} } } }
        load_balancing_weight: 1
`;
  return `version_info: "${version}"\nresources:\n${Array.from({ length: 24 }, (_, i) => cluster(i)).join('')}`;
}

const JSON_SAMPLE = JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l' }] });

/** Parses the samples `rounds` times. Also run after a full GC, which may drop optimised code. */
export async function warmUpParser(rounds: number): Promise<void> {
  const sample = Buffer.from(sampleClusters(0));
  const json = Buffer.from(JSON_SAMPLE);
  for (let round = 0; round < rounds; round++) {
    await validateConfigFile('warm-up.yaml', sample);
    await validateConfigFile('warm-up.json', json);
  }
}

/**
 * `scratchParent` must be on the target's filesystem and writable; a `..` directory is created
 * there (never a name Envoy watches) and removed again.
 */
export async function warmUp(scratchParent: string, logger: Logger): Promise<void> {
  await warmUpParser(PARSE_ROUNDS);
  const json = Buffer.from(JSON_SAMPLE);

  const scratch = join(scratchParent, `${SCRATCH_PREFIX}${process.pid}`);
  const source = join(scratch, 'source');
  const target = join(scratch, 'target');
  try {
    // Including what a killed predecessor left behind.
    for (const name of await readdir(scratchParent)) {
      if (name.startsWith(SCRATCH_PREFIX)) await rm(join(scratchParent, name), { recursive: true, force: true });
    }
    await mkdir(target, { recursive: true });
    await mkdir(source);
    // Two versions in kubelet's layout, swapped through `..data` as kubelet does.
    for (const version of [0, 1]) {
      await mkdir(join(source, `..v${version}`));
      await writeFile(join(source, `..v${version}`, 'cds.yaml'), sampleClusters(version));
      await writeFile(join(source, `..v${version}`, 'lds.json'), json);
    }
    const syncer = new Syncer({ sourceDir: source, targetDir: target, logger: logger.child({}, { level: 'silent' }), warnOnBootstrapChange: false });
    for (let round = 0; round < PASS_ROUNDS; round++) {
      await symlink(`..v${round % 2}`, join(source, '..data_tmp'));
      await rename(join(source, '..data_tmp'), join(source, '..data'));
      await syncer.syncOnce();
    }
  } catch (err) {
    logger.debug({ err }, 'warm-up skipped'); // an optimisation only; the real sync reports real problems
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}
