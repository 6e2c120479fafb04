/**
 * Memory and CPU of the processes under test, read from /proc (Linux): the server's RSS, and how many
 * cores the server, PostgreSQL, Redis and the driver itself burn during a measured window.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface MemoryStats {
  /** VmRSS, resident now. */
  rssMiB: number;
  /** VmHWM, the peak resident size so far. */
  peakRssMiB: number;
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

const kibToMiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

export function readMemory(pid: number): MemoryStats | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return { rssMiB: kibToMiB(field("VmRSS")), peakRssMiB: kibToMiB(field("VmHWM")) };
  } catch {
    return null;
  }
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

function descendants(all: ProcInfo[], root: number): Set<number> {
  const found = new Set<number>([root]);
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

/** Which processes count as what; the database and Redis may be the server's children or system-wide. */
export interface ProcessGroups {
  serverPid?: number;
  /** true: PostgreSQL runs under the server process (embedded); false: any `postgres` on the machine. */
  embeddedDatabase: boolean;
}

type Snapshot = Record<"server" | "postgres" | "redis", Map<number, number>> & { driverMicros: number };

export interface CpuCores {
  /** Average cores used during the window (1.0 = one core fully busy). */
  server: number | null;
  postgres: number;
  redis: number;
  driver: number;
}

export class CpuMeter {
  private start?: Snapshot;
  private startedAt = 0;

  constructor(private readonly groups: ProcessGroups) {}

  private snapshot(): Snapshot {
    const all = allProcesses();
    const server = new Map<number, number>();
    const postgres = new Map<number, number>();
    const redis = new Map<number, number>();
    const { serverPid, embeddedDatabase } = this.groups;
    const family = serverPid ? descendants(all, serverPid) : new Set<number>();
    for (const p of all) {
      if (p.pid === serverPid) server.set(p.pid, p.ticks);
      else if (p.comm === "postgres" && (!embeddedDatabase || family.has(p.pid))) postgres.set(p.pid, p.ticks);
      else if (p.comm === "redis-server") redis.set(p.pid, p.ticks);
    }
    const usage = process.cpuUsage();
    return { server, postgres, redis, driverMicros: usage.user + usage.system };
  }

  begin(): void {
    this.start = this.snapshot();
    this.startedAt = performance.now();
  }

  end(): CpuCores {
    const end = this.snapshot();
    const start = this.start;
    if (!start) throw new Error("CpuMeter.end() before begin()");
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const cores = (group: "server" | "postgres" | "redis") => {
      let ticks = 0;
      for (const [pid, t] of end[group]) ticks += t - (start[group].get(pid) ?? 0);
      return Math.round((ticks / CLOCK_TICKS / wallSeconds) * 100) / 100;
    };
    return {
      server: this.groups.serverPid ? cores("server") : null,
      postgres: cores("postgres"),
      redis: cores("redis"),
      driver: Math.round(((end.driverMicros - start.driverMicros) / 1e6 / wallSeconds) * 100) / 100,
    };
  }
}
