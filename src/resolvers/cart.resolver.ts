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
import { describeOperation } from "../schema/operations.js";
import { cartPayload } from "./cart-payload.js";
import type { GraphQLContext } from "./context.js";
import { primeFromCart } from "./loaders.js";
import { withUserErrors } from "./payload.js";

@Resolver(() => Cart)
export class CartResolver {
  @Query(() => Cart, {
    nullable: true,
    description: describeOperation(
      "cart",
      "A cart of the caller (its guest session or customer), in any status; null when the id is unknown, " +
        "malformed or someone else's.",
    ),
  })
  async cart(
    @Arg("id", () => ID, { description: "The cart's id." }) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Cart | null> {
    const record = await ctx.services.carts.get(ctx, id);
    return record ? Cart.from(record) : null;
  }

  @Query(() => Cart, {
    nullable: true,
    description: describeOperation(
      "myCart",
      "The caller's most recently changed open (ACTIVE or ABANDONED) cart; null when there is none, and for " +
        "anonymous and staff callers.",
    ),
  })
  async myCart(@Ctx() ctx: GraphQLContext): Promise<Cart | null> {
    const record = await ctx.services.carts.mine(ctx);
    return record ? Cart.from(record) : null;
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartCreate",
      "Creates a cart, optionally with lines (each at the variant's current price) and a contact email. A " +
        "customer has at most one open cart: for a customer this returns that cart, with the lines added, if " +
        "there is one. A guest session may hold up to GUEST_MAX_OPEN_CARTS open carts (CART_LIMIT_REACHED), " +
        "and one client address may create CARTS_PER_IP_PER_HOUR guest carts an hour (RATE_LIMITED). Stock is " +
        "checked, not held, unless the store holds stock from add-to-cart (reservationPolicy CART).",
    ),
  })
  cartCreate(
    @Arg("input", () => CartCreateInput, { nullable: true, description: "Lines and email; both optional." })
    input: CartCreateInput | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.create(ctx, { lines: input?.lines, email: input?.email }));
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartLinesAdd",
      "Adds units to a cart. Units of a variant with the same options as an existing line add to that line " +
        "(which then takes the lower of its captured and the current price); otherwise a new line captures " +
        "the current price. All or nothing: every problem comes back at once, each naming its line (lines.N). " +
        "Stock is checked per variant across its lines. An ABANDONED cart becomes ACTIVE again.",
    ),
  })
  cartLinesAdd(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("lines", () => [CartLineInput], { description: "1 to 100 lines to add." }) lines: CartLineInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.addLines(ctx, cartId, lines));
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartLinesUpdate",
      "Sets the quantities of lines of a cart; 0 removes a line. Captured prices stay. A quantity that grows " +
        "is checked against stock, and its variant must still be for sale. All or nothing.",
    ),
  })
  cartLinesUpdate(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("lines", () => [CartLineUpdateInput], { description: "1 to 100 lines with their new quantities." })
    lines: CartLineUpdateInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.updateLines(ctx, cartId, lines));
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartLinesRemove",
      "Removes lines from a cart (their held stock, if any, goes back). All or nothing: an id that is not a " +
        "line of this cart is NOT_FOUND at lineIds.N.",
    ),
  })
  cartLinesRemove(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("lineIds", () => [ID], { description: "1 to 100 line ids of this cart." }) lineIds: string[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.removeLines(ctx, cartId, lineIds));
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartEmailUpdate",
      "Sets a cart's contact email: where a guest's order confirmation and abandoned-cart email go, and who " +
        "a guest's per-customer discount limits count for. (A customer's checkout uses the account's email.)",
    ),
  })
  cartEmailUpdate(
    @Arg("cartId", () => ID, { description: "A cart of the caller." }) cartId: string,
    @Arg("email", () => String, { description: "An email address; stored trimmed and lower-case." })
    email: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.carts.setEmail(ctx, cartId, email));
  }

  @Mutation(() => CartRecoverPayload, {
    description: describeOperation(
      "cartRecover",
      "Opens the cart of an abandoned-cart email's link. A guest cart moves to the caller's guest session " +
        "(to a new one for anyone else, whose token is returned: use it from then on); the session that filled " +
        "it loses it. A customer's cart is returned only to that customer, signed in: anyone else not signed " +
        "in as a customer gets FORBIDDEN, another customer NOT_FOUND. A bad or expired link changes nothing.",
    ),
  })
  async cartRecover(
    @Arg("token", () => String, { description: "The `token` query parameter of the email's link." })
    token: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartRecoverPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.cartRecovery.recover(ctx, token));
    return Object.assign(new CartRecoverPayload(), {
      token: value?.token ?? null,
      cart: value ? Cart.from(value.cart) : null,
      userErrors,
    });
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "cartLineSaveForLater",
      "Moves a line out of the cart into the customer's saved items (quantities of the same variant and " +
        "options already saved add up, capped at 999). The line's captured price is not kept.",
    ),
  })
  cartLineSaveForLater(
    @Arg("cartId", () => ID, { description: "A cart of the customer." }) cartId: string,
    @Arg("lineId", () => ID, { description: "A line of that cart." }) lineId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.savedItems.saveLine(ctx, cartId, lineId));
  }

  @Mutation(() => CartPayload, {
    description: describeOperation(
      "savedItemMoveToCart",
      "Moves a saved item back into a cart at today's price, after the same checks as cartLinesAdd (stock, " +
        "for sale, limits); the saved item goes in the same transaction. Errors on the added line are reported " +
        "at lines.0.",
    ),
  })
  savedItemMoveToCart(
    @Arg("savedItemId", () => ID, { description: "One of the customer's saved items." }) savedItemId: string,
    @Arg("cartId", () => ID, { description: "A cart of the customer." }) cartId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CartPayload> {
    return cartPayload(() => ctx.services.savedItems.moveToCart(ctx, savedItemId, cartId));
  }

  @Mutation(() => SavedItemsPayload, {
    description: describeOperation(
      "savedItemRemove",
      "Deletes one of the customer's saved items; answers with the saved items left.",
    ),
  })
  async savedItemRemove(
    @Arg("savedItemId", () => ID, { description: "One of the customer's saved items." }) savedItemId: string,
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

  @Query(() => [SavedItem], {
    description: describeOperation(
      "savedItems",
      "The signed-in customer's saved items, oldest first. Anyone else gets a GraphQL error: UNAUTHENTICATED " +
        "without a token, FORBIDDEN with a guest or staff token.",
    ),
  })
  async savedItems(@Ctx() ctx: GraphQLContext): Promise<SavedItem[]> {
    return (await ctx.services.savedItems.list(ctx)).map(SavedItem.from);
  }

  @FieldResolver(() => [CartLine], { description: "The cart's lines, in the order they were added." })
  lines(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): CartLine[] {
    primeFromCart(ctx.loaders, cart.record);
    return cart.record.lines.map((l) => CartLine.from(cart.record, l));
  }

  @FieldResolver(() => CartCost, { description: "What the cart costs now (recomputed on every read)." })
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

  @FieldResolver(() => [CartWarning], {
    description:
      "What the shopper should know, recomputed on every read: lines out of stock, no longer for sale or whose " +
      "price changed, codes that do not apply, a shipping method that does not serve the address; and what the " +
      "last automatic change did (a merge at sign-in, a failed checkout, a released hold), until the next change.",
  })
  async warnings(@Root() cart: Cart, @Ctx() ctx: GraphQLContext): Promise<CartWarning[]> {
    const pricing = await ctx.loaders.cartPricing.load(cart.record);
    return pricing.warnings.map((w) => Object.assign(new CartWarning(), w));
  }

  @FieldResolver(() => [AppliedDiscount], {
    description: "The codes applied to the cart, in application order, each with what it gives now.",
  })
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

  @FieldResolver(() => Address, {
    nullable: true,
    description: "Where the cart ships (cartShippingAddressUpdate); null until set.",
  })
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
  @FieldResolver(() => ProductVariant, { description: "The saved variant, as it is now." })
  variant(@Root() item: SavedItem, @Ctx() ctx: GraphQLContext): Promise<ProductVariant> {
    return loadVariant(ctx, item.record.variantId);
  }
}

@Resolver(() => CartLine)
export class CartLineResolver {
  @FieldResolver(() => ProductVariant, { description: "The line's variant, as it is now." })
  variant(@Root() line: CartLine, @Ctx() ctx: GraphQLContext): Promise<ProductVariant> {
    return loadVariant(ctx, line.record.variantId);
  }

  @FieldResolver(() => Money, { description: "What the variant costs now (what checkout would charge)." })
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
