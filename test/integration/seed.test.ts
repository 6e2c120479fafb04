import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  discounts,
  inventoryMovements,
  productVariants,
  shippingMethods,
  staffUsers,
  stores,
  taxRates,
} from "../../src/db/schema.js";
import { seedDemoIfEmpty } from "../../src/db/seed.js";
import { createTestApp, TEST_PASSWORD_COST, type TestApp } from "../support/test-app.js";

// Two apps, two empty databases: one seeded with a chosen password, one by racing seeders without one.
let chosen: TestApp;
let racing: TestApp;
const PASSWORD = "demo-password-for-tests";

beforeAll(async () => {
  [chosen, racing] = await Promise.all([createTestApp(), createTestApp()]);
});
afterAll(async () => {
  await Promise.all([chosen?.close(), racing?.close()]);
});

interface ProductsJson {
  products: {
    edges: {
      node: {
        name: string;
        status: string;
        priceRange: { min: { currencyCode: string } };
        variants: {
          sku: string;
          title: string;
          attributes: Record<string, string>;
          price: { amount: number };
          inStock: boolean;
        }[];
      };
    }[];
  };
}
const PRODUCTS = `{ products(first: 100) { edges { node { name status priceRange { min { currencyCode } }
  variants { sku title attributes price { amount } inStock } } } } }`;
const STAFF_LOGIN = `mutation ($email: String!, $password: String!) {
  staffLogin(email: $email, password: $password) { token staff { email role } userErrors { code } } }`;

function staffLogin(app: TestApp, store: string, email: string, password: string) {
  return app.ok<{
    staffLogin: {
      token: string | null;
      staff: { email: string; role: string } | null;
      userErrors: { code: string }[];
    };
  }>(STAFF_LOGIN, { email, password }, { store });
}

async function storeId(app: TestApp, handle: string): Promise<string> {
  const [row] = await app.runtime.database.db
    .select({ id: stores.id })
    .from(stores)
    .where(eq(stores.handle, handle));
  if (!row) throw new Error(`store ${handle} missing`);
  return row.id;
}

describe("seedDemoIfEmpty", () => {
  it("seeds both demo stores into an empty database, and only then", async () => {
    const db = chosen.runtime.database.db;
    expect(await seedDemoIfEmpty(db, { staffPassword: PASSWORD, passwordCost: TEST_PASSWORD_COST })).toEqual({
      stores: ["demo", "demo-eu"],
    });
    expect(
      await seedDemoIfEmpty(db, { staffPassword: PASSWORD, passwordCost: TEST_PASSWORD_COST }),
    ).toBeNull();
    const all = await db.select({ handle: stores.handle, currency: stores.currency }).from(stores);
    expect(all.sort((a, b) => a.handle.localeCompare(b.handle))).toEqual([
      { handle: "demo", currency: "USD" },
      { handle: "demo-eu", currency: "EUR" },
    ]);
    // Without x-store, requests go to the demo store.
    expect(await chosen.ok(`{ store { handle currencyCode } }`)).toEqual({
      store: { handle: "demo", currencyCode: "USD" },
    });
  });

  it("gives the demo store at least 20 active products with 60 variants in stock, in USD", async () => {
    const { products } = await chosen.ok<ProductsJson>(PRODUCTS, {}, { store: "demo" });
    const nodes = products.edges.map((e) => e.node);
    expect(nodes.length).toBeGreaterThanOrEqual(20);
    expect(nodes.every((p) => p.status === "ACTIVE" && p.priceRange.min.currencyCode === "USD")).toBe(true);
    expect(new Set(nodes.map((p) => p.name)).size).toBe(nodes.length);
    const variants = nodes.flatMap((p) => p.variants);
    expect(variants.length).toBeGreaterThanOrEqual(60);
    expect(variants.every((v) => v.inStock)).toBe(true);
    // Fixed content: the same SKUs, titles, attributes and prices on every run.
    expect(variants).toEqual(
      expect.arrayContaining([
        {
          sku: "TEE-BLACK-S",
          title: "Black / S",
          attributes: { Color: "Black", Size: "S" },
          price: { amount: 2500 },
          inStock: true,
        },
        expect.objectContaining({ sku: "HOOD-CHARCOAL-XL", price: { amount: 6900 } }),
        expect.objectContaining({
          sku: "COFFEE-DARK-1KG",
          attributes: { Roast: "Dark", Weight: "1 kg" },
          price: { amount: 5200 },
        }),
      ]),
    );
    // Each unit on hand is explained by an initial movement.
    const demoId = await storeId(chosen, "demo");
    const [unexplained] = await chosen.runtime.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(productVariants)
      .where(
        sql`${productVariants.storeId} = ${demoId} and ${productVariants.stockOnHand} <> coalesce((select sum(${inventoryMovements.delta}) from ${inventoryMovements} where ${inventoryMovements.variantId} = ${productVariants.id}), 0)`,
      );
    expect(unexplained!.n).toBe(0);
  });

  it("has one active discount code of each type, with the documented terms", async () => {
    const demoId = await storeId(chosen, "demo");
    const rows = await chosen.runtime.database.db
      .select({
        code: discounts.code,
        type: discounts.type,
        value: discounts.value,
        buyQty: discounts.buyQty,
        getQty: discounts.getQty,
        minOrderAmount: discounts.minOrderAmount,
        isActive: discounts.isActive,
        validUntil: discounts.validUntil,
        maxUses: discounts.maxUses,
      })
      .from(discounts)
      .where(eq(discounts.storeId, demoId));
    const common = { isActive: true, validUntil: null, maxUses: null };
    expect(rows.sort((a, b) => a.code.localeCompare(b.code))).toEqual([
      {
        code: "B2G1",
        type: "BUY_X_GET_Y",
        value: 100,
        buyQty: 2,
        getQty: 1,
        minOrderAmount: null,
        ...common,
      },
      {
        code: "FIVEOFF",
        type: "FIXED_AMOUNT",
        value: 500,
        buyQty: null,
        getQty: null,
        minOrderAmount: 2000,
        ...common,
      },
      {
        code: "FREESHIP",
        type: "FREE_SHIPPING",
        value: 0,
        buyQty: null,
        getQty: null,
        minOrderAmount: null,
        ...common,
      },
      {
        code: "SAVE10",
        type: "PERCENTAGE",
        value: 10,
        buyQty: null,
        getQty: null,
        minOrderAmount: null,
        ...common,
      },
    ]);
  });

  it("ships and taxes the US and other countries (demo), Germany and France (demo-eu)", async () => {
    const db = chosen.runtime.database.db;
    for (const [handle, countries, rates] of [
      [
        "demo",
        ["CA", "GB", "US"],
        [
          ["US", "CA", 725],
          ["US", "NY", 400],
          ["US", "", 0],
          ["CA", "", 500],
          ["GB", "", 2000],
        ],
      ],
      [
        "demo-eu",
        ["DE", "FR"],
        [
          ["DE", "", 1900],
          ["FR", "", 2000],
        ],
      ],
    ] as const) {
      const id = await storeId(chosen, handle);
      const methods = await db.select().from(shippingMethods).where(eq(shippingMethods.storeId, id));
      expect([...new Set(methods.flatMap((m) => m.countries))].sort()).toEqual(countries);
      expect(methods.every((m) => m.isActive && m.rate > 0)).toBe(true);
      expect(methods.some((m) => m.freeOver !== null)).toBe(true);
      const taxes = await db.select().from(taxRates).where(eq(taxRates.storeId, id));
      expect(taxes.map((t) => [t.country, t.region, t.rateBps])).toEqual(
        expect.arrayContaining(rates.map((r) => [...r])),
      );
    }
  });

  it("gives demo-eu its own EUR products, invisible from demo", async () => {
    const eu = (await chosen.ok<ProductsJson>(PRODUCTS, {}, { store: "demo-eu" })).products.edges.map(
      (e) => e.node,
    );
    expect(eu.length).toBeGreaterThanOrEqual(3);
    expect(
      eu.every((p) => p.priceRange.min.currencyCode === "EUR" && p.variants.every((v) => v.inStock)),
    ).toBe(true);
    const demoNames = new Set(
      (await chosen.ok<ProductsJson>(PRODUCTS, {}, { store: "demo" })).products.edges.map((e) => e.node.name),
    );
    expect(eu.filter((p) => demoNames.has(p.name))).toEqual([]);
  });

  it("creates an owner per store, signing in with the given password in its own store only", async () => {
    const demo = (await staffLogin(chosen, "demo", "staff@demo.test", PASSWORD)).staffLogin;
    expect(demo).toMatchObject({ staff: { email: "staff@demo.test", role: "OWNER" }, userErrors: [] });
    const eu = (await staffLogin(chosen, "demo-eu", "staff@demo-eu.test", PASSWORD)).staffLogin;
    expect(eu).toMatchObject({ staff: { email: "staff@demo-eu.test", role: "OWNER" }, userErrors: [] });
    const crossed = (await staffLogin(chosen, "demo-eu", "staff@demo.test", PASSWORD)).staffLogin;
    expect(crossed.userErrors).toEqual([{ code: "INVALID_CREDENTIALS" }]);
    // Staff see the draft product shoppers do not.
    const staffView = await chosen.ok<ProductsJson>(PRODUCTS, {}, { store: "demo", token: demo.token! });
    expect(staffView.products.edges.some((e) => e.node.status === "DRAFT")).toBe(true);
    const rows = await chosen.runtime.database.db.select({ hash: staffUsers.passwordHash }).from(staffUsers);
    expect(rows.every((r) => r.hash.startsWith("scrypt$") && !r.hash.includes(PASSWORD))).toBe(true);
  });

  it("racing seeders on one empty database: exactly one seeds, with a generated password", async () => {
    const db = racing.runtime.database.db;
    const results = await Promise.all(
      Array.from({ length: 4 }, () => seedDemoIfEmpty(db, { passwordCost: TEST_PASSWORD_COST })),
    );
    const seeded = results.filter((r) => r !== null);
    expect(seeded).toHaveLength(1);
    const password = seeded[0]!.generatedStaffPassword;
    expect(password).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    const [count] = await db.select({ n: sql<number>`count(*)::int` }).from(stores);
    expect(count!.n).toBe(2);
    const login = (await staffLogin(racing, "demo-eu", "staff@demo-eu.test", password!)).staffLogin;
    expect(login.userErrors).toEqual([]);
  });
});
