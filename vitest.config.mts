import { defineConfig } from 'vitest/config';

/**
 * Unit tests run alone. Integration tests (`*.int.test.ts`) run once per
 * PostgreSQL major, each project against its own real PostgreSQL and
 * Pushgateway started by test/harness/global-setup.ts. End-to-end tests
 * (`*.e2e.test.ts`) run the packaged function through the Serverless CLI.
 */
const majors = (process.env.TEST_PG_MAJORS ?? '13,14,15,16,17,18')
  .split(',')
  .map((m) => m.trim())
  .filter((m) => m !== '');

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'test/**/*.e2e.test.ts'],
        },
      },
      ...majors.map((major) => ({
        test: {
          name: `pg${major}`,
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      })),
      {
        // The packaged paths (serverless invoke local, npm run demo): one major is enough,
        // and one project only, as serverless-esbuild builds into the shared .esbuild/.
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          // One file at a time: serverless-esbuild builds into the one .esbuild/ folder.
          fileParallelism: false,
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
