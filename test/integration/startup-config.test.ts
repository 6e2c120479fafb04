/**
 * Start-up that explains itself, as real processes against an external PostgreSQL: each
 * misconfiguration is one line (no stack trace) and an exit code; a missing database is created when
 * DATABASE_CREATE allows it; an empty database says how to get a store; output is all JSON lines
 * without a terminal, all human lines with LOG_FORMAT=pretty.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { withDatabase } from "../support/global-setup.js";
import {
  freePortInRange,
  PORT_SLICES,
  postGraphQL,
  type ServerProcess,
  spawnServer,
} from "../support/server-process.js";
import { createDatabaseFromTemplate } from "../support/test-app.js";

const started: ServerProcess[] = [];
const admin = postgres(inject("pgBaseUrl"), { max: 1, onnotice: () => {} });
/** Generated secrets (demo staff password) go here, not into the worktree's ./.data. */
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), "cartograph-startup-config-"));
});

afterEach(async () => {
  for (const proc of started.splice(0)) await proc.stop();
});
afterAll(async () => {
  await admin.end({ timeout: 5 });
  await rm(dataDir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const proc = spawnServer({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: String(await freePortInRange(PORT_SLICES.startupConfig)),
    JWT_SECRET: "test-secret-that-is-long-enough-for-hs256!",
    CART_JOB_INTERVAL_SECONDS: "0",
    DATA_DIR: dataDir,
    ...env,
  });
  started.push(proc);
  return proc;
}

/** The process's only line at error level or above, after it exited with `code`. */
async function failure(proc: ServerProcess, code: number): Promise<Record<string, unknown>> {
  const exit = await proc.exited;
  const lines = proc.jsonLines();
  expect(exit.code, JSON.stringify(lines)).toBe(code);
  expect(proc.stderr(), "nothing on stderr (no raw stack trace)").toBe("");
  const errors = lines.filter((l) => Number(l.level) >= 50);
  expect(errors, JSON.stringify(lines)).toHaveLength(1);
  const [line] = errors;
  if (!line) throw new Error("no error line");
  expect(line).not.toHaveProperty("err");
  expect(String(line.msg)).not.toContain("\n");
  return line;
}

/** A database name the global teardown drops with the run's others. */
const scratchDatabase = () => `cartograph_s_${inject("runId")}_${randomBytes(3).toString("hex")}`;

describe("start-up with a misconfigured DATABASE_URL", () => {
  it("names a missing database and how to fix it when it may not create it", async () => {
    const name = scratchDatabase();
    const proc = await start({
      DATABASE_URL: withDatabase(inject("pgBaseUrl"), name),
      DATABASE_CREATE: "false",
    });
    const line = await failure(proc, 78);
    expect(line).toMatchObject({ event: "startup_failed", code: "DATABASE_MISSING" });
    expect(line.msg).toMatch(
      new RegExp(`Database "${name}" does not exist on .*createdb .*DATABASE_CREATE=true`),
    );
  });

  it("creates a missing database when DATABASE_CREATE is on (the default outside production)", async () => {
    const name = scratchDatabase();
    const proc = await start({ DATABASE_URL: withDatabase(inject("pgBaseUrl"), name), SEED_DEMO: "true" });
    await proc.ready();
    expect(proc.jsonLines().map((l) => l.msg)).toContain(
      `created database "${name}" (DATABASE_CREATE is on)`,
    );
    const rows = await admin`select 1 from pg_database where datname = ${name}`;
    expect(rows).toHaveLength(1);
    expect((await proc.stop()).code).toBe(0);
  });

  it("says the server cannot be reached", async () => {
    const closedPort = await freePortInRange(PORT_SLICES.startupConfig);
    const proc = await start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/cartograph` });
    const line = await failure(proc, 69);
    expect(line).toMatchObject({ code: "DATABASE_UNREACHABLE" });
    expect(line.msg).toContain(`Cannot reach PostgreSQL at 127.0.0.1:${closedPort} (connection refused)`);
  });

  it("says no PostgreSQL answers on a port that accepts connections and closes them", async () => {
    // A port forward or proxy with nothing behind it: the driver alone would reconnect forever.
    const port = await freePortInRange(PORT_SLICES.startupConfig);
    const closer: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => closer.listen(port, "127.0.0.1", resolve));
    try {
      const proc = await start({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/cartograph` });
      const line = await failure(proc, 69);
      expect(line).toMatchObject({ code: "DATABASE_UNREACHABLE" });
      expect(line.msg).toContain(`No PostgreSQL answers at 127.0.0.1:${port}`);
    } finally {
      closer.close();
    }
  }, 30_000);

  it("says a host name does not resolve", async () => {
    const proc = await start({
      DATABASE_URL: "postgres://postgres@cartograph-no-such-host.invalid/cartograph",
    });
    const line = await failure(proc, 78);
    expect(line).toMatchObject({ code: "DATABASE_HOST_UNKNOWN" });
    expect(line.msg).toContain('Cannot resolve the PostgreSQL host "cartograph-no-such-host.invalid"');
  });

  it("says the role may not create the missing database, and how to fix it", async () => {
    const role = `cartograph_nocreate_${randomBytes(3).toString("hex")}`;
    // A password, for servers that ask for one (the embedded PostgreSQL of the fresh-machine path does).
    const password = randomBytes(12).toString("hex");
    await admin.unsafe(`create role "${role}" login nocreatedb password '${password}'`);
    try {
      const url = new URL(withDatabase(inject("pgBaseUrl"), scratchDatabase()));
      url.username = role;
      url.password = password;
      const proc = await start({ DATABASE_URL: url.toString() });
      const line = await failure(proc, 78);
      expect(line).toMatchObject({ code: "DATABASE_MISSING" });
      expect(line.msg).toContain(`role "${role}" may not create databases`);
      expect(line.msg).toContain("grant CREATEDB");
    } finally {
      await admin.unsafe(`drop role if exists "${role}"`);
    }
  });

  it("says the role is unknown (or its password refused), never printing the password", async () => {
    const url = new URL(inject("pgBaseUrl"));
    url.username = "no_such_role";
    url.password = "hunter2-secret";
    const proc = await start({ DATABASE_URL: url.toString() });
    const line = await failure(proc, 78);
    expect(["DATABASE_ROLE", "DATABASE_AUTH"]).toContain(line.code);
    expect(line.msg).toContain('role "no_such_role"');
    expect(proc.stdout()).not.toContain("hunter2-secret");
  });

  it("reports a bad setting as one line", async () => {
    const proc = await start({ PORT: "not-a-port" });
    const line = await failure(proc, 78);
    expect(line).toMatchObject({ code: "CONFIG_INVALID" });
    expect(line.msg).toMatch(/^Invalid configuration: PORT: /);
  });
});

describe("start-up output", () => {
  it("says that no store exists on an empty database, in JSON lines only without a terminal", async () => {
    const databaseUrl = await createDatabaseFromTemplate();
    const proc = await start({ DATABASE_URL: databaseUrl, SEED_DEMO: "false" });
    const port = await proc.ready();
    const lines = proc.jsonLines(); // throws on any line that is not JSON
    expect(lines.length).toBeGreaterThan(1);
    const warning = lines.find((l) => l.event === "no_store");
    expect(warning?.msg).toMatch(/No store exists yet.*npm run seed.*no restart.*SEED_DEMO=true/);
    const ready = lines.find((l) => l.event === "ready");
    expect(ready?.readyMs).toBeGreaterThanOrEqual(Number(ready?.moduleLoadMs));
    expect(ready?.msg).toMatch(/^ready in \d+ ms since the process started \(\d+ ms of it loading modules\)/);

    // What the line says: requests fail until `npm run seed`, then work without a restart.
    const before = await postGraphQL(port, "{ store { handle } }");
    expect(before.errors?.[0]?.message).toContain('Unknown store "(default)"');
    const seed = spawn(process.execPath, ["--import", "tsx", "src/db/seed.cli.ts"], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        DATABASE_URL: databaseUrl,
        DATA_DIR: dataDir,
        DEMO_STAFF_PASSWORD: "demo-password-for-tests",
      },
      stdio: "ignore",
    });
    const [seedCode] = await once(seed, "exit");
    expect(seedCode).toBe(0);
    const after = await postGraphQL<{ store: { handle: string } }>(port, "{ store { handle } }");
    expect(after).toMatchObject({ data: { store: { handle: "demo" } } });
    expect((await proc.stop()).code).toBe(0);
    expect(() => proc.jsonLines()).not.toThrow();
    expect(proc.stderr()).toBe("");
  });

  // util-linux `script` gives the server a pseudo-terminal as stdout, as a developer's shell does.
  it.skipIf(!existsSync("/usr/bin/script"))(
    "writes human lines only on a terminal, with no LOG_FORMAT set",
    async () => {
      const port = await freePortInRange(PORT_SLICES.startupConfig);
      const env = {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        NODE_ENV: "test",
        HOST: "127.0.0.1",
        PORT: String(port),
        JWT_SECRET: "test-secret-that-is-long-enough-for-hs256!",
        CART_JOB_INTERVAL_SECONDS: "0",
        DATA_DIR: dataDir,
        DATABASE_URL: await createDatabaseFromTemplate(),
        SEED_DEMO: "false",
      };
      // -e: script exits with the server's code; the server is stopped through its own pid below.
      const terminal = spawn(
        "/usr/bin/script",
        ["-qfec", "exec node --import tsx src/main.ts", "/dev/null"],
        {
          env,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      terminal.stdout.setEncoding("utf8").on("data", (s: string) => {
        out += s;
      });
      const exited = once(terminal, "exit");
      try {
        const deadline = Date.now() + 60_000;
        while (!/ready in \d+ ms/.test(out) && terminal.exitCode === null && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(res.status).toBe(200);
        await res.text();
      } finally {
        const server = await serverPidUnder(terminal.pid ?? 0);
        if (server) process.kill(server, "SIGTERM");
        else terminal.kill("SIGTERM");
        await exited;
      }
      const lines = out.split(/\r?\n/).filter((l) => l !== "");
      expect(lines.length, out).toBeGreaterThan(2);
      for (const line of lines)
        expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/);
      expect(out).toMatch(/WARN {2}No store exists yet.*npm run seed/);
      expect(out).toMatch(
        /INFO {2}ready in \d+ ms since the process started \(\d+ ms of it loading modules\)/,
      );
      expect(out).toMatch(/INFO {2}stopped/);
    },
    90_000,
  );

  it("writes human lines only with LOG_FORMAT=pretty", async () => {
    const proc = await start({
      DATABASE_URL: await createDatabaseFromTemplate(),
      SEED_DEMO: "true",
      DEMO_STAFF_PASSWORD: "demo-password-for-tests",
      LOG_FORMAT: "pretty",
    });
    const deadline = Date.now() + 60_000;
    while (!/ INFO {2}ready in /.test(proc.stdout()) && proc.alive() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const lines = proc
      .stdout()
      .split("\n")
      .filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines)
      expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/);
    expect(lines.some((l) => l.includes("ready in"))).toBe(true);
  });
});

/** The pid of the node process `script` started (its child), read from /proc. */
async function serverPidUnder(scriptPid: number): Promise<number | undefined> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // Field 4 (after the parenthesised command name) is the parent pid.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === scriptPid) return Number(entry);
  }
  return undefined;
}
