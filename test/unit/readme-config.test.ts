/** The README's configuration table names every setting config.ts accepts: a new variable must be documented. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { envSchema } from "../../src/config.js";

describe("README configuration table", () => {
  it("documents every environment variable", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const table = readme.slice(readme.indexOf("## Configuration"));
    const undocumented = Object.keys(envSchema.shape).filter((name) => !table.includes(`\`${name}\``));
    expect(undocumented).toEqual([]);
  });
});
