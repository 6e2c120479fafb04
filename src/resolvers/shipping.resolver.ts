import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { AddressInput } from "../schema/address.types.js";
import { Cart, CartPayload } from "../schema/cart.types.js";
import { Money } from "../schema/common.types.js";
import { describeOperation } from "../schema/operations.js";
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
  @FieldResolver(() => ShippingMethod, {
    nullable: true,
    description: "The selected shipping method (cartShippingMethodSelect); null until one is chosen.",
  })
  async shippingMethod(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): Promise<ShippingMethod | null> {
    const id = cart.record.shippingMethodId;
    const method = id ? await ctx.loaders.shippingMethodById.load(id) : null;
    return method ? ShippingMethod.from(method, cart.currencyCode) : null;
  }

  @Query(() => [ShippingRate], {
    description: describeOperation(
      "shippingRates",
      "The active shipping methods that serve the cart's shipping address country, cheapest first, each " +
        "with its price for this cart (0 once the cart reaches its freeOver threshold). Empty until the cart " +
        "has an address, and for a cart that is not the caller's.",
    ),
  })
  async shippingRates(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
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

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartShippingAddressUpdate",
      "Sets where the cart ships, which also picks its tax rate. A selected shipping method that does not " +
        "serve the new country is cleared, with a SHIPPING_METHOD_UNAVAILABLE warning on the cart.",
    ),
  })
  async cartShippingAddressUpdate(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("address", () => AddressInput, { description: "The shipping address." }) address: AddressInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    const { value, userErrors } = await withUserErrors(() =>
      ctx.services.shipping.setCartAddress(ctx, cartId, address),
    );
    return Object.assign(new CartPayload(), { cart: value ? Cart.from(value) : null, userErrors });
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartShippingMethodSelect",
      "Chooses how the cart ships: an active method of this store that serves the cart's address country " +
        "(set the address first: SHIPPING_ADDRESS_REQUIRED).",
    ),
  })
  async cartShippingMethodSelect(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("shippingMethodId", () => ID, { description: "A method from shippingRates." })
    shippingMethodId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.shipping.selectCartMethod(ctx, cartId, shippingMethodId));
  }

  @Mutation(() => ShippingMethodPayload, {
    description: describeOperation(
      "shippingMethodCreate",
      "Creates a shipping method: a flat rate for a zone of countries, optionally free from a subtotal. Every " +
        "problem comes back at once.",
    ),
  })
  async shippingMethodCreate(
    @Arg("input", () => ShippingMethodInput, { description: "The method." }) input: ShippingMethodInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ShippingMethodPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.shipping.createMethod(ctx, input));
    return Object.assign(new ShippingMethodPayload(), {
      shippingMethod: value ? ShippingMethod.from(value, ctx.store.currency) : null,
      userErrors,
    });
  }

  @Mutation(() => TaxRatePayload, {
    description: describeOperation(
      "taxRateUpsert",
      "Creates or replaces the tax rate of a country, or of one region of it. A cart or order is taxed at " +
        "its address's region rate if there is one, else the country-wide rate, else 0. Carts are repriced " +
        "on their next read.",
    ),
  })
  async taxRateUpsert(
    @Arg("input", () => TaxRateInput, { description: "The rate." }) input: TaxRateInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<TaxRatePayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.shipping.upsertTaxRate(ctx, input));
    return Object.assign(new TaxRatePayload(), { taxRate: value ? TaxRate.from(value) : null, userErrors });
  }
}
