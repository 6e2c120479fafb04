import { randomUUID } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { inventoryMovements, outbox, products, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  createCustomer,
  createGuest,
  createProduct,
  createStaff,
  createStore,
  type TestStaff,
  unique,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

interface UserErrorJson {
  code: string;
  message: string;
  field: string[] | null;
  variantId: string | null;
  available: number | null;
}
interface MoneyJson {
  amount: number;
  currencyCode: string;
}
interface VariantJson {
  id: string;
  sku: string;
  title: string;
  attributes: Record<string, string> | null;
  price: MoneyJson;
  inStock: boolean;
  stockOnHand: number | null;
  lowStock: boolean | null;
}
interface ProductJson {
  id: string;
  name: string;
  description: string | null;
  status: string;
  basePrice: MoneyJson;
  priceRange: { min: MoneyJson; max: MoneyJson };
  variants: VariantJson[];
}

const VARIANT_FIELDS = "id sku title attributes price { amount currencyCode } inStock stockOnHand lowStock";
const PRODUCT_FIELDS = `id name description status basePrice { amount currencyCode }
  priceRange { min { amount currencyCode } max { amount currencyCode } } variants { ${VARIANT_FIELDS} }`;
const USER_ERRORS = "userErrors { code message field variantId available }";

const PRODUCT_CREATE = `mutation ($input: ProductCreateInput!) {
  productCreate(input: $input) { product { ${PRODUCT_FIELDS} } ${USER_ERRORS} } }`;
const PRICE_UPDATE = `mutation ($variantId: ID!, $price: Int!) {
  variantPriceUpdate(variantId: $variantId, price: $price) { variant { ${VARIANT_FIELDS} product { id } } ${USER_ERRORS} } }`;
const INVENTORY_ADJUST = `mutation ($variantId: ID!, $delta: Int!, $reason: String) {
  inventoryAdjust(variantId: $variantId, delta: $delta, reason: $reason) { variant { ${VARIANT_FIELDS} } ${USER_ERRORS} } }`;
const PRODUCT = `query ($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`;
const VARIANT = `query ($id: ID!) { variant(id: $id) { ${VARIANT_FIELDS} product { id status } } }`;
const PRODUCTS = `query ($first: Int, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query) {
    edges { cursor node { id name status } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;

type CreatePayload = { productCreate: { product: ProductJson | null; userErrors: UserErrorJson[] } };
type PricePayload = {
  variantPriceUpdate: {
    variant: (VariantJson & { product: { id: string } }) | null;
    userErrors: UserErrorJson[];
  };
};
type AdjustPayload = { inventoryAdjust: { variant: VariantJson | null; userErrors: UserErrorJson[] } };
type ProductsPage = {
  products: {
    edges: { cursor: string; node: { id: string; name: string; status: string } }[];
    pageInfo: {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      startCursor: string | null;
      endCursor: string | null;
    };
  };
};

let storeA: StoreRef;
let storeB: StoreRef;
let staffA: TestStaff;
let staffB: TestStaff;

beforeAll(async () => {
  storeA = await createStore(t.app, { currency: "USD" });
  storeB = await createStore(t.app, { currency: "EUR" });
  staffA = await createStaff(t.app, storeA);
  staffB = await createStaff(t.app, storeB);
});

const db = () => t.app.runtime.database.db;

async function productCount(store: StoreRef): Promise<number> {
  const [row] = await db()
    .select({ n: sql<number>`count(*)::int` })
    .from(products)
    .where(eq(products.storeId, store.id));
  return row?.n ?? -1;
}

async function variantRow(id: string) {
  const [row] = await db().select().from(productVariants).where(eq(productVariants.id, id));
  if (!row) throw new Error(`variant ${id} missing`);
  return row;
}

async function movementsOf(variantId: string) {
  return db().select().from(inventoryMovements).where(eq(inventoryMovements.variantId, variantId));
}

async function priceEventsOf(variantId: string) {
  return db()
    .select()
    .from(outbox)
    .where(and(eq(outbox.topic, "variant.price_changed"), eq(outbox.key, variantId)))
    .orderBy(outbox.id);
}

function create(input: Record<string, unknown>, opts: { token?: string; store?: StoreRef } = {}) {
  const store = opts.store ?? storeA;
  return t.app.gql<CreatePayload>(
    PRODUCT_CREATE,
    { input },
    { token: opts.token ?? staffA.token, store: store.handle },
  );
}

describe("productCreate", () => {
  it("creates a product with its variants in the store currency; staff see the stock", async () => {
    const tag = unique();
    const res = await create({
      name: "  Merino Crew Sweater ",
      description: "Fine merino wool.",
      basePrice: 8900,
      variants: [
        {
          sku: `MER-${tag}-S`,
          title: "Small",
          attributes: { Size: "S" },
          stockOnHand: 12,
          lowStockThreshold: 3,
        },
        {
          sku: `MER-${tag}-M`,
          title: "Medium",
          attributes: { Size: "M" },
          stockOnHand: 2,
          lowStockThreshold: 3,
        },
        { sku: `MER-${tag}-XL`, title: "Extra large", attributes: { Size: "XL" }, price: 9900 },
      ],
    });
    expect(res.errors).toBeUndefined();
    const { product, userErrors } = res.data!.productCreate;
    expect(userErrors).toEqual([]);
    expect(product).toMatchObject({
      name: "Merino Crew Sweater",
      description: "Fine merino wool.",
      status: "ACTIVE",
      basePrice: { amount: 8900, currencyCode: "USD" },
      priceRange: { min: { amount: 8900, currencyCode: "USD" }, max: { amount: 9900, currencyCode: "USD" } },
    });
    expect(product!.variants).toEqual([
      expect.objectContaining({
        sku: `MER-${tag}-S`,
        attributes: { Size: "S" },
        price: { amount: 8900, currencyCode: "USD" },
        inStock: true,
        stockOnHand: 12,
        lowStock: false,
      }),
      expect.objectContaining({ sku: `MER-${tag}-M`, stockOnHand: 2, inStock: true, lowStock: true }),
      expect.objectContaining({
        sku: `MER-${tag}-XL`,
        price: { amount: 9900, currencyCode: "USD" },
        stockOnHand: 0,
        inStock: false,
      }),
    ]);
    // Initial stock is explained by a movement per stocked variant.
    const movements = await movementsOf(product!.variants[0]!.id);
    expect(movements).toMatchObject([
      { delta: 12, stockAfter: 12, reason: "initial stock", actor: `staff:${staffA.id}` },
    ]);
    expect(await movementsOf(product!.variants[2]!.id)).toEqual([]);

    // The same SKUs are free in another store, and prices there are in its currency.
    const inB = await create(
      { name: "Merino", basePrice: 7900, variants: [{ sku: `MER-${tag}-S`, title: "Small" }] },
      { token: staffB.token, store: storeB },
    );
    expect(inB.data!.productCreate.userErrors).toEqual([]);
    expect(inB.data!.productCreate.product!.priceRange.min).toEqual({ amount: 7900, currencyCode: "EUR" });
  });

  it("reports every invalid field with its path and writes nothing", async () => {
    const before = await productCount(storeA);
    const res = await create({
      name: "   ",
      basePrice: -1,
      variants: [
        { sku: "DUP-1", title: "One", price: -5, attributes: { Color: 3 } },
        { sku: "DUP-1", title: "", stockOnHand: -2 },
        { sku: "OK-2", title: "Two", attributes: ["not", "an", "object"] },
      ],
    });
    expect(res.errors).toBeUndefined();
    const { product, userErrors } = res.data!.productCreate;
    expect(product).toBeNull();
    expect(userErrors.every((e) => e.code === "INVALID_INPUT")).toBe(true);
    expect(userErrors.map((e) => e.field)).toEqual(
      expect.arrayContaining([
        ["input", "name"],
        ["input", "basePrice"],
        ["input", "variants", "0", "price"],
        ["input", "variants", "0", "attributes", "Color"],
        ["input", "variants", "1", "sku"],
        ["input", "variants", "1", "title"],
        ["input", "variants", "1", "stockOnHand"],
        ["input", "variants", "2", "attributes"],
      ]),
    );
    const noVariants = await create({ name: "Lonely", basePrice: 100, variants: [] });
    expect(noVariants.data!.productCreate.userErrors).toMatchObject([
      { code: "INVALID_INPUT", field: ["input", "variants"] },
    ]);
    const tooExpensive = await create({
      name: "Yacht",
      basePrice: 100_000_001,
      variants: [{ sku: unique(), title: "x" }],
    });
    expect(tooExpensive.data!.productCreate.userErrors).toMatchObject([{ field: ["input", "basePrice"] }]);
    // A float where an Int is declared never reaches the service: GraphQL rejects it.
    const floatStock = await create({
      name: "F",
      basePrice: 1,
      variants: [{ sku: unique(), title: "x", lowStockThreshold: 1.5 }],
    });
    expect(floatStock.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(await productCount(storeA)).toBe(before);
  });

  it("a SKU already used in the store is INVALID_INPUT on that variant, and nothing is written", async () => {
    const existing = await createProduct(t.app, storeA);
    const sku = existing.variants[0]!.sku;
    const freshSku = `FRESH-${unique()}`;
    const before = await productCount(storeA);
    const res = await create({
      name: "Copycat",
      basePrice: 500,
      variants: [
        { sku: freshSku, title: "New" },
        { sku, title: "Taken" },
      ],
    });
    expect(res.data!.productCreate).toMatchObject({
      product: null,
      userErrors: [{ code: "INVALID_INPUT", field: ["input", "variants", "1", "sku"] }],
    });
    expect(await productCount(storeA)).toBe(before);
    const fresh = await db().select().from(productVariants).where(eq(productVariants.sku, freshSku));
    expect(fresh).toEqual([]);
  });

  it("racing creations with one SKU: exactly one succeeds", async () => {
    const sku = `RACE-${unique()}`;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        create({ name: `Racer ${i}`, basePrice: 100, variants: [{ sku, title: "Only", stockOnHand: 1 }] }),
      ),
    );
    const payloads = results.map((r) => r.data!.productCreate);
    expect(payloads.filter((p) => p.product !== null)).toHaveLength(1);
    const losers = payloads.filter((p) => p.product === null);
    expect(losers).toHaveLength(7);
    for (const p of losers)
      expect(p.userErrors).toMatchObject([
        { code: "INVALID_INPUT", field: ["input", "variants", "0", "sku"] },
      ]);
    const rows = await db().select().from(productVariants).where(eq(productVariants.sku, sku));
    expect(rows).toHaveLength(1);
  });

  it("non-staff callers get FORBIDDEN for every staff mutation, and nothing changes", async () => {
    const { variants } = await createProduct(t.app, storeA);
    const variant = variants[0]!;
    const customer = await createCustomer(t.app, storeA);
    const guest = await createGuest(t.app, storeA);
    const before = await productCount(storeA);
    for (const token of [undefined, guest.token, customer.token]) {
      const opts = { token, store: storeA.handle };
      const created = await t.app.gql(
        PRODUCT_CREATE,
        { input: { name: "Nope", basePrice: 1, variants: [{ sku: unique(), title: "x" }] } },
        opts,
      );
      expect(created.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const priced = await t.app.gql(PRICE_UPDATE, { variantId: variant.id, price: 1 }, opts);
      expect(priced.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const adjusted = await t.app.gql(INVENTORY_ADJUST, { variantId: variant.id, delta: -1 }, opts);
      expect(adjusted.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    expect(await productCount(storeA)).toBe(before);
    expect(await variantRow(variant.id)).toMatchObject({ priceOverride: null, stockOnHand: 10, version: 1 });
  });
});

describe("reading the catalog", () => {
  it("shoppers see ACTIVE products only; staff see every status", async () => {
    const draft = await createProduct(t.app, storeA, { status: "DRAFT" });
    const archived = await createProduct(t.app, storeA, { status: "ARCHIVED" });
    const active = await createProduct(t.app, storeA);
    const customer = await createCustomer(t.app, storeA);
    for (const token of [undefined, customer.token]) {
      const opts = { token, store: storeA.handle };
      expect((await t.app.ok(PRODUCT, { id: draft.product.id }, opts)).product).toBeNull();
      expect((await t.app.ok(PRODUCT, { id: archived.product.id }, opts)).product).toBeNull();
      expect((await t.app.ok(VARIANT, { id: draft.variants[0]!.id }, opts)).variant).toBeNull();
      expect((await t.app.ok(PRODUCT, { id: active.product.id }, opts)).product).toMatchObject({
        status: "ACTIVE",
      });
      const page = await t.app.ok<ProductsPage>(PRODUCTS, { first: 100 }, opts);
      const ids = page.products.edges.map((e) => e.node.id);
      expect(ids).toContain(active.product.id);
      expect(ids).not.toContain(draft.product.id);
      expect(ids).not.toContain(archived.product.id);
    }
    const staff = { token: staffA.token, store: storeA.handle };
    expect((await t.app.ok(PRODUCT, { id: draft.product.id }, staff)).product).toMatchObject({
      status: "DRAFT",
    });
    expect((await t.app.ok(VARIANT, { id: draft.variants[0]!.id }, staff)).variant).toMatchObject({
      product: { id: draft.product.id, status: "DRAFT" },
    });
    const ids = (await t.app.ok<ProductsPage>(PRODUCTS, { first: 100 }, staff)).products.edges.map(
      (e) => e.node.id,
    );
    expect(ids).toEqual(expect.arrayContaining([draft.product.id, archived.product.id, active.product.id]));
  });

  it("unknown, malformed and other stores' ids are simply null", async () => {
    const inB = await createProduct(t.app, storeB);
    for (const opts of [{ store: storeA.handle }, { token: staffA.token, store: storeA.handle }]) {
      for (const id of [randomUUID(), "not-an-id", inB.product.id]) {
        expect((await t.app.ok(PRODUCT, { id }, opts)).product).toBeNull();
      }
      for (const id of [randomUUID(), "42", inB.variants[0]!.id]) {
        expect((await t.app.ok(VARIANT, { id }, opts)).variant).toBeNull();
      }
      const page = await t.app.ok<ProductsPage>(PRODUCTS, { first: 100 }, opts);
      expect(page.products.edges.map((e) => e.node.id)).not.toContain(inB.product.id);
    }
    // Seen from its own store, it is there.
    expect(
      (await t.app.ok(PRODUCT, { id: inB.product.id }, { store: storeB.handle })).product,
    ).not.toBeNull();
  });

  it("stock numbers are staff-only; inStock counts reserved units as gone", async () => {
    const { variants } = await createProduct(t.app, storeA, {
      variants: [{ stockOnHand: 3 }, { stockOnHand: 5 }],
    });
    await db().update(productVariants).set({ reserved: 3 }).where(eq(productVariants.id, variants[0]!.id));
    const shopper = await t.app.ok<{ variant: VariantJson }>(
      VARIANT,
      { id: variants[0]!.id },
      { store: storeA.handle },
    );
    expect(shopper.variant).toMatchObject({ inStock: false, stockOnHand: null, lowStock: null });
    const other = await t.app.ok<{ variant: VariantJson }>(
      VARIANT,
      { id: variants[1]!.id },
      { store: storeA.handle },
    );
    expect(other.variant).toMatchObject({ inStock: true, stockOnHand: null });
    const staff = await t.app.ok<{ variant: VariantJson }>(
      VARIANT,
      { id: variants[0]!.id },
      { token: staffA.token, store: storeA.handle },
    );
    expect(staff.variant).toMatchObject({ inStock: false, stockOnHand: 3, lowStock: true });
  });

  it("products pages by creation order without gaps or repeats", async () => {
    const store = await createStore(t.app);
    const created: string[] = [];
    for (let i = 0; i < 7; i++)
      created.push((await createProduct(t.app, store, { name: `Item ${i}` })).product.id);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: ProductsPage = await t.app.ok<ProductsPage>(
        PRODUCTS,
        { first: 3, after },
        { store: store.handle },
      );
      pages++;
      seen.push(...page.products.edges.map((e) => e.node.id));
      expect(page.products.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(page.products.pageInfo.endCursor).toBe(page.products.edges.at(-1)?.cursor ?? null);
      if (!page.products.pageInfo.hasNextPage) break;
      after = page.products.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(created);
    const past = await t.app.ok<ProductsPage>(PRODUCTS, { first: 3, after: after }, { store: store.handle });
    expect(past.products.edges.map((e) => e.node.id)).toEqual(created.slice(6));
    const empty = await t.app.ok<ProductsPage>(PRODUCTS, { first: 0 }, { store: store.handle });
    expect(empty.products).toMatchObject({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it("query matches names case-insensitively and treats % and _ as plain text", async () => {
    const store = await createStore(t.app);
    const names = ["Linen Shirt", "Washed LINEN Trousers", "100% Cotton Tee", "Tote_Bag 50%", "Wool Scarf"];
    for (const name of names) await createProduct(t.app, store, { name });
    const search = async (query: string) =>
      (await t.app.ok<ProductsPage>(PRODUCTS, { query }, { store: store.handle })).products.edges.map(
        (e) => e.node.name,
      );
    expect(await search("linen")).toEqual(["Linen Shirt", "Washed LINEN Trousers"]);
    expect(await search("  SCARF ")).toEqual(["Wool Scarf"]);
    expect(await search("%")).toEqual(["100% Cotton Tee", "Tote_Bag 50%"]);
    expect(await search("_")).toEqual(["Tote_Bag 50%"]);
    expect(await search("0% c")).toEqual(["100% Cotton Tee"]);
    expect(await search("\\")).toEqual([]);
    expect(await search("")).toHaveLength(names.length);
    // A search pages like the full listing.
    const first = await t.app.ok<ProductsPage>(
      PRODUCTS,
      { query: "linen", first: 1 },
      { store: store.handle },
    );
    expect(first.products.pageInfo.hasNextPage).toBe(true);
    const second = await t.app.ok<ProductsPage>(
      PRODUCTS,
      { query: "linen", first: 1, after: first.products.pageInfo.endCursor },
      { store: store.handle },
    );
    expect(second.products.edges.map((e) => e.node.name)).toEqual(["Washed LINEN Trousers"]);
    expect(second.products.pageInfo.hasNextPage).toBe(false);
  });

  it("bad paging arguments are BAD_USER_INPUT errors", async () => {
    const forged = Buffer.from("2024-01-01T00:00:00.000Z|not-a-uuid").toString("base64url");
    for (const vars of [
      { first: 101 },
      { first: -1 },
      { after: "garbage" },
      { after: forged },
      { query: "x".repeat(201) },
    ]) {
      const res = await t.app.gql(PRODUCTS, vars, { store: storeA.handle });
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(vars)).toBe("BAD_USER_INPUT");
      expect(res.data ?? null).toBeNull();
    }
  });

  it("the statement count of a products page does not grow with its size", async () => {
    const store = await createStore(t.app);
    for (let i = 0; i < 20; i++) {
      await createProduct(t.app, store, { variants: [{ price: 100 + i }, { price: 200 + i }, {}] });
    }
    const query = `query ($first: Int) { products(first: $first) { edges { node {
      id name priceRange { min { amount } max { amount } }
      variants { id sku price { amount currencyCode } inStock stockOnHand product { id name } } } } } }`;
    const statementsFor = async (first: number, token?: string) => {
      const res = await t.app.gql<{ products: { edges: { node: ProductJson }[] } }>(
        query,
        { first },
        { token, store: store.handle },
      );
      expect(res.errors).toBeUndefined();
      expect(res.data!.products.edges).toHaveLength(first);
      expect(res.data!.products.edges.every((e) => e.node.variants.length === 3)).toBe(true);
      return Number(res.headers.get("x-sql-statements"));
    };
    await statementsFor(1); // resolves and caches the store
    const staff = await createStaff(t.app, store);
    for (const token of [undefined, staff.token]) {
      await statementsFor(1, token); // the token's account check is cached from here on
      const small = await statementsFor(5, token);
      const large = await statementsFor(20, token);
      expect(small).toBeGreaterThan(0);
      expect(large).toBe(small);
      // the page with its variants in one statement; the variants' products: one more; staff's
      // counters (without sold units not yet settled): one more again.
      expect(large).toBeLessThanOrEqual(token ? 3 : 2);
    }
  });
});

describe("variantPriceUpdate", () => {
  const update = (variantId: string, price: number, store: StoreRef = storeA, token = staffA.token) =>
    t.app.gql<PricePayload>(PRICE_UPDATE, { variantId, price }, { token, store: store.handle });

  it("sets the variant's price, bumps its version and announces the change through the outbox", async () => {
    const { product, variants } = await createProduct(t.app, storeA, { basePrice: 2000, variants: [{}, {}] });
    const variant = variants[0]!;
    const res = await update(variant.id, 2450);
    expect(res.data!.variantPriceUpdate).toMatchObject({
      userErrors: [],
      variant: { id: variant.id, price: { amount: 2450, currencyCode: "USD" }, product: { id: product.id } },
    });
    expect(await variantRow(variant.id)).toMatchObject({ priceOverride: 2450, version: 2 });
    expect(await priceEventsOf(variant.id)).toMatchObject([
      {
        storeId: storeA.id,
        key: variant.id,
        // publishedAt is not asserted: NOTIFY wakes the relay, which may already have published it.
        payload: { storeId: storeA.id, variantId: variant.id, previousPrice: 2000, newPrice: 2450 },
      },
    ]);
    const seen = await t.app.ok<{ product: ProductJson }>(
      PRODUCT,
      { id: product.id },
      { store: storeA.handle },
    );
    expect(seen.product.priceRange).toEqual({
      min: { amount: 2000, currencyCode: "USD" },
      max: { amount: 2450, currencyCode: "USD" },
    });
    // Free is a price too; setting it again to the same value announces nothing new.
    expect((await update(variant.id, 0)).data!.variantPriceUpdate.variant!.price.amount).toBe(0);
    expect((await update(variant.id, 0)).data!.variantPriceUpdate.userErrors).toEqual([]);
    const events = await priceEventsOf(variant.id);
    expect(events.map((e) => e.payload)).toMatchObject([
      { previousPrice: 2000, newPrice: 2450 },
      { previousPrice: 2450, newPrice: 0 },
    ]);
  });

  it("rejects out-of-range prices and unknown or foreign variants, writing nothing", async () => {
    const { variants } = await createProduct(t.app, storeA);
    const variant = variants[0]!;
    const foreign = (await createProduct(t.app, storeB)).variants[0]!;
    const cases: [string, number, string, string[]][] = [
      [variant.id, -1, "INVALID_INPUT", ["price"]],
      [variant.id, 100_000_001, "INVALID_INPUT", ["price"]],
      [randomUUID(), 100, "NOT_FOUND", ["variantId"]],
      ["nonsense", 100, "NOT_FOUND", ["variantId"]],
      [foreign.id, 100, "NOT_FOUND", ["variantId"]],
    ];
    for (const [id, price, code, field] of cases) {
      const res = await update(id, price);
      expect(res.data!.variantPriceUpdate).toMatchObject({ variant: null, userErrors: [{ code, field }] });
    }
    expect(await variantRow(variant.id)).toMatchObject({ priceOverride: null, version: 1 });
    expect(await variantRow(foreign.id)).toMatchObject({ priceOverride: null, version: 1 });
    expect(await priceEventsOf(foreign.id)).toEqual([]);
    expect(await priceEventsOf(variant.id)).toEqual([]);
  });
});

describe("inventoryAdjust", () => {
  const adjust = (variantId: string, delta: number, reason?: string | null, store: StoreRef = storeA) =>
    t.app.gql<AdjustPayload>(
      INVENTORY_ADJUST,
      { variantId, delta, reason },
      { token: staffA.token, store: store.handle },
    );

  it("adds and removes stock, recording each movement", async () => {
    const variant = (await createProduct(t.app, storeA, { variants: [{ stockOnHand: 4 }] })).variants[0]!;
    const up = await adjust(variant.id, 6, "  delivery from supplier ");
    expect(up.data!.inventoryAdjust).toMatchObject({
      userErrors: [],
      variant: { stockOnHand: 10, inStock: true },
    });
    const down = await adjust(variant.id, -10, null);
    expect(down.data!.inventoryAdjust).toMatchObject({
      userErrors: [],
      variant: { stockOnHand: 0, inStock: false },
    });
    const movements = (await movementsOf(variant.id)).sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime(),
    );
    expect(
      movements.map(({ delta, reason, stockAfter, actor }) => ({ delta, reason, stockAfter, actor })),
    ).toEqual([
      { delta: 4, reason: "initial stock", stockAfter: 4, actor: "staff:fixtures" },
      { delta: 6, reason: "delivery from supplier", stockAfter: 10, actor: `staff:${staffA.id}` },
      { delta: -10, reason: "manual adjustment", stockAfter: 0, actor: `staff:${staffA.id}` },
    ]);
  });

  it("never goes below zero or below what is reserved: INSUFFICIENT_STOCK with what is available", async () => {
    const variant = (await createProduct(t.app, storeA, { variants: [{ stockOnHand: 10 }] })).variants[0]!;
    const tooMany = await adjust(variant.id, -11);
    expect(tooMany.data!.inventoryAdjust).toMatchObject({
      variant: null,
      userErrors: [{ code: "INSUFFICIENT_STOCK", variantId: variant.id, available: 10, field: ["delta"] }],
    });
    await db().update(productVariants).set({ reserved: 4 }).where(eq(productVariants.id, variant.id));
    const intoReserved = await adjust(variant.id, -7);
    expect(intoReserved.data!.inventoryAdjust.userErrors).toMatchObject([
      { code: "INSUFFICIENT_STOCK", variantId: variant.id, available: 6 },
    ]);
    expect(await variantRow(variant.id)).toMatchObject({ stockOnHand: 10, reserved: 4 });
    expect(await movementsOf(variant.id)).toHaveLength(1);
    const exact = await adjust(variant.id, -6);
    expect(exact.data!.inventoryAdjust).toMatchObject({
      userErrors: [],
      variant: { stockOnHand: 4, inStock: false },
    });
  });

  it("rejects bad deltas, reasons and ids, writing nothing", async () => {
    const variant = (await createProduct(t.app, storeA)).variants[0]!;
    const foreign = (await createProduct(t.app, storeB)).variants[0]!;
    const cases: [string, number, string | null, string, string[]][] = [
      [variant.id, 0, null, "INVALID_INPUT", ["delta"]],
      [variant.id, 1_000_001, null, "INVALID_INPUT", ["delta"]],
      [variant.id, -1_000_001, null, "INVALID_INPUT", ["delta"]],
      [variant.id, 1, "r".repeat(201), "INVALID_INPUT", ["reason"]],
      [randomUUID(), 1, null, "NOT_FOUND", ["variantId"]],
      ["bogus", 1, null, "NOT_FOUND", ["variantId"]],
      [foreign.id, 1, null, "NOT_FOUND", ["variantId"]],
    ];
    for (const [id, delta, reason, code, field] of cases) {
      const res = await adjust(id, delta, reason);
      expect(res.data!.inventoryAdjust, `${delta} ${reason}`).toMatchObject({
        variant: null,
        userErrors: [{ code, field }],
      });
    }
    expect(await variantRow(variant.id)).toMatchObject({ stockOnHand: 10 });
    expect(await variantRow(foreign.id)).toMatchObject({ stockOnHand: 10 });
    expect(await movementsOf(variant.id)).toHaveLength(1);
    expect(await movementsOf(foreign.id)).toHaveLength(1);
  });

  it("racing removals never oversell: exactly the units on hand are removed", async () => {
    const variant = (await createProduct(t.app, storeA, { variants: [{ stockOnHand: 10 }] })).variants[0]!;
    const results = await Promise.all(Array.from({ length: 25 }, () => adjust(variant.id, -1)));
    const payloads = results.map((r) => r.data!.inventoryAdjust);
    expect(payloads.filter((p) => p.userErrors.length === 0)).toHaveLength(10);
    const refused = payloads.filter((p) => p.userErrors.length > 0);
    expect(refused).toHaveLength(15);
    for (const p of refused)
      expect(p.userErrors).toMatchObject([{ code: "INSUFFICIENT_STOCK", available: 0 }]);
    expect(await variantRow(variant.id)).toMatchObject({ stockOnHand: 0 });
    const removals = (await movementsOf(variant.id)).filter((m) => m.delta === -1);
    expect(removals).toHaveLength(10);
    expect(removals.map((m) => m.stockAfter).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe("tenant isolation", () => {
  it("a staff token of one store is UNAUTHENTICATED on another", async () => {
    const variant = (await createProduct(t.app, storeB)).variants[0]!;
    const query = await t.app.gql(PRODUCTS, { first: 1 }, { token: staffA.token, store: storeB.handle });
    expect(query.status).toBe(401);
    expect(query.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const mutation = await t.app.gql(
      INVENTORY_ADJUST,
      { variantId: variant.id, delta: -5 },
      {
        token: staffA.token,
        store: storeB.handle,
      },
    );
    expect(mutation.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(await variantRow(variant.id)).toMatchObject({ stockOnHand: 10 });
  });
});
