/**
 * Shipping methods (per zone of countries, flat rate, free over a threshold), the cart's shipping address
 * and method, and tax rates by destination. Prices themselves come from the pure pricing module.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { type CartNoticeJson, shippingMethods, taxRates } from "../db/schema.js";
import { type AddressInputShape, isIsoCountry, validateAddress } from "./address.js";
import { assertStaff } from "./authz.js";
import type { CartService } from "./cart/cart.service.js";
import type { CartRecord } from "./cart/cart.types.js";
import type { CartPricingService } from "./cart/cart-pricing.service.js";
import type { ServiceContext } from "./context.js";
import type { ServiceDeps } from "./deps.js";
import { ErrorCode, type UserErrorData, UserFacingError, userError } from "./errors.js";
import { MAX_SHIPPING_RATE } from "./money-bounds.js";
import { servesDestination } from "./pricing/index.js";
import { parseId } from "./validation.js";

export type ShippingMethodRecord = typeof shippingMethods.$inferSelect;
export type TaxRateRecord = typeof taxRates.$inferSelect;

export interface ShippingMethodInput {
  name: string;
  countries: string[];
  rate: number;
  freeOver?: number | null;
  isActive?: boolean | null;
}

export interface TaxRateInput {
  country: string;
  region?: string | null;
  rateBps: number;
  name?: string | null;
}

export interface ShippingRateQuote {
  method: ShippingMethodRecord;
  /** The method's price for this cart: its rate, or 0 once the cart reaches its free-over threshold. */
  price: number;
}

const MAX_AMOUNT = MAX_SHIPPING_RATE;

export class ShippingService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly carts: CartService,
    private readonly pricing: CartPricingService,
  ) {}

  async createMethod(ctx: ServiceContext, input: ShippingMethodInput): Promise<ShippingMethodRecord> {
    assertStaff(ctx.caller);
    const errors: UserErrorData[] = [];
    const bad = (field: string, message: string) =>
      errors.push({ code: ErrorCode.INVALID_INPUT, message, field: ["input", field] });
    const name = input.name.trim();
    if (!name || name.length > 100) bad("name", "Name must be 1 to 100 characters");
    const countries = [...new Set(input.countries.map((c) => c.trim().toUpperCase()))];
    if (countries.length === 0) bad("countries", "Give at least one country");
    countries.forEach((c, i) => {
      if (!isIsoCountry(c))
        errors.push({
          code: ErrorCode.INVALID_INPUT,
          message: `"${c}" is not an ISO 3166-1 alpha-2 code`,
          field: ["input", "countries", String(i)],
        });
    });
    if (!Number.isInteger(input.rate) || input.rate < 0 || input.rate > MAX_AMOUNT) {
      bad("rate", `Rate must be an integer from 0 to ${MAX_AMOUNT} (minor units)`);
    }
    const freeOver = input.freeOver ?? null;
    if (freeOver !== null && (!Number.isInteger(freeOver) || freeOver < 0 || freeOver > MAX_AMOUNT)) {
      bad("freeOver", `Free-over threshold must be an integer from 0 to ${MAX_AMOUNT} (minor units)`);
    }
    if (errors.length) throw new UserFacingError(errors);
    const [row] = await this.deps.db
      .insert(shippingMethods)
      .values({
        storeId: ctx.store.id,
        name,
        countries,
        rate: input.rate,
        freeOver,
        isActive: input.isActive ?? true,
      })
      .returning();
    if (!row) throw new Error("shipping method insert returned nothing");
    return row;
  }

  /** Batch load for DataLoaders: methods of one store by id. */
  async methodsByIds(storeId: string, ids: readonly string[]): Promise<(ShippingMethodRecord | null)[]> {
    const rows = ids.length
      ? await this.deps.db
          .select()
          .from(shippingMethods)
          .where(and(eq(shippingMethods.storeId, storeId), inArray(shippingMethods.id, [...ids])))
      : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Active methods that serve the cart's destination, cheapest first. Empty until an address is set. */
  async ratesForCart(
    ctx: ServiceContext,
    cartId: string,
  ): Promise<{ cart: CartRecord; rates: ShippingRateQuote[] }> {
    const cart = await this.carts.get(ctx, cartId);
    if (!cart) throw userError(ErrorCode.NOT_FOUND, "Cart not found", { field: ["cartId"] });
    const address = cart.shippingAddress;
    if (!address) return { cart, rates: [] };
    const [methods, pricing] = await Promise.all([
      // The method list is store configuration, not the cart: it may come from the read replica.
      this.deps.reads.run(ctx.reads, (db) =>
        db
          .select()
          .from(shippingMethods)
          .where(
            and(
              eq(shippingMethods.storeId, ctx.store.id),
              eq(shippingMethods.isActive, true),
              sql`${address.country} = any(${shippingMethods.countries})`,
            ),
          )
          .orderBy(asc(shippingMethods.rate), asc(shippingMethods.name)),
      ),
      this.pricing.price(ctx.store, cart),
    ]);
    const net = pricing.result.totals.subtotal - pricing.result.totals.discount;
    return {
      cart,
      rates: methods.map((method) => ({
        method,
        price: method.freeOver !== null && net >= method.freeOver ? 0 : method.rate,
      })),
    };
  }

  /**
   * Sets the destination. A selected method that does not serve the new country is cleared, and the
   * shopper is told so with a warning.
   */
  async setCartAddress(ctx: ServiceContext, cartId: string, input: AddressInputShape): Promise<CartRecord> {
    const address = validateAddress(input, ["address"]);
    return this.carts.write(ctx, cartId, async (draft) => {
      const notices: CartNoticeJson[] = [];
      draft.set({ shippingAddress: address });
      // The selected method came with the cart's snapshot.
      const method = draft.snapshot.shippingMethod;
      if (draft.cart.shippingMethodId && (!method?.isActive || !servesDestination(method, address))) {
        draft.setShippingMethod(null);
        notices.push({
          code: ErrorCode.SHIPPING_METHOD_UNAVAILABLE,
          message: `${method?.name ?? "The selected shipping method"} does not ship to ${address.country}; choose another`,
          lineId: null,
        });
      }
      return { notices };
    });
  }

  async selectCartMethod(ctx: ServiceContext, cartId: string, shippingMethodId: string): Promise<CartRecord> {
    const methodId = parseId(shippingMethodId, ["shippingMethodId"], "Shipping method");
    return this.carts.write(ctx, cartId, async (draft) => {
      const { cart, db } = draft;
      const [method] = await db
        .select()
        .from(shippingMethods)
        .where(and(eq(shippingMethods.storeId, ctx.store.id), eq(shippingMethods.id, methodId)));
      if (!method)
        throw userError(ErrorCode.NOT_FOUND, "Shipping method not found", { field: ["shippingMethodId"] });
      if (!cart.shippingAddress) {
        throw userError(ErrorCode.SHIPPING_ADDRESS_REQUIRED, "Set a shipping address first", {
          field: ["cartId"],
        });
      }
      if (!method.isActive || !servesDestination(method, cart.shippingAddress)) {
        throw userError(
          ErrorCode.SHIPPING_METHOD_UNAVAILABLE,
          `${method.name} does not ship to ${cart.shippingAddress.country}`,
          { field: ["shippingMethodId"] },
        );
      }
      draft.setShippingMethod(method);
    });
  }

  /** Creates or replaces the rate of (country, region); region '' or null = the whole country. */
  async upsertTaxRate(ctx: ServiceContext, input: TaxRateInput): Promise<TaxRateRecord> {
    assertStaff(ctx.caller);
    const errors: UserErrorData[] = [];
    const country = input.country.trim().toUpperCase();
    if (!isIsoCountry(country)) {
      errors.push({
        code: ErrorCode.INVALID_INPUT,
        message: "Country must be an ISO 3166-1 alpha-2 code",
        field: ["input", "country"],
      });
    }
    const region = (input.region ?? "").trim().toUpperCase();
    if (region.length > 10 || (region && !/^[A-Z0-9-]+$/.test(region))) {
      errors.push({
        code: ErrorCode.INVALID_INPUT,
        message: "Region must be a short code such as CA or NY",
        field: ["input", "region"],
      });
    }
    if (!Number.isInteger(input.rateBps) || input.rateBps < 0 || input.rateBps > 10_000) {
      errors.push({
        code: ErrorCode.INVALID_INPUT,
        message: "rateBps must be an integer from 0 to 10000 (basis points)",
        field: ["input", "rateBps"],
      });
    }
    const name = input.name?.trim() || null;
    if (name && name.length > 100) {
      errors.push({
        code: ErrorCode.INVALID_INPUT,
        message: "Name must be at most 100 characters",
        field: ["input", "name"],
      });
    }
    if (errors.length) throw new UserFacingError(errors);
    const [row] = await this.deps.db
      .insert(taxRates)
      .values({ storeId: ctx.store.id, country, region, rateBps: input.rateBps, name })
      .onConflictDoUpdate({
        target: [taxRates.storeId, taxRates.country, taxRates.region],
        set: { rateBps: input.rateBps, name, updatedAt: this.deps.now() },
      })
      .returning();
    if (!row) throw new Error("tax rate upsert returned nothing");
    return row;
  }
}
