/**
 * A real Cartograph process (`node --import tsx src/main.ts`) for tests that need what an in-process
 * runtime cannot show: crashes, exit codes, start-up output, a `kill -9`. The child runs in its own
 * process group and is only ever stopped through its own pid.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type RecordableResponse, recordErrorCodes } from "./error-recorder.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Ports this worktree's tests may take (the machine is shared). Each test file that spawns servers
 * takes its own slice, so files running in parallel never race for one port.
 */
export const PORT_SLICES = {
  startupEmbedded: { from: 47400, to: 47439 },
  startupConfig: { from: 47440, to: 47469 },
  connectionReset: { from: 47470, to: 47489 },
  checkoutCrash: { from: 47490, to: 47499 },
  readmeExamples: { from: 47640, to: 47649 },
  cluster: { from: 47500, to: 47529 },
  twoInstances: { from: 47700, to: 47719 },
} as const;

/** Ports already given out by this process: not given again, even before the server binds them. */
const handedOut = new Set<number>();

/** A port of `slice` that nothing listens on now and that this process has not handed out. */
export async function freePortInRange(slice: { from: number; to: number }): Promise<number> {
  const size = slice.to - slice.from + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = slice.from + ((start + i) % size);
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${slice.from}-${slice.to}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "0.0.0.0", () => srv.close(() => resolve(true)));
  });
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** stdout parsed as JSON lines (throws if a non-empty line is not JSON). */
  jsonLines(): Record<string, unknown>[];
  /** Resolves with the HTTP port once the process logs `ready`; rejects if it exits first. */
  ready(timeoutMs?: number): Promise<number>;
  /** Resolves when the process has exited. */
  exited: Promise<ServerExit>;
  alive(): boolean;
  /** Sends a signal to the process (not its group) if it is still running. */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<ServerExit>;
}

/**
 * Spawns the server with exactly `env` (plus PATH and HOME): nothing from the test's own environment
 * (DATABASE_URL, REDIS_URL) leaks in unless given.
 */
export function spawnServer(env: Record<string, string>, opts: { entry?: string } = {}): ServerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", opts.entry ?? "src/main.ts"], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  if (child.pid === undefined) throw new Error("server did not spawn");
  const pid = child.pid;
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
  });
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    err += s;
  });
  let exit: ServerExit | undefined;
  const exited = once(child, "exit").then(([code, signal]) => {
    exit = { code: code as number | null, signal: signal as NodeJS.Signals | null };
    return exit;
  });
  const parseLines = () =>
    out
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          throw new Error(`stdout line is not JSON: ${l}`);
        }
      });
  const proc: ServerProcess = {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    jsonLines: parseLines,
    exited,
    alive: () => exit === undefined,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        for (const line of out.split("\n")) {
          if (!line.startsWith("{")) continue;
          try {
            const rec = JSON.parse(line) as { event?: string; msg?: string; port?: number };
            // `msg: "ready"` is how builds before the start-up rework said it.
            if ((rec.event === "ready" || rec.msg === "ready") && typeof rec.port === "number")
              return rec.port;
          } catch {
            // a partial line: wait for the rest
          }
        }
        if (exit) {
          throw new Error(
            `server exited (${JSON.stringify(exit)}) before ready\nstdout:\n${out}\nstderr:\n${err}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`server not ready after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`);
    },
    signal(sig) {
      if (exit) return;
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    },
    async stop(graceMs = 15_000) {
      if (exit) return exit;
      proc.signal("SIGTERM");
      const timer = setTimeout(() => proc.signal("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return proc;
}

/** Is a process with this pid running (signal 0 probes without sending anything)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** POSTs one GraphQL operation; never throws on GraphQL errors, only on transport failure. */
export async function postGraphQL<T = Record<string, unknown>>(
  port: number,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; data?: T; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body: RecordableResponse;
  try {
    body = JSON.parse(text) as RecordableResponse;
  } catch {
    return { status: res.status, errors: [{ message: `non-JSON response: ${text.slice(0, 200)}` }] };
  }
  recordErrorCodes(query, body);
  return { status: res.status, ...(body as object) };
}
