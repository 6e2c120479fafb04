import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { StoreRef } from "../services/context.js";
import { DEFAULT_STORE_SETTINGS } from "../services/store-settings.js";
import { Payload } from "./common.types.js";

export const ReservationPolicy = { CHECKOUT: "CHECKOUT", CART: "CART" } as const;
export type ReservationPolicyValue = keyof typeof ReservationPolicy;
registerEnumType(ReservationPolicy, {
  name: "ReservationPolicy",
  description: "When the store holds stock for a shopper.",
  valuesConfig: {
    CHECKOUT: {
      description: "At checkout, for the order, until it is paid or its reservation expires (default).",
    },
    CART: {
      description:
        "From add-to-cart, for cartHoldMinutes after the cart's last change: shoppers learn 'sold out' before they pay (drops, flash sales).",
    },
  },
});

@ObjectType({ description: "A shop: its own catalog, customers, carts and orders." })
export class Store {
  @Field(() => ID, { description: "The store's id." })
  id: string;

  @Field(() => String, { description: "What clients send in the x-store header." })
  handle: string;

  @Field(() => String, { description: "The store's display name." })
  name: string;

  @Field(() => String, { description: "ISO 4217 code every price of the store is in." })
  currencyCode: string;

  @Field(() => String, {
    description:
      'BCP 47 language tag (canonical form, default "en-US") every `Money.formatted` and every message ' +
      "that names an amount is written in. Staff set it with storeSettingsUpdate.",
  })
  locale: string;

  @Field(() => ReservationPolicy, { description: "When the store holds stock for a shopper." })
  reservationPolicy: ReservationPolicyValue;

  @Field(() => Int, {
    description: "With reservationPolicy CART: minutes a cart holds stock after its last change.",
  })
  cartHoldMinutes: number;

  static from(s: StoreRef): Store {
    const reservation = (s.settings ?? DEFAULT_STORE_SETTINGS).reservation;
    return Object.assign(new Store(), {
      id: s.id,
      handle: s.handle,
      name: s.name,
      currencyCode: s.currency,
      locale: s.locale,
      reservationPolicy: reservation.policy === "cart" ? "CART" : "CHECKOUT",
      cartHoldMinutes: reservation.holdMinutes,
    });
  }
}

export const FraudAction = { REVIEW: "REVIEW", REJECT: "REJECT" } as const;
registerEnumType(FraudAction, {
  name: "FraudAction",
  description: "What a fraud rule does when it matches.",
  valuesConfig: {
    REVIEW: { description: "Hold the order, authorised but not captured, for a staff review." },
    REJECT: { description: "Void the authorisation and cancel the order (the shopper is not told why)." },
  },
});

@InputType({ description: "A fraud rule on an amount (minor units)." })
export class FraudAmountRuleInput {
  @Field(() => Int, {
    description: "Minor units of the store currency, 0 to 1,000,000,000; matches above it.",
  })
  amount: number;

  @Field(() => FraudAction, { description: "What happens to an order the rule matches." })
  action: keyof typeof FraudAction;
}

@InputType({ description: "A fraud rule on a count within the rules' window." })
export class FraudCountRuleInput {
  @Field(() => Int, { description: "0 to 100,000; the rule matches above it." })
  count: number;

  @Field(() => FraudAction, { description: "What happens to an order the rule matches." })
  action: keyof typeof FraudAction;
}

@InputType({
  description:
    "The store's fraud rules, applied between a card's authorisation and its capture. Given, it replaces every " +
    "rule: an omitted rule is off. Counts match the order's email, customer, client address or card.",
})
export class FraudRulesInput {
  @Field(() => FraudAmountRuleInput, { nullable: true, description: "Order total above the amount." })
  totalAbove?: FraudAmountRuleInput | null;

  @Field(() => FraudCountRuleInput, {
    nullable: true,
    description: "More than `count` orders in the window (this one included).",
  })
  ordersInWindow?: FraudCountRuleInput | null;

  @Field(() => FraudCountRuleInput, {
    nullable: true,
    description: "More than `count` failed payments in the window.",
  })
  failedPaymentsInWindow?: FraudCountRuleInput | null;

  @Field(() => FraudAction, { nullable: true, description: "Shipping country unlike the billing country." })
  countryMismatch?: keyof typeof FraudAction | null;

  @Field(() => FraudAmountRuleInput, {
    nullable: true,
    description: "A buyer's first order above the amount.",
  })
  firstOrderAbove?: FraudAmountRuleInput | null;

  @Field(() => Int, {
    nullable: true,
    description: "The window of the counting rules in minutes, 1 to 43,200 (default 60).",
  })
  windowMinutes?: number | null;
}

@InputType({ description: "Store settings to change; omitted fields keep their value." })
export class StoreSettingsInput {
  @Field(() => String, {
    nullable: true,
    description:
      'BCP 47 language tag for formatted money, e.g. "en-US", "de-DE", "ja-JP"; stored canonical ' +
      '("en-gb" becomes "en-GB"). A malformed tag, or one Intl has no number formats for, is INVALID_INPUT ' +
      'with field ["input", "locale"].',
  })
  locale?: string | null;

  @Field(() => ReservationPolicy, {
    nullable: true,
    description: "When stock is held for shoppers: at checkout (the default) or from add-to-cart.",
  })
  reservationPolicy?: ReservationPolicyValue | null;

  @Field(() => Int, {
    nullable: true,
    description: "Minutes a cart holds stock after its last change under the CART policy: 1 to 1440.",
  })
  cartHoldMinutes?: number | null;

  @Field(() => FraudRulesInput, {
    nullable: true,
    description: "Replaces every fraud rule (see FraudRulesInput).",
  })
  fraudRules?: FraudRulesInput | null;
}

@ObjectType({ description: "What storeSettingsUpdate answered." })
export class StorePayload extends Payload {
  @Field(() => Store, { nullable: true, description: "The store with its new settings; null on userErrors." })
  store: Store | null;
}
