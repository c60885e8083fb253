import type { Command } from './context.js';

// Placeholder until the command lands.
export const copy: Command = (_args, ctx) => {
  ctx.stderr.write('envoy-xds-injector copy: not implemented yet\n');
  return Promise.resolve(1);
};
