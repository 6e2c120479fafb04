/**
 * The complexity of an operation is computed once per document, operation and the variables its cost
 * depends on (`first` arguments, directive arguments), not once per request: a client adding lines to
 * carts sends one document with ever-different line inputs, and each used to cost a full walk of the
 * operation against the schema.
 */
import { type GraphQLSchema, parse } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCartographSchema } from "../../src/schema/build.js";
import { ComplexityCache } from "../../src/server/operation-limits.js";

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildCartographSchema();
});

const ADD = parse(`mutation Add($cartId: ID!, $lines: [CartLineInput!]!) {
  cartLinesAdd(cartId: $cartId, lines: $lines) { cart { id lines(first: 50) { edges { node { id } } } } }
}`);
const PRODUCTS = parse(`query Page($n: Int, $after: String, $withVariants: Boolean!) {
  products(first: $n, after: $after) { edges { node { id variants @include(if: $withVariants) { id } } } }
}`);

describe("ComplexityCache", () => {
  it("answers a document sent with ever-different inputs from one computation", () => {
    const cache = new ComplexityCache(schema);
    const line = (i: number) => ({
      cartId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      lines: [{ variantId: `10000000-0000-4000-8000-${String(i).padStart(12, "0")}`, quantity: (i % 5) + 1 }],
    });
    const first = cache.get(ADD, "Add", line(0));
    expect(first.fields).toBeGreaterThan(0);
    for (let i = 1; i < 200; i++) expect(cache.get(ADD, "Add", line(i))).toBe(first);
  });

  it("still tells apart what the cost depends on: page sizes and @include", () => {
    const cache = new ComplexityCache(schema);
    const small = cache.get(PRODUCTS, "Page", { n: 5, withVariants: true });
    const big = cache.get(PRODUCTS, "Page", { n: 50, withVariants: true });
    const bare = cache.get(PRODUCTS, "Page", { n: 50, withVariants: false });
    expect(big.fields).toBeGreaterThan(small.fields);
    expect(bare.fields).toBeLessThan(big.fields);
    expect(cache.get(PRODUCTS, "Page", { n: 50, after: "abc", withVariants: true })).toBe(big);
    // Absent, `first` takes its default (20); sent as null, the page has no size to multiply by.
    const byDefault = cache.get(PRODUCTS, "Page", { withVariants: true });
    const asNull = cache.get(PRODUCTS, "Page", { n: null, withVariants: true });
    expect(byDefault.fields).toBeGreaterThan(asNull.fields);
  });

  it("does not remember a request whose variables did not coerce (its cost reads as zero)", () => {
    const cache = new ComplexityCache(schema);
    // `after` is a String: a number fails coercion, so nothing would execute and the cost reads 0.
    expect(cache.get(PRODUCTS, "Page", { n: 100, after: 7, withVariants: true }).fields).toBe(0);
    // The same page size with good variables must be measured, not answered with that zero.
    expect(cache.get(PRODUCTS, "Page", { n: 100, after: "x", withVariants: true }).fields).toBeGreaterThan(
      100,
    );
  });
});
