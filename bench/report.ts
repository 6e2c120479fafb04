/** The results file's shape and its printed table. */
import type { LoadResult } from "./load.js";
import type { MachineInfo } from "./machine.js";
import type { MemoryStats } from "./process-stats.js";

export interface ScenarioResult extends LoadResult {
  name: string;
  operation: string;
  setupSeconds: number;
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
    clients: number;
    warmupSeconds: number;
    durationSeconds: number;
    maxRequests: number;
    cartLines: number;
    addVariants: number;
    store: string;
    countSql: boolean;
  };
  machine: MachineInfo;
  coldStart: ColdStart | null;
  /** Server RSS after the start and after the last scenario; null for a server the driver did not start. */
  serverMemory: { idle: MemoryStats | null; afterLoad: MemoryStats | null } | null;
  scenarios: ScenarioResult[];
  /** Warn-or-worse log lines the server printed during the run (sample). */
  serverWarnings: { count: number; sample: string[] };
}

const pad = (value: string, width: number, right = false) =>
  right ? value.padStart(width) : value.padEnd(width);

const num = (n: number | null, digits = 1) => (n === null || Number.isNaN(n) ? "-" : n.toFixed(digits));

export function formatResults(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`Cartograph bench — mode ${r.mode}, ${r.target}`);
  out.push(
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.os}; ` +
      `database: ${m.database}; cache: ${m.cache}; cores busy before the run: ${m.busyCoresBefore}`,
  );
  out.push(
    `load: ${r.settings.clients} clients, ${r.settings.warmupSeconds} s warm-up + ${r.settings.durationSeconds} s ` +
      `measured per scenario, store "${r.settings.store}", loopback`,
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
      `server RSS: idle ${num(idle?.rssMiB ?? null)} MiB, after load ${num(afterLoad?.rssMiB ?? null)} MiB ` +
        `(peak ${num(afterLoad?.peakRssMiB ?? null)} MiB)`,
    );
  }
  out.push("");
  const header = [
    ["scenario", 12],
    ["requests", 9],
    ["ops/s", 8],
    ["p50 ms", 8],
    ["p90 ms", 8],
    ["p99 ms", 8],
    ["max ms", 8],
    ["errors", 7],
    ["sql/op", 7],
    ["cpu server", 11],
    ["cpu pg", 7],
    ["cpu redis", 10],
    ["cpu driver", 11],
    ["cpu machine", 12],
  ] as const;
  out.push(header.map(([h, w], i) => pad(h, w, i > 0)).join(" "));
  for (const s of r.scenarios) {
    const cells = [
      s.name,
      String(s.requests),
      num(s.opsPerSecond),
      num(s.latencyMs.p50),
      num(s.latencyMs.p90),
      num(s.latencyMs.p99),
      num(s.latencyMs.max),
      String(s.errors),
      s.sqlStatementsPerOp === null ? "-" : String(s.sqlStatementsPerOp),
      num(s.cpuCores.server, 2),
      num(s.cpuCores.postgres, 2),
      num(s.cpuCores.redis, 2),
      num(s.cpuCores.driver, 2),
      num(s.cpuCores.machine, 2),
    ];
    out.push(cells.map((c, i) => pad(c, header[i]![1], i > 0)).join(" "));
  }
  for (const s of r.scenarios) {
    const kinds = Object.entries(s.errorKinds);
    if (kinds.length > 0) out.push(`  ${s.name} errors: ${kinds.map(([k, n]) => `${k} x${n}`).join(", ")}`);
  }
  out.push(
    `  (cpu: average cores busy during the measured window, 1.00 = one core, of ${m.cpus}; ` +
      '"machine" is every process: the rest of it was other work on the machine)',
  );
  if (r.serverWarnings.count > 0) out.push(`server logged ${r.serverWarnings.count} warn/error lines`);
  return out.join("\n");
}
