import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const sdkSource = fileURLToPath(new URL('./sdk/src/index.ts', import.meta.url));
const contractSource = fileURLToPath(new URL('./sdk/src/contract.ts', import.meta.url));
const coreSource = fileURLToPath(new URL('./sdk/src/core.ts', import.meta.url));
const testingSource = fileURLToPath(new URL('./sdk/src/testing/index.ts', import.meta.url));

// Tests run against TypeScript sources; child-process tests run the built `dist/` (npm test builds first).
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@spendline\/sdk\/contract$/, replacement: contractSource },
      { find: /^@spendline\/sdk\/core$/, replacement: coreSource },
      { find: /^@spendline\/sdk\/testing$/, replacement: testingSource },
      { find: /^@spendline\/sdk$/, replacement: sdkSource },
    ],
  },
  test: {
    include: ['sdk/test/**/*.test.ts', 'sidecar/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
