// Envoy's admin address as the watcher's `--admin` flag and the injector's `admin` annotation
// write it. No imports: src/inject validates the annotation with this same parser (pure rules).

export type AdminAddress = { host: string; port: number } | { socketPath: string };

/**
 * `--admin` flag: `HOST:PORT`, `[IPv6]:PORT`, `http://HOST:PORT`, or a unix socket path
 * (`/path` or `unix:/path`). Throws (an Error whose message says what is expected) on anything
 * else, an empty socket path or whitespace included.
 */
export function parseAdminAddress(text: string): AdminAddress {
  const socketPath = text.startsWith('unix:') ? text.slice('unix:'.length) : text.startsWith('/') ? text : undefined;
  if (socketPath !== undefined && socketPath !== '' && !/\s/.test(socketPath)) return { socketPath };
  const match = socketPath === undefined ? /^(?:http:\/\/)?(\[[^\]\s]+\]|[^:/\s]+):(\d+)\/?$/.exec(text) : null;
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`expected HOST:PORT or a unix socket path, got '${text}'`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

export function describeAdmin(admin: AdminAddress): string {
  return 'socketPath' in admin ? `unix:${admin.socketPath}` : `${admin.host.includes(':') ? `[${admin.host}]` : admin.host}:${String(admin.port)}`;
}
