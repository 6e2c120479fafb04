/**
 * Throwaway redis-server processes for tests that must break Redis (SIGSTOP, kill) or need a cluster.
 * Each server gets its own port and temp dir and is stopped by its own pid; never the machine's Redis.
 *
 * Ports: redis-server cannot listen on port 0, so a free port is picked by probing (and its cluster bus
 * port, port + 10000, too). TEST_REDIS_PORTS=low-high confines the choice to a range (shared machines).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";

export interface RedisProcess {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** SIGSTOP: the process keeps its sockets open and stops answering (a hung Redis). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops the server by its pid (resuming it first) and removes its temp dir. */
  stop(): Promise<void>;
}

export interface RedisClusterProcesses {
  readonly nodes: RedisProcess[];
  readonly hostPorts: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** Is `redis-server` on PATH? (The cluster and fault tests need it; CI requires it.) */
export function hasRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

const started = new Set<ChildProcess>();
// A test process that dies without its afterAll must not leave servers behind.
process.once("exit", () => {
  for (const child of started) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function portRange(): [number, number] {
  const spec = process.env.TEST_REDIS_PORTS;
  const m = spec ? /^(\d+)-(\d+)$/.exec(spec) : null;
  if (spec && !m) throw new Error(`TEST_REDIS_PORTS must look like 47200-47299, not ${spec}`);
  return m ? [Number(m[1]), Number(m[2])] : [30_000, 55_000];
}

const claimed = new Set<number>();

/** A port (and, for cluster nodes, its bus port + 10000) that nothing listens on right now. */
async function pickPort(withBus: boolean): Promise<number> {
  const [low, high] = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (claimed.has(port) || (withBus && port + 10_000 > 65_535)) continue;
    if (!(await portIsFree(port))) continue;
    if (withBus && !(await portIsFree(port + 10_000))) continue;
    claimed.add(port);
    return port;
  }
  throw new Error(`no free port for redis-server in ${low}-${high}`);
}

/** Starts one redis-server (no persistence) and resolves once it accepts connections. */
export async function startRedisServer(opts: { cluster?: boolean } = {}): Promise<RedisProcess> {
  for (let attempt = 0; ; attempt++) {
    const port = await pickPort(!!opts.cluster);
    try {
      return await launch(port, !!opts.cluster);
    } catch (e) {
      // Another process took the port between the probe and the bind: try another one.
      if (attempt >= 3) throw e;
    } finally {
      claimed.delete(port);
    }
  }
}

async function launch(port: number, cluster: boolean): Promise<RedisProcess> {
  const dir = await mkdtemp(path.join(tmpdir(), "cartograph-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  args.push("--dir", dir, "--logfile", "");
  if (cluster) {
    args.push("--cluster-enabled", "yes", "--cluster-config-file", path.join(dir, "nodes.conf"));
    args.push("--cluster-node-timeout", "5000");
  }
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) resolve();
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`redis-server on ${port} exited (${code}): ${output}`)));
      setTimeout(() => reject(new Error(`redis-server on ${port} did not start: ${output}`)), 10_000).unref();
    });
  } catch (e) {
    child.kill("SIGKILL");
    started.delete(child);
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  // Keep draining its log so a full pipe can never block it.
  child.stdout?.resume();
  child.stderr?.resume();
  const pid = child.pid!;
  let stopped = false;
  return {
    port,
    pid,
    url: `redis://127.0.0.1:${port}`,
    pause: () => process.kill(pid, "SIGSTOP"),
    resume: () => process.kill(pid, "SIGCONT"),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, "SIGCONT");
        process.kill(pid, "SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      started.delete(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A 3-master cluster (no replicas), created the way an operator would: three cluster-enabled
 * redis-servers, then `redis-cli --cluster create`; resolves when every node reports cluster_state:ok.
 */
export async function startRedisCluster(): Promise<RedisClusterProcesses> {
  const nodes = await Promise.all([0, 1, 2].map(() => startRedisServer({ cluster: true })));
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        "redis-cli",
        [
          "--cluster",
          "create",
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        { timeout: 20_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`cluster create failed: ${stderr || stdout}`)) : resolve(),
      );
    });
    await Promise.all(nodes.map((n) => waitForClusterOk(n.port)));
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, hostPorts: nodes.map((n) => ({ host: "127.0.0.1", port: n.port })), stop };
}

async function waitForClusterOk(port: number): Promise<void> {
  const client = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const info = await client.cluster("INFO");
      if (String(info).includes("cluster_state:ok")) return;
      if (Date.now() > deadline) throw new Error(`cluster node ${port} never reached cluster_state:ok`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.disconnect();
  }
}
