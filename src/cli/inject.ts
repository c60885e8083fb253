import type { Command } from './context.js';

// Placeholder until the command lands.
export const inject: Command = (_args, ctx) => {
  ctx.stderr.write('envoy-xds-injector inject: not implemented yet\n');
  return Promise.resolve(1);
};
