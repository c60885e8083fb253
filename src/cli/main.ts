#!/usr/bin/env node
// The one entry point of the image: `envoy-xds-injector <serve|inject|copy|watch|status|validate|rbac>`.
// Reads argv and env, builds the logger, wires signals, and exits; commands do the rest.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { logDestination } from './log-destination.js';
import type { CliContext, Command } from './context.js';
import { UsageError } from './context.js';
import { selfCommand } from './self-command.js';

const USAGE = `Usage: envoy-xds-injector <command> [flags]

Commands:
  serve   [--port 8443] [--host H] [--tls-cert F --tls-key F] [--config F]
          Run the mutating admission webhook over HTTPS. Without --tls-cert/--tls-key it
          generates a self-signed development certificate and listens on 127.0.0.1.
  inject  -f FILE|DIR|- [-R] [--config F]
          Inject every annotated pod template of multi-document YAML streams (a file, stdin, or
          a directory's manifests, -R with its subdirectories); print YAML.
  copy    --from DIR --to DIR [--bootstrap NAME] [--accepted DIR]
          Publish one consistent snapshot of a mounted ConfigMap into DIR (init container);
          with --accepted, a file Envoy refused elsewhere starts from the last accepted version.
  watch   --from DIR --to DIR [--resync 60s] [--ready-file PATH] [--bootstrap NAME]
          [--admin HOST:PORT|PATH] [--verdict-timeout 10s] [--source volume|api --configmap NAME ...]
          Republish ConfigMap changes by atomic rename so Envoy reloads them (sidecar), and
          report Envoy's verdict on each publish.
  status  [--namespace NS] (TYPE/NAME | --selector SEL) [--output json|yaml] [--wait [--timeout 2m]]
          [--kubeconfig F] [--context C]
          Over the API, per Pod of a workload and file: ConfigMap, published, what Envoy runs,
          last verdict, and SYNCED / PENDING / REJECTED / FAILED / UNKNOWN; exit 1 on REJECTED
          or FAILED; --wait for pipelines.
          [--to DIR] [--json] [--timeout 2s]: the same for one Pod, run in its watcher container.
  validate [--strict] [-o json] PATH... | -f FILE|-
          Check xDS files, directories or ConfigMap manifests against Envoy's own API (exact
          paths and lines; exit 1 on errors): before kubectl apply, in CI.
  rbac    --namespace NS --service-account SA --configmap NAME
          Print the Role, the RoleBinding and the empty NAME-envoy-xds-accepted ConfigMap that
          watch --source api needs (kubectl apply -f -); with --status-reader (--user U |
          --group G | --service-account SA), the Role and RoleBinding 'status TYPE/NAME' needs.

Run 'envoy-xds-injector <command> --help' for a command's flags.

Where it runs: in a clone, 'npx envoy-xds-injector <command>' after 'npm ci' (the package's bin);
from the image, 'docker run --rm -i IMAGE <command> ...' (its entrypoint is this CLI); in an injected
Pod, 'kubectl exec POD -c envoy-xds-watch -- envoy-xds-injector status'.
`;

// Loaded lazily so `copy`/`watch` (in every Envoy Pod) never load fastify.
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serve,
  inject: async () => (await import('./inject.js')).inject,
  copy: async () => (await import('./copy.js')).copy,
  watch: async () => (await import('./watch.js')).watch,
  status: async () => (await import('./status.js')).status,
  rbac: async () => (await import('./rbac.js')).rbac,
  validate: async () => (await import('./validate.js')).validate,
};

/** A usage error as printed: one line saying what is wrong, one saying where the usage is (exit 2). */
function usageError(message: string, command: string): string {
  return `error: ${message}\nrun '${command} --help' for usage\n`;
}

function readVersion(): string {
  // src/cli/main.ts and dist/cli/main.js are both two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  const self = selfCommand(process.env, process.argv[1]);
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(usageError(`unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`, self));
    return 2;
  }

  // A reader that closes the pipe early (`inject -f big.yaml | head`) wants no more output: that
  // is no failure and no reason for a stack trace. Commands that write much stop at EPIPE themselves.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') return;
    process.stderr.write(`envoy-xds-injector ${name}: cannot write to stdout (${err.code ?? err.message})\n`);
    process.exitCode = 1;
  });

  const shutdown = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (shutdown.signal.aborted) process.exit(130); // second signal: stop now
    shutdown.abort(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const version = readVersion();
  const destination = logDestination(name);
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { cmd: name, version } }, destination === undefined ? undefined : pino.destination(destination));
  const ctx: CliContext = {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    logger,
    version,
    self,
    shutdownSignal: shutdown.signal,
  };
  try {
    const command = await load();
    return await command(args, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(usageError(err.message, `${self} ${name}`));
      return 2;
    }
    logger.fatal({ err }, 'command failed');
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`envoy-xds-injector: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
