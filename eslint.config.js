// typescript-eslint strict + stylistic, type-aware, over everything we write.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import rooms from './src/sync/rooms.json' with { type: 'json' };

// src/sync's rooms import one way: watch → verdict → sources/publish/last-accepted → kube/volume/envoy
// (src/sync/rooms.json lists what each room may import; CONTRIBUTING.md#where-the-sync-code-lives). An import against
// the direction, or from the CLI or the server, fails the lint.
const syncRooms = Object.entries(rooms).map(([room, allowed]) => ({
  files: [`src/sync/${room}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{
        group: [
          ...Object.keys(rooms).filter((other) => other !== room && !allowed.includes(other)).map((other) => `../${other}/*`),
          '../../cli/*',
          '../../server/*',
        ],
        message: `src/sync/${room}/ may import only from ${allowed.length === 0 ? 'itself' : `itself and ${allowed.join(', ')}`} (src/sync/rooms.json, CONTRIBUTING.md#where-the-sync-code-lives).`,
      }],
    }],
  },
}));

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'coverage/', '.bench/', '.dev-certs/', 'test/e2e/.work/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
    },
  },
  ...syncRooms,
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
