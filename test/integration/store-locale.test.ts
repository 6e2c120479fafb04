/**
 * A store's locale: set by an owner or admin with storeSettingsUpdate (a BCP 47 tag Intl can format
 * money in, stored canonical), exposed as Store.locale, and followed by every Money.formatted and by
 * the messages that name amounts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { StoreRef } from "../../src/services/context.js";
import {
  createGuest,
  createProduct,
  createStaff,
  createStore,
  type TestGuest,
  type TestStaff,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

let store: StoreRef;
let owner: TestStaff;
let guest: TestGuest;

const SET_LOCALE = `mutation L($locale: String!) { storeSettingsUpdate(input: { locale: $locale }) {
  store { locale cartHoldMinutes } userErrors { code message field } } }`;

interface SetLocale {
  storeSettingsUpdate: {
    store: { locale: string; cartHoldMinutes: number } | null;
    userErrors: { code: string; message: string; field: string[] | null }[];
  };
}

async function setLocale(locale: string, token = owner.token) {
  const res = await t.app.gql<SetLocale>(SET_LOCALE, { locale }, { store: store.handle, token });
  return res;
}

async function storeLocale(): Promise<string> {
  const data = await t.app.ok<{ store: { locale: string } }>(
    "{ store { locale } }",
    {},
    { store: store.handle },
  );
  return data.store.locale;
}

beforeAll(async () => {
  store = await createStore(t.app, { currency: "EUR" });
  owner = await createStaff(t.app, store, { role: "OWNER" });
  guest = await createGuest(t.app, store);
});

describe("store locale", () => {
  it('is "en-US" until set, and an owner sets it in canonical form', async () => {
    expect(await storeLocale()).toBe("en-US");
    const res = await setLocale("de-de");
    expect(res.data?.storeSettingsUpdate).toEqual({
      store: { locale: "de-DE", cartHoldMinutes: 15 },
      userErrors: [],
    });
    expect(await storeLocale()).toBe("de-DE");
  });

  it("refuses a tag that is malformed or that Intl cannot format money in, and keeps the old one", async () => {
    await setLocale("de-DE");
    for (const bad of ["de_DE", "german language", "xx", ""]) {
      const res = await setLocale(bad);
      expect(res.data?.storeSettingsUpdate.store, bad).toBeNull();
      expect(res.data?.storeSettingsUpdate.userErrors, bad).toEqual([
        {
          code: "INVALID_INPUT",
          message: expect.stringContaining("is not a BCP 47 language tag this server can format money in"),
          field: ["input", "locale"],
        },
      ]);
    }
    expect(await storeLocale()).toBe("de-DE");
  });

  it("is changed only by an owner or admin", async () => {
    const clerk = await createStaff(t.app, store, { role: "STAFF" });
    const res = await setLocale("fr-FR", clerk.token);
    expect(res.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const asGuest = await setLocale("fr-FR", guest.token);
    expect(asGuest.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(await storeLocale()).toBe("de-DE");
  });

  it("is what Money.formatted and the cart's messages follow", async () => {
    await setLocale("de-DE");
    const p = await createProduct(t.app, store, { basePrice: 123456, variants: [{ sku: "LAMP-DE" }] });
    const variantId = p.variants[0]?.id as string;
    const cart = await t.app.ok<{
      cartCreate: { cart: { id: string; cost: { total: { formatted: string } } } };
    }>(
      `mutation C($variantId: ID!) { cartCreate(input: { lines: [{ variantId: $variantId, quantity: 1 }] }) {
        cart { id cost { total { formatted } } } } }`,
      { variantId },
      { store: store.handle, token: guest.token },
    );
    expect(cart.cartCreate.cart.cost.total.formatted).toBe("1.234,56\u00a0€");
    await t.app.ok(
      `mutation V($variantId: ID!) { variantPriceUpdate(variantId: $variantId, price: 99900) { variant { id } } }`,
      { variantId },
      { store: store.handle, token: owner.token },
    );
    await setLocale("en-GB");
    const read = await t.app.ok<{
      cart: { lines: { unitPrice: { formatted: string } }[]; warnings: { code: string; message: string }[] };
    }>(
      `query R($id: ID!) { cart(id: $id) { lines { unitPrice { formatted } } warnings { code message } } }`,
      { id: cart.cartCreate.cart.id },
      { store: store.handle, token: guest.token },
    );
    expect(read.cart.lines[0]?.unitPrice.formatted).toBe("€1,234.56");
    expect(read.cart.warnings).toEqual([
      { code: "PRICE_CHANGED", message: "LAMP-DE now costs €999.00 (was €1,234.56 when added)" },
    ]);
  });
});
