/**
 * --soak <minutes>: the shopper flow for that long, with the server's RSS sampled every few seconds.
 * The least-squares slope of RSS over time (MiB per minute) shows a leak: a server that only warms up
 * flattens out, one that leaks keeps climbing (compare the slope of the second half with the whole).
 * RSS is not live memory (the allocator and V8 keep freed pages), so each sample also has V8's heap
 * from the server's /metrics (`nodejs_heap_size_used_bytes`: live objects plus garbage not yet
 * collected) when one server process answers them; with --heap-snapshots the server writes V8 heap
 * snapshots at --heap-snapshot-at seconds (each pauses it for seconds and bumps RSS: explore with them,
 * measure slopes without).
 */
import { shopperScenario } from "./checkout-scenarios.js";
import type { BenchContext } from "./context.js";
import { type LoadResult, runLoad } from "./load.js";
import { type ProcessGroups, readMemory } from "./process-stats.js";

const SAMPLE_EVERY_MS = 5_000;

export interface SoakSample {
  atSeconds: number;
  rssMiB: number;
  /** V8 heap in use (null when /metrics did not answer, or several processes serve). */
  heapUsedMiB: number | null;
  /** V8 heap reserved (its spaces' committed size). */
  heapTotalMiB: number | null;
  /** Memory of objects outside the V8 heap that it tracks (Buffers, ArrayBuffers). */
  externalMiB: number | null;
}

interface HeapFigures {
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
}

const toMiB = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** V8's heap figures from a Prometheus text page of prom-client's default metrics. */
export function heapFromMetrics(text: string): HeapFigures | null {
  const value = (name: string) => {
    const m = new RegExp(`^${name} ([0-9.e+-]+)`, "m").exec(text);
    return m ? Number(m[1]) : null;
  };
  const used = value("nodejs_heap_size_used_bytes");
  const total = value("nodejs_heap_size_total_bytes");
  const external = value("nodejs_external_memory_bytes");
  if (used === null || total === null || external === null) return null;
  return { heapUsedMiB: toMiB(used), heapTotalMiB: toMiB(total), externalMiB: toMiB(external) };
}

async function readHeap(url: string): Promise<HeapFigures | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const text = await res.text();
    return res.status === 200 ? heapFromMetrics(text) : null;
  } catch {
    return null;
  }
}

export interface SoakResult {
  name: "soak";
  minutes: number;
  clients: number;
  samples: SoakSample[];
  /** Least squares over every sample taken in the measured window. */
  slopeMiBPerMinute: number | null;
  /** Over the second half only: warm-up growth (JIT, caches, pools) is behind by then. */
  secondHalfSlopeMiBPerMinute: number | null;
  /** The same two slopes of heapUsedMiB (null without heap figures): a saw-tooth, so noisy. */
  heapUsedSlopeMiBPerMinute: number | null;
  heapUsedSecondHalfSlopeMiBPerMinute: number | null;
  /** And of heapTotalMiB, the heap V8 holds (sized from the live heap after each full GC). */
  heapTotalSlopeMiBPerMinute: number | null;
  heapTotalSecondHalfSlopeMiBPerMinute: number | null;
  /** Seconds into the window at which a heap snapshot was asked for (--heap-snapshots). */
  heapSnapshotsAt: number[];
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
  const samples: SoakSample[] = [];
  const measuredFrom = performance.now() + ctx.opts.warmupSeconds * 1000;
  // One process's /metrics is one process's heap: with several, the RSS stays the only figure.
  const heapReadable = ctx.opts.url !== undefined || ctx.opts.webConcurrency === "1";
  const sample = async () => {
    const m = serverPid ? readMemory(serverPid) : null;
    const at = (performance.now() - measuredFrom) / 1000;
    if (!m || at < 0) return;
    const heap = heapReadable ? await readHeap(ctx.url) : null;
    samples.push({
      atSeconds: Math.round(at * 10) / 10,
      rssMiB: m.rssMiB,
      heapUsedMiB: heap?.heapUsedMiB ?? null,
      heapTotalMiB: heap?.heapTotalMiB ?? null,
      externalMiB: heap?.externalMiB ?? null,
    });
  };
  const timer = setInterval(() => void sample(), SAMPLE_EVERY_MS);
  // Heap snapshots: node writes one on SIGUSR2 (--heapsnapshot-signal); only a single server process.
  const snapshotTimers: NodeJS.Timeout[] = [];
  const heapSnapshotsAt: number[] = [];
  if (ctx.opts.heapSnapshotDir && serverPid && ctx.opts.webConcurrency === "1") {
    for (const at of ctx.opts.heapSnapshotAt) {
      const delay = measuredFrom + at * 1000 - performance.now();
      snapshotTimers.push(
        setTimeout(() => {
          try {
            process.kill(serverPid, "SIGUSR2");
            heapSnapshotsAt.push(at);
          } catch {
            // the server is gone; the load run reports it
          }
        }, delay),
      );
    }
  }
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
    for (const t of snapshotTimers) clearTimeout(t);
  }
  const perMinute = (pts: SoakSample[], of: (p: SoakSample) => number | null) => {
    const points = pts.flatMap((p): [number, number][] => {
      const y = of(p);
      return y === null ? [] : [[p.atSeconds / 60, y]];
    });
    const s = slope(points);
    return s === null ? null : Math.round(s * 100) / 100;
  };
  const half = samples.filter((p) => p.atSeconds >= (minutes * 60) / 2);
  return {
    name: "soak",
    minutes,
    clients,
    samples,
    slopeMiBPerMinute: perMinute(samples, (p) => p.rssMiB),
    secondHalfSlopeMiBPerMinute: perMinute(half, (p) => p.rssMiB),
    heapUsedSlopeMiBPerMinute: perMinute(samples, (p) => p.heapUsedMiB),
    heapUsedSecondHalfSlopeMiBPerMinute: perMinute(half, (p) => p.heapUsedMiB),
    heapTotalSlopeMiBPerMinute: perMinute(samples, (p) => p.heapTotalMiB),
    heapTotalSecondHalfSlopeMiBPerMinute: perMinute(half, (p) => p.heapTotalMiB),
    heapSnapshotsAt,
    load,
  };
}
