/**
 * Closed-loop load: every client sends its next request as soon as the previous one answered. A warm-up
 * runs first and is not recorded; then only requests that complete inside the measured window count.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type CpuCores, CpuMeter, type ProcessGroups } from "./process-stats.js";

export interface OpOutcome {
  ok: boolean;
  /** Short label of what went wrong (an error code), counted per kind. */
  error?: string;
  sqlStatements?: number;
}

export interface LoadClient {
  /** Untimed bookkeeping before the next request (e.g. a fresh cart when one is full). */
  prepare?(): Promise<void>;
  op(): Promise<OpOutcome>;
}

export interface LoadSettings {
  warmupSeconds: number;
  durationSeconds: number;
  /** 0 = no cap. */
  maxRequests: number;
  processes: ProcessGroups;
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
  requests: number;
  opsPerSecond: number;
  latencyMs: LatencySummary;
  errors: number;
  errorKinds: Record<string, number>;
  /** SQL statements of one request sent alone, when the server reports them (x-sql-statements). */
  sqlStatementsPerOp: number | null;
  cpuCores: CpuCores;
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
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  let stopped = false;
  // The window opens after the warm-up; until then windowStart is Infinity and nothing is recorded.
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;

  const loop = async (client: LoadClient) => {
    while (!stopped) {
      if (settings.maxRequests > 0 && sent >= settings.maxRequests) return;
      await client.prepare?.();
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
      if (!outcome.ok) {
        errors += 1;
        const kind = outcome.error ?? "unknown";
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
    }
  };

  // The server counts a statement in the context of the request that is current when the pool sends it;
  // under load, a query that waited for a connection is sent from another request's context. So the
  // count is taken from one request sent while nothing else runs.
  let sqlStatementsPerOp: number | null = null;
  const lone = clients[0];
  if (lone) {
    await lone.prepare?.();
    sqlStatementsPerOp = (await lone.op()).sqlStatements ?? null;
  }

  const running = Promise.all(clients.map(loop));
  // A run capped by maxRequests may end before the timers do.
  const finishedEarly = running.then(() => "done" as const);
  const meter = new CpuMeter(settings.processes);
  if (
    (await Promise.race([sleep(settings.warmupSeconds * 1000, "timer" as const), finishedEarly])) === "done"
  ) {
    throw new Error("--max-requests was used up during the warm-up");
  }
  windowStart = performance.now();
  meter.begin();
  await Promise.race([sleep(settings.durationSeconds * 1000), finishedEarly]);
  windowEnd = performance.now();
  const cpuCores = meter.end();
  stopped = true;
  await running;

  const windowSeconds = (windowEnd - windowStart) / 1000;
  return {
    clients: clients.length,
    windowSeconds: round(windowSeconds),
    requests: latencies.length,
    opsPerSecond: round(latencies.length / windowSeconds, 1),
    latencyMs: summarize(latencies),
    errors,
    errorKinds,
    sqlStatementsPerOp,
    cpuCores,
  };
}
