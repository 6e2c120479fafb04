/**
 * Rows that arrive as JSON (`to_json(t)` inside a hand-written statement, so one statement can carry a
 * cart with its lines, codes and variants) turned into the same objects drizzle would return: keys
 * renamed from column names to the schema's property names, timestamps revived as Dates. Driven by
 * the schema itself, so a column added later is carried without anyone touching this.
 */
import { type Column, getTableColumns, type InferSelectModel, type Table } from "drizzle-orm";

type Json = Record<string, unknown>;
interface Field {
  key: string;
  name: string;
  isDate: boolean;
}

const fieldsOf = new WeakMap<Table, Field[]>();

function fields(table: Table): Field[] {
  let list = fieldsOf.get(table);
  if (!list) {
    list = Object.entries(getTableColumns(table)).map(([key, column]: [string, Column]) => ({
      key,
      name: column.name,
      isDate: column.dataType === "date",
    }));
    fieldsOf.set(table, list);
  }
  return list;
}

export function rowFromJson<T extends Table>(table: T, json: Json): InferSelectModel<T> {
  const row: Json = {};
  for (const f of fields(table)) {
    const value = json[f.name];
    row[f.key] = value === undefined ? null : f.isDate && value !== null ? new Date(value as string) : value;
  }
  return row as InferSelectModel<T>;
}
