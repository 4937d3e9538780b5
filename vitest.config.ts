import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // end-to-end tests share network namespaces and the nft ruleset: never run files in parallel
    fileParallelism: false,
  },
});
