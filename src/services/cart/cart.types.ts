/** The cart as services and the cache see it: the cart row plus its lines and applied codes. */
import type { AddressJson, CartNoticeJson, LineOptionsJson } from "../../db/schema.js";

export type CartStatus = "ACTIVE" | "ABANDONED" | "CHECKED_OUT" | "MERGED" | "EXPIRED";

export interface CartLineRecord {
  id: string;
  productId: string;
  variantId: string;
  quantity: number;
  /** Captured when the line was added. */
  unitPrice: number;
  customOptions: LineOptionsJson;
  createdAt: Date;
}

export interface CartDiscountRecord {
  discountId: string;
  appliedAt: Date;
}

export interface CartRecord {
  id: string;
  storeId: string;
  customerId: string | null;
  sessionId: string | null;
  email: string | null;
  status: CartStatus;
  currency: string;
  shippingAddress: AddressJson | null;
  shippingMethodId: string | null;
  version: number;
  mergedIntoCartId: string | null;
  notices: CartNoticeJson[];
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date | null;
  lines: CartLineRecord[];
  discounts: CartDiscountRecord[];
}

/** A `carts` row with its lines and codes, as the services pass carts around. */
export function cartRecordOf(
  row: Omit<CartRecord, "lines" | "discounts">,
  lines: CartLineRecord[],
  discounts: CartDiscountRecord[],
): CartRecord {
  return {
    id: row.id,
    storeId: row.storeId,
    customerId: row.customerId,
    sessionId: row.sessionId,
    email: row.email,
    status: row.status,
    currency: row.currency,
    shippingAddress: row.shippingAddress,
    shippingMethodId: row.shippingMethodId,
    version: row.version,
    mergedIntoCartId: row.mergedIntoCartId,
    notices: row.notices,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    expiresAt: row.expiresAt,
    lines,
    discounts,
  };
}

export interface CartLineInput {
  variantId: string;
  quantity: number;
  customOptions?: { giftWrap?: boolean | null; personalization?: string | null } | null;
}

export interface CartLineUpdateInput {
  lineId: string;
  quantity: number;
}

export const MAX_LINE_QUANTITY = 999;
/** A cart is a shopping list, not a warehouse order: bound it so one request cannot grow it without end. */
export const MAX_CART_LINES = 250;
