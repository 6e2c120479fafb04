/**
 * Saga step 1 (T1), one short transaction: the cart becomes a PENDING order whose stock is held and
 * whose discount uses are counted, or nothing happens at all.
 *
 * In order: lock the cart (drawing the order's number); if the cart is already ordered under this
 * idempotency key, stop (the caller replays it); check the cart can be ordered; lock its variants
 * (ascending id) and re-price every line at today's price (lower prices apply to the buyer's favour;
 * higher ones need acceptPriceChanges or a matching expectedTotal); re-check every code; then ONE
 * statement: the order with its line snapshots, the reserve (a conditional UPDATE), holds, history,
 * payment row, the cart's move to CHECKED_OUT and the outbox events; then count each code's use (the
 * redemption's conditional UPDATE). Any refusal throws before COMMIT, so every write of the step rolls
 * back together; a key that names another order fails the order's insert (IdempotencyKeyTaken).
 *
 * Compensation: compensate.step.ts (releases the stock, gives the uses back, cancels the order and
 * gives the shopper their cart back).
 */
import { randomUUID } from "node:crypto";
import { and, eq, type SQLWrapper } from "drizzle-orm";
import type { Executor, Tx } from "../../db/client.js";
import { rowFromJson } from "../../db/json-rows.js";
import {
  type AddressJson,
  inventoryReservations,
  orderItems,
  orderStatusHistory,
  orders,
  payments,
} from "../../db/schema.js";
import { MAX_PAYMENT_AMOUNT } from "../../payments/index.js";
import type { CartService } from "../cart/cart.service.js";
import type { CartRecord } from "../cart/cart.types.js";
import { attachPrefetch } from "../cart/cart-prefetch.js";
import type { CartPricingService } from "../cart/cart-pricing.service.js";
import { reasonText } from "../cart/cart-pricing.service.js";
import { actorLabel, type ServiceContext } from "../context.js";
import { ErrorCode, type UserErrorData, UserFacingError, userError } from "../errors.js";
import { heldByCart } from "../inventory/cart-holds.js";
import { releaseReservations } from "../inventory/reservations.js";
import {
  type LockedVariant,
  lockedReserve,
  lockVariants,
  type MovementResult,
  mergeLines,
  moveStock,
} from "../inventory/stock.js";
import { stockStateEvents } from "../inventory/stock-events.js";
import { assertOrderSubtotal } from "../money-bounds.js";
import { moneyText } from "../money-format.js";
import { type OrderRow, orderFromJson } from "../order/transition.js";
import { writeOutboxMany } from "../outbox.js";
import { isUniqueViolation } from "../pg-errors.js";
import type { RedemptionService } from "../redemption.service.js";
import type { PriceChangeView } from "./checkout.types.js";
import type { ValidCheckout } from "./checkout-input.js";
import type { PaymentRow } from "./payment-record.js";

export const ORDER_CREATED = "order.created";

/** PRICE_CHANGED, with every line whose price rose. */
export class PriceChangedError extends UserFacingError {
  constructor(
    readonly priceChanges: PriceChangeView[],
    errors: UserErrorData[],
  ) {
    super(errors);
  }
}

export interface PlaceOrderDeps {
  carts: CartService;
  pricing: CartPricingService;
  redemptions: RedemptionService;
  now: () => Date;
  /** How long stock is held for a PENDING order. */
  reservationTtlMs: number;
  /** How long the saga that placed the order owns it before recovery may take over. */
  sagaLeaseMs: number;
  gatewayName: string;
}

export type PlaceOrderResult =
  | {
      kind: "placed";
      order: OrderRow;
      payment: PaymentRow;
      cart: { id: string; version: number };
      available: Map<string, number>;
    }
  | { kind: "existing"; order: OrderRow };

/** A locked variant as pricing sees it. */
const sellableOfLocked = (v: LockedVariant) => ({
  id: v.id,
  productId: v.productId,
  sku: v.sku,
  price: v.price,
  available: v.available,
  productActive: v.productActive,
});

/** The payment's base idempotency key; every gateway call derives its own key from it. */
export const paymentKeyFor = (orderId: string) => `order_${orderId}`;

export async function placeOrder(
  tx: Tx,
  deps: PlaceOrderDeps,
  ctx: ServiceContext,
  input: ValidCheckout,
): Promise<PlaceOrderResult> {
  const storeId = ctx.store.id;
  const snapshot = await deps.carts.lockForCheckout(tx, ctx, input.cartId);
  const cart = snapshot.cart;

  if (cart.status !== "ACTIVE" && cart.status !== "ABANDONED") {
    // Under the cart lock: a concurrent duplicate that got here first has committed its order by now
    // (a key whose order failed and gave the cart back is caught by the order insert below).
    const existing = await orderByKey(tx, storeId, input.idempotencyKey);
    if (existing) return { kind: "existing", order: existing };
    throw userError(ErrorCode.CART_NOT_ACTIVE, `Cart is ${cart.status.toLowerCase()}`, {
      field: ["input", "cartId"],
    });
  }
  if (cart.lines.length === 0)
    throw userError(ErrorCode.CART_EMPTY, "The cart is empty", { field: ["input", "cartId"] });
  const problems: UserErrorData[] = [];
  const address: AddressJson | null = input.shippingAddress ?? cart.shippingAddress;
  if (!address) {
    problems.push({
      code: ErrorCode.SHIPPING_ADDRESS_REQUIRED,
      message: "Give a shipping address (here or with cartShippingAddressUpdate)",
      field: ["input", "shippingAddress"],
    });
  }
  if (!cart.shippingMethodId) {
    problems.push({
      code: ErrorCode.SHIPPING_METHOD_REQUIRED,
      message: "Choose a shipping method (cartShippingMethodSelect)",
      field: ["input", "cartId"],
    });
  }
  const caller = ctx.caller;
  const email = caller.kind === "customer" ? caller.email : (input.email ?? cart.email);
  if (!email) {
    problems.push({
      code: ErrorCode.INVALID_INPUT,
      message: "An email is required to check out as a guest",
      field: ["input", "email"],
    });
  }
  if (problems.length) throw new UserFacingError(problems);

  const variants = await lockVariants(
    tx,
    storeId,
    cart.lines.map((l) => l.variantId),
  );
  // A reserve-at-add-to-cart store: the cart's own holds are its to use (they become the order's below).
  const held =
    ctx.store.settings?.reservation.policy === "cart"
      ? await heldByCart(tx, storeId, cart.id)
      : new Map<string, number>();
  for (const v of variants.values()) v.available += held.get(v.id) ?? 0;
  const unavailable: UserErrorData[] = [];
  for (const line of cart.lines) {
    const v = variants.get(line.variantId);
    if (!v?.productActive) {
      unavailable.push({
        code: ErrorCode.VARIANT_UNAVAILABLE,
        message: `${v?.sku ?? "An item"} is no longer for sale`,
        field: ["input", "cartId"],
        variantId: line.variantId,
      });
    }
  }
  if (unavailable.length) throw new UserFacingError(unavailable);

  // Today's price for every line: a drop is the buyer's, a rise needs their consent.
  const priceChanges: PriceChangeView[] = [];
  const repriced: CartRecord = {
    ...cart,
    email,
    shippingAddress: address,
    lines: cart.lines.map((line) => {
      const current = (variants.get(line.variantId) as LockedVariant).price;
      if (current > line.unitPrice) {
        priceChanges.push({
          lineId: line.id,
          variantId: line.variantId,
          previousUnitPrice: line.unitPrice,
          newUnitPrice: current,
        });
      }
      return { ...line, unitPrice: current };
    }),
  };
  // Priced from what the cart's snapshot read; tax rates again only if the destination moved.
  const sameCountry = address?.country === cart.shippingAddress?.country;
  attachPrefetch(repriced, {
    variants: new Map([...variants].map(([id, v]) => [id, sellableOfLocked(v)])),
    discounts: snapshot.discounts,
    customerUses: email === cart.email || caller.kind === "customer" ? snapshot.customerUses : undefined,
    shippingMethod: snapshot.shippingMethod,
    ...(sameCountry && snapshot.taxRates ? { taxRates: snapshot.taxRates } : {}),
  });
  const { result: pricing } = await deps.pricing.price(ctx.store, repriced, tx);
  const money = moneyText(cart.currency, ctx.store.locale);
  const totals = pricing.totals;

  if (pricing.shipping.issue === "SHIPPING_METHOD_UNAVAILABLE") {
    throw userError(
      ErrorCode.SHIPPING_METHOD_UNAVAILABLE,
      "The selected shipping method does not ship to this address",
      {
        field: ["input", "shippingAddress"],
      },
    );
  }
  const refusedCodes = pricing.discounts
    .filter((d) => !d.applicable)
    .map(
      (d): UserErrorData => ({
        code: d.reason ?? ErrorCode.DISCOUNT_NOT_APPLICABLE,
        message: `Code ${d.code} no longer applies: ${reasonText(d.reason ?? ErrorCode.DISCOUNT_NOT_APPLICABLE, d.requiredAmount, money)}; remove it or change the cart`,
        field: ["input", "cartId"],
        ...(d.requiredAmount === undefined ? {} : { requiredAmount: d.requiredAmount }),
      }),
    );
  if (refusedCodes.length) throw new UserFacingError(refusedCodes);

  const consented = input.acceptPriceChanges || input.expectedTotal === totals.total;
  if (
    (priceChanges.length > 0 || (input.expectedTotal !== null && input.expectedTotal !== totals.total)) &&
    !consented
  ) {
    throw new PriceChangedError(priceChanges, [
      {
        code: ErrorCode.PRICE_CHANGED,
        message:
          priceChanges.length > 0
            ? `${priceChanges.length} item(s) cost more than when added; the total is now ${money(totals.total)}. Confirm with acceptPriceChanges or expectedTotal`
            : `The total is now ${money(totals.total)}, not ${money(input.expectedTotal ?? 0)}`,
        field: ["input", "expectedTotal"],
        requiredAmount: totals.total,
      },
    ]);
  }
  assertOrderSubtotal(totals.subtotal, ["input", "cartId"], money);
  if (totals.total > MAX_PAYMENT_AMOUNT) {
    throw userError(
      ErrorCode.CART_LIMIT_REACHED,
      `An order may total at most ${money(MAX_PAYMENT_AMOUNT)}; this one totals ${money(totals.total)}`,
      {
        field: ["input", "cartId"],
      },
    );
  }

  const wanted = mergeLines(cart.lines);
  const short = wanted
    .map((w) => ({ want: w, variant: variants.get(w.variantId) as LockedVariant }))
    .filter(({ want, variant }) => variant.available < want.quantity)
    .map(
      ({ variant }): UserErrorData => ({
        code: ErrorCode.INSUFFICIENT_STOCK,
        message: `Only ${Math.max(0, variant.available)} of ${variant.sku} available`,
        field: ["input", "cartId"],
        variantId: variant.id,
        available: Math.max(0, variant.available),
      }),
    );
  if (short.length) throw new UserFacingError(short);

  const now = deps.now();
  const orderId = randomUUID();
  const reservationExpiresAt = new Date(now.getTime() + deps.reservationTtlMs);
  const pricedLine = new Map(pricing.lines.map((l) => [l.lineId, l]));

  const number = snapshot.orderNumber;
  if (!number) throw new Error("the checkout's cart lock drew no order number");
  const customerId = caller.kind === "customer" ? caller.customerId : null;
  // No ON CONFLICT: a key that already names an order (one that failed and gave this cart back, or
  // one of another cart) fails the whole statement below with IdempotencyKeyTaken, so nothing is
  // written, and the caller replays that order's answer once this transaction has rolled back.
  const orderInsert = tx
    .insert(orders)
    .values({
      id: orderId,
      storeId,
      number,
      customerId,
      sessionId: caller.kind === "guest" ? caller.sessionId : null,
      email,
      cartId: cart.id,
      status: "PENDING",
      paymentStatus: "PENDING",
      subtotal: totals.subtotal,
      discount: totals.discount,
      shipping: totals.shipping,
      shippingTax: totals.shippingTax,
      tax: totals.tax,
      total: totals.total,
      currency: cart.currency,
      shippingAddress: address,
      billingAddress: input.billingAddress ?? address,
      shippingMethodId: cart.shippingMethodId,
      idempotencyKey: input.idempotencyKey,
      requestHash: `${cart.id}|${totals.total}`,
      clientIp: ctx.clientIp ?? null,
      sagaLeaseUntil: new Date(now.getTime() + deps.sagaLeaseMs),
      reservationExpiresAt,
      createdAt: now,
      updatedAt: now,
    })
    .returning();

  // The order takes its units. Usually the reserve travels with the order's other writes (its result is
  // known from the locked rows); a holding store's cart holds go back first, which moves the counters,
  // so there the reserve is a statement of its own.
  let reserved: MovementResult;
  const reserveWrites: SQLWrapper[] = [];
  if (held.size) {
    await releaseReservations(tx, storeId, { cartId: cart.id }, now);
    reserved = await moveStock(tx, storeId, "reserve", wanted, variants);
    if (reserved.refused.length) throw new Error("stock moved under lock");
  } else {
    const reserve = lockedReserve(storeId, wanted, variants);
    reserved = reserve.result;
    reserveWrites.push(reserve.write);
  }

  const items = tx.insert(orderItems).values(
    cart.lines.map((line) => {
      const v = variants.get(line.variantId) as LockedVariant;
      const p = pricedLine.get(line.id);
      const subtotal = v.price * line.quantity;
      return {
        storeId,
        orderId,
        productId: v.productId,
        variantId: v.id,
        productName: v.productName,
        variantTitle: v.title,
        sku: v.sku,
        attributes: v.attributes,
        customOptions: line.customOptions,
        unitPrice: v.price,
        quantity: line.quantity,
        lineSubtotal: subtotal,
        lineDiscount: p?.discount ?? 0,
        lineTax: p?.tax ?? 0,
        total: p?.total ?? subtotal,
      };
    }),
  );
  const reservations = tx.insert(inventoryReservations).values(
    wanted.map((w) => ({
      storeId,
      orderId,
      variantId: w.variantId,
      quantity: w.quantity,
      status: "ACTIVE" as const,
      expiresAt: reservationExpiresAt,
    })),
  );
  const history = tx.insert(orderStatusHistory).values({
    storeId,
    orderId,
    fromStatus: null,
    toStatus: "PENDING",
    actor: actorLabel(caller),
    reason: "checkout",
    at: now,
  });
  const checkedOut = deps.carts.checkedOutWrite(tx, cart);
  const paymentInsert = tx
    .insert(payments)
    .values({
      storeId,
      orderId,
      gateway: deps.gatewayName,
      amount: totals.total,
      currency: cart.currency,
      status: "PENDING",
      paymentMethod: input.paymentMethod,
      idempotencyKey: paymentKeyFor(orderId),
    })
    .returning();
  // The order, the reserve, lines, holds, history, the cart's move, the payment row and the events:
  // one statement, so the variants locked above are held for it and COMMIT alone.
  let returned: (Record<string, unknown> | null)[];
  try {
    returned = await writeOutboxMany(
      tx,
      [
        {
          storeId,
          topic: ORDER_CREATED,
          key: orderId,
          payload: {
            orderId,
            number,
            customerId,
            email,
            total: totals.total,
            currency: cart.currency,
            at: now.toISOString(),
          },
        },
        ...stockStateEvents(storeId, reserved.changes, now),
      ],
      [...reserveWrites, items, reservations, history, checkedOut.write],
      [orderInsert, paymentInsert],
    );
  } catch (e) {
    if (isUniqueViolation(e, "orders_store_idempotency_key")) throw new IdempotencyKeyTaken();
    throw e;
  }
  const [orderJson, paymentJson] = returned;
  if (!orderJson || !paymentJson) throw new Error("order or payment insert returned nothing");
  const order = orderFromJson(orderJson);
  const payment = rowFromJson(payments, paymentJson);

  // Uses are counted once the order exists (a redemption points at it), in ascending code id order; a
  // refusal throws, and the whole step rolls back.
  const codes = pricing.discounts
    .filter((d) => d.applicable && d.id)
    .map((d) => d.id as string)
    .sort();
  for (const discountId of codes) {
    await deps.redemptions.consume(tx, {
      storeId,
      discountId,
      orderId,
      customerId,
      email: customerId ? null : email,
    });
  }
  const available = new Map([...reserved.after].map(([id, a]) => [id, a.available]));
  return { kind: "placed", order, payment, cart: checkedOut.cart, available };
}

/**
 * The idempotency key already names an order, found by the order's insert (not under the cart lock:
 * the order failed and gave this cart back, or belongs to another cart). The step's transaction is
 * aborted by then; the caller reads that order with orderByKey once it has rolled back.
 */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super("the idempotency key already names an order");
    this.name = "IdempotencyKeyTaken";
  }
}

export async function orderByKey(db: Executor, storeId: string, key: string): Promise<OrderRow | undefined> {
  const [row] = await db
    .select()
    .from(orders)
    .where(and(eq(orders.storeId, storeId), eq(orders.idempotencyKey, key)));
  return row;
}
