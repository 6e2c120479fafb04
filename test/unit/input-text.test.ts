/**
 * src/server/input-text.ts checks a document's literals once per document object and its variables on
 * every call: the same document with new variables, or after a clean call, is still checked in full.
 */
import { type OperationDefinitionNode, parse } from "graphql";
import { describe, expect, it } from "vitest";
import { findBadText } from "../../src/server/input-text.js";

function operationOf(source: string) {
  const document = parse(source);
  const operation = document.definitions[0] as OperationDefinitionNode;
  return { document, operation };
}

describe("findBadText", () => {
  it("checks the variables of every call on a document it has seen before", () => {
    const { document, operation } = operationOf(
      "mutation M($email: String!, $note: String) { cartEmailUpdate(email: $email, note: $note) { id } }",
    );
    expect(findBadText(document, operation, { email: "a@b.test" })).toBeNull();
    expect(findBadText(document, operation, { email: "a@b.test", note: "x\u0000y" })).toEqual({
      field: ["note"],
      reason: "contains a NUL character (U+0000)",
    });
    expect(findBadText(document, operation, { email: "\ud800" })).toEqual({
      field: ["email"],
      reason: "contains an unpaired UTF-16 surrogate",
    });
    expect(findBadText(document, operation, { email: "a@b.test" })).toBeNull();
  });

  it("refuses a document with a bad literal on every call, naming the argument", () => {
    const { document, operation } = operationOf(
      'query Q($n: Int) { products(first: $n, query: "shoe\\u0000") { edges { cursor } } }',
    );
    const expected = { field: ["query"], reason: "contains a NUL character (U+0000)" };
    expect(findBadText(document, operation, { n: 1 })).toEqual(expected);
    expect(findBadText(document, operation, undefined)).toEqual(expected);
  });

  it("ignores variables the operation does not declare, and finds bad ones deep inside inputs", () => {
    const { document, operation } = operationOf(
      "mutation M($input: AddressInput!) { cartShippingAddressUpdate(input: $input) { id } }",
    );
    expect(findBadText(document, operation, { undeclared: "x\u0000" })).toBeNull();
    expect(
      findBadText(document, operation, { input: { lines: ["ok", "bad\u0000"], extra: { ["k\u0000"]: 1 } } }),
    ).toEqual({ field: ["input", "lines", "1"], reason: "contains a NUL character (U+0000)" });
    expect(findBadText(document, operation, { input: { extra: { ["k\u0000"]: 1 } } })).toEqual({
      field: ["input", "extra", "k\u0000"],
      reason: "has a key that contains a NUL character (U+0000)",
    });
  });
});
