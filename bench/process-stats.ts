/**
 * Memory and CPU of the processes under test, read from /proc (Linux): the server's RSS, and how many
 * cores the server, PostgreSQL, Redis and the driver itself burn during a measured window.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface MemoryStats {
  /** VmRSS, resident now (summed over the server's processes). */
  rssMiB: number;
  /** VmHWM, the peak resident size so far (each process's own peak, summed). */
  peakRssMiB: number;
  /** How many processes were summed (1, or a cluster primary and its workers). */
  processes?: number;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime in clock ticks. */
  ticks: number;
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Cores busy machine-wide over `ms` (anything running before the driver starts skews the figures). */
export async function machineBusyCores(ms: number): Promise<number> {
  const before = machineBusyTicks();
  await new Promise((r) => setTimeout(r, ms));
  return Math.round(((machineBusyTicks() - before) / CLOCK_TICKS / (ms / 1000)) * 100) / 100;
}

const kibToMiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

function readMemoryKiB(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return { rss: field("VmRSS"), peak: field("VmHWM") };
  } catch {
    return null;
  }
}

/**
 * Memory of the server started as `pid`: that process and every descendant except PostgreSQL's (a
 * cluster primary's workers, tsx's esbuild service), summed.
 */
export function readMemory(pid: number): MemoryStats | null {
  const pids = serverProcesses(allProcesses(), pid);
  let rss = 0;
  let peak = 0;
  let counted = 0;
  for (const p of pids) {
    const m = readMemoryKiB(p);
    if (!m) continue;
    rss += m.rss;
    peak += m.peak;
    counted += 1;
  }
  if (counted === 0) return null;
  return { rssMiB: kibToMiB(rss), peakRssMiB: kibToMiB(peak), processes: counted };
}

/** CPU seconds (user + system) a process has used so far, null once it has exited. */
export function readProcessCpuSeconds(pid: number): number | null {
  const info = readProc(pid);
  return info ? info.ticks / CLOCK_TICKS : null;
}

/** The server's own processes: `root` and its descendants that are not PostgreSQL. */
function serverProcesses(all: ProcInfo[], root: number): number[] {
  const tree = descendants(all, [root]);
  return all.filter((p) => tree.has(p.pid) && p.comm !== "postgres").map((p) => p.pid);
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is parenthesised and may hold spaces; the fields after it are space-separated.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const rest = stat.slice(close + 2).split(" ");
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { pid, comm, ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null; // exited between listing and reading
  }
}

function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProc(Number(name));
    if (info) out.push(info);
  }
  return out;
}

function descendants(all: ProcInfo[], roots: number[]): Set<number> {
  const found = new Set<number>(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return found;
}

/**
 * Which processes count as what. The embedded PostgreSQL runs under the server process; an external
 * one is the `postgres` tree started by the system (parent pid 1), so that embedded databases of other
 * programs on the machine are not counted.
 */
export interface ProcessGroups {
  /** The server the driver started; without one (--url) only the driver's own CPU is known. */
  serverPid?: number;
  embeddedDatabase: boolean;
  /** false: the server uses its in-memory twins and any Redis on the machine is not ours. */
  externalRedis: boolean;
}

type Snapshot = Record<"server" | "postgres" | "redis", Map<number, number>> & {
  driverMicros: number;
  machineTicks: number;
};

/** Busy clock ticks of all CPUs together (user, nice, system, irq, softirq, steal) from /proc/stat. */
function machineBusyTicks(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
  } catch {
    return 0;
  }
}

export interface CpuCores {
  /** Average cores used during the window (1.0 = one core fully busy), all the server's processes. */
  server: number | null;
  /** CPU seconds the server's processes used in the window (unrounded, for per-request figures). */
  serverCpuSeconds: number;
  postgres: number | null;
  redis: number | null;
  driver: number;
  /** Every process on the machine: what exceeds the sum of the others was someone else's work. */
  machine: number;
}

export class CpuMeter {
  private start?: Snapshot;
  private seen?: Snapshot;
  private startedAt = 0;

  constructor(private readonly groups: ProcessGroups) {}

  private snapshot(): Snapshot {
    const all = allProcesses();
    const server = new Map<number, number>();
    const postgres = new Map<number, number>();
    const redis = new Map<number, number>();
    const { serverPid, embeddedDatabase } = this.groups;
    const roots = embeddedDatabase
      ? serverPid
        ? [serverPid]
        : []
      : all.filter((p) => p.comm === "postgres" && p.ppid === 1).map((p) => p.pid);
    const database = descendants(all, roots);
    const ours = new Set(serverPid === undefined ? [] : serverProcesses(all, serverPid));
    for (const p of all) {
      if (ours.has(p.pid)) server.set(p.pid, p.ticks);
      else if (p.comm === "postgres" && database.has(p.pid)) postgres.set(p.pid, p.ticks);
      else if (p.comm === "redis-server" && this.groups.externalRedis) redis.set(p.pid, p.ticks);
    }
    const usage = process.cpuUsage();
    return {
      server,
      postgres,
      redis,
      driverMicros: usage.user + usage.system,
      machineTicks: machineBusyTicks(),
    };
  }

  begin(): void {
    this.start = this.snapshot();
    this.seen = undefined;
    this.startedAt = performance.now();
  }

  /**
   * Remembers every process's ticks now. Processes that exit before end() (pgbench's backends end
   * with its connections) would otherwise take their CPU time with them.
   */
  sample(): void {
    const now = this.snapshot();
    if (!this.seen) {
      this.seen = now;
      return;
    }
    for (const group of ["server", "postgres", "redis"] as const) {
      for (const [pid, t] of now[group]) this.seen[group].set(pid, t);
    }
  }

  end(): CpuCores {
    const end = this.snapshot();
    for (const group of ["server", "postgres", "redis"] as const) {
      for (const [pid, t] of this.seen?.[group] ?? []) if (!end[group].has(pid)) end[group].set(pid, t);
    }
    const start = this.start;
    if (!start) throw new Error("CpuMeter.end() before begin()");
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    // A process that started inside the window (a restarted worker) counts from zero.
    const seconds = (group: "server" | "postgres" | "redis") => {
      let ticks = 0;
      for (const [pid, t] of end[group]) ticks += t - (start[group].get(pid) ?? 0);
      return ticks / CLOCK_TICKS;
    };
    const cores = (group: "server" | "postgres" | "redis") =>
      Math.round((seconds(group) / wallSeconds) * 100) / 100;
    const ours = this.groups.serverPid !== undefined;
    return {
      server: ours ? cores("server") : null,
      serverCpuSeconds: ours ? seconds("server") : 0,
      postgres: ours ? cores("postgres") : null,
      redis: ours && this.groups.externalRedis ? cores("redis") : null,
      driver: Math.round(((end.driverMicros - start.driverMicros) / 1e6 / wallSeconds) * 100) / 100,
      machine: Math.round(((end.machineTicks - start.machineTicks) / CLOCK_TICKS / wallSeconds) * 100) / 100,
    };
  }
}
