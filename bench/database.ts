/**
 * The external database of a run. A database named in DATABASE_URL that does not exist is created for
 * the run (so the first start is a true cold start: migrations + seed) and dropped afterwards; an existing
 * one is used as it is and never dropped.
 */
import postgres from "postgres";

export interface BenchDatabase {
  /** True when the driver created it, i.e. the first start met an empty database. */
  created: boolean;
  drop(): Promise<void>;
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

export async function prepareDatabase(databaseUrl: string): Promise<BenchDatabase> {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) throw new Error("DATABASE_URL names no database");
  const adminUrl = new URL(databaseUrl);
  adminUrl.pathname = "/postgres";
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${name}`;
    if (rows.length > 0) return { created: false, drop: async () => {} };
    await admin.unsafe(`create database ${quoteIdent(name)}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    created: true,
    async drop() {
      const sql = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
}
