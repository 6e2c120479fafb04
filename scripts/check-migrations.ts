/**
 * Fails when src/db/schema.ts and the committed migrations differ: drizzle-kit generates into a scratch
 * copy of the migrations folder, and any new file there means a migration is missing.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const committed = path.resolve("src/db/migrations");
const scratch = mkdtempSync(path.join(tmpdir(), "cartograph-migrations-"));
try {
  cpSync(committed, scratch, { recursive: true });
  const before = new Set(readdirSync(scratch));
  // drizzle-kit prefixes "./" to `out`, so it must be relative.
  const output = execFileSync("npx", ["drizzle-kit", "generate", "--name=check"], {
    env: { ...process.env, DRIZZLE_OUT: path.relative(process.cwd(), scratch) },
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
  });
  const added = readdirSync(scratch).filter((f) => !before.has(f));
  if (added.length > 0) {
    console.error(
      `Migrations are stale: drizzle-kit would add ${added.join(", ")}. Run \`npm run db:generate\`.`,
    );
    process.exit(1);
  }
  if (!output.includes("No schema changes")) {
    console.error(`drizzle-kit did not confirm the migrations are current:\n${output}`);
    process.exit(1);
  }
  console.log("Migrations match src/db/schema.ts.");
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
