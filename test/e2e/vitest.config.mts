import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

// End-to-end: the built app (npm run build) in Debian's Chromium through
// playwright-core. Files run one after another: one browser at a time is
// what 2 cores can take.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
