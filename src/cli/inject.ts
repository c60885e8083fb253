// `inject -f FILE|DIR|-`: the webhook's injection, offline, over multi-document YAML streams (what
// `kubectl apply -f` takes). The input is read and injected piece by piece (inject-stream.ts), so
// memory holds a few documents; the output waits in output-spool.ts until every document passed,
// so a denied or broken document leaves stdout empty rather than half a stream for kubectl.
// A reader that closes the pipe (`| head`) ends it quietly; SIGINT/SIGTERM stop it between pieces.
import { dirname } from 'node:path';
import { addAbortSignal } from 'node:stream';
import type { Readable } from 'node:stream';
import type { InjectorConfig } from '../inject/index.js';
import { configFromFlags, injectorConfigFlags, InvalidConfigError, InvalidConfigFlagError, loadInjectorConfig } from './config.js';
import type { CliContext, Command } from './context.js';
import { parseFlags, UsageError } from './context.js';
import { ManifestStream } from './inject-stream.js';
import { manifestFiles, MANIFEST_EXTENSIONS, NotTextError, openManifest, textPieces, UnreadableInputError } from './manifest-input.js';
import { OutputSpool } from './output-spool.js';

export { injectYamlStream, type StreamResult } from './inject-stream.js';

const USAGE = `Usage: envoy-xds-injector inject -f FILE|DIR|- [-f ...] [-R] [--config F] [config flags]

Injects every pod template annotated with envoy-xds-injector.io/inject: "true" in the Pods,
Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs (and Lists of them) of
multi-document YAML or JSON streams, and prints them on stdout. Other documents pass through
unchanged. Nothing is printed on stdout until every document was read and injected.

Flags:
  -f, --file FILE|DIR|-     a manifest, '-' for stdin, or a directory: its .json, .yaml and .yml
                            files in name order, as kubectl apply -f DIR reads it (repeatable)
  -R, --recursive           with -f DIR, also read its subdirectories (as kubectl -R)
      --config FILE         injector config (YAML or JSON), as given to 'serve'
      --image, --image-pull-policy, --mount-path, --sidecar,
      --cpu-request, --memory-request, --memory-limit, --cpu-limit
                            override single config keys

Exit status:
  0    printed (warnings on stderr, e.g. "no Kubernetes objects found" for an empty file, or a
       reader such as 'head' that closed the pipe early)
  1    nothing printed: a document is not valid YAML or is denied, the input is binary (not text),
       or a file cannot be read; every problem is reported on stderr
  2    usage: an unknown flag or an invalid flag value
  130  stopped by SIGINT (Ctrl-C), 143 by SIGTERM

Run from a clone: npx envoy-xds-injector inject -f FILE (after npm ci), or from the image:
  docker run -i --rm IMAGE inject -f - < FILE
`;

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

interface Input {
  label: string;
  open: () => Readable;
}

/** The inputs -f names, in order; throws UnreadableInputError. Warns of directories with nothing to read. */
async function inputsOf(paths: string[], recursive: boolean, ctx: CliContext): Promise<Input[]> {
  const inputs: Input[] = [];
  for (const path of paths) {
    if (path === '-') {
      inputs.push({ label: 'stdin', open: () => ctx.stdin });
      continue;
    }
    const files = await manifestFiles(path, recursive);
    if (files.length === 0) {
      ctx.stderr.write(`Warning: ${path}: no ${MANIFEST_EXTENSIONS.join(', ')} files in this directory${recursive ? ' or below' : ' (-R reads subdirectories)'}\n`);
    }
    // Named by the directory that holds it (with -R, a subdirectory of `path`): that is what kustomize takes.
    const kustomized = new Set(files.filter((file) => /(^|\/)kustomization\.ya?ml$/.test(file)).map((file) => dirname(file)));
    for (const holder of kustomized) {
      ctx.stderr.write(
        `Warning: ${holder}: has a kustomization.yaml, which is read as one more manifest, as kubectl apply -f does; to inject what kubectl apply -k would apply: kubectl kustomize ${holder} | ${ctx.self ?? 'envoy-xds-injector'} inject -f -\n`,
      );
    }
    for (const file of files) inputs.push({ label: file, open: () => openManifest(file) });
  }
  return inputs;
}

/** Reads and injects every input into `spool`; returns the number of errors reported. */
async function injectAll(inputs: Input[], config: InjectorConfig, spool: OutputSpool, ctx: CliContext): Promise<number> {
  let errors = 0;
  let lastChar = '';
  for (const [n, input] of inputs.entries()) {
    let first = true;
    const stream = new ManifestStream(config, input.label, {
      output: (text) => {
        if (errors > 0) return; // nothing will be printed: stop holding output
        // Files are separate streams: keep their documents apart.
        if (first && n > 0 && lastChar !== '') spool.write(`${lastChar === '\n' ? '' : '\n'}${/^---(\s|$)/.test(text) ? '' : '---\n'}`);
        first = false;
        lastChar = text.at(-1) ?? lastChar;
        spool.write(text);
      },
      warning: (message) => ctx.stderr.write(`Warning: ${message}\n`),
      error: (message) => {
        errors++;
        ctx.stderr.write(`error: ${message}\n`);
      },
    });
    const readable = addAbortSignal(ctx.shutdownSignal, input.open());
    for await (const piece of textPieces(readable, input.label)) stream.push(piece);
    const summary = stream.end();
    if (summary.objects === 0 && summary.errors === 0) {
      ctx.stderr.write(`Warning: ${input.label}: no Kubernetes objects found (a manifest's documents are mappings with apiVersion and kind)\n`);
    } else {
      for (const index of summary.notObjects) {
        ctx.stderr.write(`Warning: ${input.label}: document ${String(index)} is not a Kubernetes object (it needs apiVersion and kind); kubectl will refuse it\n`);
      }
    }
  }
  return errors;
}

const isAbort = (err: unknown): boolean => err instanceof Error && err.name === 'AbortError';

export const inject: Command = async (args, ctx) => {
  const flags = parseFlags(args, {
    file: { type: 'string', short: 'f', multiple: true },
    recursive: { type: 'boolean', short: 'R' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    ...injectorConfigFlags,
  });
  if (flags.help === true) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  const paths = flags.file ?? [];
  if (paths.length === 0) throw new UsageError(`-f FILE (or -f - for stdin) is required`);
  const signalled = (): number => SIGNAL_EXIT[String(ctx.shutdownSignal.reason)] ?? 130;

  let config: InjectorConfig;
  let inputs: Input[];
  try {
    config = await loadInjectorConfig(flags.config, ctx.version, configFromFlags(flags));
    inputs = await inputsOf(paths, flags.recursive === true, ctx);
  } catch (err) {
    if (err instanceof InvalidConfigFlagError) throw new UsageError(err.message);
    if (!(err instanceof InvalidConfigError || err instanceof UnreadableInputError)) throw err;
    ctx.stderr.write(`envoy-xds-injector inject: ${err.message}\n`);
    return 1;
  }

  const spool = new OutputSpool();
  try {
    const errors = await injectAll(inputs, config, spool, ctx);
    if (ctx.shutdownSignal.aborted) return signalled();
    if (errors > 0) return 1;
    const delivered = await spool.deliver(ctx.stdout, ctx.shutdownSignal);
    // 'closed': the reader wanted no more (`| head`), which is not a failure.
    return delivered === 'aborted' ? signalled() : 0;
  } catch (err) {
    if (isAbort(err) || ctx.shutdownSignal.aborted) return signalled();
    if (err instanceof NotTextError || err instanceof UnreadableInputError) {
      ctx.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    // Never a stack trace, and never anything but YAML on stdout.
    ctx.stderr.write(`error: envoy-xds-injector inject: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    spool.discard();
  }
};
