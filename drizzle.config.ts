import { defineConfig } from "drizzle-kit";

// `out` can be redirected so the migration check can generate into a scratch copy.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: process.env.DRIZZLE_OUT ?? "./src/db/migrations",
  strict: true,
});
