/**
 * Inputs and outputs of the pricing module. Every amount is integer minor units of the cart's currency;
 * the module never sees a currency code because a cart has exactly one.
 */
import type { ErrorCode } from "../errors.js";

export type DiscountType = "PERCENTAGE" | "FIXED_AMOUNT" | "FREE_SHIPPING" | "BUY_X_GET_Y";

/** One cart (or checkout) line as priced: unitPrice is whatever price the caller decided applies. */
export interface PricingLine {
  lineId: string;
  productId: string;
  variantId: string;
  unitPrice: number;
  /** >= 1. */
  quantity: number;
}

/** A discount code applied to the cart: the `discounts` row plus the counts and order the caller knows. */
export interface PricingDiscount {
  /** The discounts row id, echoed back so the caller can store cart_discounts.applied_amount. */
  id?: string;
  code: string;
  type: DiscountType;
  /** PERCENTAGE: percent 1..100; FIXED_AMOUNT: minor units; BUY_X_GET_Y: percent off the Y units; else unused. */
  value: number;
  buyQty: number | null;
  getQty: number | null;
  /** Compared with the eligible subtotal before any discount. */
  minOrderAmount: number | null;
  /** null = unlimited. */
  maxUses: number | null;
  usesCount: number;
  /** null = unlimited. */
  perCustomerLimit: number | null;
  /** Uses by this customer (or email); null when the shopper is not identified yet, so the limit is not checked. */
  customerUses: number | null;
  validFrom: Date | null;
  /** Exclusive: the code is expired from this instant on. */
  validUntil: Date | null;
  /** null = every product. */
  applicableProductIds: readonly string[] | null;
  combinable: boolean;
  isActive: boolean;
  /** When the code was applied to the cart: codes are considered in this order (ties: by code). */
  appliedAt: Date;
}

export interface PricingShippingMethod {
  id: string;
  /** ISO 3166-1 alpha-2 codes the method serves (compared case-insensitively). */
  countries: readonly string[];
  /** Flat rate. */
  rate: number;
  /** Shipping is free when subtotal - discount >= freeOver; null = never free. */
  freeOver: number | null;
  /** Defaults to true; an inactive method is reported as unavailable. */
  isActive?: boolean;
}

export interface PricingDestination {
  /** ISO 3166-1 alpha-2. */
  country: string;
  region?: string | null;
}

export interface PricingTaxRate {
  country: string;
  /** '' = the whole country. */
  region: string;
  /** Basis points: 825 = 8.25 %. 0..10000. */
  rateBps: number;
}

export interface PricingInput {
  lines: readonly PricingLine[];
  discounts: readonly PricingDiscount[];
  shippingMethod: PricingShippingMethod | null;
  destination: PricingDestination | null;
  taxRates: readonly PricingTaxRate[];
  now: Date;
}

/** Why a code counts for nothing: one of the API's DISCOUNT_* error codes. */
export type DiscountRejection = Extract<
  ErrorCode,
  | "DISCOUNT_INACTIVE"
  | "DISCOUNT_NOT_YET_VALID"
  | "DISCOUNT_EXPIRED"
  | "DISCOUNT_LIMIT_REACHED"
  | "DISCOUNT_CUSTOMER_LIMIT_REACHED"
  | "DISCOUNT_MIN_ORDER_NOT_MET"
  | "DISCOUNT_NOT_APPLICABLE"
  | "DISCOUNT_NOT_COMBINABLE"
>;

/** A shipping problem the caller turns into a userError (checkout) or a warning (cart). */
export type ShippingIssue = Extract<
  ErrorCode,
  "SHIPPING_METHOD_REQUIRED" | "SHIPPING_ADDRESS_REQUIRED" | "SHIPPING_METHOD_UNAVAILABLE"
>;

export interface PricedLine {
  lineId: string;
  /** unitPrice × quantity. */
  subtotal: number;
  /** This line's share of every merchandise discount; <= subtotal. */
  discount: number;
  /** This line's share of the tax. */
  tax: number;
  /** subtotal - discount + tax. */
  total: number;
}

export interface DiscountAllocation {
  lineId: string;
  amount: number;
}

export interface PricedDiscount {
  id?: string;
  code: string;
  type: DiscountType;
  /** Merchandise discount given, or for FREE_SHIPPING the shipping it waived. 0 when not applicable. */
  amount: number;
  applicable: boolean;
  reason: DiscountRejection | null;
  /** With DISCOUNT_MIN_ORDER_NOT_MET: the minimum the eligible subtotal must reach. */
  requiredAmount?: number;
  /** True for FREE_SHIPPING codes. */
  freeShipping?: boolean;
  /** Per-line split of `amount` (merchandise types only; sorted by line id; sums exactly to amount). */
  allocations: DiscountAllocation[];
}

export interface ShippingQuote {
  methodId: string | null;
  /** What shipping costs before FREE_SHIPPING codes (0 when freeOver is reached or on an issue). */
  base: number;
  /** True when subtotal - discount reached the method's freeOver. */
  freeOverReached: boolean;
  issue: ShippingIssue | null;
}

export interface PricingTotals {
  subtotal: number;
  /** Merchandise discounts only (FREE_SHIPPING is in shippingDiscount). */
  discount: number;
  /** Shipping charged: base - shippingDiscount. */
  shipping: number;
  /** Shipping waived by FREE_SHIPPING codes. */
  shippingDiscount: number;
  /** The part of `tax` that falls on shipping. */
  shippingTax: number;
  tax: number;
  /** subtotal - discount + shipping + tax, never negative. */
  total: number;
}

export interface PricingResult {
  /** In input order. */
  lines: PricedLine[];
  /** In application order (appliedAt, then code). */
  discounts: PricedDiscount[];
  shipping: ShippingQuote;
  /** The rate used and the amount it was applied to. */
  tax: { rateBps: number; taxable: number };
  totals: PricingTotals;
}
