/**
 * The rule that keeps sharding by store_id open, read off the live catalog rather than the code, so it
 * also holds for tables added later: every tenant table carries store_id, and its primary key, every
 * unique key (constraint or unique index) and every foreign key includes store_id.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFERENCE_TABLES } from "../../src/db/schema.js";
import { useTestApp } from "../support/test-app.js";

const ctx = useTestApp();
let sql: postgres.Sql;

beforeAll(() => {
  sql = postgres(ctx.app.databaseUrl, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
});

interface KeyRow {
  table: string;
  name: string;
  kind: string;
  columns: string[];
}

async function tables(): Promise<{ table: string; hasStoreId: boolean }[]> {
  return sql<{ table: string; hasStoreId: boolean }[]>`
    select c.relname as table,
           exists (select 1 from pg_attribute a
                    where a.attrelid = c.oid and a.attname = 'store_id' and not a.attisdropped) as "hasStoreId"
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p')
     order by 1`;
}

/** Primary keys, unique constraints, unique indexes and foreign keys of public tables, with their columns. */
async function keys(): Promise<KeyRow[]> {
  const constraints = await sql<KeyRow[]>`
    select cl.relname as table, co.conname as name, co.contype as kind,
           array(select a.attname from unnest(co.conkey) with ordinality k(attnum, n)
                   join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.attnum
                  order by k.n)::text[] as columns
      from pg_constraint co
      join pg_class cl on cl.oid = co.conrelid
      join pg_namespace n on n.oid = cl.relnamespace
     where n.nspname = 'public' and co.contype in ('p', 'u', 'f')`;
  const uniqueIndexes = await sql<KeyRow[]>`
    select t.relname as table, i.relname as name, 'i' as kind,
           array(select a.attname from unnest(ix.indkey::int2[]) with ordinality k(attnum, n)
                   join pg_attribute a on a.attrelid = ix.indrelid and a.attnum = k.attnum
                  order by k.n)::text[] as columns
      from pg_index ix
      join pg_class i on i.oid = ix.indexrelid
      join pg_class t on t.oid = ix.indrelid
      join pg_namespace n on n.oid = t.relnamespace
     where n.nspname = 'public' and ix.indisunique
       and not exists (select 1 from pg_constraint co where co.conindid = ix.indexrelid)`;
  return [...constraints, ...uniqueIndexes];
}

describe("tenant keys (Citus-ready schema)", () => {
  it("every table but the reference tables carries store_id", async () => {
    const reference = new Set<string>(REFERENCE_TABLES);
    const missing = (await tables()).filter((t) => !t.hasStoreId && !reference.has(t.table));
    expect(missing.map((t) => t.table)).toEqual([]);
  });

  it("every tenant table has a primary key that starts with store_id", async () => {
    const all = await keys();
    const tenant = (await tables()).filter((t) => t.hasStoreId).map((t) => t.table);
    expect(tenant.length).toBeGreaterThan(15);
    const problems = tenant.filter((table) => {
      const pk = all.find((k) => k.table === table && k.kind === "p");
      return pk?.columns[0] !== "store_id";
    });
    expect(problems).toEqual([]);
  });

  it("every unique key and foreign key of a tenant table includes store_id", async () => {
    const tenant = new Set((await tables()).filter((t) => t.hasStoreId).map((t) => t.table));
    const problems = (await keys())
      .filter((k) => tenant.has(k.table) && k.kind !== "p" && !k.columns.includes("store_id"))
      .map((k) => `${k.table}.${k.name} (${k.columns.join(", ")})`);
    expect(problems).toEqual([]);
  });

  it("would catch a new table that breaks the rule", async () => {
    await sql`create table tenant_rule_probe (store_id uuid not null, id uuid primary key, code text unique)`;
    try {
      const probe = (await keys()).filter((k) => k.table === "tenant_rule_probe");
      expect(probe.some((k) => k.kind === "p" && k.columns[0] !== "store_id")).toBe(true);
      expect(probe.some((k) => k.kind === "u" && !k.columns.includes("store_id"))).toBe(true);
    } finally {
      await sql`drop table tenant_rule_probe`;
    }
  });
});
