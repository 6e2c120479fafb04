/**
 * Discount codes through the real HTTP API: applying and removing codes on carts (every refusal code),
 * worked totals for each discount type, re-validation on every cart change, and the staff operations
 * (validation, replacement, listing, authorisation, tenant isolation).
 */
import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { discountRedemptions, discounts } from "../../src/db/schema.js";
import type { CreatedProduct } from "../../src/services/catalog.service.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  createCustomer,
  createGuest,
  createOrderRow,
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
  requiredAmount: { amount: number; currencyCode: string; formatted: string } | null;
}
interface AppliedJson {
  code: string;
  type: string;
  amount: { amount: number };
  applicable: boolean;
  reason: string | null;
  requiredAmount: { amount: number } | null;
}
interface CartJson {
  id: string;
  updatedAt: string;
  lines: { id: string; quantity: number; discountAllocation: { amount: number }; variant: { id: string } }[];
  discountCodes: AppliedJson[];
  cost: Record<"subtotal" | "discount" | "shipping" | "tax" | "total", { amount: number }>;
  warnings: { code: string; message: string }[];
}
interface DiscountJson {
  id: string;
  code: string;
  type: string;
  value: number;
  buyQty: number | null;
  getQty: number | null;
  minOrderAmount: { amount: number; currencyCode: string } | null;
  maxUses: number | null;
  usesCount: number;
  perCustomerLimit: number | null;
  validFrom: string | null;
  validUntil: string | null;
  applicableProductIds: string[] | null;
  combinable: boolean;
  isActive: boolean;
  createdAt: string;
  updatedAt: string;
}
type CartPayloadJson = { cart: CartJson | null; userErrors: UserErrorJson[] };
type DiscountPayloadJson = { discount: DiscountJson | null; userErrors: UserErrorJson[] };
type DiscountsPage = {
  discounts: {
    edges: { cursor: string; node: { id: string; code: string; createdAt: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
  };
};

const USER_ERRORS = "userErrors { code message field requiredAmount { amount currencyCode formatted } }";
const CART = `id updatedAt
  lines { id quantity discountAllocation { amount } variant { id } }
  discountCodes { code type amount { amount } applicable reason requiredAmount { amount } }
  cost { subtotal { amount } discount { amount } shipping { amount } tax { amount } total { amount } }
  warnings { code message }`;
const DISCOUNT = `id code type value buyQty getQty minOrderAmount { amount currencyCode } maxUses usesCount
  perCustomerLimit validFrom validUntil applicableProductIds combinable isActive createdAt updatedAt`;

const CART_CREATE = `mutation ($input: CartCreateInput) { cartCreate(input: $input) { cart { ${CART} } ${USER_ERRORS} } }`;
const APPLY = `mutation ($cartId: ID!, $code: String!) {
  cartDiscountCodeApply(cartId: $cartId, code: $code) { cart { ${CART} } ${USER_ERRORS} } }`;
const REMOVE = `mutation ($cartId: ID!, $code: String!) {
  cartDiscountCodeRemove(cartId: $cartId, code: $code) { cart { ${CART} } ${USER_ERRORS} } }`;
const LINES_UPDATE = `mutation ($cartId: ID!, $lines: [CartLineUpdateInput!]!) {
  cartLinesUpdate(cartId: $cartId, lines: $lines) { cart { ${CART} } ${USER_ERRORS} } }`;
const CART_QUERY = `query ($id: ID!) { cart(id: $id) { ${CART} } }`;
const DISCOUNT_CREATE = `mutation ($input: DiscountInput!) {
  discountCreate(input: $input) { discount { ${DISCOUNT} } ${USER_ERRORS} } }`;
const DISCOUNT_UPDATE = `mutation ($id: ID!, $input: DiscountInput!) {
  discountUpdate(id: $id, input: $input) { discount { ${DISCOUNT} } ${USER_ERRORS} } }`;
const DISCOUNTS = `query ($first: Int, $after: String) {
  discounts(first: $first, after: $after) { edges { cursor node { id code createdAt } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`;

const DAY = 24 * 3600 * 1000;

let store: StoreRef;
let otherStore: StoreRef;
let staff: TestStaff;
let otherStaff: TestStaff;
/** 1000 each. */
let p1000: CreatedProduct;
/** 1550 each. */
let p1550: CreatedProduct;
/** A product no test cart holds. */
let pElse: CreatedProduct;

beforeAll(async () => {
  store = await createStore(t.app);
  otherStore = await createStore(t.app);
  staff = await createStaff(t.app, store);
  otherStaff = await createStaff(t.app, otherStore);
  p1000 = await createProduct(t.app, store, { basePrice: 1000, variants: [{ stockOnHand: 500 }] });
  p1550 = await createProduct(t.app, store, { basePrice: 1550, variants: [{ stockOnHand: 500 }] });
  pElse = await createProduct(t.app, store, { basePrice: 700 });
});

const variantOf = (p: CreatedProduct): string => {
  const id = p.variants[0]?.id;
  if (!id) throw new Error("product without variant");
  return id;
};

// ---- helpers ----

async function staffCreate(
  input: Record<string, unknown>,
  who: TestStaff = staff,
): Promise<DiscountPayloadJson> {
  const target = who === otherStaff ? otherStore : store;
  const data = await t.app.ok<{ discountCreate: DiscountPayloadJson }>(
    DISCOUNT_CREATE,
    { input },
    { token: who.token, store: target.handle },
  );
  return data.discountCreate;
}

/** A code that must be created without errors; returns it. */
async function newCode(input: Record<string, unknown>, who: TestStaff = staff): Promise<DiscountJson> {
  const payload = await staffCreate({ code: `C${unique()}`, ...input }, who);
  expect(payload.userErrors).toEqual([]);
  if (!payload.discount) throw new Error("no discount");
  return payload.discount;
}

interface Shopper {
  token: string;
}

async function guest(): Promise<Shopper> {
  return { token: (await createGuest(t.app, store)).token };
}

async function newCart(
  shopper: Shopper,
  lines: { product: CreatedProduct; quantity: number }[],
  email?: string,
): Promise<CartJson> {
  const data = await t.app.ok<{ cartCreate: CartPayloadJson }>(
    CART_CREATE,
    {
      input: { lines: lines.map((l) => ({ variantId: variantOf(l.product), quantity: l.quantity })), email },
    },
    { token: shopper.token, store: store.handle },
  );
  expect(data.cartCreate.userErrors).toEqual([]);
  if (!data.cartCreate.cart) throw new Error("no cart");
  return data.cartCreate.cart;
}

async function apply(shopper: Shopper, cartId: string, code: string): Promise<CartPayloadJson> {
  const data = await t.app.ok<{ cartDiscountCodeApply: CartPayloadJson }>(
    APPLY,
    { cartId, code },
    { token: shopper.token, store: store.handle },
  );
  return data.cartDiscountCodeApply;
}

async function applied(shopper: Shopper, cartId: string, code: string): Promise<CartJson> {
  const payload = await apply(shopper, cartId, code);
  expect(payload.userErrors).toEqual([]);
  if (!payload.cart) throw new Error("no cart");
  return payload.cart;
}

async function readCart(shopper: Shopper, cartId: string): Promise<CartJson> {
  const data = await t.app.ok<{ cart: CartJson | null }>(
    CART_QUERY,
    { id: cartId },
    { token: shopper.token, store: store.handle },
  );
  if (!data.cart) throw new Error("cart not visible");
  return data.cart;
}

const amounts = (cart: CartJson) => ({
  subtotal: cart.cost.subtotal.amount,
  discount: cart.cost.discount.amount,
  shipping: cart.cost.shipping.amount,
  tax: cart.cost.tax.amount,
  total: cart.cost.total.amount,
});

/** Applying `code` to a fresh one-line cart is refused with exactly this error; the cart is untouched. */
async function expectRefused(code: string, errorCode: string, cartLines = [{ product: p1000, quantity: 1 }]) {
  const shopper = await guest();
  const cart = await newCart(shopper, cartLines);
  const payload = await apply(shopper, cart.id, code);
  expect(payload.cart).toBeNull();
  expect(payload.userErrors).toHaveLength(1);
  expect(payload.userErrors[0]).toMatchObject({ code: errorCode, field: ["code"] });
  const after = await readCart(shopper, cart.id);
  expect(after.discountCodes).toEqual([]);
  expect(after.updatedAt).toBe(cart.updatedAt);
  return payload.userErrors[0] as UserErrorJson;
}

// ---- applying: every refusal ----

describe("cartDiscountCodeApply refusals", () => {
  it("DISCOUNT_NOT_FOUND for an unknown or blank code", async () => {
    await expectRefused("NO-SUCH-CODE", "DISCOUNT_NOT_FOUND");
    await expectRefused("   ", "DISCOUNT_NOT_FOUND");
  });

  it("DISCOUNT_NOT_FOUND for another store's code", async () => {
    const foreign = await newCode({ type: "PERCENTAGE", value: 10 }, otherStaff);
    await expectRefused(foreign.code, "DISCOUNT_NOT_FOUND");
  });

  it("DISCOUNT_INACTIVE", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10, isActive: false });
    await expectRefused(d.code, "DISCOUNT_INACTIVE");
  });

  it("DISCOUNT_NOT_YET_VALID (window in the future)", async () => {
    const d = await newCode({
      type: "PERCENTAGE",
      value: 10,
      validFrom: new Date(Date.now() + DAY).toISOString(),
    });
    await expectRefused(d.code, "DISCOUNT_NOT_YET_VALID");
  });

  it("DISCOUNT_EXPIRED (window in the past)", async () => {
    const d = await newCode({
      type: "PERCENTAGE",
      value: 10,
      validFrom: new Date(Date.now() - 2 * DAY).toISOString(),
      validUntil: new Date(Date.now() - DAY).toISOString(),
    });
    await expectRefused(d.code, "DISCOUNT_EXPIRED");
  });

  it("DISCOUNT_LIMIT_REACHED (uses_count = max_uses)", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10, maxUses: 3 });
    await t.app.runtime.database.db.update(discounts).set({ usesCount: 3 }).where(eq(discounts.id, d.id));
    await expectRefused(d.code, "DISCOUNT_LIMIT_REACHED");
  });

  it("DISCOUNT_CUSTOMER_LIMIT_REACHED for a signed-in customer who already used it", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10, perCustomerLimit: 1 });
    const customer = await createCustomer(t.app, store);
    const order = await createOrderRow(t.app, store, { customerId: customer.id });
    await t.app.runtime.database.db.insert(discountRedemptions).values({
      storeId: store.id,
      discountId: d.id,
      customerId: customer.id,
      orderId: order.id,
      status: "APPLIED",
    });
    const shopper = { token: customer.token };
    const cart = await newCart(shopper, [{ product: p1000, quantity: 1 }]);
    const payload = await apply(shopper, cart.id, d.code);
    expect(payload.userErrors).toEqual([
      expect.objectContaining({ code: "DISCOUNT_CUSTOMER_LIMIT_REACHED", field: ["code"] }),
    ]);
    // Someone else may still use it.
    const other = await guest();
    const otherCart = await newCart(other, [{ product: p1000, quantity: 1 }]);
    expect((await applied(other, otherCart.id, d.code)).discountCodes[0]?.applicable).toBe(true);
  });

  it("a guest's cart email counts too; a guest without email is checked at checkout instead", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10, perCustomerLimit: 1 });
    const email = `used-${unique()}@test.example`;
    const order = await createOrderRow(t.app, store, { email });
    await t.app.runtime.database.db
      .insert(discountRedemptions)
      .values({ storeId: store.id, discountId: d.id, email, orderId: order.id, status: "APPLIED" });
    const withEmail = await guest();
    const cart = await newCart(withEmail, [{ product: p1000, quantity: 1 }], email.toUpperCase());
    expect((await apply(withEmail, cart.id, d.code)).userErrors[0]?.code).toBe(
      "DISCOUNT_CUSTOMER_LIMIT_REACHED",
    );
    const anonymous = await guest();
    const noEmailCart = await newCart(anonymous, [{ product: p1000, quantity: 1 }]);
    expect((await applied(anonymous, noEmailCart.id, d.code)).discountCodes[0]?.applicable).toBe(true);
  });

  it("DISCOUNT_MIN_ORDER_NOT_MET carries requiredAmount", async () => {
    const d = await newCode({ type: "FIXED_AMOUNT", value: 500, minOrderAmount: 5000 });
    const error = await expectRefused(d.code, "DISCOUNT_MIN_ORDER_NOT_MET");
    expect(error.requiredAmount).toEqual({ amount: 5000, currencyCode: "USD", formatted: "$50.00" });
    expect(error.message).toBe(
      `Code ${d.code} does not apply: the eligible items must reach $50.00 before discounts`,
    );
  });

  it("DISCOUNT_NOT_APPLICABLE when no cart product is eligible", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10, applicableProductIds: [pElse.product.id] });
    await expectRefused(d.code, "DISCOUNT_NOT_APPLICABLE");
  });

  it("DISCOUNT_NOT_COMBINABLE: a non-combinable code stays alone, whichever came first", async () => {
    const alone = await newCode({ type: "PERCENTAGE", value: 10, combinable: false });
    const friendly = await newCode({ type: "FIXED_AMOUNT", value: 100, combinable: true });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 2 }]);
    await applied(shopper, cart.id, alone.code);
    const second = await apply(shopper, cart.id, friendly.code);
    expect(second.userErrors).toEqual([
      expect.objectContaining({ code: "DISCOUNT_NOT_COMBINABLE", field: ["code"] }),
    ]);

    const other = await guest();
    const otherCart = await newCart(other, [{ product: p1000, quantity: 2 }]);
    await applied(other, otherCart.id, friendly.code);
    expect((await apply(other, otherCart.id, alone.code)).userErrors[0]?.code).toBe(
      "DISCOUNT_NOT_COMBINABLE",
    );
    expect((await readCart(other, otherCart.id)).discountCodes.map((c) => c.code)).toEqual([friendly.code]);
  });

  it("two combinable codes stack, the later working on what the earlier left", async () => {
    const tenPercent = await newCode({ type: "PERCENTAGE", value: 10, combinable: true });
    const fiveOff = await newCode({ type: "FIXED_AMOUNT", value: 500, combinable: true });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 3 }]);
    await applied(shopper, cart.id, tenPercent.code);
    const both = await applied(shopper, cart.id, fiveOff.code);
    expect(both.discountCodes.map((c) => [c.code, c.applicable, c.amount.amount])).toEqual([
      [tenPercent.code, true, 300],
      [fiveOff.code, true, 500],
    ]);
    expect(amounts(both)).toMatchObject({ subtotal: 3000, discount: 800, total: 2200 });
  });

  it("someone else's cart is NOT_FOUND, and nothing is applied to it", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10 });
    const owner = await guest();
    const cart = await newCart(owner, [{ product: p1000, quantity: 1 }]);
    const payload = await apply(await guest(), cart.id, d.code);
    expect(payload.userErrors).toEqual([expect.objectContaining({ code: "NOT_FOUND", field: ["cartId"] })]);
    expect((await readCart(owner, cart.id)).discountCodes).toEqual([]);
  });
});

// ---- applying and removing ----

describe("apply and remove", () => {
  it("codes are case-insensitive and trimmed", async () => {
    const d = await newCode({ code: `Summer-${unique()}`, type: "PERCENTAGE", value: 10 });
    expect(d.code).toBe(d.code.toUpperCase());
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 1 }]);
    const after = await applied(shopper, cart.id, `  ${d.code.toLowerCase()} `);
    expect(after.discountCodes).toEqual([
      {
        code: d.code,
        type: "PERCENTAGE",
        amount: { amount: 100 },
        applicable: true,
        reason: null,
        requiredAmount: null,
      },
    ]);
  });

  it("re-applying an applied code succeeds and changes nothing", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10 });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 1 }]);
    const first = await applied(shopper, cart.id, d.code);
    const again = await applied(shopper, cart.id, d.code.toLowerCase());
    expect(again.discountCodes).toHaveLength(1);
    expect(again.updatedAt).toBe(first.updatedAt);
    expect(amounts(again)).toEqual(amounts(first));
  });

  it("concurrent applies of one code leave it applied once", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10 });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 1 }]);
    const results = await Promise.all(Array.from({ length: 8 }, () => apply(shopper, cart.id, d.code)));
    expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
    expect((await readCart(shopper, cart.id)).discountCodes.map((c) => c.code)).toEqual([d.code]);
  });

  it("remove takes the code off; removing a code that is not applied is DISCOUNT_NOT_FOUND", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10 });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 1 }]);
    await applied(shopper, cart.id, d.code);
    const remove = (code: string) =>
      t.app
        .ok<{ cartDiscountCodeRemove: CartPayloadJson }>(
          REMOVE,
          { cartId: cart.id, code },
          { token: shopper.token, store: store.handle },
        )
        .then((r) => r.cartDiscountCodeRemove);
    const removed = await remove(` ${d.code.toLowerCase()}`);
    expect(removed.userErrors).toEqual([]);
    expect(removed.cart?.discountCodes).toEqual([]);
    expect(removed.cart && amounts(removed.cart)).toMatchObject({ discount: 0, total: 1000 });
    expect((await remove(d.code)).userErrors).toEqual([
      expect.objectContaining({ code: "DISCOUNT_NOT_FOUND", field: ["code"] }),
    ]);
    expect((await remove("NEVER-EXISTED")).userErrors[0]?.code).toBe("DISCOUNT_NOT_FOUND");
  });

  it("staff and anonymous callers cannot apply codes to carts", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10 });
    const cart = await newCart(await guest(), [{ product: p1000, quantity: 1 }]);
    const asStaff = await t.app.gql(
      APPLY,
      { cartId: cart.id, code: d.code },
      { token: staff.token, store: store.handle },
    );
    expect(asStaff.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const anonymous = await t.app.gql(APPLY, { cartId: cart.id, code: d.code }, { store: store.handle });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

// ---- worked totals ----

describe("totals for each type", () => {
  it("PERCENTAGE: 10 % of two lines, split in proportion", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10 });
    const shopper = await guest();
    const cart = await newCart(shopper, [
      { product: p1000, quantity: 2 },
      { product: p1550, quantity: 1 },
    ]);
    const after = await applied(shopper, cart.id, d.code);
    expect(amounts(after)).toEqual({ subtotal: 3550, discount: 355, shipping: 0, tax: 0, total: 3195 });
    const byVariant = new Map(after.lines.map((l) => [l.variant.id, l.discountAllocation.amount]));
    expect(byVariant.get(variantOf(p1000))).toBe(200);
    expect(byVariant.get(variantOf(p1550))).toBe(155);
    expect(after.discountCodes[0]?.amount.amount).toBe(355);
  });

  it("FIXED_AMOUNT: capped at the subtotal, never a negative total", async () => {
    const d = await newCode({ type: "FIXED_AMOUNT", value: 10_000 });
    const shopper = await guest();
    const cart = await newCart(shopper, [
      { product: p1000, quantity: 2 },
      { product: p1550, quantity: 1 },
    ]);
    const after = await applied(shopper, cart.id, d.code);
    expect(amounts(after)).toEqual({ subtotal: 3550, discount: 3550, shipping: 0, tax: 0, total: 0 });
    expect(after.discountCodes[0]?.amount.amount).toBe(3550);
  });

  it("FREE_SHIPPING: waives the selected method's rate (tax follows)", async () => {
    const method = await t.app.ok<{
      shippingMethodCreate: { shippingMethod: { id: string } | null; userErrors: unknown[] };
    }>(
      `mutation ($input: ShippingMethodInput!) { shippingMethodCreate(input: $input) { shippingMethod { id } userErrors { code } } }`,
      { input: { name: `Ground ${unique()}`, countries: ["US"], rate: 700 } },
      { token: staff.token, store: store.handle },
    );
    const methodId = method.shippingMethodCreate.shippingMethod?.id;
    expect(methodId).toBeTruthy();
    await t.app.ok(
      `mutation ($input: TaxRateInput!) { taxRateUpsert(input: $input) { userErrors { code } } }`,
      { input: { country: "US", rateBps: 1000 } },
      { token: staff.token, store: store.handle },
    );
    const d = await newCode({ type: "FREE_SHIPPING" });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 1 }]);
    const opts = { token: shopper.token, store: store.handle };
    await t.app.ok(
      `mutation ($cartId: ID!, $address: AddressInput!) { cartShippingAddressUpdate(cartId: $cartId, address: $address) { userErrors { code } } }`,
      {
        cartId: cart.id,
        address: {
          firstName: "A",
          lastName: "B",
          line1: "1 Main St",
          city: "Austin",
          region: "TX",
          postalCode: "78701",
          country: "US",
        },
      },
      opts,
    );
    const selected = await t.app.ok<{ cartShippingMethodSelect: CartPayloadJson }>(
      `mutation ($cartId: ID!, $id: ID!) { cartShippingMethodSelect(cartId: $cartId, shippingMethodId: $id) { cart { ${CART} } ${USER_ERRORS} } }`,
      { cartId: cart.id, id: methodId },
      opts,
    );
    expect(selected.cartShippingMethodSelect.userErrors).toEqual([]);
    const before = selected.cartShippingMethodSelect.cart;
    expect(before && amounts(before)).toEqual({
      subtotal: 1000,
      discount: 0,
      shipping: 700,
      tax: 170,
      total: 1870,
    });

    const after = await applied(shopper, cart.id, d.code);
    expect(amounts(after)).toEqual({ subtotal: 1000, discount: 0, shipping: 0, tax: 100, total: 1100 });
    expect(after.discountCodes).toEqual([
      {
        code: d.code,
        type: "FREE_SHIPPING",
        amount: { amount: 700 },
        applicable: true,
        reason: null,
        requiredAmount: null,
      },
    ]);
  });

  it("BUY_X_GET_Y 2+1: the cheapest unit of every three is free", async () => {
    const d = await newCode({ type: "BUY_X_GET_Y", value: 100, buyQty: 2, getQty: 1 });
    const shopper = await guest();
    const three = await newCart(shopper, [{ product: p1000, quantity: 3 }]);
    expect(amounts(await applied(shopper, three.id, d.code))).toEqual({
      subtotal: 3000,
      discount: 1000,
      shipping: 0,
      tax: 0,
      total: 2000,
    });

    const mixedShopper = await guest();
    const mixed = await newCart(mixedShopper, [
      { product: p1550, quantity: 2 },
      { product: p1000, quantity: 1 },
    ]);
    const after = await applied(mixedShopper, mixed.id, d.code);
    expect(amounts(after)).toMatchObject({ subtotal: 4100, discount: 1000, total: 3100 });
    const byVariant = new Map(after.lines.map((l) => [l.variant.id, l.discountAllocation.amount]));
    expect(byVariant.get(variantOf(p1000))).toBe(1000);
    expect(byVariant.get(variantOf(p1550))).toBe(0);
  });
});

// ---- re-validation ----

describe("every cart change re-validates applied codes", () => {
  it("a code below its minimum stays, inapplicable with its reason, and applies again once the cart qualifies", async () => {
    const fiveOff = await newCode({ type: "FIXED_AMOUNT", value: 500, minOrderAmount: 2000 });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 2 }]);
    const lineId = cart.lines[0]?.id;
    const opts = { token: shopper.token, store: store.handle };
    const withCode = await applied(shopper, cart.id, fiveOff.code);
    expect(amounts(withCode)).toMatchObject({ subtotal: 2000, discount: 500, total: 1500 });

    const update = async (quantity: number) =>
      (
        await t.app.ok<{ cartLinesUpdate: CartPayloadJson }>(
          LINES_UPDATE,
          { cartId: cart.id, lines: [{ lineId, quantity }] },
          opts,
        )
      ).cartLinesUpdate;
    const lowered = await update(1);
    expect(lowered.userErrors).toEqual([]);
    expect(lowered.cart?.discountCodes).toEqual([
      {
        code: fiveOff.code,
        type: "FIXED_AMOUNT",
        amount: { amount: 0 },
        applicable: false,
        reason: "DISCOUNT_MIN_ORDER_NOT_MET",
        requiredAmount: { amount: 2000 },
      },
    ]);
    expect(lowered.cart && amounts(lowered.cart)).toMatchObject({ subtotal: 1000, discount: 0, total: 1000 });
    expect(lowered.cart?.warnings.map((w) => w.code)).toContain("DISCOUNT_MIN_ORDER_NOT_MET");
    // Reads agree with the mutation's answer.
    expect((await readCart(shopper, cart.id)).discountCodes[0]?.applicable).toBe(false);

    const raised = await update(3);
    expect(raised.cart?.discountCodes[0]).toMatchObject({
      applicable: true,
      reason: null,
      amount: { amount: 500 },
    });
    expect(raised.cart && amounts(raised.cart)).toMatchObject({ subtotal: 3000, discount: 500, total: 2500 });
  });

  it("a code deactivated by staff after it was applied stops counting on the next read", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10 });
    const shopper = await guest();
    const cart = await newCart(shopper, [{ product: p1000, quantity: 1 }]);
    await applied(shopper, cart.id, d.code);
    const editable = { code: d.code, type: "PERCENTAGE", value: 10, isActive: false };
    const updated = await t.app.ok<{ discountUpdate: DiscountPayloadJson }>(
      DISCOUNT_UPDATE,
      { id: d.id, input: editable },
      { token: staff.token, store: store.handle },
    );
    expect(updated.discountUpdate.userErrors).toEqual([]);
    const after = await readCart(shopper, cart.id);
    expect(after.discountCodes[0]).toMatchObject({
      applicable: false,
      reason: "DISCOUNT_INACTIVE",
      amount: { amount: 0 },
    });
    expect(amounts(after)).toMatchObject({ discount: 0, total: 1000 });
  });
});

// ---- staff ----

describe("staff: discountCreate / discountUpdate validation", () => {
  const fieldsOf = (payload: DiscountPayloadJson) => payload.userErrors.map((e) => [e.code, e.field]);

  it("creates a code with every field", async () => {
    const validFrom = new Date(Date.now() - DAY).toISOString();
    const validUntil = new Date(Date.now() + DAY).toISOString();
    const d = await newCode({
      code: ` b2g1-${unique()} `,
      type: "BUY_X_GET_Y",
      value: 50,
      buyQty: 2,
      getQty: 1,
      minOrderAmount: 1500,
      maxUses: 100,
      perCustomerLimit: 2,
      validFrom,
      validUntil,
      applicableProductIds: [p1000.product.id, p1550.product.id.toUpperCase()],
      combinable: true,
      isActive: true,
    });
    expect(d).toMatchObject({
      type: "BUY_X_GET_Y",
      value: 50,
      buyQty: 2,
      getQty: 1,
      minOrderAmount: { amount: 1500, currencyCode: "USD" },
      maxUses: 100,
      usesCount: 0,
      perCustomerLimit: 2,
      validFrom,
      validUntil,
      combinable: true,
      isActive: true,
    });
    expect(d.code).toMatch(/^B2G1-[0-9A-F]{8}$/);
    expect(d.applicableProductIds?.sort()).toEqual([p1000.product.id, p1550.product.id].sort());
  });

  it.each([
    ["percentage 0", { type: "PERCENTAGE", value: 0 }, ["input", "value"]],
    ["percentage 101", { type: "PERCENTAGE", value: 101 }, ["input", "value"]],
    ["negative amount", { type: "FIXED_AMOUNT", value: -5 }, ["input", "value"]],
    ["negative minimum", { type: "PERCENTAGE", value: 5, minOrderAmount: -1 }, ["input", "minOrderAmount"]],
    ["max uses 0", { type: "PERCENTAGE", value: 5, maxUses: 0 }, ["input", "maxUses"]],
    [
      "per-customer limit 0",
      { type: "PERCENTAGE", value: 5, perCustomerLimit: 0 },
      ["input", "perCustomerLimit"],
    ],
    ["X < 1", { type: "BUY_X_GET_Y", value: 100, buyQty: 0, getQty: 1 }, ["input", "buyQty"]],
    ["Y < 1", { type: "BUY_X_GET_Y", value: 100, buyQty: 2, getQty: 0 }, ["input", "getQty"]],
    ["X missing", { type: "BUY_X_GET_Y", value: 100, getQty: 1 }, ["input", "buyQty"]],
    ["X on a percentage", { type: "PERCENTAGE", value: 5, buyQty: 2 }, ["input", "buyQty"]],
    ["value on free shipping", { type: "FREE_SHIPPING", value: 5 }, ["input", "value"]],
    ["bad code", { code: "no spaces!", type: "PERCENTAGE", value: 5 }, ["input", "code"]],
    [
      "empty product list",
      { type: "PERCENTAGE", value: 5, applicableProductIds: [] },
      ["input", "applicableProductIds"],
    ],
    [
      "valid_until = valid_from",
      { type: "PERCENTAGE", value: 5, validFrom: "2030-01-01T00:00:00Z", validUntil: "2030-01-01T00:00:00Z" },
      ["input", "validUntil"],
    ],
    [
      "valid_until < valid_from",
      { type: "PERCENTAGE", value: 5, validFrom: "2030-01-02T00:00:00Z", validUntil: "2030-01-01T00:00:00Z" },
      ["input", "validUntil"],
    ],
  ])("INVALID_INPUT: %s", async (_name, input, field) => {
    const code = `V${unique()}`;
    const payload = await staffCreate({ code, ...input });
    expect(payload.discount).toBeNull();
    expect(fieldsOf(payload)).toEqual([["INVALID_INPUT", field]]);
    const [row] = await t.app.runtime.database.db
      .select()
      .from(discounts)
      .where(eq(discounts.code, code.toUpperCase()));
    expect(row).toBeUndefined();
  });

  it("reports every problem at once", async () => {
    const payload = await staffCreate({ code: "", type: "PERCENTAGE", value: 0, maxUses: -1 });
    expect(fieldsOf(payload)).toEqual([
      ["INVALID_INPUT", ["input", "code"]],
      ["INVALID_INPUT", ["input", "value"]],
      ["INVALID_INPUT", ["input", "maxUses"]],
    ]);
  });

  it("applicableProductIds must be products of this store", async () => {
    const foreign = await createProduct(t.app, otherStore);
    const payload = await staffCreate({
      code: `P${unique()}`,
      type: "PERCENTAGE",
      value: 5,
      applicableProductIds: [p1000.product.id, foreign.product.id, "not-an-id", randomUUID()],
    });
    expect(fieldsOf(payload).sort()).toEqual(
      [
        ["INVALID_INPUT", ["input", "applicableProductIds", "1"]],
        ["INVALID_INPUT", ["input", "applicableProductIds", "2"]],
        ["INVALID_INPUT", ["input", "applicableProductIds", "3"]],
      ].sort(),
    );
  });

  it("a duplicate code (in any case) is INVALID_INPUT at input.code; another store may use it", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 5 });
    const dup = await staffCreate({ code: d.code.toLowerCase(), type: "FIXED_AMOUNT", value: 100 });
    expect(fieldsOf(dup)).toEqual([["INVALID_INPUT", ["input", "code"]]]);
    expect(
      (await staffCreate({ code: d.code, type: "PERCENTAGE", value: 5 }, otherStaff)).userErrors,
    ).toEqual([]);
  });

  it("concurrent creates of one code: exactly one wins, the rest are INVALID_INPUT", async () => {
    const code = `RACE${unique()}`;
    const results = await Promise.all(
      Array.from({ length: 8 }, () => staffCreate({ code, type: "PERCENTAGE", value: 5 })),
    );
    expect(results.filter((r) => r.discount)).toHaveLength(1);
    for (const r of results.filter((x) => !x.discount)) {
      expect(fieldsOf(r)).toEqual([["INVALID_INPUT", ["input", "code"]]]);
    }
  });

  it("update replaces every editable field and leaves usesCount alone", async () => {
    const d = await newCode({
      type: "PERCENTAGE",
      value: 10,
      maxUses: 50,
      perCustomerLimit: 1,
      minOrderAmount: 1000,
      combinable: true,
      applicableProductIds: [p1000.product.id],
    });
    await t.app.runtime.database.db.update(discounts).set({ usesCount: 7 }).where(eq(discounts.id, d.id));
    const renamed = `N${unique()}`;
    const { discountUpdate } = await t.app.ok<{ discountUpdate: DiscountPayloadJson }>(
      DISCOUNT_UPDATE,
      { id: d.id, input: { code: renamed.toLowerCase(), type: "FIXED_AMOUNT", value: 250 } },
      { token: staff.token, store: store.handle },
    );
    expect(discountUpdate.userErrors).toEqual([]);
    expect(discountUpdate.discount).toMatchObject({
      id: d.id,
      code: renamed.toUpperCase(),
      type: "FIXED_AMOUNT",
      value: 250,
      minOrderAmount: null,
      maxUses: null,
      usesCount: 7,
      perCustomerLimit: null,
      applicableProductIds: null,
      combinable: false,
      isActive: true,
      createdAt: d.createdAt,
    });
  });

  it("update: maxUses below the uses made is INVALID_INPUT; equal is fine", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 10, maxUses: 50 });
    await t.app.runtime.database.db.update(discounts).set({ usesCount: 5 }).where(eq(discounts.id, d.id));
    const update = (maxUses: number) =>
      t.app
        .ok<{ discountUpdate: DiscountPayloadJson }>(
          DISCOUNT_UPDATE,
          { id: d.id, input: { code: d.code, type: "PERCENTAGE", value: 10, maxUses } },
          { token: staff.token, store: store.handle },
        )
        .then((r) => r.discountUpdate);
    expect(fieldsOf(await update(4))).toEqual([["INVALID_INPUT", ["input", "maxUses"]]]);
    const [row] = await t.app.runtime.database.db.select().from(discounts).where(eq(discounts.id, d.id));
    expect(row?.maxUses).toBe(50);
    expect((await update(5)).discount).toMatchObject({ maxUses: 5, usesCount: 5 });
  });

  it("update: unknown, malformed or another store's id is NOT_FOUND; taking another code's name is a duplicate", async () => {
    const mine = await newCode({ type: "PERCENTAGE", value: 10 });
    const taken = await newCode({ type: "PERCENTAGE", value: 10 });
    const foreign = await newCode({ type: "PERCENTAGE", value: 10 }, otherStaff);
    const update = (id: string, code: string) =>
      t.app
        .ok<{ discountUpdate: DiscountPayloadJson }>(
          DISCOUNT_UPDATE,
          { id, input: { code, type: "PERCENTAGE", value: 15 } },
          { token: staff.token, store: store.handle },
        )
        .then((r) => r.discountUpdate);
    for (const id of [randomUUID(), "nope", foreign.id]) {
      expect(fieldsOf(await update(id, `U${unique()}`))).toEqual([["NOT_FOUND", ["id"]]]);
    }
    const [untouched] = await t.app.runtime.database.db
      .select()
      .from(discounts)
      .where(eq(discounts.id, foreign.id));
    expect(untouched?.value).toBe(10);
    expect(fieldsOf(await update(mine.id, taken.code))).toEqual([["INVALID_INPUT", ["input", "code"]]]);
    // Keeping its own code is not a duplicate.
    expect((await update(mine.id, mine.code)).discount?.value).toBe(15);
  });
});

describe("staff: discounts query and authorisation", () => {
  it("pages through the store's own codes in creation order", async () => {
    const target = otherStore;
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await newCode({ type: "PERCENTAGE", value: 5 }, otherStaff)).id);
    const all: { id: string; createdAt: string }[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page++) {
      const data: DiscountsPage = await t.app.ok(
        DISCOUNTS,
        { first: 2, after },
        { token: otherStaff.token, store: target.handle },
      );
      expect(data.discounts.edges.length).toBeLessThanOrEqual(2);
      expect(data.discounts.pageInfo.hasPreviousPage).toBe(after !== null);
      all.push(...data.discounts.edges.map((e) => e.node));
      if (!data.discounts.pageInfo.hasNextPage) break;
      after = data.discounts.pageInfo.endCursor;
    }
    // Every code once, in (createdAt, id) order, ours among them.
    const ids = all.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    const sorted = [...all].sort(
      (a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
    );
    expect(ids).toEqual(sorted.map((d) => d.id));
    for (const id of mine) expect(ids).toContain(id);
    const ownStoreCodes = await t.app.ok<{ discounts: { edges: { node: { id: string } }[] } }>(
      DISCOUNTS,
      { first: 100 },
      { token: staff.token, store: store.handle },
    );
    const ownIds = new Set(ownStoreCodes.discounts.edges.map((e) => e.node.id));
    expect(mine.some((id) => ownIds.has(id))).toBe(false);
  });

  it("a forged cursor or first > 100 is BAD_USER_INPUT", async () => {
    const forged = await t.app.gql(
      DISCOUNTS,
      { after: "garbage" },
      { token: staff.token, store: store.handle },
    );
    expect(forged.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const big = await t.app.gql(DISCOUNTS, { first: 101 }, { token: staff.token, store: store.handle });
    expect(big.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("non-staff callers (customer, guest, anonymous) get a FORBIDDEN GraphQL error and change nothing", async () => {
    const customer = await createCustomer(t.app, store);
    const shopper = await guest();
    const input = { code: `F${unique()}`, type: "PERCENTAGE", value: 5 };
    for (const token of [customer.token, shopper.token, undefined]) {
      const opts = { token, store: store.handle };
      const list = await t.app.gql(DISCOUNTS, {}, opts);
      expect(list.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const create = await t.app.gql(DISCOUNT_CREATE, { input }, opts);
      expect(create.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const update = await t.app.gql(DISCOUNT_UPDATE, { id: randomUUID(), input }, opts);
      expect(update.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    const [row] = await t.app.runtime.database.db
      .select()
      .from(discounts)
      .where(eq(discounts.code, input.code.toUpperCase()));
    expect(row).toBeUndefined();
  });

  it("staff of another store cannot see or edit this store's codes", async () => {
    const d = await newCode({ type: "PERCENTAGE", value: 5 });
    // A staff token is bound to its store: used against this store it is rejected, not trusted.
    const crossed = await t.app.gql(DISCOUNTS, {}, { token: otherStaff.token, store: store.handle });
    expect(crossed.data?.discounts ?? null).toBeNull();
    expect(["UNAUTHENTICATED", "FORBIDDEN"]).toContain(crossed.errors?.[0]?.extensions?.code);
    const listed = await t.app.ok<{ discounts: { edges: { node: { id: string } }[] } }>(
      DISCOUNTS,
      { first: 100 },
      { token: otherStaff.token, store: otherStore.handle },
    );
    expect(listed.discounts.edges.some((e) => e.node.id === d.id)).toBe(false);
  });
});

describe("SQL statement budgets", () => {
  it("applying a code costs the same number of statements for a 1-line and a 6-line cart", async () => {
    const products = [p1000, p1550];
    for (let i = 0; i < 4; i++) products.push(await createProduct(t.app, store, { basePrice: 300 + i }));
    const statementsFor = async (lineCount: number) => {
      const first = await newCode({ type: "PERCENTAGE", value: 5, combinable: true });
      const second = await newCode({ type: "FIXED_AMOUNT", value: 100, combinable: true });
      const shopper = await guest();
      const cart = await newCart(
        shopper,
        products.slice(0, lineCount).map((product) => ({ product, quantity: 2 })),
      );
      await applied(shopper, cart.id, first.code);
      const res = await t.app.gql<{ cartDiscountCodeApply: CartPayloadJson }>(
        APPLY,
        { cartId: cart.id, code: second.code },
        { token: shopper.token, store: store.handle },
      );
      expect(res.data?.cartDiscountCodeApply.userErrors).toEqual([]);
      expect(res.data?.cartDiscountCodeApply.cart?.lines).toHaveLength(lineCount);
      expect(res.data?.cartDiscountCodeApply.cart?.discountCodes).toHaveLength(2);
      return Number(res.headers.get("x-sql-statements"));
    };
    const small = await statementsFor(1);
    const large = await statementsFor(6);
    expect(small).toBeGreaterThan(0);
    expect(large).toBe(small);
  });

  it("the discounts query costs the same for 2 and 20 codes", async () => {
    const budgetStore = await createStore(t.app);
    const budgetStaff = await createStaff(t.app, budgetStore);
    for (let i = 0; i < 20; i++) {
      const created = await t.app.ok<{ discountCreate: DiscountPayloadJson }>(
        DISCOUNT_CREATE,
        { input: { code: `S${unique()}`, type: "PERCENTAGE", value: 5 } },
        { token: budgetStaff.token, store: budgetStore.handle },
      );
      expect(created.discountCreate.userErrors).toEqual([]);
    }
    const statementsFor = async (first: number) => {
      const res = await t.app.gql<DiscountsPage>(
        DISCOUNTS,
        { first },
        { token: budgetStaff.token, store: budgetStore.handle },
      );
      expect(res.data?.discounts.edges).toHaveLength(first);
      return Number(res.headers.get("x-sql-statements"));
    };
    const small = await statementsFor(2);
    const large = await statementsFor(20);
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(1);
  });
});
