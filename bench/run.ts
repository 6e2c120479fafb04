/**
 * `npm run bench`: starts a server (or takes --url), measures its start-up and memory, runs the load
 * scenarios one after another, writes bench/results/<date>-<mode>.json and prints a table.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type BenchDatabase, prepareDatabase } from "./database.js";
import { GraphQLClient } from "./graphql-client.js";
import { runLoad } from "./load.js";
import { describeMachine } from "./machine.js";
import { type BenchOptions, parseOptions } from "./options.js";
import { readMemory } from "./process-stats.js";
import { type BenchResults, type ColdStart, formatResults, type ScenarioResult } from "./report.js";
import { createScenario } from "./scenarios.js";
import { freePort, type ServerProcess, startServer } from "./server-process.js";

/** Staff password of a server the driver seeds itself, unless one is given. */
const DEFAULT_STAFF_PASSWORD = "bench-staff-password";

/** Undone in reverse order at the end, on failure and on Ctrl-C alike. */
const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const undo = cleanups.pop()!;
    await undo().catch((e: unknown) => console.error("cleanup failed:", e));
  }
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function serverEnv(
  opts: BenchOptions,
  port: number,
  dataDir?: string,
  pgPort?: number,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, {
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "0",
    SEED_DEMO: "true",
    DEMO_STAFF_PASSWORD: opts.staffPassword ?? DEFAULT_STAFF_PASSWORD,
  });
  if (opts.countSql) env.NODE_ENV = "test";
  if (dataDir) env.DATA_DIR = dataDir;
  if (pgPort) env.EMBEDDED_PG_PORT = String(pgPort);
  // A shared Redis keeps the bench's cart copies for a short while only.
  if (opts.redisUrl) env.CART_CACHE_TTL_SECONDS = "900";
  return env;
}

interface Target {
  url: string;
  server?: ServerProcess;
  coldStart: ColdStart | null;
}

async function startTarget(opts: BenchOptions): Promise<Target> {
  if (opts.url) {
    const res = await fetch(`${opts.url}/readyz`).catch((e: unknown) => {
      throw new Error(`${opts.url}/readyz is not reachable: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (res.status !== 200) throw new Error(`${opts.url}/readyz answered ${res.status}`);
    return { url: opts.url, coldStart: null };
  }
  let database: BenchDatabase | undefined;
  let dataDir: string | undefined;
  if (opts.databaseUrl) {
    database = await prepareDatabase(opts.databaseUrl);
    if (database.created) {
      log("created a fresh database for this run (dropped at the end)");
      cleanups.push(() => database!.drop());
    }
  } else {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "cartograph-bench-"));
    cleanups.push(() => rm(dataDir!, { recursive: true, force: true }));
  }
  const env = serverEnv(opts, await freePort(), dataDir, dataDir ? await freePort() : undefined);
  const firstStartDid = !database
    ? "empty DATA_DIR: initdb + migrations + seed"
    : database.created
      ? "empty database: migrations + seed"
      : "existing database: no cold start";

  log("starting the server (first start)");
  let server = await startServer(env);
  cleanups.push(() => server.stop());
  let coldStart: ColdStart | null = null;
  if (opts.coldStart) {
    const firstStartMs = server.readyMs;
    await server.stop();
    log(`first start ready in ${firstStartMs} ms; restarting on the same data`);
    server = await startServer(env);
    coldStart = { firstStartMs, restartMs: server.readyMs, firstStartDid };
    log(`restart ready in ${server.readyMs} ms`);
  }
  return { url: server.url, server, coldStart };
}

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2), process.env);
  if (!parsed) return;
  // A server the driver starts is seeded with a staff password the driver knows.
  const opts: BenchOptions = parsed.url
    ? parsed
    : { ...parsed, staffPassword: parsed.staffPassword ?? DEFAULT_STAFF_PASSWORD };
  const startedAt = new Date();
  process.once("SIGINT", () => {
    log("interrupted; stopping");
    void cleanUp().finally(() => process.exit(130));
  });

  const machine = await describeMachine({
    databaseUrl: opts.databaseUrl,
    redisUrl: opts.redisUrl,
    remote: opts.url !== undefined,
  });
  const target = await startTarget(opts);
  const serverPid = target.server?.pid;
  // Let start-up garbage settle before the idle reading.
  await sleep(1_000);
  const idle = serverPid ? readMemory(serverPid) : null;

  const client = new GraphQLClient({ url: target.url, store: opts.store, sockets: opts.clients + 8 });
  const scenarios: ScenarioResult[] = [];
  for (const name of opts.scenarios) {
    const scenario = createScenario(name, client, opts);
    log(`${name}: setting up ${opts.clients} clients`);
    const setupStarted = performance.now();
    const clients = await scenario.setup();
    const setupSeconds = Math.round((performance.now() - setupStarted) / 100) / 10;
    log(`${name}: ${opts.warmupSeconds} s warm-up, ${opts.durationSeconds} s measured`);
    const result = await runLoad(clients, {
      warmupSeconds: opts.warmupSeconds,
      durationSeconds: opts.durationSeconds,
      maxRequests: opts.maxRequests,
      processes: {
        serverPid,
        embeddedDatabase: !opts.databaseUrl,
        externalRedis: opts.redisUrl !== undefined,
      },
    });
    scenarios.push({ name, operation: scenario.operation, setupSeconds, ...result });
    log(`${name}: ${result.opsPerSecond} ops/s, p99 ${result.latencyMs.p99} ms, ${result.errors} errors`);
  }
  client.close();
  const afterLoad = serverPid ? readMemory(serverPid) : null;
  const warnings = target.server?.logLines() ?? [];

  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    mode: opts.mode,
    target: opts.url ?? "server started by the driver (node --import tsx src/main.ts)",
    settings: {
      clients: opts.clients,
      warmupSeconds: opts.warmupSeconds,
      durationSeconds: opts.durationSeconds,
      maxRequests: opts.maxRequests,
      cartLines: opts.cartLines,
      addVariants: opts.addVariants,
      store: opts.store,
      countSql: opts.countSql,
    },
    machine,
    coldStart: target.coldStart,
    serverMemory: serverPid ? { idle, afterLoad } : null,
    scenarios,
    serverWarnings: { count: warnings.length, sample: warnings.slice(0, 5) },
  };
  await cleanUp();

  const outDir = path.resolve(opts.outDir);
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `${startedAt.toISOString().slice(0, 10)}-${opts.mode}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(formatResults(results));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  await cleanUp();
  process.exit(1);
});
