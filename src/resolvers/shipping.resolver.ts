import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { AddressInput } from "../schema/address.types.js";
import { Cart, CartPayload } from "../schema/cart.types.js";
import { Money } from "../schema/common.types.js";
import {
  ShippingMethod,
  ShippingMethodInput,
  ShippingMethodPayload,
  ShippingRate,
  TaxRate,
  TaxRateInput,
  TaxRatePayload,
} from "../schema/shipping.types.js";
import { cartPayload } from "./cart-payload.js";
import type { GraphQLContext } from "./context.js";
import { withUserErrors } from "./payload.js";

@Resolver(() => Cart)
export class CartShippingResolver {
  @FieldResolver(() => ShippingMethod, { nullable: true })
  async shippingMethod(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): Promise<ShippingMethod | null> {
    const id = cart.record.shippingMethodId;
    const method = id ? await ctx.loaders.shippingMethodById.load(id) : null;
    return method ? ShippingMethod.from(method, cart.currencyCode) : null;
  }

  @Query(() => [ShippingRate], {
    description: "Methods that ship to the cart's address (empty until one is set).",
  })
  async shippingRates(
    @Arg("cartId", () => ID) cartId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ShippingRate[]> {
    const { value } = await withUserErrors(() => ctx.services.shipping.ratesForCart(ctx, cartId));
    if (!value) return [];
    return value.rates.map((r) =>
      Object.assign(new ShippingRate(), {
        shippingMethod: ShippingMethod.from(r.method, value.cart.currency),
        price: Money.of(r.price, value.cart.currency),
      }),
    );
  }

  @Mutation(() => CartPayload)
  async cartShippingAddressUpdate(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("address", () => AddressInput) address: AddressInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    const { value, userErrors } = await withUserErrors(() =>
      ctx.services.shipping.setCartAddress(ctx, cartId, address),
    );
    return Object.assign(new CartPayload(), { cart: value ? Cart.from(value) : null, userErrors });
  }

  @Mutation(() => CartPayload)
  async cartShippingMethodSelect(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("shippingMethodId", () => ID) shippingMethodId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.shipping.selectCartMethod(ctx, cartId, shippingMethodId));
  }

  @Mutation(() => ShippingMethodPayload, { description: "Staff." })
  async shippingMethodCreate(
    @Arg("input", () => ShippingMethodInput) input: ShippingMethodInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ShippingMethodPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.shipping.createMethod(ctx, input));
    return Object.assign(new ShippingMethodPayload(), {
      shippingMethod: value ? ShippingMethod.from(value, ctx.store.currency) : null,
      userErrors,
    });
  }

  @Mutation(() => TaxRatePayload, { description: "Staff: creates or replaces the rate of a country/region." })
  async taxRateUpsert(
    @Arg("input", () => TaxRateInput) input: TaxRateInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TaxRatePayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.shipping.upsertTaxRate(ctx, input));
    return Object.assign(new TaxRatePayload(), { taxRate: value ? TaxRate.from(value) : null, userErrors });
  }
}
