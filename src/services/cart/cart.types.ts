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
