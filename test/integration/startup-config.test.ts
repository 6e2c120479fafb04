/**
 * Start-up that explains itself, as real processes against an external PostgreSQL: each
 * misconfiguration is one line (no stack trace) and an exit code; a missing database is created when
 * DATABASE_CREATE allows it; an empty database says how to get a store; output is all JSON lines
 * without a terminal, all human lines with LOG_FORMAT=pretty.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { withDatabase } from "../support/global-setup.js";
import { freePortInRange, PORT_SLICES, type ServerProcess, spawnServer } from "../support/server-process.js";
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
    const proc = await start({ DATABASE_URL: await createDatabaseFromTemplate(), SEED_DEMO: "false" });
    await proc.ready();
    const lines = proc.jsonLines(); // throws on any line that is not JSON
    expect(lines.length).toBeGreaterThan(1);
    const warning = lines.find((l) => l.event === "no_store");
    expect(warning?.msg).toMatch(/No store exists yet.*npm run seed.*SEED_DEMO=true/);
    const ready = lines.find((l) => l.event === "ready");
    expect(ready?.readyMs).toBeGreaterThanOrEqual(Number(ready?.moduleLoadMs));
    expect(ready?.msg).toMatch(/^ready in \d+ ms since the process started \(\d+ ms of it loading modules\)/);
    expect((await proc.stop()).code).toBe(0);
    expect(() => proc.jsonLines()).not.toThrow();
    expect(proc.stderr()).toBe("");
  });

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
