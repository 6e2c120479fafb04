import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { Address } from "../schema/address.types.js";
import {
  AppliedDiscount,
  Cart,
  CartCost,
  CartCreateInput,
  CartLine,
  CartLineInput,
  CartLineUpdateInput,
  CartPayload,
  CartRecoverPayload,
  CartWarning,
  SavedItem,
  SavedItemsPayload,
} from "../schema/cart.types.js";
import { ProductVariant } from "../schema/catalog.types.js";
import { Money } from "../schema/common.types.js";
import { cartPayload } from "./cart-payload.js";
import type { GraphQLContext } from "./context.js";
import { primeFromCart } from "./loaders.js";
import { withUserErrors } from "./payload.js";

@Resolver(() => Cart)
export class CartResolver {
  @Query(() => Cart, { nullable: true, description: "A cart of the caller (customer or guest session)." })
  async cart(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Cart | null> {
    const record = await ctx.services.carts.get(ctx, id);
    return record ? Cart.from(record) : null;
  }

  @Query(() => Cart, { nullable: true, description: "The caller's open cart, if any." })
  async myCart(@Ctx() ctx: GraphQLContext): Promise<Cart | null> {
    const record = await ctx.services.carts.mine(ctx);
    return record ? Cart.from(record) : null;
  }

  @Mutation(() => CartPayload)
  cartCreate(
    @Arg("input", () => CartCreateInput, { nullable: true }) input: CartCreateInput | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.create(ctx, { lines: input?.lines, email: input?.email }));
  }

  @Mutation(() => CartPayload)
  cartLinesAdd(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("lines", () => [CartLineInput]) lines: CartLineInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.addLines(ctx, cartId, lines));
  }

  @Mutation(() => CartPayload, { description: "Sets line quantities; 0 removes the line." })
  cartLinesUpdate(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("lines", () => [CartLineUpdateInput]) lines: CartLineUpdateInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.updateLines(ctx, cartId, lines));
  }

  @Mutation(() => CartPayload)
  cartLinesRemove(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("lineIds", () => [ID]) lineIds: string[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.removeLines(ctx, cartId, lineIds));
  }

  @Mutation(() => CartPayload, { description: "Contact email of a (guest) cart." })
  cartEmailUpdate(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("email", () => String) email: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.setEmail(ctx, cartId, email));
  }

  @Mutation(() => CartRecoverPayload, {
    description:
      "Opens the cart of an abandoned-cart email's link. A guest cart moves to the caller's guest session (a new one for anyone else; its token is returned); a customer's cart is returned only to that customer, signed in.",
  })
  async cartRecover(
    @Arg("token", () => String) token: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartRecoverPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.cartRecovery.recover(ctx, token));
    return Object.assign(new CartRecoverPayload(), {
      token: value?.token ?? null,
      cart: value ? Cart.from(value.cart) : null,
      userErrors,
    });
  }

  @Mutation(() => CartPayload, { description: "Moves a line to the customer's saved items." })
  cartLineSaveForLater(
    @Arg("cartId", () => ID) cartId: string,
    @Arg("lineId", () => ID) lineId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.savedItems.saveLine(ctx, cartId, lineId));
  }

  @Mutation(() => CartPayload, { description: "Moves a saved item back into a cart at today's price." })
  savedItemMoveToCart(
    @Arg("savedItemId", () => ID) savedItemId: string,
    @Arg("cartId", () => ID) cartId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.savedItems.moveToCart(ctx, savedItemId, cartId));
  }

  @Mutation(() => SavedItemsPayload)
  async savedItemRemove(
    @Arg("savedItemId", () => ID) savedItemId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<SavedItemsPayload> {
    const { value, userErrors } = await withUserErrors(() =>
      ctx.services.savedItems.remove(ctx, savedItemId),
    );
    return Object.assign(new SavedItemsPayload(), {
      savedItems: (value ?? []).map(SavedItem.from),
      userErrors,
    });
  }

  @Query(() => [SavedItem], { description: "The signed-in customer's saved items." })
  async savedItems(@Ctx() ctx: GraphQLContext): Promise<SavedItem[]> {
    return (await ctx.services.savedItems.list(ctx)).map(SavedItem.from);
  }

  @FieldResolver(() => [CartLine])
  lines(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): CartLine[] {
    primeFromCart(ctx.loaders, cart.record);
    return cart.record.lines.map((l) => CartLine.from(cart.record, l));
  }

  @FieldResolver(() => CartCost)
  async cost(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): Promise<CartCost> {
    const { totals } = (await ctx.loaders.cartPricing.load(cart.record)).result;
    const m = (amount: number) => Money.of(amount, cart.currencyCode);
    return Object.assign(new CartCost(), {
      subtotal: m(totals.subtotal),
      discount: m(totals.discount),
      shipping: m(totals.shipping),
      tax: m(totals.tax),
      shippingTax: m(totals.shippingTax),
      total: m(totals.total),
    });
  }

  @FieldResolver(() => [CartWarning])
  async warnings(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): Promise<CartWarning[]> {
    const pricing = await ctx.loaders.cartPricing.load(cart.record);
    return pricing.warnings.map((w) => Object.assign(new CartWarning(), w));
  }

  @FieldResolver(() => [AppliedDiscount])
  async discountCodes(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): Promise<AppliedDiscount[]> {
    const pricing = await ctx.loaders.cartPricing.load(cart.record);
    return pricing.result.discounts.map((d) =>
      Object.assign(new AppliedDiscount(), {
        code: d.code,
        type: d.type,
        amount: Money.of(d.amount, cart.currencyCode),
        applicable: d.applicable,
        reason: d.reason,
        requiredAmount: d.requiredAmount !== undefined ? Money.of(d.requiredAmount, cart.currencyCode) : null,
      }),
    );
  }

  @FieldResolver(() => Address, { nullable: true })
  shippingAddress(@Root() cart: Cart): Address | null {
    return cart.record.shippingAddress ? Address.from(cart.record.shippingAddress) : null;
  }
}

async function loadVariant(ctx: GraphQLContext, variantId: string): Promise<ProductVariant> {
  const variant = await ctx.loaders.variantById.load(variantId);
  // Lines reference variants by foreign key within the store, so this cannot be missing.
  if (!variant) throw new Error(`variant ${variantId} of a cart line not found`);
  return ProductVariant.from(variant);
}

@Resolver(() => SavedItem)
export class SavedItemResolver {
  @FieldResolver(() => ProductVariant)
  variant(@Root() item: SavedItem, @Ctx() ctx: GraphQLContext): Promise<ProductVariant> {
    return loadVariant(ctx, item.record.variantId);
  }
}

@Resolver(() => CartLine)
export class CartLineResolver {
  @FieldResolver(() => ProductVariant)
  variant(@Root() line: CartLine, @Ctx() ctx: GraphQLContext): Promise<ProductVariant> {
    return loadVariant(ctx, line.record.variantId);
  }

  @FieldResolver(() => Money, { description: "What the variant costs now." })
  async currentUnitPrice(@Root() line: CartLine, @Ctx() ctx: GraphQLContext): Promise<Money> {
    const priced = (await ctx.loaders.cartPricing.load(line.cart)).lines.get(line.id);
    return Money.of(priced?.currentUnitPrice ?? line.record.unitPrice, line.cart.currency);
  }

  @FieldResolver(() => Boolean, { description: "The current price differs from the captured one." })
  async priceChanged(@Root() line: CartLine, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return (await ctx.loaders.cartPricing.load(line.cart)).lines.get(line.id)?.priceChanged ?? false;
  }

  @FieldResolver(() => Money, { description: "This line's share of the cart's discounts." })
  async discountAllocation(@Root() line: CartLine, @Ctx() ctx: GraphQLContext): Promise<Money> {
    const priced = (await ctx.loaders.cartPricing.load(line.cart)).lines.get(line.id);
    return Money.of(priced?.discount ?? 0, line.cart.currency);
  }

  @FieldResolver(() => Money, {
    description:
      "The tax allocated to this line: the cart's tax is computed once on the whole taxable amount and split " +
      "over the lines (by quantity × unitPrice - discountAllocation) and shipping, largest remainder first, " +
      "so Σ lines' tax + cost.shippingTax = cost.tax exactly. 0 until the cart has a shipping address.",
  })
  async tax(@Root() line: CartLine, @Ctx() ctx: GraphQLContext): Promise<Money> {
    const priced = (await ctx.loaders.cartPricing.load(line.cart)).lines.get(line.id);
    return Money.of(priced?.tax ?? 0, line.cart.currency);
  }

  @FieldResolver(() => Money, { description: "quantity × unitPrice - discountAllocation (before tax)." })
  async total(@Root() line: CartLine, @Ctx() ctx: GraphQLContext): Promise<Money> {
    const priced = (await ctx.loaders.cartPricing.load(line.cart)).lines.get(line.id);
    const subtotal = line.record.unitPrice * line.record.quantity;
    return Money.of(subtotal - (priced?.discount ?? 0), line.cart.currency);
  }
}
