/**
 * The one home of each mutation's error codes (src/schema/mutation-errors.ts) and of who may call each
 * operation (src/schema/operations.ts) covers the schema exactly, lists only real codes, and is what
 * the descriptions say.
 */
import "reflect-metadata";
import type { GraphQLField, GraphQLSchema } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCartographSchema } from "../../src/schema/build.js";
import { FIELD_ERROR_CODES, MUTATION_ERRORS } from "../../src/schema/mutation-errors.js";
import { generatedLines, OPERATIONS, type OperationName } from "../../src/schema/operations.js";
import { toGraphQLError } from "../../src/server/errors.js";
import { ErrorCode, ForbiddenError, UnauthenticatedError } from "../../src/services/errors.js";

function rootFields(schema: GraphQLSchema): GraphQLField<unknown, unknown>[] {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) =>
    type ? Object.values(type.getFields()) : [],
  );
}

describe("mutation error codes", () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildCartographSchema();
  });

  it("has an entry for every Mutation field, and none for anything else", () => {
    const mutations = Object.keys(schema.getMutationType()?.getFields() ?? {}).sort();
    expect(Object.keys(MUTATION_ERRORS).sort()).toEqual(mutations);
  });

  it("lists only ErrorCode values in userErrors, each once", () => {
    const codes = new Set<string>(Object.values(ErrorCode));
    for (const [name, entry] of Object.entries(MUTATION_ERRORS)) {
      expect(
        entry.userErrors.filter((c) => !codes.has(c)),
        name,
      ).toEqual([]);
      expect(new Set(entry.userErrors).size, name).toBe(entry.userErrors.length);
    }
  });

  it("lists only the codes the server gives auth errors as GraphQL errors", () => {
    const mapped = [new UnauthenticatedError(), new ForbiddenError()].map(
      (e) => toGraphQLError(e)?.extensions.code,
    );
    expect([...FIELD_ERROR_CODES].sort()).toEqual(mapped.sort());
    for (const [name, entry] of Object.entries(MUTATION_ERRORS)) {
      expect(
        entry.errors.filter((c) => !FIELD_ERROR_CODES.includes(c)),
        name,
      ).toEqual([]);
    }
  });

  it("knows who may call every root operation, and nothing else", () => {
    const names = rootFields(schema)
      .map((f) => f.name)
      .sort();
    expect(Object.keys(OPERATIONS).sort()).toEqual(names);
  });

  it("ends every root operation's description with its generated lines", () => {
    for (const field of rootFields(schema)) {
      const tail = generatedLines(field.name as OperationName).join("\n\n");
      expect(field.description?.endsWith(`\n\n${tail}`), field.name).toBe(true);
    }
  });

  it("ends each mutation's description with its error codes line", () => {
    const description = schema.getMutationType()?.getFields().cartRecover?.description ?? "";
    expect(description.split("\n").at(-1)).toBe(
      "Error codes: userErrors LINK_INVALID, LINK_EXPIRED, NOT_FOUND, FORBIDDEN, CART_NOT_ACTIVE, " +
        "CART_LIMIT_REACHED, INSUFFICIENT_STOCK.",
    );
  });
});
