/** Staff subscriptions: the store's live feed and its low-stock alerts. */
import { GraphQLError } from "graphql";
import { Arg, Ctx, Resolver, Root, type SubscribeResolverData, Subscription } from "type-graphql";
import { ProductVariant } from "../schema/catalog.types.js";
import { LowStockAlert, StoreEvent, StoreEventType } from "../schema/feed.types.js";
import { describeOperation } from "../schema/operations.js";
import { ForbiddenError, UnauthenticatedError } from "../services/errors.js";
import type {
  StoreEvent as StoreEventRecord,
  StoreEventType as StoreEventTypeValue,
} from "../services/events/store-feed.js";
import type { StockState } from "../services/inventory/stock.js";
import type { GraphQLContext } from "./context.js";

async function feed(
  context: GraphQLContext,
  types: readonly StoreEventTypeValue[] | null,
): Promise<AsyncIterable<StoreEventRecord>> {
  try {
    // Ended by graphql-ws calling return() on the iterator when the client unsubscribes or leaves.
    return await context.services.storeFeed.subscribe(context, types, new AbortController().signal);
  } catch (e) {
    if (e instanceof ForbiddenError || e instanceof UnauthenticatedError) {
      throw new GraphQLError(e.message, { extensions: { code: "FORBIDDEN" } });
    }
    throw e;
  }
}

@Resolver()
export class FeedResolver {
  @Subscription(() => StoreEvent, {
    subscribe: ({
      args,
      context,
    }: SubscribeResolverData<unknown, { types?: StoreEventTypeValue[] | null }, GraphQLContext>) =>
      feed(context, args.types ?? null),
    description: describeOperation(
      "storeEvents",
      "The store's events as they commit, each once, for a merchant dashboard (over graphql-ws), optionally " +
        "only some types. Anyone but staff gets a FORBIDDEN error.",
    ),
  })
  storeEvents(
    @Root() event: StoreEventRecord,
    @Arg("types", () => [StoreEventType], {
      nullable: true,
      description: "Only these kinds of events; null or empty: all.",
    })
    _types: StoreEventTypeValue[] | null,
  ): StoreEvent {
    return Object.assign(new StoreEvent(), { ...event, id: String(event.id) });
  }

  @Subscription(() => LowStockAlert, {
    subscribe: ({ context }: SubscribeResolverData<unknown, Record<string, never>, GraphQLContext>) =>
      feed(context, ["STOCK_STATE_CHANGED"]),
    description: describeOperation(
      "lowStockAlerts",
      "One alert each time a variant's sellable stock crosses its low-stock threshold downward, sells out, or " +
        "comes back (never one per order), over graphql-ws. Anyone but staff gets a FORBIDDEN error.",
    ),
  })
  async lowStockAlerts(@Root() event: StoreEventRecord, @Ctx() ctx: GraphQLContext): Promise<LowStockAlert> {
    const p = event.payload as { from: StockState; to: StockState; available: number; threshold: number };
    const row = event.variantId ? await ctx.loaders.variantById.load(event.variantId) : null;
    if (!row) throw new Error(`variant ${event.variantId} of a stock event not found`);
    return Object.assign(new LowStockAlert(), {
      variant: ProductVariant.from(row),
      from: p.from,
      to: p.to,
      available: p.available,
      threshold: p.threshold,
      at: event.at,
    });
  }
}
