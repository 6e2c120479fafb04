/**
 * --soak <minutes>: the shopper flow for that long, with the server's RSS sampled every few seconds.
 * The least-squares slope of RSS over time (MiB per minute) shows a leak: a server that only warms up
 * flattens out, one that leaks keeps climbing (compare the slope of the second half with the whole).
 */
import { shopperScenario } from "./checkout-scenarios.js";
import type { BenchContext } from "./context.js";
import { type LoadResult, runLoad } from "./load.js";
import { type ProcessGroups, readMemory } from "./process-stats.js";

const SAMPLE_EVERY_MS = 5_000;

export interface SoakResult {
  name: "soak";
  minutes: number;
  clients: number;
  samples: { atSeconds: number; rssMiB: number }[];
  /** Least squares over every sample taken in the measured window. */
  slopeMiBPerMinute: number | null;
  /** Over the second half only: warm-up growth (JIT, caches, pools) is behind by then. */
  secondHalfSlopeMiBPerMinute: number | null;
  load: LoadResult;
}

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function slope(points: readonly [number, number][]): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length;
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

export async function runSoak(
  ctx: BenchContext,
  minutes: number,
  clients: number,
  processes: ProcessGroups,
): Promise<SoakResult> {
  const serverPid = processes.serverPid;
  const loadClients = await shopperScenario(ctx, clients).setup();
  const samples: { atSeconds: number; rssMiB: number }[] = [];
  const measuredFrom = performance.now() + ctx.opts.warmupSeconds * 1000;
  const sample = () => {
    const m = serverPid ? readMemory(serverPid) : null;
    const at = (performance.now() - measuredFrom) / 1000;
    if (m && at >= 0) samples.push({ atSeconds: Math.round(at * 10) / 10, rssMiB: m.rssMiB });
  };
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  let load: LoadResult;
  try {
    load = await runLoad(loadClients, {
      warmupSeconds: ctx.opts.warmupSeconds,
      durationSeconds: minutes * 60,
      maxRequests: 0,
      processes,
      serverMemory: () => (serverPid ? readMemory(serverPid) : null),
    });
  } finally {
    clearInterval(timer);
  }
  const perMinute = (pts: { atSeconds: number; rssMiB: number }[]) => {
    const s = slope(pts.map((p) => [p.atSeconds / 60, p.rssMiB]));
    return s === null ? null : Math.round(s * 100) / 100;
  };
  const half = samples.filter((p) => p.atSeconds >= (minutes * 60) / 2);
  return {
    name: "soak",
    minutes,
    clients,
    samples,
    slopeMiBPerMinute: perMinute(samples),
    secondHalfSlopeMiBPerMinute: perMinute(half),
    load,
  };
}
