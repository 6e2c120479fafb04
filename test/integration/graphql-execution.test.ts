/**
 * GraphQL over HTTP executes compiled operations (graphql-jit, src/server/compiled-execution.ts):
 * what a client sees must be what graphql-js gives. Variable errors are the client's (400,
 * BAD_USER_INPUT); a resolver's error keeps its path, locations and code, and its null propagates;
 * a document sent again runs from its compiled form with the same answer.
 */
import { describe, expect, it } from "vitest";
import { createGuest, createStore } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

describe("compiled execution answers like graphql-js", () => {
  it("refuses variables of the wrong type with 400 and BAD_USER_INPUT, naming the variable", async () => {
    const store = await createStore(t.app);
    const guest = await createGuest(t.app, store);
    const res = await t.app.gql(
      `mutation A($cartId: ID!, $quantity: Int!) {
        cartLinesAdd(cartId: $cartId, lines: [{ variantId: $cartId, quantity: $quantity }]) { cart { id } }
      }`,
      { cartId: "00000000-0000-0000-0000-000000000000", quantity: 1.5 },
      { store: store.handle, token: guest.token },
    );
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    expect(res.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
    expect(res.errors?.[0]?.message).toMatch(/\$quantity/);
  });

  it("keeps a resolver error's path, locations and code, and propagates its null", async () => {
    const store = await createStore(t.app);
    const mutation = "mutation { cartCreate { cart { id } userErrors { code } } }";
    const refused = await t.app.gql(mutation, {}, { store: store.handle });
    expect(refused.errors).toEqual([
      {
        message: expect.any(String),
        locations: [{ line: 1, column: 12 }],
        path: ["cartCreate"],
        extensions: { code: "UNAUTHENTICATED" },
      },
    ]);
    // cartCreate's payload is non-null: the null reaches the root, as graphql-js propagates it.
    expect(refused.data).toBeNull();
    // The same text again: the compiled operation, the same answer.
    expect(await t.app.gql(mutation, {}, { store: store.handle })).toMatchObject({
      data: refused.data,
      errors: refused.errors,
    });
  });
});
