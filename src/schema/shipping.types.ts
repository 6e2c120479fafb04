import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import type { ShippingMethodRecord, TaxRateRecord } from "../services/shipping.service.js";
import { Money, Payload } from "./common.types.js";

@ObjectType({
  description: "A way to ship: a zone of countries, a flat rate, optionally free over a threshold.",
})
export class ShippingMethod {
  @Field(() => ID) id: string;
  @Field(() => String) name: string;
  @Field(() => [String], { description: "ISO 3166-1 alpha-2 codes served." }) countries: string[];
  @Field(() => Money, { description: "Flat rate." }) rate: Money;
  @Field(() => Money, { nullable: true, description: "Free when the discounted subtotal reaches this." })
  freeOver: Money | null;
  @Field(() => Boolean) isActive: boolean;

  static from(m: ShippingMethodRecord, currency: string): ShippingMethod {
    return Object.assign(new ShippingMethod(), {
      id: m.id,
      name: m.name,
      countries: m.countries,
      rate: Money.of(m.rate, currency),
      freeOver: m.freeOver === null ? null : Money.of(m.freeOver, currency),
      isActive: m.isActive,
    });
  }
}

@ObjectType({ description: "What a shipping method costs for a given cart." })
export class ShippingRate {
  @Field(() => ShippingMethod) shippingMethod: ShippingMethod;
  @Field(() => Money, {
    description: "The rate, or 0 once the cart reaches the method's free-over threshold.",
  })
  price: Money;
}

@InputType()
export class ShippingMethodInput {
  @Field(() => String) name: string;
  @Field(() => [String], { description: "ISO 3166-1 alpha-2 codes." }) countries: string[];
  @Field(() => Int, { description: "Flat rate in minor units." }) rate: number;
  @Field(() => Int, { nullable: true, description: "Free from this discounted subtotal (minor units)." })
  freeOver?: number | null;
  @Field(() => Boolean, { nullable: true, defaultValue: true }) isActive?: boolean | null;
}

@ObjectType()
export class ShippingMethodPayload extends Payload {
  @Field(() => ShippingMethod, { nullable: true }) shippingMethod: ShippingMethod | null;
}

@ObjectType({ description: "Tax rate of a destination, in basis points (825 = 8.25 %)." })
export class TaxRate {
  @Field(() => ID) id: string;
  @Field(() => String) country: string;
  @Field(() => String, { nullable: true, description: "null = the whole country." }) region: string | null;
  @Field(() => Int) rateBps: number;
  @Field(() => String, { nullable: true }) name: string | null;

  static from(t: TaxRateRecord): TaxRate {
    return Object.assign(new TaxRate(), {
      id: t.id,
      country: t.country,
      region: t.region || null,
      rateBps: t.rateBps,
      name: t.name,
    });
  }
}

@InputType()
export class TaxRateInput {
  @Field(() => String, { description: "ISO 3166-1 alpha-2." }) country: string;
  @Field(() => String, { nullable: true, description: "Region code (e.g. CA); omit for the whole country." })
  region?: string | null;
  @Field(() => Int, { description: "0 to 10000 basis points." }) rateBps: number;
  @Field(() => String, { nullable: true }) name?: string | null;
}

@ObjectType()
export class TaxRatePayload extends Payload {
  @Field(() => TaxRate, { nullable: true }) taxRate: TaxRate | null;
}
