import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration files start real servers and processes: one file at a time on a 2-core machine.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'tests/deploy/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.itest.ts'],
          environment: 'node',
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.itest.ts'],
          environment: 'node',
          // Redis and NATS as for integration (the page's server keeps its history across a restart), then the page's bundle.
          globalSetup: ['tests/support/global-setup.ts', 'tests/browser/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
