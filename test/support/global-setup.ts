/**
 * Once per `npm test`: a PostgreSQL (DATABASE_URL, else an embedded one in a temp dir) with a migrated
 * template database. Each test file clones its own database from the template (see test-app.ts).
 * Also a directory where the test clients record the error codes mutations answered with; teardown
 * fails the run when one is not declared in src/schema/mutation-errors.ts (error-pairs-report.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "../../src/db/embedded.js";
import { runMigrations } from "../../src/db/migrate.js";
import { reportErrorPairs } from "./error-pairs-report.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgBaseUrl: string;
    pgTemplate: string;
    runId: string;
    redisUrl: string | undefined;
    /** Where error-recorder.ts writes the (mutation, code) pairs it sees. */
    errorPairsDir: string;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  const runId = randomBytes(4).toString("hex");
  let embedded: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    dataDir = await mkdtemp(path.join(tmpdir(), "cartograph-test-pg-"));
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, "pg"),
      port: await freePort(),
      fast: true,
    });
    baseUrl = embedded.url;
  }
  const template = `cartograph_tpl_${runId}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${template}"`);
  await runMigrations(withDatabase(baseUrl, template));

  project.provide("pgBaseUrl", baseUrl);
  project.provide("pgTemplate", template);
  project.provide("runId", runId);
  project.provide("redisUrl", process.env.REDIS_URL || undefined);
  const errorPairsDir = await mkdtemp(path.join(tmpdir(), "cartograph-error-pairs-"));
  project.provide("errorPairsDir", errorPairsDir);

  return async () => {
    try {
      await reportErrorPairs(errorPairsDir);
    } finally {
      await rm(errorPairsDir, { recursive: true, force: true });
    }
    const leftovers = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${`cartograph_%_${runId}%`}`;
    for (const { datname } of leftovers) {
      await admin.unsafe(`drop database if exists "${datname}" with (force)`).catch(() => {});
    }
    await admin.end({ timeout: 5 });
    await embedded?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
