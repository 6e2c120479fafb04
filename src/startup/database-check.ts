/**
 * The first contact with an external PostgreSQL (DATABASE_URL), before migrations: a wrong URL, a
 * server that is down, an unknown role or a missing database each become one line that says what is
 * wrong and how to fix it. A missing database is created when DATABASE_CREATE allows it.
 * The URL's password never appears in a message.
 */
import postgres from "postgres";
import type { Logger } from "../logger.js";
import { StartupError } from "./startup-error.js";

const CONNECT_TIMEOUT_SECONDS = 5;
/**
 * The whole first contact, bounded. postgres.js's connect timeout ends a connection that hangs, but a
 * port that accepts and then closes without a PostgreSQL reply (a proxy or port forward with nothing
 * behind it, another service) makes it reconnect forever and start-up would wait with no word.
 */
const PROBE_DEADLINE_MS = (CONNECT_TIMEOUT_SECONDS + 2) * 1000;

/** The probe's deadline passed with no PostgreSQL reply. */
class NoPostgresAnswer extends Error {
  readonly code = "NO_POSTGRES_ANSWER";
}

export interface DatabaseTarget {
  host: string;
  port: string;
  database: string;
  user: string;
}

export function describeTarget(url: string): DatabaseTarget {
  const u = new URL(url);
  return {
    host: u.hostname || "localhost",
    port: u.port || "5432",
    database: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || "postgres",
    user: decodeURIComponent(u.username) || "postgres",
  };
}

/** Connects once; creates the database if it is missing and `create` is on; else throws a StartupError. */
export async function prepareDatabase(url: string, opts: { create: boolean; logger: Logger }): Promise<void> {
  const target = describeTarget(url);
  try {
    await probe(url);
    return;
  } catch (e) {
    if (!isMissingDatabase(e)) throw explainDatabaseError(e, target);
  }
  if (!opts.create) {
    throw new StartupError(
      `Database "${target.database}" does not exist on ${target.host}:${target.port}: create it ` +
        `(createdb -h ${target.host} -p ${target.port} -U ${target.user} ${target.database}) or set DATABASE_CREATE=true ` +
        "to let Cartograph create it.",
      "config",
      "DATABASE_MISSING",
    );
  }
  const maintenance = new URL(url);
  maintenance.pathname = "/postgres";
  const admin = postgres(maintenance.toString(), connectionOptions());
  try {
    await admin.unsafe(`create database "${target.database.replace(/"/g, '""')}"`);
    opts.logger.info(
      { database: target.database, host: target.host },
      `created database "${target.database}" (DATABASE_CREATE is on)`,
    );
  } catch (e) {
    // Another instance starting at the same time created it first: fine.
    if (!(e instanceof postgres.PostgresError && e.code === "42P04")) {
      if (e instanceof postgres.PostgresError && e.code === "42501") {
        throw new StartupError(
          `Database "${target.database}" does not exist on ${target.host}:${target.port} and role "${target.user}" ` +
            "may not create databases: create it as an administrator, or grant CREATEDB to the role.",
          "config",
          "DATABASE_MISSING",
        );
      }
      throw explainDatabaseError(e, { ...target, database: "postgres" });
    }
  } finally {
    await admin.end({ timeout: 1 });
  }
  await probe(url).catch((e: unknown) => {
    throw explainDatabaseError(e, target);
  });
}

function connectionOptions(): postgres.Options<Record<string, never>> {
  return {
    max: 1,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    idle_timeout: 1,
    onnotice: () => {},
    connection: { application_name: "cartograph-startup" },
  };
}

async function probe(url: string): Promise<void> {
  const sql = postgres(url, connectionOptions());
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoPostgresAnswer()), PROBE_DEADLINE_MS);
  });
  try {
    await Promise.race([sql`select 1`, deadline]);
  } finally {
    clearTimeout(timer);
    await sql.end({ timeout: 0 });
  }
}

function isMissingDatabase(e: unknown): boolean {
  return e instanceof postgres.PostgresError && e.code === "3D000";
}

/** One line for an error met while connecting to PostgreSQL at start-up; passes others through. */
export function explainDatabaseError(e: unknown, t: DatabaseTarget): unknown {
  const where = `${t.host}:${t.port}`;
  const code = (e as { code?: unknown } | null)?.code;
  if (e instanceof postgres.PostgresError) {
    switch (code) {
      case "3D000":
        return new StartupError(
          `Database "${t.database}" does not exist on ${where}.`,
          "config",
          "DATABASE_MISSING",
        );
      case "28000":
        return new StartupError(
          `PostgreSQL at ${where} refused role "${t.user}": ${e.message}. Create the role ` +
            `(createuser -h ${t.host} -p ${t.port} ${t.user}) or fix the user in DATABASE_URL.`,
          "config",
          "DATABASE_ROLE",
        );
      case "28P01":
        return new StartupError(
          `Password authentication failed for role "${t.user}" on ${where}: check the user and password in DATABASE_URL.`,
          "config",
          "DATABASE_AUTH",
        );
      case "57P03":
        return new StartupError(
          `PostgreSQL at ${where} is starting up or shutting down: try again in a moment.`,
          "unavailable",
          "DATABASE_UNAVAILABLE",
        );
      case "53300":
        return new StartupError(
          `PostgreSQL at ${where} has no free connection slots (max_connections): close idle clients or raise the limit.`,
          "unavailable",
          "DATABASE_FULL",
        );
      default:
        return e;
    }
  }
  switch (code) {
    case "ECONNREFUSED":
      return new StartupError(
        `Cannot reach PostgreSQL at ${where} (connection refused): is it running, and are the host and port in DATABASE_URL right?`,
        "unavailable",
        "DATABASE_UNREACHABLE",
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new StartupError(
        `Cannot resolve the PostgreSQL host "${t.host}" (DATABASE_URL): check the host name.`,
        "config",
        "DATABASE_HOST_UNKNOWN",
      );
    case "NO_POSTGRES_ANSWER":
    case "ECONNRESET":
    case "EPIPE":
    case "CONNECTION_CLOSED":
      return new StartupError(
        `No PostgreSQL answers at ${where}: connections there are accepted but closed without a PostgreSQL reply ` +
          "(another service on that port, or a proxy or port forward with nothing behind it): check the host and port in DATABASE_URL.",
        "unavailable",
        "DATABASE_UNREACHABLE",
      );
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new StartupError(
        `PostgreSQL at ${where} did not answer within ${CONNECT_TIMEOUT_SECONDS} s: check the host, port and network in DATABASE_URL.`,
        "unavailable",
        "DATABASE_UNREACHABLE",
      );
    default:
      return e;
  }
}
