// How the user can run this program again, for the commands a hint prints: the name
// `envoy-xds-injector` only where that name on PATH is this very program (the image, `npm link`),
// else `node /abs/path/dist/cli/main.js`, which works from any directory (`npx envoy-xds-injector`
// only works inside a clone). Reads argv and the environment, so it lives in src/cli.
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';

export const CLI_NAME = 'envoy-xds-injector';

function realpathOrUndefined(path: string): string | undefined {
  try {
    return statSync(path).isFile() ? realpathSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** A shell word: quoted when it holds anything but [A-Za-z0-9_./-]. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./=:,+@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line that runs this program: `envoy-xds-injector` when PATH's first
 * `envoy-xds-injector` resolves to `script` (or, in the image, is the wrapper the Dockerfile
 * writes, which runs `script`), else `node SCRIPT` with the script's real path (for
 * `src/cli/main.ts` run by tsx: the clone's `dist/cli/main.js`).
 * `script` is process.argv[1]; `wrapperTarget` reads a wrapper script's target (tests pass their own).
 */
export function selfCommand(env: NodeJS.ProcessEnv, script: string | undefined, wrapperTarget: (path: string) => string | undefined = readWrapperTarget): string {
  const self = script === undefined ? undefined : realpathOrUndefined(script);
  if (self === undefined) return CLI_NAME;
  // Under npx or an npm script, PATH is npm's (npx links a clone into its cache and puts that on
  // PATH), not the shell's the user will paste the command into.
  if (env.npm_command !== undefined) return `node ${shellWord(built(self))}`;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const onPath = realpathOrUndefined(join(dir, CLI_NAME));
    if (onPath === undefined) continue;
    if (onPath === self) return CLI_NAME;
    const target = wrapperTarget(onPath);
    if (target !== undefined && realpathOrUndefined(target) === self) return CLI_NAME;
    break; // PATH's first one is another program: name ours by its path
  }
  return `node ${shellWord(built(self))}`;
}

/** Run from the TypeScript source (tsx, `npm run dev`): the build of the same clone, which plain node runs. */
function built(self: string): string {
  if (!self.endsWith('.ts')) return self;
  const js = realpathOrUndefined(join(dirname(self), '..', '..', 'dist', 'cli', basename(self).replace(/\.ts$/, '.js')));
  return js ?? self;
}

/** The script a `#!/bin/sh\nexec node SCRIPT "$@"` wrapper runs (the Dockerfile writes one), else undefined. */
export function readWrapperTarget(path: string): string | undefined {
  try {
    const head = Buffer.alloc(512);
    const fd = openSync(path, 'r');
    const n = readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    const m = /^#!\/bin\/sh\nexec node (\S+) "\$@"\n/.exec(head.subarray(0, n).toString('utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}
