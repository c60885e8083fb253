// The image directory `npm run dev:cluster -- --without-injector` hands the node: build-images.sh's
// archives minus the injector's, as symlinks in a temp dir, so README's step 1 (import the image
// yourself) can be followed. The temp dir goes when the process exits, however it exits.
import { rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ImagesWithout {
  /** The temp dir of symlinks (NAME.oci.tar, NAME.ref, ... of every other image). */
  dir: string;
  /** The left-out image's OCI archive, in the cache (`ctr -n k8s.io images import` it). */
  archive: string;
  /** Its reference (NAME.ref), e.g. ghcr.io/envoy-xds-injector/envoy-xds-injector:v0.1.0. */
  ref: string;
  /** Removes the temp dir (the cached archives stay). Also done at process exit. */
  remove(): Promise<void>;
}

/** Links every file of `all` except `name`.*: `all` is build-images.sh's output dir. Throws when `all` has no `name`.oci.tar. */
export async function imagesWithout(all: string, name: string): Promise<ImagesWithout> {
  const files = await readdir(all);
  if (!files.includes(`${name}.oci.tar`)) throw new Error(`no ${name}.oci.tar in ${all}`);
  const ref = (await readFile(join(all, `${name}.ref`), 'utf8')).trim();
  const dir = await mkdtemp(join(tmpdir(), 'envoy-xds-dev-images-'));
  const onExit = (): void => { rmSync(dir, { recursive: true, force: true }); };
  process.on('exit', onExit);
  try {
    for (const f of files) {
      if (!f.startsWith(`${name}.`)) await symlink(join(all, f), join(dir, f));
    }
  } catch (err) {
    onExit();
    throw err;
  }
  return {
    dir,
    archive: join(all, `${name}.oci.tar`),
    ref,
    async remove() {
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
