/**
 * Live price changes for one cart: listens to the store's `variant.price_changed` events (published by
 * the outbox relay) and yields one change per line of the cart holding that variant. The cart is
 * re-read on each event, so lines added or removed after subscribing are taken into account; the
 * re-reads of all subscribers of one event go out together (CartService.getBatched). A re-read that
 * fails (the database is briefly away) skips that event for that subscriber: the stream goes on.
 */

import { RecentIds } from "../../infra/recent-ids.js";
import { VARIANT_PRICE_CHANGED } from "../catalog.service.js";
import type { ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ErrorCode, userError } from "../errors.js";
import { isOutboxMessage, storeChannel } from "../outbox.js";
import type { CartService } from "./cart.service.js";
import type { CartLineRecord, CartRecord } from "./cart.types.js";

export interface CartPriceChange {
  cart: CartRecord;
  line: CartLineRecord;
  previousUnitPrice: number;
  newUnitPrice: number;
  at: Date;
}

export class CartPriceEvents {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly carts: CartService,
  ) {}

  /** Fails with NOT_FOUND unless the caller owns the cart; then streams until `signal` aborts. */
  async subscribe(
    ctx: ServiceContext,
    cartId: string,
    signal: AbortSignal,
  ): Promise<AsyncIterable<CartPriceChange>> {
    const cart = await this.carts.get(ctx, cartId);
    if (!cart) throw userError(ErrorCode.NOT_FOUND, "Cart not found", { field: ["cartId"] });
    const subscription = this.deps.infra.pubsub.subscribe(
      storeChannel(VARIANT_PRICE_CHANGED, ctx.store.id),
      signal,
    );
    await subscription.ready;
    const carts = this.carts;
    const logger = this.deps.logger;
    const seen = new RecentIds<number>();
    return {
      async *[Symbol.asyncIterator]() {
        for await (const message of subscription) {
          // Delivery is at least once: an event republished after a relay failure is dropped here.
          if (!isOutboxMessage(message) || !seen.add(message.id)) continue;
          const { variantId, previousPrice, newPrice } = message.payload;
          if (typeof variantId !== "string" || typeof newPrice !== "number") continue;
          let current: CartRecord | null;
          try {
            current = await carts.getBatched(ctx, cart.id);
          } catch (err) {
            logger.warn({ err, cartId: cart.id, eventId: message.id }, "cart re-read failed; event skipped");
            continue;
          }
          if (!current) return; // no longer the caller's (or gone): end the stream
          for (const line of current.lines.filter((l) => l.variantId === variantId)) {
            yield {
              cart: current,
              line,
              previousUnitPrice: typeof previousPrice === "number" ? previousPrice : line.unitPrice,
              newUnitPrice: newPrice,
              at: new Date(message.occurredAt),
            };
          }
        }
      },
    };
  }
}
