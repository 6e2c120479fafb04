/**
 * Prices carts for display: gathers what the pure pricing module needs (current variant prices and
 * stock, applied codes with their usage counts, the shipping method, tax rates) for many carts in a
 * constant number of queries, then calls `priceCart`. Lines are priced at their captured unit price;
 * checkout re-prices against current prices.
 */
import { and, eq, inArray, isNotNull, or, sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import { discountRedemptions, discounts, shippingMethods, taxRates } from "../../db/schema.js";
import type { StoreRef } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ErrorCode } from "../errors.js";
import { type MoneyText, moneyText } from "../money-format.js";
import {
  type PricingDiscount,
  type PricingResult,
  type PricingShippingMethod,
  priceCart,
} from "../pricing/index.js";
import { loadSellableVariants, type SellableVariant } from "./cart.repository.js";
import type { CartRecord } from "./cart.types.js";
import { type CartPrefetch, prefetchOf } from "./cart-prefetch.js";

export interface CartWarningView {
  code: ErrorCode;
  message: string;
  lineId: string | null;
}

export interface PricedLineView {
  currentUnitPrice: number | null;
  priceChanged: boolean;
  discount: number;
  tax: number;
  total: number;
}

export interface CartPricing {
  result: PricingResult;
  lines: Map<string, PricedLineView>;
  warnings: CartWarningView[];
  /** Discounts by id, for codes and types in the API. */
  discounts: Map<string, { code: string; type: PricingDiscount["type"] }>;
}

/** The store a cart is priced for: its id, and its locale for the amounts in warnings. */
export type PricingStore = Pick<StoreRef, "id" | "locale">;

type DiscountRow = typeof discounts.$inferSelect;
type ShippingMethodRow = typeof shippingMethods.$inferSelect;

/** Where priceOne finds each input: what the cart was read with, else what was loaded for it. */
interface PricingLookups {
  variants: (id: string) => SellableVariant | undefined;
  discount: (id: string) => DiscountRow | undefined;
  /** Uses of a code by the cart's owner (null: the cart has no owner yet). */
  customerUses: (id: string) => number | null;
  method: PricingShippingMethod | null;
  rates: readonly { country: string; region: string; rateBps: number }[];
}

function toPricingMethod(m: ShippingMethodRow): PricingShippingMethod {
  return { id: m.id, countries: m.countries, rate: m.rate, freeOver: m.freeOver, isActive: m.isActive };
}

export class CartPricingService {
  constructor(private readonly deps: ServiceDeps) {}

  async price(store: PricingStore, cart: CartRecord, db: Executor = this.deps.db): Promise<CartPricing> {
    const [priced] = await this.priceMany(store, [cart], db);
    if (!priced) throw new Error("pricing returned nothing");
    return priced;
  }

  /**
   * Prices several carts of one store in a constant number of queries. What a cart was read with
   * (cart-prefetch.ts) is used as is; only what is missing is loaded, for all carts at once.
   */
  async priceMany(
    store: PricingStore,
    carts: readonly CartRecord[],
    db: Executor = this.deps.db,
  ): Promise<CartPricing[]> {
    const storeId = store.id;
    const given = carts.map((c) => prefetchOf(c) ?? {});
    const missing = <T>(pick: (c: CartRecord, p: CartPrefetch) => T[]) => [
      ...new Set(carts.flatMap((c, i) => pick(c, given[i] as CartPrefetch))),
    ];
    const variantIds = missing((c, p) =>
      c.lines.map((l) => l.variantId).filter((id) => !p.variants?.has(id)),
    );
    const discountIds = missing((c, p) =>
      c.discounts.map((d) => d.discountId).filter((id) => !p.discounts?.has(id)),
    );
    const methodIds = missing((c, p) =>
      c.shippingMethodId && p.shippingMethod === undefined ? [c.shippingMethodId] : [],
    );
    const needsTax = carts.some((c, i) => c.shippingAddress && !given[i]?.taxRates);
    const usesFor = carts.filter((c, i) => c.discounts.length > 0 && !given[i]?.customerUses);
    const [variants, discountRows, methods, rates, uses] = await Promise.all([
      loadSellableVariants(db, storeId, variantIds),
      discountIds.length
        ? db
            .select()
            .from(discounts)
            .where(and(eq(discounts.storeId, storeId), inArray(discounts.id, discountIds)))
        : Promise.resolve([] as DiscountRow[]),
      methodIds.length
        ? db
            .select()
            .from(shippingMethods)
            .where(and(eq(shippingMethods.storeId, storeId), inArray(shippingMethods.id, methodIds)))
        : Promise.resolve([]),
      needsTax
        ? db
            .select({ country: taxRates.country, region: taxRates.region, rateBps: taxRates.rateBps })
            .from(taxRates)
            .where(eq(taxRates.storeId, storeId))
        : Promise.resolve([]),
      this.customerUses(db, storeId, usesFor, [
        ...new Set(usesFor.flatMap((c) => c.discounts.map((d) => d.discountId))),
      ]),
    ]);
    const discountById = new Map(discountRows.map((d) => [d.id, d]));
    const methodById = new Map(methods.map((m) => [m.id, m]));
    return carts.map((cart, i) => {
      const p = given[i] as CartPrefetch;
      const owner = ownerKey(cart);
      const method =
        p.shippingMethod !== undefined ? p.shippingMethod : methodById.get(cart.shippingMethodId ?? "");
      return this.priceOne(cart, moneyText(cart.currency, store.locale), {
        variants: (id) => p.variants?.get(id) ?? variants.get(id),
        discount: (id) => p.discounts?.get(id) ?? discountById.get(id),
        customerUses: (id) =>
          p.customerUses ? (p.customerUses.get(id) ?? 0) : owner ? (uses.get(`${id}|${owner}`) ?? 0) : null,
        method: method && cart.shippingMethodId === method.id ? toPricingMethod(method) : null,
        rates: p.taxRates ?? rates,
      });
    });
  }

  private priceOne(cart: CartRecord, money: MoneyText, inputs: PricingLookups): CartPricing {
    const owner = ownerKey(cart);
    const applied: PricingDiscount[] = [];
    for (const d of cart.discounts) {
      const row = inputs.discount(d.discountId);
      if (!row) continue;
      applied.push({
        id: row.id,
        code: row.code,
        type: row.type,
        value: row.value,
        buyQty: row.buyQty,
        getQty: row.getQty,
        minOrderAmount: row.minOrderAmount,
        maxUses: row.maxUses,
        usesCount: row.usesCount,
        perCustomerLimit: row.perCustomerLimit,
        customerUses: owner ? inputs.customerUses(row.id) : null,
        validFrom: row.validFrom,
        validUntil: row.validUntil,
        applicableProductIds: row.applicableProductIds,
        combinable: row.combinable,
        isActive: row.isActive,
        appliedAt: d.appliedAt,
      });
    }
    const result = priceCart({
      lines: cart.lines.map((l) => ({
        lineId: l.id,
        productId: l.productId,
        variantId: l.variantId,
        unitPrice: l.unitPrice,
        quantity: l.quantity,
      })),
      discounts: applied,
      shippingMethod: inputs.method,
      destination: cart.shippingAddress
        ? { country: cart.shippingAddress.country, region: cart.shippingAddress.region ?? null }
        : null,
      taxRates: inputs.rates,
      now: this.deps.now(),
    });

    const warnings: CartWarningView[] = cart.notices.map((n) => ({
      code: n.code as ErrorCode,
      message: n.message,
      lineId: n.lineId ?? null,
    }));
    const lines = new Map<string, PricedLineView>();
    const pricedById = new Map(result.lines.map((l) => [l.lineId, l]));
    for (const line of cart.lines) {
      const variant = inputs.variants(line.variantId);
      const priced = pricedById.get(line.id);
      const current = variant?.price ?? null;
      const priceChanged = current !== null && current !== line.unitPrice;
      lines.set(line.id, {
        currentUnitPrice: current,
        priceChanged,
        discount: priced?.discount ?? 0,
        tax: priced?.tax ?? 0,
        total: priced?.total ?? line.unitPrice * line.quantity,
      });
      // Only an open cart needs the shopper's attention.
      if (cart.status !== "ACTIVE" && cart.status !== "ABANDONED") continue;
      if (!variant?.productActive) {
        warnings.push({
          code: ErrorCode.VARIANT_UNAVAILABLE,
          message: "This item is no longer for sale",
          lineId: line.id,
        });
      } else if (line.quantity > variant.available) {
        warnings.push({
          code: ErrorCode.INSUFFICIENT_STOCK,
          message: `Only ${Math.max(0, variant.available)} of ${variant.sku} left`,
          lineId: line.id,
        });
      }
      if (priceChanged && current !== null) {
        warnings.push({
          code: ErrorCode.PRICE_CHANGED,
          message: `${variant?.sku ?? "This item"} now costs ${money(current)} (was ${money(line.unitPrice)} when added)`,
          lineId: line.id,
        });
      }
    }
    for (const d of result.discounts) {
      if (!d.applicable && d.reason) {
        warnings.push({
          code: d.reason,
          message: `Code ${d.code} does not apply: ${reasonText(d.reason, d.requiredAmount, money)}`,
          lineId: null,
        });
      }
    }
    if (result.shipping.issue === "SHIPPING_METHOD_UNAVAILABLE") {
      warnings.push({
        code: ErrorCode.SHIPPING_METHOD_UNAVAILABLE,
        message: "The selected shipping method does not serve this address",
        lineId: null,
      });
    }
    return {
      result,
      lines,
      warnings,
      discounts: new Map(applied.map((d) => [d.id ?? d.code, { code: d.code, type: d.type }])),
    };
  }

  /** APPLIED redemptions per (discount, owner) for the carts' owners: customer id, else email. */
  private async customerUses(
    db: Executor,
    storeId: string,
    carts: readonly CartRecord[],
    discountIds: string[],
  ): Promise<Map<string, number>> {
    const customerIds = [...new Set(carts.map((c) => c.customerId).filter((v): v is string => !!v))];
    const emails = [...new Set(carts.filter((c) => !c.customerId && c.email).map((c) => c.email as string))];
    if (discountIds.length === 0 || (customerIds.length === 0 && emails.length === 0)) return new Map();
    const owner = sql<string>`coalesce(${discountRedemptions.customerId}::text, ${discountRedemptions.email})`;
    const rows = await db
      .select({ discountId: discountRedemptions.discountId, owner, uses: sql<number>`count(*)::int` })
      .from(discountRedemptions)
      .where(
        and(
          eq(discountRedemptions.storeId, storeId),
          inArray(discountRedemptions.discountId, discountIds),
          eq(discountRedemptions.status, "APPLIED"),
          or(
            customerIds.length ? inArray(discountRedemptions.customerId, customerIds) : sql`false`,
            emails.length
              ? and(isNotNull(discountRedemptions.email), inArray(discountRedemptions.email, emails))
              : sql`false`,
          ),
        ),
      )
      .groupBy(discountRedemptions.discountId, owner);
    return new Map(rows.map((r) => [`${r.discountId}|${r.owner}`, Number(r.uses)]));
  }
}

/** Who the per-customer limit counts for: the customer, else the guest's email, else nobody yet. */
export function ownerKey(cart: Pick<CartRecord, "customerId" | "email">): string | null {
  return cart.customerId ?? cart.email ?? null;
}

/** Why a code does not apply, for a message; `money` writes the minimum order's amount. */
export function reasonText(reason: ErrorCode, requiredAmount?: number, money?: MoneyText): string {
  switch (reason) {
    case ErrorCode.DISCOUNT_INACTIVE:
      return "it is not active";
    case ErrorCode.DISCOUNT_NOT_YET_VALID:
      return "it is not valid yet";
    case ErrorCode.DISCOUNT_EXPIRED:
      return "it has expired";
    case ErrorCode.DISCOUNT_LIMIT_REACHED:
      return "it has been used up";
    case ErrorCode.DISCOUNT_CUSTOMER_LIMIT_REACHED:
      return "you have already used it";
    case ErrorCode.DISCOUNT_MIN_ORDER_NOT_MET:
      return requiredAmount === undefined
        ? "the eligible items do not reach the minimum order"
        : `the eligible items must reach ${money ? money(requiredAmount) : requiredAmount} before discounts`;
    case ErrorCode.DISCOUNT_NOT_APPLICABLE:
      return "no item in the cart qualifies";
    case ErrorCode.DISCOUNT_NOT_COMBINABLE:
      return "it cannot be combined with another applied code";
    default:
      return reason;
  }
}
