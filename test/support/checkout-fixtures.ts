/**
 * Shoppers ready to check out: a store that ships to the US, guests with carts that have lines, an
 * email, an address and a shipping method, and the checkoutComplete mutation over real HTTP.
 */
import type { AddressJson } from "../../src/db/schema.js";
import type { TestGateway } from "../../src/payments/index.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  createGuest,
  createProduct,
  fixtureStaff,
  serviceContext,
  type TestGuest,
  unique,
} from "./fixtures.js";
import type { GqlOptions, TestApp } from "./test-app.js";

export const US_ADDRESS: AddressJson = {
  firstName: "Ada",
  lastName: "Lovelace",
  line1: "1 Main St",
  city: "Los Angeles",
  region: "CA",
  postalCode: "90001",
  country: "US",
};

export interface ShopSetup {
  store: StoreRef;
  methodId: string;
}

/** A store shipping to the US at a flat 500, with an 8.25 % Californian tax. */
export async function shop(
  app: TestApp,
  store: StoreRef,
  opts: { taxBps?: number } = {},
): Promise<ShopSetup> {
  const staffCtx = serviceContext(store, fixtureStaff);
  const method = await app.runtime.services.shipping.createMethod(staffCtx, {
    name: `Ground ${unique()}`,
    countries: ["US"],
    rate: 500,
  });
  if (opts.taxBps !== 0) {
    await app.runtime.services.shipping.upsertTaxRate(staffCtx, {
      country: "US",
      region: "CA",
      rateBps: opts.taxBps ?? 825,
    });
  }
  return { store, methodId: method.id };
}

export interface ReadyCart {
  guest: TestGuest;
  cartId: string;
}

/** A guest whose cart holds `lines`, with email, address and shipping method set: ready to pay. */
export async function readyCart(
  app: TestApp,
  setup: ShopSetup,
  lines: { variantId: string; quantity: number }[],
  opts: { guest?: TestGuest; email?: string } = {},
): Promise<ReadyCart> {
  const guest = opts.guest ?? (await createGuest(app, setup.store));
  const ctx = serviceContext(setup.store, guest.caller);
  const services = app.runtime.services;
  const cart = await services.carts.create(ctx, {
    lines,
    email: opts.email ?? `buyer-${unique()}@test.example`,
  });
  await services.shipping.setCartAddress(ctx, cart.id, US_ADDRESS);
  await services.shipping.selectCartMethod(ctx, cart.id, setup.methodId);
  return { guest, cartId: cart.id };
}

export const CHECKOUT = `mutation C($input: CheckoutInput!) {
  checkoutComplete(input: $input) {
    order {
      id number status paymentStatus email cancelReason
      cost { subtotal { amount } discount { amount } shipping { amount } tax { amount } shippingTax { amount } total { amount } }
      lines { sku quantity unitPrice { amount } subtotal { amount } discount { amount } tax { amount } total { amount } }
      history { from to reason }
    }
    paymentClientSecret
    priceChanges { lineId variantId previousUnitPrice { amount } newUnitPrice { amount } }
    userErrors { code message field variantId available }
  }
}`;

export interface CheckoutOrderShape {
  id: string;
  number: string;
  status: string;
  paymentStatus: string;
  email: string | null;
  cancelReason: string | null;
  cost: Record<"subtotal" | "discount" | "shipping" | "tax" | "shippingTax" | "total", { amount: number }>;
  lines: {
    sku: string;
    quantity: number;
    unitPrice: { amount: number };
    subtotal: { amount: number };
    discount: { amount: number };
    tax: { amount: number };
    total: { amount: number };
  }[];
  history: { from: string | null; to: string; reason: string | null }[];
}

export interface CheckoutPayloadShape {
  order: CheckoutOrderShape | null;
  paymentClientSecret: string | null;
  priceChanges: {
    lineId: string;
    variantId: string;
    previousUnitPrice: { amount: number };
    newUnitPrice: { amount: number };
  }[];
  userErrors: {
    code: string;
    message: string;
    field: string[] | null;
    variantId: string | null;
    available: number | null;
  }[];
}

export interface CheckoutArgs {
  cartId: string;
  idempotencyKey?: string;
  paymentMethod?: string;
  expectedTotal?: number;
  acceptPriceChanges?: boolean;
  email?: string;
}

export async function checkout(
  app: TestApp,
  store: StoreRef,
  token: string,
  args: CheckoutArgs,
  opts: GqlOptions = {},
): Promise<CheckoutPayloadShape> {
  const input = { idempotencyKey: `key-${unique()}-${unique()}`, paymentMethod: "pm_card_visa", ...args };
  const data = await app.ok<{ checkoutComplete: CheckoutPayloadShape }>(
    CHECKOUT,
    { input },
    {
      store: store.handle,
      token,
      ...opts,
    },
  );
  return data.checkoutComplete;
}

export function testGateway(app: TestApp): TestGateway {
  return app.runtime.services.checkout.gateway as TestGateway;
}

export async function productWithStock(app: TestApp, store: StoreRef, stock: number, price = 1000) {
  const p = await createProduct(app, store, { basePrice: price, variants: [{ stockOnHand: stock }] });
  const variant = p.variants[0];
  if (!variant) throw new Error("no variant");
  return { product: p.product, variantId: variant.id, sku: variant.sku };
}
