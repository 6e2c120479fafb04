import { beforeAll, describe, expect, it } from "vitest";
import type { StoreRef } from "../../src/services/context.js";
import { cartApi, okCart } from "../support/cart-api.js";
import {
  createCustomer,
  createGuest,
  createProduct,
  createStaff,
  createStore,
  type TestGuest,
  type TestStaff,
} from "../support/fixtures.js";
import type { TestApp } from "../support/test-app.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let other: StoreRef;
let staff: TestStaff;
let guest: TestGuest;
let api: ReturnType<typeof cartApi>;
let variantId: string;
let usGround: string;
let usExpress: string;
let caMethod: string;
let foreignMethod: string;

const US_ADDRESS = {
  firstName: "Ada",
  lastName: "Lovelace",
  line1: "1 Main St",
  city: "Los Angeles",
  region: "ca",
  postalCode: "90001",
  country: "us",
};

const USER_ERRORS = "userErrors { code field message }";

async function createMethod(
  app: TestApp,
  token: string,
  storeHandle: string,
  input: Record<string, unknown>,
) {
  return app.ok<{
    shippingMethodCreate: {
      shippingMethod: { id: string } | null;
      userErrors: { code: string; field: string[] }[];
    };
  }>(
    `mutation M($input: ShippingMethodInput!) { shippingMethodCreate(input: $input) { shippingMethod { id name countries rate { amount } freeOver { amount } } ${USER_ERRORS} } }`,
    { input },
    { token, store: storeHandle },
  );
}

async function upsertTax(input: Record<string, unknown>, token = staff.token) {
  return t.app.gql<{
    taxRateUpsert: {
      taxRate: { id: string; country: string; region: string | null; rateBps: number } | null;
      userErrors: { code: string; field: string[] }[];
    };
  }>(
    `mutation T($input: TaxRateInput!) { taxRateUpsert(input: $input) { taxRate { id country region rateBps } ${USER_ERRORS} } }`,
    { input },
    { token, store: store.handle },
  );
}

async function setAddress(cartId: string, address: Record<string, unknown>, token = guest.token) {
  const data = await t.app.ok<{
    cartShippingAddressUpdate: {
      cart: {
        shippingAddress: Record<string, unknown> | null;
        shippingMethod: { id: string } | null;
        warnings: { code: string }[];
        cost: { shipping: { amount: number }; tax: { amount: number }; total: { amount: number } };
      } | null;
      userErrors: { code: string; field: string[] }[];
    };
  }>(
    `mutation A($cartId: ID!, $address: AddressInput!) { cartShippingAddressUpdate(cartId: $cartId, address: $address) {
      cart { shippingAddress { firstName country region postalCode } shippingMethod { id } warnings { code } cost { shipping { amount } tax { amount } total { amount } } } ${USER_ERRORS} } }`,
    { cartId, address },
    { token, store: store.handle },
  );
  return data.cartShippingAddressUpdate;
}

async function selectMethod(cartId: string, shippingMethodId: string, token = guest.token) {
  const data = await t.app.ok<{
    cartShippingMethodSelect: {
      cart: {
        shippingMethod: { id: string; name: string } | null;
        cost: {
          subtotal: { amount: number };
          shipping: { amount: number };
          tax: { amount: number };
          total: { amount: number };
        };
      } | null;
      userErrors: { code: string; field: string[] }[];
    };
  }>(
    `mutation S($cartId: ID!, $id: ID!) { cartShippingMethodSelect(cartId: $cartId, shippingMethodId: $id) {
      cart { shippingMethod { id name } cost { subtotal { amount } shipping { amount } tax { amount } total { amount } } } ${USER_ERRORS} } }`,
    { cartId, id: shippingMethodId },
    { token, store: store.handle },
  );
  return data.cartShippingMethodSelect;
}

async function rates(cartId: string, token = guest.token) {
  const data = await t.app.ok<{
    shippingRates: { shippingMethod: { id: string }; price: { amount: number } }[];
  }>(
    `query R($cartId: ID!) { shippingRates(cartId: $cartId) { shippingMethod { id } price { amount } } }`,
    { cartId },
    { token, store: store.handle },
  );
  return data.shippingRates;
}

beforeAll(async () => {
  store = await createStore(t.app);
  other = await createStore(t.app);
  staff = await createStaff(t.app, store);
  guest = await createGuest(t.app, store);
  api = cartApi(t.app, store.handle);
  variantId = (await createProduct(t.app, store, { basePrice: 2000, variants: [{ stockOnHand: 100 }] }))
    .variants[0]!.id;
  usGround = (
    await createMethod(t.app, staff.token, store.handle, {
      name: "Ground",
      countries: ["us"],
      rate: 700,
      freeOver: 10000,
    })
  ).shippingMethodCreate.shippingMethod!.id;
  usExpress = (
    await createMethod(t.app, staff.token, store.handle, {
      name: "Express",
      countries: ["US", "CA"],
      rate: 1500,
    })
  ).shippingMethodCreate.shippingMethod!.id;
  caMethod = (
    await createMethod(t.app, staff.token, store.handle, {
      name: "Canada Post",
      countries: ["CA"],
      rate: 900,
    })
  ).shippingMethodCreate.shippingMethod!.id;
  const otherStaff = await createStaff(t.app, other);
  foreignMethod = (
    await createMethod(t.app, otherStaff.token, other.handle, {
      name: "Elsewhere",
      countries: ["US"],
      rate: 1,
    })
  ).shippingMethodCreate.shippingMethod!.id;
  await upsertTax({ country: "US", rateBps: 500 });
  await upsertTax({ country: "US", region: "CA", rateBps: 725 });
});

describe("shipping methods and tax rates (staff)", () => {
  it("validates shipping methods and tax rates, writing nothing on error", async () => {
    const bad = await createMethod(t.app, staff.token, store.handle, {
      name: " ",
      countries: ["XX", "us"],
      rate: -1,
      freeOver: -5,
    });
    expect(bad.shippingMethodCreate.shippingMethod).toBeNull();
    expect(bad.shippingMethodCreate.userErrors.map((e) => e.field)).toEqual([
      ["input", "name"],
      ["input", "countries", "0"],
      ["input", "rate"],
      ["input", "freeOver"],
    ]);
    const none = await createMethod(t.app, staff.token, store.handle, {
      name: "Nowhere",
      countries: [],
      rate: 1,
    });
    expect(none.shippingMethodCreate.userErrors.map((e) => e.code)).toEqual(["INVALID_INPUT"]);
    for (const input of [
      { country: "ZZ", rateBps: 100 },
      { country: "US", rateBps: -1 },
      { country: "US", rateBps: 10001 },
      { country: "US", region: "not a region!", rateBps: 100 },
    ]) {
      const res = await upsertTax(input);
      expect(res.data?.taxRateUpsert.userErrors.map((e) => e.code)).toEqual(["INVALID_INPUT"]);
    }
  });

  it("upserts a tax rate per country and region", async () => {
    const first = await upsertTax({ country: "us", region: "ny", rateBps: 400 });
    const second = await upsertTax({ country: "US", region: "NY", rateBps: 450 });
    expect(second.data?.taxRateUpsert.taxRate).toMatchObject({
      id: first.data?.taxRateUpsert.taxRate?.id,
      region: "NY",
      rateBps: 450,
    });
  });

  it("is staff-only", async () => {
    const customer = await createCustomer(t.app, store);
    const res = await t.app.gql(
      `mutation { shippingMethodCreate(input: { name: "x", countries: ["US"], rate: 1 }) { shippingMethod { id } } }`,
      {},
      { token: customer.token, store: store.handle },
    );
    expect(res.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const tax = await upsertTax({ country: "US", rateBps: 1 }, guest.token);
    expect(tax.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("a cart's address, method and price", () => {
  it("validates the address and changes nothing on error", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const res = await setAddress(cart.id, { ...US_ADDRESS, firstName: " ", country: "USA", postalCode: "" });
    expect(res.cart).toBeNull();
    expect(res.userErrors.map((e) => e.field)).toEqual([
      ["address", "firstName"],
      ["address", "country"],
      ["address", "postalCode"],
    ]);
    const zip = await setAddress(cart.id, { ...US_ADDRESS, postalCode: "ABCDE" });
    expect(zip.userErrors).toEqual([
      expect.objectContaining({ code: "INVALID_INPUT", field: ["address", "postalCode"] }),
    ]);
    expect(await rates(cart.id)).toEqual([]); // still no address
  });

  it("lists the rates that serve the address, applies free-over, and prices shipping and regional tax", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 2 }] }));
    const withAddress = await setAddress(cart.id, US_ADDRESS);
    expect(withAddress.cart?.shippingAddress).toMatchObject({
      country: "US",
      region: "CA",
      postalCode: "90001",
    });
    expect(await rates(cart.id)).toEqual([
      { shippingMethod: { id: usGround }, price: { amount: 700 } },
      { shippingMethod: { id: usExpress }, price: { amount: 1500 } },
    ]);
    const selected = await selectMethod(cart.id, usGround);
    // 4000 + 700 shipping; tax 7.25 % of 4700 = 340.75 -> 341 (half up).
    expect(selected.cart?.cost).toEqual({
      subtotal: { amount: 4000 },
      shipping: { amount: 700 },
      tax: { amount: 341 },
      total: { amount: 5041 },
    });
    // Over the free-over threshold, Ground is free.
    okCart(await api.add(guest.token, cart.id, [{ variantId, quantity: 3 }]));
    expect((await rates(cart.id))[0]).toEqual({ shippingMethod: { id: usGround }, price: { amount: 0 } });
    expect((await api.get(guest.token, cart.id))?.cost.shipping.amount).toBe(0);
  });

  it("refuses a method that does not serve the address, an unknown or foreign one, or no address yet", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    expect((await selectMethod(cart.id, usGround)).userErrors.map((e) => e.code)).toEqual([
      "SHIPPING_ADDRESS_REQUIRED",
    ]);
    await setAddress(cart.id, US_ADDRESS);
    expect((await selectMethod(cart.id, caMethod)).userErrors.map((e) => e.code)).toEqual([
      "SHIPPING_METHOD_UNAVAILABLE",
    ]);
    expect((await selectMethod(cart.id, foreignMethod)).userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    expect((await selectMethod(cart.id, "nope")).userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    expect((await api.get(guest.token, cart.id))?.cost.shipping.amount).toBe(0);
  });

  it("clears a selected method that does not ship to a new address, and says so", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    await setAddress(cart.id, US_ADDRESS);
    await selectMethod(cart.id, usGround);
    const moved = await setAddress(cart.id, {
      ...US_ADDRESS,
      region: "ON",
      postalCode: "M5V 2T6",
      country: "CA",
    });
    expect(moved.cart?.shippingMethod).toBeNull();
    expect(moved.cart?.warnings.map((w) => w.code)).toEqual(["SHIPPING_METHOD_UNAVAILABLE"]);
    // Express serves both countries: it stays selected across the move.
    await selectMethod(cart.id, usExpress);
    const back = await setAddress(cart.id, US_ADDRESS);
    expect(back.cart?.shippingMethod?.id).toBe(usExpress);
  });

  it("only the cart's owner sees its rates or changes its address", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    await setAddress(cart.id, US_ADDRESS);
    const stranger = await createGuest(t.app, store);
    expect(await rates(cart.id, stranger.token)).toEqual([]);
    const res = await setAddress(cart.id, US_ADDRESS, stranger.token);
    expect(res.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
  });
});
