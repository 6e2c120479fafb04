/**
 * Turns drizzle's SQL trees into statement text and parameters, the work drizzle's own
 * `SQL.buildQueryFromSourceParams` does for every statement it sends, for a fraction of its CPU.
 *
 * Why. A checkout's statements are large trees (the order's insert, its lines, holds, history and
 * events in one statement), and drizzle classifies every node of them with a chain of `is(node, X)`
 * checks, each of which walks the node's class chain when it fails: in a profile of 64-client
 * checkout, building statement text was 15 % of the server's CPU, `is` alone 9.5 %. Here a node's
 * kind is worked out once per prototype (with drizzle's own `is`, in drizzle's own order, so
 * subclasses and aliases land where drizzle puts them) and remembered, and text is appended to one
 * string instead of merged from per-node objects.
 *
 * Same output, by construction and by check. The cases below follow drizzle 0.45's, one for one
 * (param numbering, nested SQL's inlineParams, aliased tables and columns, views, subqueries, enums,
 * anything with getSQL). `typings` are not produced: postgres.js ignores them (drizzle's postgres-js
 * session passes only text and params). With `verify`, which the test runs turn on, every statement
 * is also built by drizzle and any difference throws, so the whole test suite checks this file
 * against drizzle on every statement it sends.
 */
import { isDeepStrictEqual } from "node:util";
import {
  Column,
  is,
  isSQLWrapper,
  Name,
  Param,
  Placeholder,
  SQL,
  StringChunk,
  Subquery,
  Table,
  View,
} from "drizzle-orm";
import { isPgEnum, type PgDialect } from "drizzle-orm/pg-core";

type Query = { sql: string; params: unknown[] };
type Compile = PgDialect["sqlToQuery"];

// drizzle's internal keys (declared @internal, so not in its types); the same Symbol.for names it uses.
const TableName = Symbol.for("drizzle:Name");
const TableSchema = Symbol.for("drizzle:Schema");
const IsAlias = Symbol.for("drizzle:IsAlias");
const ViewBaseConfig = Symbol.for("drizzle:ViewBaseConfig");

/** What a node is, in the order drizzle tests for it. "value": none of them (a parameter, or getSQL). */
type Kind =
  | "string"
  | "name"
  | "sql"
  | "table"
  | "column"
  | "view"
  | "param"
  | "placeholder"
  | "aliased"
  | "subquery"
  | "value";

const kindByPrototype = new Map<object, Kind>();

function kindOf(node: object): Kind {
  const proto = Object.getPrototypeOf(node) as object | null;
  if (proto === null) return "value";
  let kind = kindByPrototype.get(proto);
  if (kind === undefined) {
    kind = is(node, StringChunk)
      ? "string"
      : is(node, Name)
        ? "name"
        : is(node, SQL)
          ? "sql"
          : is(node, Table)
            ? "table"
            : is(node, Column)
              ? "column"
              : is(node, View)
                ? "view"
                : is(node, Param)
                  ? "param"
                  : is(node, Placeholder)
                    ? "placeholder"
                    : is(node, SQL.Aliased)
                      ? "aliased"
                      : is(node, Subquery)
                        ? "subquery"
                        : "value";
    // Prototypes are few (drizzle's classes, our tables' and columns'); anything else is not kept.
    if (kindByPrototype.size < 10_000) kindByPrototype.set(proto, kind);
  }
  return kind;
}

const inlines = (statement: SQL): boolean =>
  (statement as unknown as { shouldInlineParams: boolean }).shouldInlineParams;
const casingOf = (dialect: PgDialect) =>
  (dialect as unknown as { casing: { getColumnCasing(column: Column): string } }).casing;

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteString = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** drizzle's mapInlineParam: a value written into the text (only inside `.inlineParams()` SQL). */
function inlineValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "boolean") return value.toString();
  if (typeof value === "string") return quoteString(value);
  if (typeof value === "object") {
    const text = value.toString();
    return quoteString(text === "[object Object]" ? JSON.stringify(value) : text);
  }
  throw new Error(`Unexpected param value: ${String(value)}`);
}

class Builder {
  text = "";
  readonly params: unknown[] = [];

  constructor(
    private readonly dialect: PgDialect,
    private readonly invokeSource: Parameters<Compile>[1],
  ) {}

  private param(value: unknown): void {
    this.params.push(value);
    this.text += `$${this.params.length}`;
  }

  chunks(chunks: readonly unknown[], inline: boolean): void {
    for (const chunk of chunks) this.chunk(chunk, inline);
  }

  chunk(chunk: unknown, inline: boolean): void {
    if (chunk === undefined) return;
    if (chunk === null || (typeof chunk !== "object" && typeof chunk !== "function")) {
      if (inline) this.text += inlineValue(chunk);
      else this.param(chunk);
      return;
    }
    if (Array.isArray(chunk)) {
      this.text += "(";
      chunk.forEach((item, i) => {
        if (i > 0) this.text += ", ";
        this.chunk(item, inline);
      });
      this.text += ")";
      return;
    }
    if (typeof chunk === "function") {
      // drizzle's `is` is false for functions: only an enum is anything but a parameter.
      if (isPgEnum(chunk)) {
        this.text += chunk.schema ? `${quote(chunk.schema)}.${quote(chunk.enumName)}` : quote(chunk.enumName);
        return;
      }
      this.other(chunk, inline);
      return;
    }
    switch (kindOf(chunk)) {
      case "string":
        this.text += (chunk as StringChunk).value.join("");
        return;
      case "name":
        this.text += quote((chunk as Name).value);
        return;
      case "sql": {
        const nested = chunk as SQL;
        this.chunks(nested.queryChunks, inline || inlines(nested));
        return;
      }
      case "table": {
        const table = chunk as Table & Record<symbol, unknown>;
        const schema = table[TableSchema] as string | undefined;
        const name = quote(table[TableName] as string);
        this.text += schema === undefined || table[IsAlias] ? name : `${quote(schema)}.${name}`;
        return;
      }
      case "column": {
        const column = chunk as Column;
        const columnName = quote(casingOf(this.dialect).getColumnCasing(column));
        if (this.invokeSource === "indexes") {
          this.text += columnName;
          return;
        }
        const table = column.table as Table & Record<symbol, unknown>;
        const schema = table[TableSchema] as string | undefined;
        const tableName = quote(table[TableName] as string);
        this.text +=
          table[IsAlias] || schema === undefined
            ? `${tableName}.${columnName}`
            : `${quote(schema)}.${tableName}.${columnName}`;
        return;
      }
      case "view": {
        const config = (
          chunk as unknown as Record<symbol, { schema?: string; name: string; isAlias: boolean }>
        )[ViewBaseConfig] as { schema?: string; name: string; isAlias: boolean };
        this.text +=
          config.schema === undefined || config.isAlias
            ? quote(config.name)
            : `${quote(config.schema)}.${quote(config.name)}`;
        return;
      }
      case "param": {
        const p = chunk as Param;
        if (p.value !== null && typeof p.value === "object" && kindOf(p.value) === "placeholder") {
          this.param(p);
          return;
        }
        const mapped = p.value === null ? null : p.encoder.mapToDriverValue(p.value);
        if (mapped !== null && typeof mapped === "object" && kindOf(mapped) === "sql") {
          this.chunk(mapped, inline);
          return;
        }
        if (inline) this.text += inlineValue(mapped);
        else this.param(mapped);
        return;
      }
      case "placeholder":
        this.param(chunk);
        return;
      case "aliased": {
        const aliased = chunk as SQL.Aliased;
        if (aliased.fieldAlias !== undefined) {
          this.text += quote(aliased.fieldAlias);
          return;
        }
        this.other(chunk, inline);
        return;
      }
      case "subquery": {
        const sub = (chunk as Subquery)._ as unknown as { isWith: boolean; alias: string; sql: SQL };
        if (sub.isWith) {
          this.text += quote(sub.alias);
          return;
        }
        this.text += "(";
        this.chunk(sub.sql, inline);
        this.text += `) ${quote(sub.alias)}`;
        return;
      }
      default:
        this.other(chunk, inline);
    }
  }

  /** Past drizzle's entity cases: something with getSQL (a query builder, a column's SQL), else a value. */
  private other(chunk: object, inline: boolean): void {
    if (isSQLWrapper(chunk)) {
      const omitParens = (chunk as { shouldOmitSQLParens?: () => boolean }).shouldOmitSQLParens?.();
      if (omitParens) {
        this.chunk(chunk.getSQL(), inline);
        return;
      }
      this.text += "(";
      this.chunk(chunk.getSQL(), inline);
      this.text += ")";
      return;
    }
    if (inline) this.text += inlineValue(chunk);
    else this.param(chunk);
  }
}

export function compileSql(dialect: PgDialect, statement: SQL, invokeSource?: Parameters<Compile>[1]): Query {
  const builder = new Builder(dialect, invokeSource);
  builder.chunks(statement.queryChunks, inlines(statement));
  return { sql: builder.text, params: builder.params };
}

/**
 * Makes `db` build its statements with compileSql. `verify`: also build each with drizzle and throw
 * on any difference in text or parameters (tests).
 */
export function useSqlCompiler(db: object, opts: { verify: boolean }): void {
  const dialect = (db as { dialect?: PgDialect }).dialect;
  if (!dialect || typeof dialect.sqlToQuery !== "function") {
    throw new Error("drizzle's database object has no dialect to compile with: check the drizzle version");
  }
  const drizzleCompile = dialect.sqlToQuery.bind(dialect);
  const compile: Compile = (statement, invokeSource) => {
    const query = compileSql(dialect, statement, invokeSource);
    if (opts.verify) {
      const expected = drizzleCompile(statement, invokeSource);
      if (expected.sql !== query.sql || !isDeepStrictEqual(expected.params, query.params)) {
        throw new Error(
          `sql-compiler: differs from drizzle\n  drizzle: ${expected.sql} ${JSON.stringify(expected.params)}\n  ours:    ${query.sql} ${JSON.stringify(query.params)}`,
        );
      }
    }
    return query;
  };
  dialect.sqlToQuery = compile;
}
