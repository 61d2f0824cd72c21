import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/conformance/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // a test that asserts nothing fails instead of passing silently
    expect: { requireAssertions: true },
    reporters: ['default'],
  },
});
