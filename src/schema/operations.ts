/**
 * Who may call each root operation (Query, Mutation and Subscription fields) and the area of the API
 * guide it belongs to. Resolvers build their descriptions with `describeOperation`, which adds the
 * "Who may call" line from here and, for mutations, the error codes line from mutation-errors.ts, so
 * each fact has one home; scripts/api-docs.ts groups docs/api.md by `area`.
 */
import { errorCodesLine, type MutationName, mutationErrors } from "./mutation-errors.js";

export const AREAS = [
  "catalog",
  "identity",
  "carts",
  "discounts",
  "shipping",
  "checkout",
  "orders",
  "staff",
  "subscriptions",
] as const;
export type Area = (typeof AREAS)[number];

export interface OperationInfo {
  area: Area;
  /** Who may call it, as one phrase (anonymous, a guest session, a customer, staff, owner/admin). */
  who: string;
}

const ANYONE = "anyone, with or without a token";
const SHOPPER = "a guest session or a signed-in customer, on their own carts";
const CUSTOMER = "a signed-in customer";
const STAFF = "staff of the store (any role: STAFF, ADMIN or OWNER)";

export const OPERATIONS = {
  // Query
  store: { area: "catalog", who: ANYONE },
  product: { area: "catalog", who: `${ANYONE}; staff also see DRAFT and ARCHIVED products` },
  products: { area: "catalog", who: `${ANYONE}; staff also see DRAFT and ARCHIVED products` },
  variant: { area: "catalog", who: `${ANYONE}; staff also see variants of DRAFT and ARCHIVED products` },
  me: { area: "identity", who: `${ANYONE} (null unless a customer is signed in)` },
  cart: { area: "carts", who: `${ANYONE} (null unless the cart is the caller's)` },
  myCart: { area: "carts", who: `${ANYONE} (null unless a guest session or customer has an open cart)` },
  savedItems: { area: "carts", who: CUSTOMER },
  shippingRates: { area: "shipping", who: `${ANYONE} (empty unless the cart is the caller's)` },
  order: {
    area: "orders",
    who: "the order's customer or guest session, or staff of the store (null for anyone else)",
  },
  myOrders: { area: "orders", who: "a guest session or a signed-in customer (staff get an empty list)" },
  orders: { area: "staff", who: STAFF },
  discounts: { area: "staff", who: STAFF },

  // Mutation
  guestSessionCreate: { area: "identity", who: ANYONE },
  customerRegister: { area: "identity", who: ANYONE },
  customerLogin: { area: "identity", who: ANYONE },
  staffLogin: { area: "identity", who: ANYONE },
  signOut: { area: "identity", who: "a signed-in customer or staff member" },
  cartCreate: { area: "carts", who: "a guest session or a signed-in customer" },
  cartLinesAdd: { area: "carts", who: SHOPPER },
  cartLinesUpdate: { area: "carts", who: SHOPPER },
  cartLinesRemove: { area: "carts", who: SHOPPER },
  cartEmailUpdate: { area: "carts", who: SHOPPER },
  cartRecover: {
    area: "carts",
    who: "anyone holding the link, with or without a token (a customer's cart: only that customer, signed in)",
  },
  cartLineSaveForLater: { area: "carts", who: `${CUSTOMER}, on their own cart` },
  savedItemMoveToCart: { area: "carts", who: `${CUSTOMER}, on their own saved items and cart` },
  savedItemRemove: { area: "carts", who: `${CUSTOMER}, on their own saved items` },
  cartDiscountCodeApply: { area: "discounts", who: SHOPPER },
  cartDiscountCodeRemove: { area: "discounts", who: SHOPPER },
  cartShippingAddressUpdate: { area: "shipping", who: SHOPPER },
  cartShippingMethodSelect: { area: "shipping", who: SHOPPER },
  checkoutComplete: { area: "checkout", who: SHOPPER },
  orderCancel: {
    area: "orders",
    who: "the order's customer or guest session (PENDING or CONFIRMED orders), or staff (up to PROCESSING, and ON_HOLD)",
  },
  productCreate: { area: "staff", who: STAFF },
  variantPriceUpdate: { area: "staff", who: STAFF },
  inventoryAdjust: { area: "staff", who: STAFF },
  discountCreate: { area: "staff", who: STAFF },
  discountUpdate: { area: "staff", who: STAFF },
  shippingMethodCreate: { area: "staff", who: STAFF },
  taxRateUpsert: { area: "staff", who: STAFF },
  storeSettingsUpdate: { area: "staff", who: "staff with the OWNER or ADMIN role" },
  orderTransition: { area: "staff", who: STAFF },
  orderRefund: { area: "staff", who: STAFF },
  orderReviewApprove: { area: "staff", who: STAFF },
  orderReviewReject: { area: "staff", who: STAFF },

  // Subscription
  cartPriceChanged: {
    area: "subscriptions",
    who: "a guest session or a signed-in customer, on their own cart",
  },
  orderStatusChanged: {
    area: "subscriptions",
    who: "the order's customer or guest session (one order), or staff (one or every order of the store)",
  },
  storeEvents: { area: "subscriptions", who: STAFF },
  lowStockAlerts: { area: "subscriptions", who: STAFF },
} satisfies Record<string, OperationInfo>;

export type OperationName = keyof typeof OPERATIONS;

export function operationInfo(name: string): OperationInfo | undefined {
  return Object.hasOwn(OPERATIONS, name) ? OPERATIONS[name as OperationName] : undefined;
}

/** The lines `describeOperation` appends after the prose: who may call it and, for mutations, the codes. */
export function generatedLines(name: OperationName): string[] {
  const info: OperationInfo = OPERATIONS[name];
  const who = `Who may call: ${info.who}.`;
  return mutationErrors(name) ? [who, errorCodesLine(name as MutationName)] : [who];
}

/** A root operation's description: the prose, then the generated lines, one paragraph each. */
export function describeOperation(name: OperationName, prose: string): string {
  return [prose.trim(), ...generatedLines(name)].join("\n\n");
}
