import type { Command } from './context.js';

// Placeholder until the command lands.
export const watch: Command = (_args, ctx) => {
  ctx.stderr.write('envoy-xds-injector watch: not implemented yet\n');
  return Promise.resolve(1);
};
