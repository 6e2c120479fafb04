import { Arg, Ctx, Mutation, Query, Resolver } from "type-graphql";
import { describeOperation } from "../schema/operations.js";
import { Store, StorePayload, StoreSettingsInput } from "../schema/store.types.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";

@Resolver(() => Store)
export class StoreResolver {
  @Query(() => Store, {
    description: describeOperation(
      "store",
      "The store this request is for: the `x-store` header (WebSocket: connectionParams.store) names it by " +
        "handle; without one, the default store (DEFAULT_STORE, else the oldest). An unknown handle fails the " +
        "whole request with STORE_NOT_FOUND.",
    ),
  })
  store(@Ctx() ctx: GraphQLContext): Store {
    return Store.from(ctx.store);
  }

  @Mutation(() => StorePayload, {
    description: describeOperation(
      "storeSettingsUpdate",
      "Changes the store's settings: the reservation policy and hold time, and the fraud rules (given, they " +
        "replace every rule). Omitted fields keep their value. This instance applies them at once, others " +
        "within 30 seconds (their store cache).",
    ),
  })
  async storeSettingsUpdate(
    @Arg("input", () => StoreSettingsInput, { description: "The settings to change." })
    input: StoreSettingsInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<StorePayload> {
    const { value, userErrors } = await withUserErrors(() =>
      ctx.services.stores.updateSettings(ctx, {
        locale: input.locale,
        reservationPolicy:
          input.reservationPolicy === "CART"
            ? "cart"
            : input.reservationPolicy === "CHECKOUT"
              ? "checkout"
              : null,
        cartHoldMinutes: input.cartHoldMinutes,
        fraudRules: input.fraudRules
          ? {
              totalAbove: input.fraudRules.totalAbove ?? null,
              ordersInWindow: input.fraudRules.ordersInWindow ?? null,
              failedPaymentsInWindow: input.fraudRules.failedPaymentsInWindow ?? null,
              countryMismatch: input.fraudRules.countryMismatch ?? null,
              firstOrderAbove: input.fraudRules.firstOrderAbove ?? null,
              windowMinutes: input.fraudRules.windowMinutes ?? 60,
            }
          : null,
      }),
    );
    return Object.assign(new StorePayload(), { store: value ? Store.from(value) : null, userErrors });
  }
}
