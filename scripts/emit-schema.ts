/** Writes schema.graphql from the code; with --check, fails when the committed file is stale. */
import "reflect-metadata";
import { readFile, writeFile } from "node:fs/promises";
import { lexicographicSortSchema, printSchema } from "graphql";
import { buildCartographSchema } from "../src/schema/build.js";

const file = new URL("../schema.graphql", import.meta.url);
const header = "# Emitted from the code by `npm run schema:emit`. Do not edit: CI checks it is current.\n\n";
const sdl = `${header + printSchema(lexicographicSortSchema(await buildCartographSchema()))}\n`;

if (process.argv.includes("--check")) {
  const committed = await readFile(file, "utf8").catch(() => "");
  if (committed !== sdl) {
    console.error("schema.graphql is stale: run `npm run schema:emit` and commit the result.");
    process.exit(1);
  }
  console.log("schema.graphql is current.");
} else {
  await writeFile(file, sdl);
  console.log("wrote schema.graphql");
}
