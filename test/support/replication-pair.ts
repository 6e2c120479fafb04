/**
 * A real PostgreSQL streaming-replication pair for one test file, built from the machine's PostgreSQL
 * binaries: a primary (initdb, wal_level=replica, trusted replication from 127.0.0.1) and a hot standby
 * cloned from it with `pg_basebackup -R`, each in its own temp directory on its own free port.
 * PostgreSQL refuses to run as root, so as root every server binary runs as the `postgres` OS user.
 * `close()` stops both servers by their postmaster pid and removes the directories; it is safe to call
 * after a partial start and more than once.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";

const run = promisify(execFile);

// Postmasters this process started and has not stopped: if the test process exits without its
// teardown (a crashed worker), they are still sent PostgreSQL's immediate-shutdown signal.
const startedPids = new Set<number>();
process.once("exit", () => {
  for (const pid of startedPids) {
    try {
      process.kill(pid, "SIGQUIT");
    } catch {
      // already gone
    }
  }
});

export const PG_BIN_DIR = process.env.PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";
const REQUIRED_BINARIES = ["initdb", "pg_ctl", "pg_basebackup", "postgres"];

/** Why the pair cannot be built on this machine, or null when it can. */
export function replicationUnavailable(): string | null {
  const missing = REQUIRED_BINARIES.filter((b) => !existsSync(path.join(PG_BIN_DIR, b)));
  if (missing.length) return `PostgreSQL binaries missing in ${PG_BIN_DIR}: ${missing.join(", ")}`;
  if (process.getuid?.() === 0 && !["/usr/sbin/runuser", "/sbin/runuser"].some((f) => existsSync(f))) {
    return "running as root, and runuser (to run PostgreSQL as the postgres user) is missing";
  }
  return null;
}

export interface PgServer {
  port: number;
  dataDir: string;
  /** postgres://…/<database> on this server. */
  url: string;
  /** The postmaster's pid while it runs. */
  pid(): Promise<number | null>;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate` on this server's data dir: no shutdown checkpoint, like a crash. */
  crash(): Promise<void>;
}

export interface ReplicationPair {
  primary: PgServer;
  replica: PgServer;
  /** Waits until the replica has replayed everything the primary has written. */
  waitForCatchUp(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

interface OsUser {
  uid: number;
  gid: number;
}

async function postgresOsUser(): Promise<OsUser | null> {
  if (process.getuid?.() !== 0) return null;
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function startReplicationPair(opts: { database?: string } = {}): Promise<ReplicationPair> {
  const database = opts.database ?? "cartograph";
  const osUser = await postgresOsUser();
  const root = await mkdtemp(path.join(tmpdir(), "cartograph-replica-"));
  const servers: PgServer[] = [];

  async function pg(binary: string, args: string[]): Promise<string> {
    const file = path.join(PG_BIN_DIR, binary);
    const { stdout } = osUser
      ? await run("runuser", ["-u", "postgres", "--", file, ...args])
      : await run(file, args);
    return stdout;
  }

  function server(name: string, port: number): PgServer {
    const dataDir = path.join(root, name);
    const log = path.join(root, `${name}.log`);
    const srv: PgServer = {
      port,
      dataDir,
      url: `postgres://postgres@127.0.0.1:${port}/${database}`,
      async pid() {
        const pidFile = path.join(dataDir, "postmaster.pid");
        if (!existsSync(pidFile)) return null;
        const first = (await readFile(pidFile, "utf8")).split("\n")[0];
        const pid = Number(first);
        return Number.isInteger(pid) && pid > 0 ? pid : null;
      },
      async start() {
        try {
          await pg("pg_ctl", ["-D", dataDir, "-l", log, "-w", "-t", "30", "-o", `-p ${port}`, "start"]);
        } catch (e) {
          const tail = await readFile(log, "utf8").catch(() => "");
          throw new Error(`${name} did not start: ${String(e)}\n${tail.slice(-2000)}`);
        }
        const pid = await srv.pid();
        if (pid) startedPids.add(pid);
      },
      async crash() {
        const pid = await srv.pid();
        await pg("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
        if (pid) startedPids.delete(pid);
      },
    };
    servers.push(srv);
    return srv;
  }

  async function stopAll(): Promise<void> {
    for (const srv of servers) {
      const pid = await srv.pid().catch(() => null);
      if (!pid) continue;
      try {
        process.kill(pid, "SIGQUIT"); // PostgreSQL's immediate shutdown
      } catch {
        continue; // already gone
      }
      for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50);
      if (isAlive(pid)) process.kill(pid, "SIGKILL");
      startedPids.delete(pid);
    }
  }

  let closed = false;
  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await stopAll();
    await rm(root, { recursive: true, force: true });
  }

  try {
    if (osUser) {
      await chown(root, osUser.uid, osUser.gid);
      await chmod(root, 0o700);
    }
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    const primary = server("primary", primaryPort);
    await pg("initdb", ["-D", primary.dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
    const conf = [
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${root}'`,
      "wal_level = replica",
      "max_wal_senders = 4",
      "hot_standby = on",
      "fsync = off",
      // Nothing commits unless a test does: an idle primary stays idle.
      "autovacuum = off",
      "full_page_writes = off",
      "shared_buffers = 32MB",
      "max_connections = 60",
      "log_min_messages = warning",
    ];
    await appendAsOwner(path.join(primary.dataDir, "postgresql.conf"), `\n${conf.join("\n")}\n`, osUser);
    await appendAsOwner(
      path.join(primary.dataDir, "pg_hba.conf"),
      "\nhost replication postgres 127.0.0.1/32 trust\n",
      osUser,
    );
    await primary.start();
    const admin = postgres(`postgres://postgres@127.0.0.1:${primaryPort}/postgres`, {
      max: 1,
      onnotice: () => {},
    });
    try {
      await admin.unsafe(`create database "${database}"`);
    } finally {
      await admin.end({ timeout: 5 });
    }

    const replica = server("replica", replicaPort);
    await pg("pg_basebackup", [
      ...["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres"],
      ...["-D", replica.dataDir, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"],
    ]);
    await replica.start();

    const pair: ReplicationPair = {
      primary,
      replica,
      async waitForCatchUp(timeoutMs = 10_000) {
        const p = postgres(primary.url, { max: 1, onnotice: () => {} });
        const r = postgres(replica.url, { max: 1, onnotice: () => {} });
        try {
          const deadline = Date.now() + timeoutMs;
          const [primaryPosition] = await p<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
          const lsn = primaryPosition?.lsn ?? "0/0";
          for (;;) {
            const [row] = await r<{ behind: boolean }[]>`
              select coalesce(pg_last_wal_replay_lsn() < ${lsn}::pg_lsn, true) as behind`;
            if (!row?.behind) return;
            if (Date.now() > deadline) throw new Error(`replica did not reach ${lsn} in ${timeoutMs} ms`);
            await sleep(20);
          }
        } finally {
          await Promise.all([p.end({ timeout: 5 }), r.end({ timeout: 5 })]);
        }
      },
      close,
    };
    await pair.waitForCatchUp();
    return pair;
  } catch (e) {
    await close();
    throw e;
  }
}

async function appendAsOwner(file: string, text: string, osUser: OsUser | null): Promise<void> {
  await writeFile(file, text, { flag: "a" });
  if (osUser) await chown(file, osUser.uid, osUser.gid);
}

/** A stopped postmaster is reparented to PID 1, which may reap it late: a zombie counts as gone. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
