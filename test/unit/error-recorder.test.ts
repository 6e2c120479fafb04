/** The test-only recorder of mutation error codes and the teardown check it feeds. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { summarizeErrorPairs } from "../support/error-pairs-report.js";
import { errorPairsOf } from "../support/error-recorder.js";

describe("errorPairsOf", () => {
  it("takes userErrors codes of each root mutation field, aliases and fragments followed", () => {
    const query = `
      mutation M($c: ID!) {
        first: cartLinesAdd(cartId: $c, lines: []) { userErrors { code } }
        ...More
      }
      fragment More on Mutation { cartEmailUpdate(cartId: $c, email: "x") { userErrors { code } } }`;
    const pairs = errorPairsOf(query, {
      data: {
        first: { userErrors: [{ code: "INVALID_INPUT" }, { code: "NOT_FOUND" }] },
        cartEmailUpdate: { userErrors: [] },
      },
    });
    expect(pairs).toEqual([
      { mutation: "cartLinesAdd", code: "INVALID_INPUT", channel: "userErrors" },
      { mutation: "cartLinesAdd", code: "NOT_FOUND", channel: "userErrors" },
    ]);
  });

  it("takes GraphQL errors at a mutation's own path, not request-level or nested ones", () => {
    const query = "mutation { a: signOut { signedOut } productCreate(input: $i) { product { id } } }";
    const pairs = errorPairsOf(query, {
      data: null,
      errors: [
        { path: ["a"], extensions: { code: "UNAUTHENTICATED" } },
        { path: ["productCreate", "product", "variants"], extensions: { code: "INTERNAL_SERVER_ERROR" } },
        { extensions: { code: "RATE_LIMITED" } },
      ],
    });
    expect(pairs).toEqual([{ mutation: "signOut", code: "UNAUTHENTICATED", channel: "errors" }]);
  });

  it("ignores queries and documents it cannot parse", () => {
    expect(
      errorPairsOf("{ cart(id: 1) { id } }", { errors: [{ path: ["cart"], extensions: { code: "X" } }] }),
    ).toEqual([]);
    expect(errorPairsOf("mutation {", { data: null })).toEqual([]);
  });
});

describe("summarizeErrorPairs", () => {
  it("flags a code a mutation does not declare, and counts declared pairs never seen", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "error-pairs-test-"));
    try {
      const lines = [
        { mutation: "cartRecover", code: "LINK_EXPIRED", channel: "userErrors" },
        { mutation: "staffLogin", code: "EMAIL_TAKEN", channel: "userErrors" },
        { mutation: "productCreate", code: "UNAUTHENTICATED", channel: "errors" },
        { mutation: "productCreate", code: "INTERNAL_SERVER_ERROR", channel: "errors" },
      ];
      await writeFile(path.join(dir, "1.jsonl"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
      const summary = await summarizeErrorPairs(dir);
      expect(summary.undeclared).toEqual([
        { mutation: "staffLogin", code: "EMAIL_TAKEN", channel: "userErrors" },
        { mutation: "productCreate", code: "UNAUTHENTICATED", channel: "errors" },
      ]);
      expect(summary.unexercised.length).toBe(summary.declared.length - 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
