import { Arg, Ctx, Mutation, Query, Resolver } from "type-graphql";
import { Store, StorePayload, StoreSettingsInput } from "../schema/store.types.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";

@Resolver(() => Store)
export class StoreResolver {
  @Query(() => Store, { description: "The store this request is for (x-store header, else the default)." })
  store(@Ctx() ctx: GraphQLContext): Store {
    return Store.from(ctx.store);
  }

  @Mutation(() => StorePayload, {
    description:
      "Staff (owner or admin): changes the store's settings. Errors: INVALID_INPUT; FORBIDDEN for others.",
  })
  async storeSettingsUpdate(
    @Arg("input", () => StoreSettingsInput) input: StoreSettingsInput,
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
