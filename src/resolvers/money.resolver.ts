/**
 * Money as people read it. The store of the request is in the context (resolved before the operation
 * runs), so formatting costs no statement: `formatted` is the one place a Money is turned into text for
 * clients, with the same formatter the services' messages use.
 */
import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import { Money, UserError } from "../schema/common.types.js";
import { formatMoney } from "../services/money-format.js";
import type { GraphQLContext } from "./context.js";

@Resolver(() => Money)
export class MoneyResolver {
  @FieldResolver(() => String, {
    description:
      "The amount written for people, in the store's `locale` and this currency's own number of decimals " +
      '(Intl.NumberFormat), e.g. "$19.99", "1.234,56 €", "¥1,500". For display only: compute with `amount`.',
  })
  formatted(@Root() money: Money, @Ctx() ctx: GraphQLContext): string {
    return formatMoney(money.amount, money.currencyCode, ctx.store.locale);
  }
}

@Resolver(() => UserError)
export class UserErrorResolver {
  @FieldResolver(() => Money, {
    nullable: true,
    description:
      "An amount the request must reach or stay within, in the store's currency: a discount's minimum order " +
      "(DISCOUNT_MIN_ORDER_NOT_MET), the total to confirm (PRICE_CHANGED), a cart's value limit " +
      "(CART_LIMIT_REACHED), what is left to refund.",
  })
  requiredAmount(@Root() error: UserError, @Ctx() ctx: GraphQLContext): Money | null {
    const amount = error.requiredMinorUnits;
    return amount === undefined || amount === null ? null : Money.of(amount, ctx.store.currency);
  }
}
