/**
 * One Cartograph per embedded data directory, and nothing left behind by one that died.
 *
 * A start claims the directory with an owner file (`<dataDir>.owner`: our pid and process start time),
 * created exclusively; a live owner makes the start fail with one line. An owner file whose process
 * is gone is stale: a `kill -9` or a crash left it, and perhaps a PostgreSQL still running on the
 * directory (the server outlives its parent). That PostgreSQL is stopped cleanly, but only after
 * checking it really is one on this very directory (the data directory written in its
 * postmaster.pid, and the command line of that pid); a postmaster.pid whose pid is not running, or
 * now belongs to another program, is removed so PostgreSQL does not refuse to start.
 */
import { execFile } from "node:child_process";
import { readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { StartupError } from "../startup/startup-error.js";

const run = promisify(execFile);

interface OwnerRecord {
  pid: number;
  /** The owner's process start time (Linux: ticks since boot), so a reused pid is not mistaken for it. */
  startTime: string | null;
}

export type Notice = (message: string) => void;

/** Claims `dataDir` for this process; resolves a release function. */
export async function claimDataDir(dataDir: string, notice: Notice): Promise<() => Promise<void>> {
  const ownerFile = `${dataDir}.owner`;
  const mine: OwnerRecord = { pid: process.pid, startTime: await processStartTime(process.pid) };
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(ownerFile, `${JSON.stringify(mine)}\n`, { flag: "wx", mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") throw inUse(dataDir, null);
        throw e;
      }
    }
    const owner = await readOwner(ownerFile);
    if (owner && (await isLive(owner))) throw inUse(dataDir, owner.pid);
    notice(
      `removed a stale owner file of ${dataDir} (Cartograph pid ${owner?.pid ?? "?"} is no longer running)`,
    );
    await unlink(ownerFile).catch(() => undefined);
  }
  try {
    await clearStalePostmaster(dataDir, notice);
  } catch (e) {
    await unlink(ownerFile).catch(() => undefined);
    throw e;
  }
  return async () => {
    const owner = await readOwner(ownerFile);
    if (owner?.pid === process.pid) await unlink(ownerFile).catch(() => undefined);
  };
}

function inUse(dataDir: string, pid: number | null): StartupError {
  return new StartupError(
    `The embedded database in ${path.dirname(dataDir)} is in use by another Cartograph` +
      `${pid ? ` (pid ${pid})` : ""}: stop it first, or set DATA_DIR to another directory.`,
    "unavailable",
    "DATA_DIR_IN_USE",
  );
}

async function readOwner(file: string): Promise<OwnerRecord | null> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<OwnerRecord>;
    return typeof parsed.pid === "number" ? { pid: parsed.pid, startTime: parsed.startTime ?? null } : null;
  } catch {
    return null;
  }
}

async function isLive(owner: OwnerRecord): Promise<boolean> {
  if (owner.pid === process.pid || !pidAlive(owner.pid)) return false;
  if (owner.startTime === null) return true;
  const now = await processStartTime(owner.pid);
  return now === null || now === owner.startTime;
}

/**
 * postmaster.pid: line 1 the postmaster's pid, line 2 its data directory. Stops the server it names
 * if that is a PostgreSQL on `dataDir`; removes the file if its pid is not a PostgreSQL any more.
 */
async function clearStalePostmaster(dataDir: string, notice: Notice): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  let lines: string[];
  try {
    lines = (await readFile(pidFile, "utf8")).split("\n");
  } catch {
    return;
  }
  const pid = Number(lines[0]);
  const recordedDir = lines[1]?.trim() ?? "";
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) {
    await unlink(pidFile).catch(() => undefined);
    notice(`removed a stale postmaster.pid from ${dataDir} (PostgreSQL pid ${lines[0]} is not running)`);
    return;
  }
  if (path.resolve(recordedDir) === path.resolve(dataDir) && (await isPostgresOn(pid, dataDir))) {
    notice(`stopping the PostgreSQL (pid ${pid}) an earlier Cartograph left running on ${dataDir}`);
    await stopProcess(pid);
    // A clean shutdown removes postmaster.pid; an immediate one may not.
    await unlink(pidFile).catch(() => undefined);
    return;
  }
  await unlink(pidFile).catch(() => undefined);
  notice(`removed a stale postmaster.pid from ${dataDir} (pid ${pid} is now another program)`);
}

/** Is `pid` a postgres server process started with `-D dataDir`? */
async function isPostgresOn(pid: number, dataDir: string): Promise<boolean> {
  const args = await commandLine(pid);
  if (!args?.length) return false;
  const program = path.basename(args[0] ?? "");
  if (program !== "postgres" && program !== "postmaster") return false;
  const d = args.indexOf("-D");
  return d >= 0 && path.resolve(args[d + 1] ?? "") === path.resolve(dataDir);
}

async function commandLine(pid: number): Promise<string[] | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((a) => a !== "");
  } catch {
    // No /proc (macOS): ask ps. Arguments with spaces are rare in a data directory path.
    try {
      const { stdout } = await run("ps", ["-o", "args=", "-p", String(pid)]);
      return stdout.trim().split(/\s+/);
    } catch {
      return null;
    }
  }
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT) if it takes more than 15 s. */
async function stopProcess(pid: number): Promise<void> {
  const gone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (!pidAlive(pid)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return !pidAlive(pid);
  };
  signal(pid, "SIGINT");
  if (await gone(15_000)) return;
  signal(pid, "SIGQUIT");
  if (await gone(5_000)) return;
  throw new StartupError(
    `A PostgreSQL (pid ${pid}) left running on the embedded data directory does not stop: stop it by hand (kill ${pid}).`,
    "unavailable",
    "STALE_POSTGRES",
  );
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Linux: field 22 of /proc/<pid>/stat (start time in clock ticks since boot); elsewhere null. */
async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
