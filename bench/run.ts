/**
 * `npm run bench`: starts a server (or takes --url), measures its start-up and memory, runs the load
 * scenarios at each client count, the pgbench ceilings, the flash sale, the subscription fan-out and
 * (with --soak) a long shopper run, writes bench/results/<date>-<mode>.json and prints the tables.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { poolSizeFor } from "../src/config.js";
import { embeddedDatabaseUrl } from "../src/db/embedded-url.js";
import { CEILING_OF, type CeilingResult, pgbenchVersion, runCeilings } from "./ceiling.js";
import { BenchContext } from "./context.js";
import { type BenchDatabase, prepareDatabase } from "./database.js";
import { feedNamed } from "./feeds.js";
import { type FlashSaleResult, runFlashSale } from "./flash-sale.js";
import { runLoad } from "./load.js";
import { describeMachine } from "./machine.js";
import { vacuumAnalyze } from "./maintenance.js";
import { type BenchOptions, LOAD_SCENARIOS, type LoadScenarioName, parseOptions } from "./options.js";
import { type ProcessGroups, readMemory } from "./process-stats.js";
import { type BenchResults, type ColdStart, formatResults, type ScenarioResult } from "./report.js";
import { createScenario } from "./scenarios.js";
import { freePort, type ServerProcess, startServer } from "./server-process.js";
import { runSoak, type SoakResult } from "./soak.js";
import { runSubscriptions, type SubscriptionsResult } from "./subscriptions.js";

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
    // Info is quiet (start-up and rare job lines, nothing per request) and says when a cluster is ready.
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    RATE_LIMIT_PER_MINUTE: "0",
    // Every checkout and flash-sale buyer is a new guest cart from one IP.
    CARTS_PER_IP_PER_HOUR: "0",
    // The checkout scenarios send each buyer's own address in X-Forwarded-For, as a load balancer
    // would: the fraud rules count per client address like they do in production.
    TRUST_PROXY_HOPS: "1",
    SEED_DEMO: "true",
    DEMO_STAFF_PASSWORD: opts.staffPassword ?? DEFAULT_STAFF_PASSWORD,
    WEB_CONCURRENCY: opts.webConcurrency,
  });
  // Development mode, as `npm start` runs (production refuses the TestGateway the checkout scenarios
  // pay with); its one cost on these paths is graphql-js's extra instanceOf checks, a few percent.
  if (opts.countSql) env.NODE_ENV = "test";
  if (dataDir) env.DATA_DIR = dataDir;
  if (pgPort) env.EMBEDDED_PG_PORT = String(pgPort);
  return env;
}

interface Target {
  url: string;
  server?: ServerProcess;
  coldStart: ColdStart | null;
  /** The database the server uses, when the driver knows it (for pgbench). */
  databaseUrl?: string;
}

async function startTarget(opts: BenchOptions): Promise<Target> {
  if (opts.url) {
    const res = await fetch(`${opts.url}/readyz`).catch((e: unknown) => {
      throw new Error(`${opts.url}/readyz is not reachable: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (res.status !== 200) throw new Error(`${opts.url}/readyz answered ${res.status}`);
    return { url: opts.url, coldStart: null, databaseUrl: opts.databaseUrl };
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
  const pgPort = dataDir ? await freePort() : undefined;
  const env = serverEnv(opts, await freePort(), dataDir, pgPort);
  const nodeArgs = [
    ...(opts.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(opts.cpuProfDir)}`] : []),
    // The soak sends SIGUSR2 at --heap-snapshot-at; node writes Heap.<date>.<pid>...heapsnapshot there.
    ...(opts.heapSnapshotDir
      ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${path.resolve(opts.heapSnapshotDir)}`]
      : []),
    ...opts.nodeArgs,
  ];
  if (opts.heapSnapshotDir) await mkdir(path.resolve(opts.heapSnapshotDir), { recursive: true });
  const firstStartDid = !database
    ? "empty DATA_DIR: initdb + migrations + seed"
    : database.created
      ? "empty database: migrations + seed"
      : "existing database: no cold start";

  log(`starting the server (first start, WEB_CONCURRENCY=${opts.webConcurrency})`);
  // The first start of a cold-start measurement is not profiled: only the measured server is.
  let server = await startServer(env, opts.coldStart ? {} : { nodeArgs });
  cleanups.push(() => server.stop());
  let coldStart: ColdStart | null = null;
  if (opts.coldStart) {
    const firstStartMs = server.readyMs;
    await server.stop();
    log(`first start ready in ${firstStartMs} ms; restarting on the same data`);
    server = await startServer(env, { nodeArgs });
    coldStart = { firstStartMs, restartMs: server.readyMs, firstStartDid };
    log(`restart ready in ${server.readyMs} ms`);
  }
  return {
    url: server.url,
    server,
    coldStart,
    databaseUrl: opts.databaseUrl ?? (pgPort ? embeddedDatabaseUrl(pgPort) : undefined),
  };
}

/** DATABASE_POOL_SIZE as the server derives it (the rule lives in config.ts). */
function poolSizeLabel(opts: BenchOptions): string {
  const processes = opts.webConcurrency === "auto" ? os.availableParallelism() : Number(opts.webConcurrency);
  const given = process.env.DATABASE_POOL_SIZE ? Number(process.env.DATABASE_POOL_SIZE) : undefined;
  const budget = Number(process.env.DATABASE_MAX_CONNECTIONS || 100);
  try {
    return String(poolSizeFor(processes, given, budget));
  } catch {
    return "refused by the server's config";
  }
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
  const processes: ProcessGroups = {
    serverPid,
    embeddedDatabase: !opts.databaseUrl,
    externalRedis: opts.redisUrl !== undefined,
  };
  const serverMemory = () => (serverPid ? readMemory(serverPid) : null);
  const maxClients = Math.max(...opts.clients);
  const ctx = new BenchContext(target.url, opts, maxClients + 8);
  cleanups.push(async () => ctx.close());
  const skipped: string[] = [];

  const vacuum =
    target.databaseUrl !== undefined &&
    (opts.vacuum === "on" || (opts.vacuum === "auto" && machine.autovacuum === false));
  if (opts.vacuum === "on" && !target.databaseUrl) skipped.push("--vacuum: the server's database is unknown");
  const maintain = async (before: string) => {
    if (!vacuum || !target.databaseUrl) return;
    log(`vacuum (analyze) before ${before}: ${await vacuumAnalyze(target.databaseUrl)} s`);
  };

  const scenarios: ScenarioResult[] = [];
  const wanted = (name: string) => (opts.scenarios as readonly string[]).includes(name);
  for (const name of LOAD_SCENARIOS.filter(wanted) as LoadScenarioName[]) {
    for (const clients of opts.clients) {
      const scenario = createScenario(name, ctx, clients);
      log(`${name} @ ${clients} clients: setting up`);
      const setupStarted = performance.now();
      const loadClients = await scenario.setup();
      const setupSeconds = Math.round((performance.now() - setupStarted) / 100) / 10;
      await maintain(`${name} @ ${clients}`);
      log(`${name} @ ${clients}: ${opts.warmupSeconds} s warm-up, ${opts.durationSeconds} s measured`);
      const result = await runLoad(loadClients, {
        warmupSeconds: opts.warmupSeconds,
        durationSeconds: opts.durationSeconds,
        maxRequests: opts.maxRequests,
        processes,
        serverMemory,
      });
      scenarios.push({
        name,
        operation: scenario.operation,
        setupSeconds,
        ...(scenario.details ? { details: { ...scenario.details } } : {}),
        ...result,
      });
      log(
        `${name} @ ${clients}: ${result.opsPerSecond} ops/s, p99 ${result.latencyMs.p99} ms, ${result.errors} errors`,
      );
    }
  }

  let ceilings: CeilingResult[] = [];
  if (wanted("ceiling")) {
    const version = pgbenchVersion();
    if (!version) skipped.push("ceiling: pgbench is not installed (PostgreSQL client tools)");
    else if (!target.databaseUrl)
      skipped.push("ceiling: the server's database is unknown (give DATABASE_URL with --url)");
    else {
      log(`ceiling: ${version}`);
      await maintain("the ceilings");
      ceilings = await runCeilings(ctx, target.databaseUrl, opts.clients, processes, log);
    }
  }
  for (const s of scenarios) {
    const transaction = CEILING_OF[s.name === "shopper" ? "checkout" : s.name];
    const ceiling = ceilings.find((c) => c.transaction === transaction && c.clients === s.clients);
    if (transaction && ceiling && ceiling.tps > 0) {
      s.ceiling = {
        transaction,
        tps: ceiling.tps,
        ratio: Math.round((s.opsPerSecond / ceiling.tps) * 1000) / 1000,
      };
    }
  }

  let flashSale: FlashSaleResult | null = null;
  if (wanted("flash-sale")) {
    log(`flash-sale: ${opts.flashBuyers} buyers, ${opts.flashStock} units`);
    flashSale = await runFlashSale(ctx, processes);
    log(`flash-sale: drained in ${flashSale.drainMs} ms, ${flashSale.confirmed} confirmed`);
  }

  const subscriptions: SubscriptionsResult[] = [];
  if (wanted("subscriptions")) {
    const feed = feedNamed(opts.feed);
    for (const n of opts.subscribers) {
      log(`subscriptions (${feed.name}): ${n} subscribers, ${opts.subscriptionEvents} events`);
      const result = await runSubscriptions(ctx, feed, n, opts.subscriptionEvents, processes);
      subscriptions.push(result);
      log(
        `subscriptions @ ${n}: last delivery p50 ${result.lastDeliveryMs.p50} ms, ${result.lost} lost, ` +
          `${result.serverMemory.perConnectionKiB} KiB per connection`,
      );
    }
  }

  let soak: SoakResult | null = null;
  if (opts.soakMinutes > 0) {
    const clients = opts.clients[0]!;
    log(`soak: shopper flow for ${opts.soakMinutes} min at ${clients} clients`);
    await maintain("the soak");
    soak = await runSoak(ctx, opts.soakMinutes, clients, processes);
    log(`soak: slope ${soak.slopeMiBPerMinute} MiB/min`);
  }

  const afterLoad = serverMemory();
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
      checkoutVariants: opts.checkoutVariants,
      store: opts.store,
      countSql: opts.countSql,
      vacuum,
      webConcurrency: opts.webConcurrency,
      poolSizePerProcess: poolSizeLabel(opts),
      nodeArgs: opts.nodeArgs,
    },
    machine,
    coldStart: target.coldStart,
    serverMemory: serverPid ? { idle, afterLoad } : null,
    scenarios,
    ceilings,
    flashSale,
    subscriptions,
    soak,
    skipped,
    serverWarnings: { count: warnings.length, sample: warnings.slice(0, 5) },
  };
  await cleanUp();

  const outDir = path.resolve(opts.outDir);
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `${startedAt.toISOString().slice(0, 10)}-${opts.mode}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(formatResults(results));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (flashSale && !flashSale.passed) {
    console.error(`\nFLASH SALE FAILED: ${flashSale.failures.join("; ")}`);
    process.exitCode = 1;
  }
}

main().catch(async (e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  await cleanUp();
  process.exit(1);
});
