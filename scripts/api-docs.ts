/** Writes docs/api.md (the API guide) from the schema; with --check, fails when the committed file is stale. */
import "reflect-metadata";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { buildCartographSchema } from "../src/schema/build.js";
import { renderApiGuide } from "./api-guide.js";

const dir = new URL("../docs/", import.meta.url);
const file = new URL("api.md", dir);
const guide = renderApiGuide(await buildCartographSchema());

if (process.argv.includes("--check")) {
  const committed = await readFile(file, "utf8").catch(() => "");
  if (committed !== guide) {
    console.error("docs/api.md is stale: run `npm run docs:emit` and commit the result.");
    process.exit(1);
  }
  console.log("docs/api.md is current.");
} else {
  await mkdir(dir, { recursive: true });
  await writeFile(file, guide);
  console.log("wrote docs/api.md");
}
