import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/formats/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/browser/**/*.test.ts', 'test/webgpu/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    // a test that asserts nothing fails instead of passing silently
    expect: { requireAssertions: true },
    reporters: ['default'],
  },
});
