/**
 * `npm start` without DATABASE_URL, as real processes: a failed or killed start never leaves the
 * embedded PostgreSQL running, and what a dead run left behind does not block the next start.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  freePortInRange,
  PORT_SLICES,
  pidAlive,
  type ServerProcess,
  spawnServer,
} from "../support/server-process.js";

let dataDir: string;
const started: ServerProcess[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "cartograph-startup-"));
});

afterEach(async () => {
  for (const proc of started.splice(0)) await proc.stop();
});

afterAll(async () => {
  // Whatever a failed test left behind on our directory (and only there) is stopped.
  for (const pid of await postgresOn(dataDir)) process.kill(pid, "SIGQUIT");
  await rm(dataDir, { recursive: true, force: true });
});

async function start(extra: Record<string, string> = {}): Promise<ServerProcess> {
  const proc = spawnServer({
    NODE_ENV: "test",
    LOG_FORMAT: "json",
    DATA_DIR: dataDir,
    HOST: "127.0.0.1",
    PORT: String(await freePortInRange(PORT_SLICES.startupEmbedded)),
    EMBEDDED_PG_PORT: String(await freePortInRange(PORT_SLICES.startupEmbedded)),
    DEMO_STAFF_PASSWORD: "demo-password-for-tests",
    ...extra,
  });
  started.push(proc);
  return proc;
}

/** Pids of postgres processes running with `-D <dir>/...` (Linux /proc). */
async function postgresOn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const args = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const argv = args.split("\0");
    const d = argv.indexOf("-D");
    if (path.basename(argv[0] ?? "") === "postgres" && d >= 0 && (argv[d + 1] ?? "").startsWith(dir)) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

function errorLines(proc: ServerProcess) {
  return proc.jsonLines().filter((l) => Number(l.level) >= 50);
}

async function waitUntil(cond: () => Promise<boolean> | boolean, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe("embedded PostgreSQL start-up", () => {
  it("fails at once, before initdb, when PORT is taken, and leaves no postgres", {
    timeout: 60_000,
  }, async () => {
    const port = await freePortInRange(PORT_SLICES.startupEmbedded);
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
    try {
      const proc = await start({ PORT: String(port) });
      const exit = await proc.exited;
      expect(exit.code).toBe(69);
      const errors = errorLines(proc);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ event: "startup_failed", code: "PORT_IN_USE" });
      expect(String(errors[0]?.msg)).toContain(`Port ${port} (PORT) is already in use`);
      expect(proc.stderr()).toBe("");
      expect(existsSync(path.join(dataDir, "pg", "PG_VERSION")), "no initdb ran").toBe(false);
      expect(await postgresOn(dataDir)).toEqual([]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("starts again after node was killed with -9 (its postgres left running)", {
    timeout: 120_000,
  }, async () => {
    const first = await start();
    await first.ready();
    const orphans = await postgresOn(dataDir);
    expect(orphans.length).toBeGreaterThan(0);
    first.signal("SIGKILL");
    await first.exited;
    expect((await postgresOn(dataDir)).length, "the postgres outlived node").toBeGreaterThan(0);

    const second = await start();
    await second.ready();
    const notices = second.jsonLines().filter((l) => l.event === "embedded_cleanup");
    expect(notices.map((l) => l.msg).join("\n")).toMatch(
      /stopping the PostgreSQL \(pid \d+\) an earlier Cartograph/,
    );
    for (const pid of orphans) expect(pidAlive(pid), `orphan ${pid} stopped`).toBe(false);

    const exit = await second.stop();
    expect(exit.code).toBe(0);
    expect(await waitUntil(async () => (await postgresOn(dataDir)).length === 0)).toBe(true);
    expect(existsSync(path.join(dataDir, "pg.owner")), "owner file released").toBe(false);
  });

  it("refuses a second Cartograph on the same DATA_DIR while the first runs", {
    timeout: 120_000,
  }, async () => {
    const first = await start();
    await first.ready();
    const second = await start();
    const exit = await second.exited;
    expect(exit.code).toBe(69);
    expect(errorLines(second)).toEqual([
      expect.objectContaining({ code: "DATA_DIR_IN_USE", msg: expect.stringContaining(`pid ${first.pid}`) }),
    ]);
    // The first one is untouched.
    expect(first.alive()).toBe(true);
    expect((await first.stop()).code).toBe(0);
  });

  it("removes a postmaster.pid whose pid is dead, or now another program, and starts", {
    timeout: 120_000,
  }, async () => {
    const pidFile = path.join(dataDir, "pg", "postmaster.pid");
    // A finished process: its pid is dead.
    const gone = spawn(process.execPath, ["-e", ""]);
    await once(gone, "exit");
    const template = `${gone.pid}\n${path.join(dataDir, "pg")}\n0\n5432\n\n\n`;
    await writeFile(pidFile, template);
    const first = await start();
    await first.ready();
    expect(first.jsonLines().map((l) => l.msg)).toContainEqual(
      expect.stringMatching(new RegExp(`removed a stale postmaster.pid .*pid ${gone.pid} is not running`)),
    );
    expect((await first.stop()).code).toBe(0);

    // A live process that is not PostgreSQL (a reused pid): PostgreSQL itself would refuse to start.
    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    try {
      await writeFile(pidFile, template.replace(String(gone.pid), String(other.pid)));
      const second = await start();
      await second.ready();
      expect(second.jsonLines().map((l) => l.msg)).toContainEqual(
        expect.stringMatching(/removed a stale postmaster.pid .*is now another program/),
      );
      expect(pidAlive(other.pid ?? 0), "the other program is left alone").toBe(true);
      expect((await second.stop()).code).toBe(0);
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("fails with one line when EMBEDDED_PG_PORT is taken, and leaves no postgres", {
    timeout: 60_000,
  }, async () => {
    const port = await freePortInRange(PORT_SLICES.startupEmbedded);
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
    try {
      const proc = await start({ EMBEDDED_PG_PORT: String(port) });
      const exit = await proc.exited;
      expect(exit.code).toBe(69);
      expect(errorLines(proc)).toEqual([
        expect.objectContaining({ code: "PORT_IN_USE", msg: expect.stringContaining("EMBEDDED_PG_PORT") }),
      ]);
      expect(await postgresOn(dataDir)).toEqual([]);
      expect(existsSync(path.join(dataDir, "pg.owner"))).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
