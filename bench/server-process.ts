/**
 * The server under test as a child process, started the way `npm start` starts it
 * (`node --import tsx src/main.ts`), so start-up time and memory are those of a real deployment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface ServerProcess {
  pid: number;
  url: string;
  /** Milliseconds from spawn to the first 200 of /readyz. */
  readyMs: number;
  /** Log lines at warn level or above seen so far. */
  logLines(): string[];
  stop(): Promise<void>;
}

/** A port nothing listens on now (the OS picks it), so parallel runs do not collide. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`server not ready within ${timeoutMs} ms`);
}

export async function startServer(
  env: Record<string, string>,
  opts: { nodeArgs?: string[]; timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const port = Number(env.PORT);
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let clusterReady = false;
  let partial = "";
  const collect = (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8");
    const complete = text.split("\n");
    partial = complete.pop() ?? "";
    for (const line of complete) {
      // pino writes JSON lines; the start-up banner is plain text and not a problem.
      if (!line.startsWith("{")) continue;
      if (line.includes('"event":"cluster_ready"')) clusterReady = true;
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
      if (level >= 40) lines.push(line);
    }
    if (lines.length > 1_000) lines.splice(0, lines.length - 1_000);
  };
  const stderr: string[] = [];
  child.stdout?.on("data", collect);
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr.push(chunk.toString("utf8"));
    collect(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    // The server drains and stops its embedded PostgreSQL on SIGTERM; only a hung one is killed.
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitReady(url, child, timeoutMs);
    // Several processes: /readyz answers as soon as the first worker listens; wait for all of them.
    const processes = env.WEB_CONCURRENCY ?? "1";
    if (processes !== "1") {
      const deadline = performance.now() + timeoutMs;
      while (!clusterReady) {
        if (child.exitCode !== null || performance.now() > deadline)
          throw new Error("cluster never became ready");
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  } catch (e) {
    await stop();
    const tail = stderr.join("").split("\n").slice(-20).join("\n");
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${tail}`);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error("server process has no pid");
  return { pid, url, readyMs: Math.round(performance.now() - started), logLines: () => [...lines], stop };
}
