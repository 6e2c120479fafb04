import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // One graphql for everyone, as under Node: Vite would hand our sources graphql's ESM build
    // (index.mjs) while Apollo and type-graphql load the CommonJS one, and a GraphQLError of one copy
    // is not an instance of the other's (auth errors came out as INTERNAL_SERVER_ERROR).
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/setup-file.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own database cloned from a migrated template, so files run in parallel.
    fileParallelism: true,
    pool: "forks",
  },
});
