/**
 * Every setting src/config.ts reads is in README's configuration table, so a newcomer finds it there
 * (its default and what it does) without reading the code.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const configSource = readFileSync("src/config.ts", "utf8");
const schemaBody = configSource.slice(
  configSource.indexOf("const envSchema = z.object({"),
  configSource.indexOf("export type Env"),
);
const settings = [...schemaBody.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1] ?? "");

const readme = readFileSync("README.md", "utf8");
const tableRows = readme.split("\n").filter((l) => l.startsWith("| `"));

describe("README configuration table", () => {
  it("finds the settings", () => {
    expect(settings.length).toBeGreaterThan(40);
    expect(settings).toContain("DATABASE_URL");
  });

  it("lists every setting of src/config.ts in a row of its own", () => {
    const missing = settings.filter(
      (name) => !tableRows.some((row) => (row.split("|")[1] ?? "").includes(`\`${name}\``)),
    );
    expect(missing).toEqual([]);
  });
});
