/**
 * The installed postgres.js carries the repair of scripts/patch-postgres-driver.mjs (run by npm's
 * postinstall). An install that skipped it (`--ignore-scripts`) fails here rather than wedging pool
 * connections after the next failover.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const MARK = "/* cartograph: driver repair */";
const root = path.resolve(import.meta.dirname, "../../node_modules/postgres");

describe("postgres.js driver repair", () => {
  it.each(["src/connection.js", "cjs/src/connection.js"])("is applied to %s", (file) => {
    const text = readFileSync(path.join(root, file), "utf8");
    expect(text.split(MARK).length - 1, "run: node scripts/patch-postgres-driver.mjs").toBe(4);
    // A close drops the dead session's queued bytes and their pending write.
    expect(text).toContain(`nextWriteTimer = chunk = null ${MARK}`);
    // The array-type query a new session starts with never rejects unawaited.
    expect(text).toContain(`return fetchArrayTypes().catch(() => {}) ${MARK}`);
  });
});
