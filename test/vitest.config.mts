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
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
