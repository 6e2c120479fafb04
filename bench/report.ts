/** The results file's shape and its printed tables. */
import type { CeilingResult, CeilingTransaction } from "./ceiling.js";
import type { FlashSaleResult } from "./flash-sale.js";
import type { LoadResult } from "./load.js";
import type { MachineInfo } from "./machine.js";
import type { MemoryStats } from "./process-stats.js";
import type { SoakResult } from "./soak.js";
import type { SubscriptionsResult } from "./subscriptions.js";

export interface ScenarioResult extends LoadResult {
  name: string;
  operation: string;
  setupSeconds: number;
  details?: Record<string, number>;
  /** The pgbench ceiling of this operation at the same client count, when one was run. */
  ceiling?: { transaction: CeilingTransaction; tps: number; ratio: number };
}

export interface ColdStart {
  /** First start: an empty data directory (embedded: initdb) or a fresh database; migrations and seed. */
  firstStartMs: number;
  /** Second start on the same data: migrations and seed are no-ops. */
  restartMs: number;
  /** What the first start had to do, e.g. "empty DATA_DIR: initdb + migrations + seed". */
  firstStartDid: string;
}

export interface BenchResults {
  startedAt: string;
  mode: string;
  target: string;
  settings: {
    clients: number[];
    warmupSeconds: number;
    durationSeconds: number;
    maxRequests: number;
    cartLines: number;
    addVariants: number;
    checkoutVariants: number;
    store: string;
    countSql: boolean;
    /** VACUUM (ANALYZE) before each measured window (--vacuum; absent in older results). */
    vacuum?: boolean;
    /** WEB_CONCURRENCY of the spawned server. */
    webConcurrency: string;
    /** Connections per server process to PostgreSQL (DATABASE_POOL_SIZE as the server derives it). */
    poolSizePerProcess: string;
    /** Extra node flags of the spawned server (--node-args). */
    nodeArgs: string[];
  };
  machine: MachineInfo;
  coldStart: ColdStart | null;
  /** Server RSS (all its processes) after the start and after the last scenario; null for --url. */
  serverMemory: { idle: MemoryStats | null; afterLoad: MemoryStats | null } | null;
  scenarios: ScenarioResult[];
  ceilings: CeilingResult[];
  flashSale: FlashSaleResult | null;
  subscriptions: SubscriptionsResult[];
  soak: SoakResult | null;
  /** Parts of the run that could not be done here, and why. */
  skipped: string[];
  /** Warn-or-worse log lines the server printed during the run (sample). */
  serverWarnings: { count: number; sample: string[] };
}

const pad = (value: string, width: number, right = false) =>
  right ? value.padStart(width) : value.padEnd(width);

const num = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);

function table(header: readonly (readonly [string, number])[], rows: string[][]): string[] {
  const line = (cells: string[]) => cells.map((c, i) => pad(c, header[i]![1], i > 0)).join(" ");
  return [line(header.map(([h]) => h)), ...rows.map(line)];
}

export function formatResults(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`Cartograph bench — mode ${r.mode}, ${r.target}`);
  out.push(
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.os}; ` +
      `database: ${m.database}; cache: ${m.cache}; cores busy before the run: ${m.busyCoresBefore}`,
  );
  out.push(
    `server: WEB_CONCURRENCY=${r.settings.webConcurrency}, pool ${r.settings.poolSizePerProcess} per process; ` +
      `load: ${r.settings.warmupSeconds} s warm-up + ${r.settings.durationSeconds} s measured per run, ` +
      `store "${r.settings.store}", loopback` +
      (r.settings.vacuum ? "; VACUUM (ANALYZE) before each measured window" : ""),
  );
  if (r.coldStart) {
    out.push(
      `spawn to /readyz 200: first start ${r.coldStart.firstStartMs} ms (${r.coldStart.firstStartDid}), ` +
        `restart on the same data ${r.coldStart.restartMs} ms`,
    );
  }
  if (r.serverMemory) {
    const { idle, afterLoad } = r.serverMemory;
    out.push(
      `server RSS (${idle?.processes ?? "?"} process(es)): idle ${num(idle?.rssMiB)} MiB, after all load ` +
        `${num(afterLoad?.rssMiB)} MiB (peaks summed ${num(afterLoad?.peakRssMiB)} MiB)`,
    );
  }

  if (r.scenarios.length > 0) {
    out.push("");
    const header = [
      ["scenario", 12],
      ["clients", 7],
      ["ops/s", 7],
      ["p50 ms", 7],
      ["p99 ms", 7],
      ["errors", 6],
      ["vs pgbench", 11],
      ["srv ms/op", 9],
      ["srv ms/req", 10],
      ["sql/op", 6],
      ["rss MiB", 7],
      ["cpu srv", 7],
      ["pg", 5],
      ["redis", 5],
      ["driver", 6],
      ["machine", 7],
    ] as const;
    const rows = r.scenarios.map((s) => [
      s.name,
      String(s.clients),
      num(s.opsPerSecond),
      num(s.latencyMs.p50),
      num(s.latencyMs.p99),
      String(s.errors),
      s.ceiling ? `${s.ceiling.ratio.toFixed(2)} x` : "-",
      num(s.serverCpuMsPerOp, 2),
      num(s.serverCpuMsPerRequest, 2),
      s.sqlStatementsPerOp === null ? "-" : String(s.sqlStatementsPerOp),
      num(s.serverMemoryUnderLoad?.rssMiB ?? null, 0),
      num(s.cpuCores.server, 2),
      num(s.cpuCores.postgres, 2),
      num(s.cpuCores.redis, 2),
      num(s.cpuCores.driver, 2),
      num(s.cpuCores.machine, 2),
    ]);
    out.push(...table(header, rows));
    for (const s of r.scenarios) {
      const kinds = Object.entries(s.errorKinds);
      if (kinds.length > 0) {
        out.push(`  ${s.name}@${s.clients} errors: ${kinds.map(([k, n]) => `${k} x${n}`).join(", ")}`);
      }
      if (s.endedEarly)
        out.push(`  ${s.name}@${s.clients}: window ended after ${s.windowSeconds} s: ${s.endedEarly}`);
    }
    out.push(
      "  ops/s: operations completed in the window (checkout: orders; shopper: completed flows = orders);",
      "  vs pgbench: ops/s / the ceiling's tps at the same clients (shopper: orders/s vs the checkout ceiling);",
      "  srv ms/op, /req: server CPU (all its processes) per operation / per HTTP request; rss: at the window's end;",
      `  cpu: average cores busy in the window, 1.00 = one core, of ${m.cpus}; "machine" is every process`,
    );
    for (const s of r.scenarios.filter((x) => x.stepLatencyMs)) {
      const steps = Object.entries(s.stepLatencyMs ?? {});
      out.push(
        `  ${s.name}@${s.clients} steps p50/p99 ms: ${steps.map(([k, v]) => `${k} ${num(v.p50)}/${num(v.p99)}`).join(", ")}`,
      );
    }
  }

  if (r.ceilings.length > 0) {
    out.push("");
    const header = [
      ["ceiling (pgbench)", 18],
      ["clients", 7],
      ["tps", 8],
      ["p50 ms", 7],
      ["p99 ms", 7],
      ["failed", 6],
      ["cpu pg", 6],
      ["pgbench", 7],
      ["server", 6],
      ["machine", 7],
    ] as const;
    out.push(
      ...table(
        header,
        r.ceilings.map((c) => [
          c.transaction,
          String(c.clients),
          num(c.tps),
          num(c.latencyMs.p50, 2),
          num(c.latencyMs.p99, 2),
          String(c.failed),
          num(c.cpuCores.postgres, 2),
          num(c.pgbenchCores, 2),
          num(c.cpuCores.server, 2),
          num(c.cpuCores.machine, 2),
        ]),
      ),
    );
  }

  if (r.flashSale) {
    const f = r.flashSale;
    out.push("");
    out.push(
      `flash-sale: ${f.buyers} buyers at once for ${f.stock} units of ${f.sku}: drain ${num(f.drainMs, 0)} ms ` +
        `(per request p50 ${num(f.latencyMs.p50, 0)} / p99 ${num(f.latencyMs.p99, 0)} ms); ` +
        `${[`${f.confirmed} CONFIRMED`, ...Object.entries(f.refusals).map(([k, n]) => `${n} ${k}`)].join(", ")}; ` +
        `ends with stock ${f.final.stockOnHand}, reserved ${f.final.reserved}: ` +
        `${f.passed ? "PASS" : `FAIL (${f.failures.join("; ")})`}; server ${num(f.cpuCores.server, 2)} cores`,
    );
  }

  if (r.subscriptions.length > 0) {
    out.push("");
    const header = [
      ["subscriptions", 13],
      ["subs", 5],
      ["live", 5],
      ["connect s", 9],
      ["last p50", 8],
      ["last p99", 8],
      ["each p50", 8],
      ["each p99", 8],
      ["lost", 5],
      ["rss before", 10],
      ["rss after", 9],
      ["KiB/conn", 8],
      ["srv ms/dlv", 10],
    ] as const;
    out.push(
      ...table(
        header,
        r.subscriptions.map((s) => [
          s.feed,
          String(s.subscribers),
          String(s.live),
          num(s.connectSeconds),
          num(s.lastDeliveryMs.p50, 0),
          num(s.lastDeliveryMs.p99, 0),
          num(s.deliveryMs.p50, 0),
          num(s.deliveryMs.p99, 0),
          String(s.lost),
          num(s.serverMemory.beforeConnecting?.rssMiB ?? null, 0),
          num(s.serverMemory.afterConnecting?.rssMiB ?? null, 0),
          num(s.serverMemory.perConnectionKiB, 1),
          num(s.serverCpuMsPerDelivery, 3),
        ]),
      ),
    );
    out.push(
      "  last: mutation response -> last subscriber's delivery, over the events; each: every delivery;",
      "  ms; rss in MiB before / after opening the connections (all server processes)",
    );
  }

  if (r.soak) {
    const s = r.soak;
    const rss = s.samples.map((p) => p.rssMiB);
    out.push("");
    out.push(
      `soak: shopper flow for ${s.minutes} min at ${s.clients} clients, ${num(s.load.opsPerSecond)} orders/s, ` +
        `${s.load.errors} errors; RSS ${num(rss[0] ?? null, 0)} -> ${num(rss.at(-1) ?? null, 0)} MiB ` +
        `(max ${num(rss.length ? Math.max(...rss) : null, 0)}), slope ${num(s.slopeMiBPerMinute, 2)} MiB/min ` +
        `(second half ${num(s.secondHalfSlopeMiBPerMinute, 2)} MiB/min), ${s.samples.length} samples`,
    );
    const heap = s.samples.flatMap((p) => (p.heapUsedMiB === null ? [] : [p.heapUsedMiB]));
    if (heap.length > 0) {
      out.push(
        `  V8 heap used ${num(heap[0] ?? null, 0)} -> ${num(heap.at(-1) ?? null, 0)} MiB ` +
          `(max ${num(Math.max(...heap), 0)}), slope ${num(s.heapUsedSlopeMiBPerMinute, 2)} MiB/min ` +
          `(second half ${num(s.heapUsedSecondHalfSlopeMiBPerMinute, 2)} MiB/min); heap total slope ` +
          `${num(s.heapTotalSlopeMiBPerMinute, 2)} (second half ${num(s.heapTotalSecondHalfSlopeMiBPerMinute, 2)}) MiB/min`,
      );
    }
    if (s.heapSnapshotsAt.length > 0) {
      out.push(
        `  heap snapshots taken at ${s.heapSnapshotsAt.join(", ")} s (they pause the server and add RSS)`,
      );
    }
  }
  for (const note of r.skipped) out.push(`skipped: ${note}`);
  if (r.serverWarnings.count > 0) out.push(`server logged ${r.serverWarnings.count} warn/error lines`);
  return out.join("\n");
}
