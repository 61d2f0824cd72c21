import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/conformance/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // one temporary folder per run, removed at the end (the main config's, without its fixture export)
    globalSetup: ['test/support/run-temp-dir.ts'],
    // a test that asserts nothing fails instead of passing silently
    expect: { requireAssertions: true },
    reporters: ['default'],
  },
});
