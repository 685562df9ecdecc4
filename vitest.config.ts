import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests share one database per run; files run in parallel workers but
    // each test creates its own rows (factories), so they do not collide.
    pool: 'forks',
  },
});
