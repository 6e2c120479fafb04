/**
 * WEB_CONCURRENCY=2 as real processes: a primary and two workers on one port. Which worker answered
 * is read from /proc (the process holding the server end of the connection), not from the server.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { hasRedisServer, type RedisProcess, startRedisServer } from "../support/redis-server.js";
import {
  freePortInRange,
  PORT_SLICES,
  pidAlive,
  type ServerProcess,
  spawnServer,
} from "../support/server-process.js";
import { childPids, socketOwner } from "../support/socket-owner.js";
import { createDatabaseFromTemplate } from "../support/test-app.js";

// A throwaway redis-server keeps the cluster's keys and channels off the machine's Redis.
process.env.TEST_REDIS_PORTS ??= "47530-47559";
const canRun = hasRedisServer() || Boolean(process.env.REDIS_URL);

let redis: RedisProcess | undefined;
let redisUrl = "";
let dataDir = "";
const started: ServerProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "cartograph-cluster-"));
  if (!canRun) return;
  if (hasRedisServer()) {
    redis = await startRedisServer();
    redisUrl = redis.url;
  } else {
    redisUrl = inject("redisUrl") ?? "";
  }
});

afterEach(async () => {
  for (const proc of started.splice(0)) await proc.stop(30_000);
});

afterAll(async () => {
  for (const undo of cleanups) await undo();
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const proc = spawnServer({
    NODE_ENV: "test",
    LOG_FORMAT: "json",
    HOST: "127.0.0.1",
    PORT: String(await freePortInRange(PORT_SLICES.cluster)),
    DEMO_STAFF_PASSWORD: "demo-password-for-tests",
    RATE_LIMIT_PER_MINUTE: "0",
    CART_JOB_INTERVAL_SECONDS: "0",
    ...env,
  });
  started.push(proc);
  return proc;
}

async function waitForLine(
  proc: ServerProcess,
  match: (line: Record<string, unknown>) => boolean,
  ms = 90_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = proc
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find(match);
    if (hit) return hit;
    if (!proc.alive())
      throw new Error(`exited before the line was logged\n${proc.stdout()}\n${proc.stderr()}`);
    if (Date.now() > deadline) throw new Error(`line not logged within ${ms} ms\n${proc.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Answer {
  status: number;
  body: string;
  /** The worker holding the server end of the connection. */
  pid: number | undefined;
}

/** One request on a new connection; the connection stays open until its owner is known. */
function ask(
  port: number,
  workers: number[],
  opts: { path?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: opts.path ?? "/graphql",
        method: body ? "POST" : "GET",
        agent,
        headers: { ...(body ? { "content-type": "application/json" } : {}), ...opts.headers },
      },
      (res) => {
        // Read now: once the body is in, the agent takes the socket back (still open: keep-alive).
        const clientPort = res.socket.localPort ?? 0;
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          const pid = socketOwner(port, clientPort, workers);
          agent.destroy();
          resolve({ status: res.statusCode ?? 0, body: text, pid });
        });
      },
    );
    req.on("error", (e) => {
      agent.destroy();
      reject(e);
    });
    req.end(body);
  });
}

/** Asks until every one of `workers` has answered; returns the pids seen. */
async function askUntilEveryWorkerAnswered(
  port: number,
  workers: number[],
  tries = 60,
): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let i = 0; i < tries && seen.size < workers.length; i++) {
    const answer = await ask(port, workers, { path: "/readyz" });
    expect(answer.status).toBe(200);
    if (answer.pid !== undefined) seen.add(answer.pid);
  }
  return seen;
}

const workerPids = (proc: ServerProcess) =>
  proc
    .stdout()
    .split("\n")
    .filter((l) => l.includes('"worker_ready"'))
    .map((l) => Number((JSON.parse(l) as { pid: number }).pid));

/** Pids of postgres processes running with `-D <dir>/...`. */
async function postmastersOn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    const d = argv.indexOf("-D");
    if (path.basename(argv[0] ?? "") === "postgres" && d >= 0 && (argv[d + 1] ?? "").startsWith(dir)) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

describe("WEB_CONCURRENCY", () => {
  it("refuses more than one process without Redis, naming the fix", async () => {
    const proc = await start({ WEB_CONCURRENCY: "2", DATA_DIR: dataDir });
    const exit = await proc.exited;
    expect(exit.code).toBe(78);
    const fatal = proc.jsonLines().filter((l) => Number(l.level) >= 50);
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0]?.msg)).toMatch(
      /WEB_CONCURRENCY: 2 processes need REDIS_URL or REDIS_CLUSTER_NODES/,
    );
  });

  it.skipIf(!canRun)(
    "serves from two workers, replaces one killed with SIGKILL, and stops everything on SIGTERM",
    { timeout: 180_000 },
    async () => {
      // No JWT_SECRET: the primary creates the development secret once, so a token from one worker
      // works on the other.
      const secretDir = await mkdtemp(path.join(dataDir, "external-"));
      const proc = await start({
        WEB_CONCURRENCY: "2",
        DATABASE_URL: await createDatabaseFromTemplate(),
        REDIS_URL: redisUrl,
        SEED_DEMO: "true",
        DATA_DIR: secretDir,
      });
      await waitForLine(proc, (l) => l.event === "cluster_ready");
      const port = Number((await waitForLine(proc, (l) => l.event === "ready")).port);
      const workers = workerPids(proc);
      expect(new Set(workers).size).toBe(2);
      expect(childPids(proc.pid)).toEqual(expect.arrayContaining(workers));
      expect(workers).not.toContain(proc.pid);

      expect([...(await askUntilEveryWorkerAnswered(port, workers))].sort()).toEqual([...workers].sort());

      // A guest token minted by one worker is accepted by both.
      const guest = await ask(port, workers, {
        body: { query: "mutation { guestSessionCreate { token } }" },
        headers: { "x-store": "demo" },
      });
      const token = (JSON.parse(guest.body) as { data: { guestSessionCreate: { token: string } } }).data
        .guestSessionCreate.token;
      const servedCart = new Set<number>();
      for (let i = 0; i < 60 && servedCart.size < 2; i++) {
        const answer = await ask(port, workers, {
          body: { query: "mutation { cartCreate { cart { id } userErrors { code } } }" },
          headers: { "x-store": "demo", authorization: `Bearer ${token}` },
        });
        expect(answer.status).toBe(200);
        expect(answer.body).toMatch(/"cart":\{"id":"[0-9a-f-]{36}"\}/);
        if (answer.pid !== undefined) servedCart.add(answer.pid);
      }
      expect(servedCart.size).toBe(2);

      // SIGKILL one worker: the other keeps serving while the primary starts a replacement.
      const [victim, survivor] = workers as [number, number];
      process.kill(victim, "SIGKILL");
      await waitForLine(proc, (l) => l.event === "worker_exited" && l.pid === victim, 10_000);
      for (let i = 0; i < 20; i++) {
        const answer = await ask(port, [survivor], { path: "/readyz" });
        expect(answer.status).toBe(200);
      }
      const replacement = Number(
        (await waitForLine(proc, (l) => l.event === "worker_ready" && !workers.includes(Number(l.pid)))).pid,
      );
      expect(pidAlive(victim)).toBe(false);
      expect(childPids(proc.pid)).toContain(replacement);
      const now = [survivor, replacement];
      expect([...(await askUntilEveryWorkerAnswered(port, now))].sort()).toEqual([...now].sort());

      // SIGTERM the primary: the workers drain and everything exits.
      const exit = await proc.stop(30_000);
      expect(exit).toEqual({ code: 0, signal: null });
      for (const pid of now) expect(pidAlive(pid), `worker ${pid} exited`).toBe(false);
      expect(proc.stdout()).toContain('"event":"stopped"');
    },
  );

  it.skipIf(!canRun)(
    "embedded mode: the primary runs the only PostgreSQL and the workers use it",
    { timeout: 180_000 },
    async () => {
      // Directly under tmpdir: as root, PostgreSQL runs as `postgres` and must reach the directory.
      const embeddedDir = await mkdtemp(path.join(tmpdir(), "cartograph-cluster-embedded-"));
      cleanups.push(() => rm(embeddedDir, { recursive: true, force: true }));
      const proc = await start({
        WEB_CONCURRENCY: "2",
        REDIS_URL: redisUrl,
        DATA_DIR: embeddedDir,
        EMBEDDED_PG_PORT: String(await freePortInRange(PORT_SLICES.cluster)),
      });
      await waitForLine(proc, (l) => l.event === "cluster_ready");
      const port = Number((await waitForLine(proc, (l) => l.event === "ready")).port);
      const workers = workerPids(proc);

      // One postmaster on the data directory, a child of the primary (workers start none).
      const postmasters = (await postmastersOn(embeddedDir)).filter((pid) =>
        childPids(proc.pid).includes(pid),
      );
      expect(postmasters).toHaveLength(1);
      for (const w of workers) {
        const theirs = (await postmastersOn(embeddedDir)).filter((pid) => childPids(w).includes(pid));
        expect(theirs, `worker ${w} started no postgres`).toEqual([]);
      }
      // Both workers answer from the seeded database.
      const seen = new Set<number>();
      for (let i = 0; i < 60 && seen.size < 2; i++) {
        const answer = await ask(port, workers, {
          body: { query: "{ products(first: 1) { edges { node { id } } } }" },
          headers: { "x-store": "demo" },
        });
        expect(answer.status).toBe(200);
        expect(answer.body).toContain('"edges":[{');
        if (answer.pid !== undefined) seen.add(answer.pid);
      }
      expect(seen.size).toBe(2);

      const exit = await proc.stop(30_000);
      expect(exit).toEqual({ code: 0, signal: null });
      for (const pid of workers) expect(pidAlive(pid)).toBe(false);
      expect(await postmastersOn(embeddedDir)).toEqual([]);
    },
  );
});
