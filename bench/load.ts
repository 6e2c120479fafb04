/**
 * Closed-loop load: every client sends its next request as soon as the previous one answered. A warm-up
 * runs first and is not recorded; then only requests that complete inside the measured window count.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type CpuCores, CpuMeter, type MemoryStats, type ProcessGroups } from "./process-stats.js";

export interface OpOutcome {
  ok: boolean;
  /** Short label of what went wrong (an error code), counted per kind. */
  error?: string;
  sqlStatements?: number;
  /** HTTP requests the operation made (default 1): a whole shopper flow makes several. */
  requests?: number;
  /** Milliseconds of each named step of a multi-request operation (a name may repeat). */
  steps?: [step: string, ms: number][];
}

export interface LoadClient {
  /**
   * Untimed bookkeeping before the next operation (e.g. take the next ready cart). Returning false
   * means there is no more work: the measured window closes then, before the time is up.
   */
  prepare?(): Promise<boolean | undefined>;
  op(): Promise<OpOutcome>;
}

export interface LoadSettings {
  warmupSeconds: number;
  durationSeconds: number;
  /** 0 = no cap. */
  maxRequests: number;
  processes: ProcessGroups;
  /** Reads the server's memory (sampled at the end of the window: "under load"). */
  serverMemory?: () => MemoryStats | null;
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  clients: number;
  windowSeconds: number;
  /** Operations completed inside the window (for multi-request operations: whole flows). */
  requests: number;
  /** HTTP requests those operations made. */
  httpRequests: number;
  opsPerSecond: number;
  latencyMs: LatencySummary;
  /** Per step of a multi-request operation, over the operations that completed it in the window. */
  stepLatencyMs?: Record<string, LatencySummary>;
  errors: number;
  errorKinds: Record<string, number>;
  /** SQL statements of one operation sent alone, when the server reports them (x-sql-statements). */
  sqlStatementsPerOp: number | null;
  /** The same per HTTP request. */
  sqlStatementsPerRequest: number | null;
  cpuCores: CpuCores;
  /** Server CPU time (all its processes) in the window per operation / per HTTP request, in ms. */
  serverCpuMsPerOp: number | null;
  serverCpuMsPerRequest: number | null;
  /** Server memory at the end of the window. */
  serverMemoryUnderLoad: MemoryStats | null;
  /** Why the window closed before its time (a scenario ran out of prepared work), if it did. */
  endedEarly?: string;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
  return {
    mean: round(mean),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export async function runLoad(clients: LoadClient[], settings: LoadSettings): Promise<LoadResult> {
  const latencies: number[] = [];
  const stepLatencies = new Map<string, number[]>();
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  let httpRequests = 0;
  let sent = 0;
  let stopped = false;
  let endedEarly: string | undefined;
  // The window opens after the warm-up; until then windowStart is Infinity and nothing is recorded.
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let outOfWork: (() => void) | undefined;
  const ranOut = new Promise<"out">((resolve) => {
    outOfWork = () => resolve("out");
  });

  const loop = async (client: LoadClient) => {
    while (!stopped) {
      if (settings.maxRequests > 0 && sent >= settings.maxRequests) return;
      if ((await client.prepare?.()) === false) {
        // The first client without work closes the window for everyone: from here on fewer
        // clients would be running than the figures claim.
        endedEarly ??= "a client ran out of prepared work";
        outOfWork?.();
        return;
      }
      if (stopped) return;
      sent += 1;
      const started = performance.now();
      let outcome: OpOutcome;
      try {
        outcome = await client.op();
      } catch (e) {
        outcome = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      const finished = performance.now();
      if (finished < windowStart || finished > windowEnd) continue;
      latencies.push(finished - started);
      httpRequests += outcome.requests ?? 1;
      for (const [step, ms] of outcome.steps ?? []) {
        const list = stepLatencies.get(step) ?? [];
        if (list.length === 0) stepLatencies.set(step, list);
        list.push(ms);
      }
      if (!outcome.ok) {
        errors += 1;
        const kind = outcome.error ?? "unknown";
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
    }
  };

  // The server counts a statement in the context of the request that is current when the pool sends it;
  // under load, a query that waited for a connection is sent from another request's context. So the
  // count is taken from one operation sent while nothing else runs.
  let sqlStatementsPerOp: number | null = null;
  let sqlStatementsPerRequest: number | null = null;
  const lone = clients[0];
  if (lone && (await lone.prepare?.()) !== false) {
    const alone = await lone.op();
    if (alone.sqlStatements !== undefined) {
      sqlStatementsPerOp = alone.sqlStatements;
      sqlStatementsPerRequest = round(alone.sqlStatements / (alone.requests ?? 1), 1);
    }
  }

  const running = Promise.all(clients.map(loop));
  // A run capped by maxRequests may end before the timers do.
  const finishedEarly = running.then(() => "done" as const);
  const meter = new CpuMeter(settings.processes);
  const warm = await Promise.race([
    sleep(settings.warmupSeconds * 1000, "timer" as const),
    finishedEarly,
    ranOut,
  ]);
  if (warm === "done") throw new Error("--max-requests was used up during the warm-up");
  if (warm === "out") throw new Error("the scenario ran out of prepared work during the warm-up");
  windowStart = performance.now();
  meter.begin();
  const how = await Promise.race([
    sleep(settings.durationSeconds * 1000, "timer" as const),
    finishedEarly,
    ranOut,
  ]);
  windowEnd = performance.now();
  const cpuCores = meter.end();
  const serverMemoryUnderLoad = settings.serverMemory?.() ?? null;
  stopped = true;
  await running;
  if (how === "done") endedEarly = "--max-requests reached";

  const windowSeconds = (windowEnd - windowStart) / 1000;
  const cpuMs = cpuCores.server === null ? null : cpuCores.serverCpuSeconds * 1000;
  const steps = [...stepLatencies].map(([step, list]) => [step, summarize(list)] as const);
  return {
    clients: clients.length,
    windowSeconds: round(windowSeconds),
    requests: latencies.length,
    httpRequests,
    opsPerSecond: round(latencies.length / windowSeconds, 1),
    latencyMs: summarize(latencies),
    ...(steps.length ? { stepLatencyMs: Object.fromEntries(steps) } : {}),
    errors,
    errorKinds,
    sqlStatementsPerOp,
    sqlStatementsPerRequest,
    cpuCores,
    serverCpuMsPerOp: cpuMs === null || latencies.length === 0 ? null : round(cpuMs / latencies.length),
    serverCpuMsPerRequest: cpuMs === null || httpRequests === 0 ? null : round(cpuMs / httpRequests),
    serverMemoryUnderLoad,
    ...(endedEarly && how !== "timer" ? { endedEarly } : {}),
  };
}
