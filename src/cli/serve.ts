import type { Command } from './context.js';

// Placeholder until the command lands.
export const serve: Command = (_args, ctx) => {
  ctx.stderr.write('envoy-xds-injector serve: not implemented yet\n');
  return Promise.resolve(1);
};
