/**
 * The subscription feeds the subscriptions scenario can measure. A feed says what each subscriber
 * subscribes to (document, connectionParams authorization, variables), which mutation causes an event,
 * and how a delivery is matched to the event that caused it.
 *
 * `order-status` (the default) is the store's order feed: `orderStatusChanged` with orderId omitted,
 * which staff receive for every order of the store. N staff connections subscribe; each event is a
 * checkoutComplete of a ready cart, and the delivery measured is its CONFIRMED status change.
 *
 * `cart-price`: each subscriber is a guest with its own cart holding the feed's variant; staff
 * `variantPriceUpdate` of that variant reaches every one of them (cartPriceChanged).
 */
import type { BenchContext } from "./context.js";
import { expectData } from "./graphql-client.js";
import {
  type CheckoutPayloadShape,
  checkoutProblem,
  checkoutVariables,
  createCart,
  guestToken,
  mapLimit,
  Q_CHECKOUT,
  Q_PRICE_UPDATE,
  type ReadyCart,
  ReadyCartBuilder,
  raiseStock,
  type UserErrorShape,
  variantStock,
} from "./shop-api.js";

export const FEED_NAMES = ["cart-price", "order-status"] as const;
export type FeedName = (typeof FEED_NAMES)[number];

export interface FeedSubscriber {
  /** connectionParams.authorization, e.g. `Bearer <token>`. */
  authorization: string;
  variables: Record<string, unknown>;
}

export interface FiredEvent {
  /** performance.now() when the mutation was sent and when its response (its commit) came back. */
  sentAt: number;
  respondedAt: number;
  /** What deliveries of this event carry (see Feed.keyOf). */
  key: string;
}

export interface PreparedFeed {
  subscribers: FeedSubscriber[];
  /** Sends the i-th triggering mutation and resolves at its response. */
  fire(i: number): Promise<FiredEvent>;
  /** Undoes what the feed changed (prices). */
  cleanup(): Promise<void>;
}

export interface Feed {
  name: FeedName;
  /** The subscription every subscriber sends. */
  document: string;
  /** What the trigger was, for the results file. */
  trigger: string;
  /** Key of the event a delivery belongs to; undefined for deliveries that count for no event. */
  keyOf(data: unknown): string | undefined;
  /** `events` triggers will be fired (plus one unrecorded first one that proves every subscriber is live). */
  prepare(ctx: BenchContext, subscribers: number, events: number): Promise<PreparedFeed>;
}

const CART_PRICE_DOCUMENT = `subscription Prices($cartId: ID!) {
  cartPriceChanged(cartId: $cartId) { cartId newUnitPrice { amount } }
}`;

const cartPriceFeed: Feed = {
  name: "cart-price",
  document: CART_PRICE_DOCUMENT,
  trigger: "staff variantPriceUpdate of a variant every subscriber's cart holds",
  keyOf(data) {
    const amount = (data as { cartPriceChanged?: { newUnitPrice?: { amount?: number } } }).cartPriceChanged
      ?.newUnitPrice?.amount;
    return amount === undefined ? undefined : String(amount);
  },
  async prepare(ctx, subscribers) {
    const { client } = ctx;
    const staff = await ctx.staffToken();
    const variant = (await ctx.variants()).subscription;
    await raiseStock(client, staff, [variant], 10);
    const basePrice = (await variantStock(client, staff, variant.id)).price;
    const carts = await mapLimit(Array.from({ length: subscribers }), 16, async () => {
      const token = await guestToken(client);
      return { token, cartId: await createCart(client, token, [{ variantId: variant.id, quantity: 1 }]) };
    });
    const setPrice = async (price: number) => {
      const data = expectData(
        await client.post<{ variantPriceUpdate: { userErrors: UserErrorShape[] } }>(
          Q_PRICE_UPDATE,
          { variantId: variant.id, price },
          staff,
        ),
        "variantPriceUpdate",
      );
      if (data.variantPriceUpdate.userErrors.length > 0) {
        throw new Error(`variantPriceUpdate: ${JSON.stringify(data.variantPriceUpdate.userErrors)}`);
      }
    };
    return {
      subscribers: carts.map((c) => ({
        authorization: `Bearer ${c.token}`,
        variables: { cartId: c.cartId },
      })),
      async fire(i) {
        // A new price per event, so every delivery names its event.
        const price = basePrice + 1 + i;
        const sentAt = performance.now();
        await setPrice(price);
        return { sentAt, respondedAt: performance.now(), key: String(price) };
      },
      cleanup: () => setPrice(basePrice),
    };
  },
};

/** Every order of the store (staff, orderId omitted). */
const ORDER_FEED_DOCUMENT = `subscription OrderFeed {
  orderStatusChanged { from to order { id status } }
}`;

/** The order id of a delivery that reports the CONFIRMED change (the one checkout's response reports). */
function orderFeedKey(data: unknown): string | undefined {
  const event = (data as { orderStatusChanged?: { to?: string; order?: { id?: string } } })
    .orderStatusChanged;
  // One checkout changes the status more than once; the event measured is the one its response reports.
  return event?.to === "CONFIRMED" ? event.order?.id : undefined;
}

const orderStatusFeed: Feed = {
  name: "order-status",
  document: ORDER_FEED_DOCUMENT,
  trigger: "checkoutComplete of a ready 1-line guest cart (the order's CONFIRMED status change)",
  keyOf: orderFeedKey,
  async prepare(ctx, subscribers, events) {
    const { client } = ctx;
    const staff = await ctx.staffToken();
    const variant = (await ctx.variants()).subscription;
    await raiseStock(client, staff, [variant], 1_000);
    const builder = new ReadyCartBuilder(client);
    const carts: ReadyCart[] = await mapLimit(Array.from({ length: events + 1 }), 4, (_, i) =>
      builder.build([{ variantId: variant.id, quantity: 1 }], `feed-${i}@bench.example`),
    );
    const tag = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    return {
      subscribers: Array.from({ length: subscribers }, () => ({
        authorization: `Bearer ${staff}`,
        variables: {},
      })),
      async fire(i) {
        const cart = carts[i];
        if (!cart) throw new Error(`order-status feed: no ready cart for event ${i}`);
        const sentAt = performance.now();
        const res = await client.post<CheckoutPayloadShape>(
          Q_CHECKOUT,
          checkoutVariables(cart.cartId, `bench-feed-${tag}-${i}`),
          cart.token,
        );
        const respondedAt = performance.now();
        const data = expectData(res, "checkoutComplete");
        const problem = checkoutProblem(data);
        if (problem) throw new Error(`order-status feed: checkoutComplete answered ${problem}`);
        return { sentAt, respondedAt, key: data.checkoutComplete.order!.id };
      },
      cleanup: async () => {},
    };
  },
};

export function feedNamed(name: FeedName): Feed {
  return name === "cart-price" ? cartPriceFeed : orderStatusFeed;
}
