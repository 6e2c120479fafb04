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
  @Field(() => ID)
  id: string;

  @Field(() => String, { description: "What clients send in the x-store header." })
  handle: string;

  @Field(() => String)
  name: string;

  @Field(() => String, { description: "ISO 4217 code every price of the store is in." })
  currencyCode: string;

  @Field(() => ReservationPolicy)
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
      reservationPolicy: reservation.policy === "cart" ? "CART" : "CHECKOUT",
      cartHoldMinutes: reservation.holdMinutes,
    });
  }
}

@InputType({ description: "Store settings to change; omitted fields keep their value." })
export class StoreSettingsInput {
  @Field(() => ReservationPolicy, { nullable: true })
  reservationPolicy?: ReservationPolicyValue | null;

  @Field(() => Int, { nullable: true, description: "1 to 1440." })
  cartHoldMinutes?: number | null;
}

@ObjectType()
export class StorePayload extends Payload {
  @Field(() => Store, { nullable: true })
  store: Store | null;
}
