import { fileURLToPath } from 'node:url';

import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  plugins: [vue()],
  resolve: {
    alias: {
      '@': fileURLToPath(new URL('../renderer/src', import.meta.url)),
      '@common': fileURLToPath(new URL('../electron/common', import.meta.url)),
    },
  },
  test: {
    include: ['test/unit/**/*.test.ts', 'native/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/support/index-cache-setup.ts'],
    // vitest's default is cores - 1: one worker on the 2-core CI machine.
    // Two took the unit step from 701 s to 408-430 s and asan from 207 s to
    // 138 s, green in both runs (the servers and CLIs they spawn were
    // already using the second core only part of the time).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
