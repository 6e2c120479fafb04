/**
 * ceiling: what PostgreSQL itself does with the two write transactions the server's hot paths boil down
 * to, driven by pgbench against the same database and real rows of the same run (bench/sql/*.sql):
 * the add-to-cart transaction and the checkout transaction. A server figure divided by its ceiling at
 * the same client count says how much of the database's capacity the server's request path leaves.
 *
 * The scripts reach the run's rows through small helper tables (bench_ceiling_*), made here and dropped
 * afterwards with everything the scripts wrote; the stock they took is put back.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { cartLines, STOCK_FOR_LOAD } from "./checkout-scenarios.js";
import type { BenchContext } from "./context.js";
import { type LatencySummary, summarize } from "./load.js";
import { type CpuCores, CpuMeter, type ProcessGroups, readProcessCpuSeconds } from "./process-stats.js";
import { createCart, guestToken, mapLimit, raiseStock } from "./shop-api.js";

const SQL_DIR = fileURLToPath(new URL("./sql/", import.meta.url));
/**
 * `checkout-hot-row`: the checkout transaction with every client on the same 3 variants (the first
 * triple), as in a flash sale of one item: the most orders per second one row can take, since each
 * waits for the previous one's row lock. The capacity model in the README starts from it.
 */
export const CEILING_TRANSACTIONS = ["add-to-cart", "checkout", "checkout-hot-row"] as const;
export type CeilingTransaction = (typeof CEILING_TRANSACTIONS)[number];
/** The load scenario whose operation each ceiling bounds. */
export const CEILING_OF: Record<string, CeilingTransaction> = {
  "add-to-cart": "add-to-cart",
  checkout: "checkout",
  "checkout-fraud": "checkout",
};

export interface CeilingResult {
  name: "ceiling";
  transaction: CeilingTransaction;
  script: string;
  clients: number;
  threads: number;
  windowSeconds: number;
  transactions: number;
  failed: number;
  tps: number;
  latencyMs: LatencySummary;
  cpuCores: CpuCores;
  /** pgbench's own CPU (it shares the machine). */
  pgbenchCores: number | null;
}

export function pgbenchVersion(): string | null {
  try {
    return execFileSync("pgbench", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

/** libpq environment for a postgres:// URL (pgbench takes no URL options for everything we need). */
function libpqEnv(url: string): Record<string, string> {
  const u = new URL(url);
  return {
    PGHOST: u.hostname,
    PGPORT: u.port || "5432",
    PGUSER: decodeURIComponent(u.username || "postgres"),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
    ...(u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {}),
  };
}

interface PgbenchRun {
  transactions: number;
  failed: number;
  tps: number;
  latenciesMs: number[];
  pgbenchCpuSeconds: number;
  stdout: string;
}

async function pgbench(
  databaseUrl: string,
  script: string,
  clients: number,
  seconds: number,
  variables: Record<string, string | number>,
  logDir?: string,
): Promise<PgbenchRun> {
  const threads = Math.min(clients, 2);
  const args = ["-n", "-M", "prepared", "-c", String(clients), "-j", String(threads)];
  args.push("-T", String(Math.max(1, Math.round(seconds))), "-f", path.join(SQL_DIR, script));
  for (const [k, v] of Object.entries(variables)) args.push("-D", `${k}=${v}`);
  if (logDir) args.push("-l", `--log-prefix=${path.join(logDir, "tx")}`);
  const child = spawn("pgbench", args, {
    env: { ...process.env, ...libpqEnv(databaseUrl) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  // /proc/<pid> is gone once it exits: keep the last reading.
  let cpu = 0;
  const sampler = setInterval(() => {
    if (child.pid) cpu = readProcessCpuSeconds(child.pid) ?? cpu;
  }, 200);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`pgbench ${script} exited ${code}:\n${stderr.slice(-2000)}`);
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  const latenciesMs: number[] = [];
  if (logDir) {
    // Per transaction: client_id transaction_no time_us script_no epoch epoch_us
    for (const file of await readdir(logDir)) {
      for (const line of (await readFile(path.join(logDir, file), "utf8")).split("\n")) {
        const us = Number(line.split(" ")[2]);
        if (Number.isFinite(us) && line) latenciesMs.push(us / 1000);
      }
    }
  }
  return {
    transactions: num(/number of transactions actually processed: (\d+)/),
    failed: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0),
    tps: num(/tps = ([\d.]+) \(without initial connection time\)/),
    latenciesMs,
    pgbenchCpuSeconds: cpu,
    stdout,
  };
}

/** Runs both ceilings at every client count; everything written is removed before it returns. */
export async function runCeilings(
  ctx: BenchContext,
  databaseUrl: string,
  clientCounts: number[],
  processes: ProcessGroups,
  log: (line: string) => void,
): Promise<CeilingResult[]> {
  const { client, opts } = ctx;
  const staff = await ctx.staffToken();
  const variants = await ctx.variants();
  await raiseStock(client, staff, variants.checkout, STOCK_FOR_LOAD);
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const results: CeilingResult[] = [];
  const maxClients = Math.max(...clientCounts);
  const cartIds = await mapLimit(Array.from({ length: maxClients }), 8, async () =>
    createCart(client, await guestToken(client), []),
  );
  const tripleSet = new Map<string, string[]>();
  for (let n = 0; n < variants.checkout.length; n++) {
    const ids = cartLines(variants.checkout, n)
      .map((l) => l.variantId)
      .sort();
    tripleSet.set(ids.join(","), ids);
  }
  const triples = [...tripleSet.values()];
  const checkoutIds = variants.checkout.map((v) => v.id);
  try {
    const [store] = await sql<{ id: string }[]>`select id from stores where handle = ${opts.store}`;
    if (!store) throw new Error(`ceiling: no store "${opts.store}" in ${new URL(databaseUrl).pathname}`);
    // On hand without units sold and not yet settled: the server's settlement job may move both while the
    // ceiling runs, never this figure (see src/services/inventory/settlement.ts).
    const unsettledOfV = sql`coalesce((select sum(r.quantity) from inventory_reservations r
                                         where r.variant_id = v.id and r.unsettled), 0)::int`;
    const stockBefore = await sql<{ id: string; stock_on_hand: number }[]>`
      select v.id, v.stock_on_hand - ${unsettledOfV} as stock_on_hand
        from product_variants v where v.id = any(${checkoutIds}::uuid[])`;
    await dropHelpers(sql);
    await sql`create table bench_ceiling_carts (slot int primary key, cart_id uuid not null)`;
    await sql`create table bench_ceiling_variants (n int primary key, variant_id uuid not null)`;
    await sql`create table bench_ceiling_triples (n int primary key, v1 uuid not null, v2 uuid not null, v3 uuid not null)`;
    for (const [i, id] of cartIds.entries()) {
      await sql`insert into bench_ceiling_carts values (${i + 1}, ${id})`;
    }
    for (const [i, v] of variants.add.entries()) {
      await sql`insert into bench_ceiling_variants values (${i + 1}, ${v.id})`;
    }
    for (const [i, t] of triples.entries()) {
      await sql`insert into bench_ceiling_triples values (${i + 1}, ${t[0]!}, ${t[1]!}, ${t[2]!})`;
    }
    await sql`analyze bench_ceiling_carts, bench_ceiling_variants, bench_ceiling_triples`;
    try {
      for (const clients of clientCounts) {
        for (const transaction of CEILING_TRANSACTIONS) {
          const script = transaction === "checkout-hot-row" ? "checkout.sql" : `${transaction}.sql`;
          const variables: Record<string, string | number> =
            transaction === "add-to-cart"
              ? { store_id: store.id, variants: variants.add.length }
              : { store_id: store.id, triples: transaction === "checkout-hot-row" ? 1 : triples.length };
          log(
            `ceiling ${transaction}: pgbench, ${clients} clients, ${opts.warmupSeconds} s warm-up, ${opts.durationSeconds} s measured`,
          );
          if (opts.warmupSeconds > 0)
            await pgbench(databaseUrl, script, clients, opts.warmupSeconds, variables);
          const logDir = await mkdtemp(path.join(os.tmpdir(), "cartograph-pgbench-"));
          try {
            const meter = new CpuMeter(processes);
            meter.begin();
            const started = performance.now();
            const sampler = setInterval(() => meter.sample(), 250);
            const run = await pgbench(
              databaseUrl,
              script,
              clients,
              opts.durationSeconds,
              variables,
              logDir,
            ).finally(() => clearInterval(sampler));
            const wall = (performance.now() - started) / 1000;
            const cpuCores = meter.end();
            results.push({
              name: "ceiling",
              transaction,
              script: `bench/sql/${script}`,
              clients,
              threads: Math.min(clients, 2),
              windowSeconds: Math.round(opts.durationSeconds * 100) / 100,
              transactions: run.transactions,
              failed: run.failed,
              tps: Math.round(run.tps * 10) / 10,
              latencyMs: summarize(run.latenciesMs),
              cpuCores,
              pgbenchCores: Math.round((run.pgbenchCpuSeconds / wall) * 100) / 100,
            });
            log(`ceiling ${transaction} at ${clients}: ${Math.round(run.tps)} tps`);
          } finally {
            await rm(logDir, { recursive: true, force: true });
          }
        }
      }
    } finally {
      await sql`delete from order_items where store_id = ${store.id} and order_id in (
        select id from orders where store_id = ${store.id} and idempotency_key like 'bench-ceiling-%')`;
      await sql`delete from orders where store_id = ${store.id} and idempotency_key like 'bench-ceiling-%'`;
      await sql`delete from outbox where topic = 'bench.ceiling'`;
      await sql`delete from cart_items where store_id = ${store.id} and cart_id = any(${cartIds}::uuid[])`;
      // Under the variants' locks, so no settlement commits between reading what is unsettled and writing.
      await sql.begin(async (tx) => {
        await tx`select id from product_variants where id = any(${checkoutIds}::uuid[]) order by id for no key update`;
        for (const row of stockBefore) {
          await tx`update product_variants v set stock_on_hand = ${row.stock_on_hand} + ${unsettledOfV}
                    where v.id = ${row.id}`;
        }
      });
    }
  } finally {
    await dropHelpers(sql).catch(() => {});
    await sql.end({ timeout: 5 });
  }
  return results;
}

async function dropHelpers(sql: postgres.Sql): Promise<void> {
  await sql`drop table if exists bench_ceiling_carts, bench_ceiling_variants, bench_ceiling_triples`;
}
