/**
 * The schema documents itself: every type, field, argument and enum value carries a description, so
 * the playground's docs read as the API manual. A new element without one fails here, by name.
 */
import "reflect-metadata";
import { type GraphQLSchema, isEnumType, isInputObjectType, isInterfaceType, isObjectType } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCartographSchema } from "../../src/schema/build.js";

/** Every element of the schema without a description, as "Type", "Type.field", "Type.field(arg)", "Enum.VALUE". */
function undescribed(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const blank = (d: string | null | undefined) => !d?.trim();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__")) continue;
    if (blank(type.description)) missing.push(`type ${type.name}`);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field.description)) missing.push(`field ${type.name}.${field.name}`);
        for (const arg of "args" in field ? field.args : []) {
          if (blank(arg.description)) missing.push(`argument ${type.name}.${field.name}(${arg.name})`);
        }
      }
    }
    if (isEnumType(type)) {
      for (const value of type.getValues()) {
        if (blank(value.description)) missing.push(`enum value ${type.name}.${value.name}`);
      }
    }
  }
  return missing;
}

describe("schema descriptions", () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildCartographSchema();
  });

  it("describes every type, field, argument and enum value", () => {
    expect(undescribed(schema)).toEqual([]);
  });

  it("finds an element without a description", () => {
    const field = schema.getQueryType()?.getFields().store;
    if (!field) throw new Error("Query.store missing");
    const kept = field.description;
    field.description = " ";
    try {
      expect(undescribed(schema)).toEqual(["field Query.store"]);
    } finally {
      field.description = kept;
    }
  });
});
