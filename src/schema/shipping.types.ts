import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import type { ShippingMethodRecord, TaxRateRecord } from "../services/shipping.service.js";
import { Money, Payload } from "./common.types.js";

@ObjectType({
  description: "A way to ship: a zone of countries, a flat rate, optionally free over a threshold.",
})
export class ShippingMethod {
  @Field(() => ID, { description: "The method's id, for cartShippingMethodSelect." }) id: string;
  @Field(() => String, { description: 'Display name, e.g. "Standard".' }) name: string;
  @Field(() => [String], { description: "ISO 3166-1 alpha-2 codes served." }) countries: string[];
  @Field(() => Money, { description: "Flat rate per order." }) rate: Money;
  @Field(() => Money, {
    nullable: true,
    description: "Free when the subtotal after merchandise discounts reaches this (>=); null = never free.",
  })
  freeOver: Money | null;
  @Field(() => Boolean, { description: "Offered to shoppers; an inactive method cannot be selected." })
  isActive: boolean;

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
  @Field(() => ShippingMethod, { description: "The method." }) shippingMethod: ShippingMethod;
  @Field(() => Money, {
    description: "The rate, or 0 once the cart reaches the method's free-over threshold.",
  })
  price: Money;
}

@InputType({ description: "A new shipping method." })
export class ShippingMethodInput {
  @Field(() => String, { description: "1-100 characters." }) name: string;
  @Field(() => [String], { description: "At least one ISO 3166-1 alpha-2 code, any case." })
  countries: string[];
  @Field(() => Int, { description: "Flat rate in minor units, 0 to 100,000,000." }) rate: number;
  @Field(() => Int, {
    nullable: true,
    description:
      "Free from this subtotal after merchandise discounts (minor units, 0 to 100,000,000); null = never.",
  })
  freeOver?: number | null;
  @Field(() => Boolean, { nullable: true, defaultValue: true, description: "Offered to shoppers at once." })
  isActive?: boolean | null;
}

@ObjectType({ description: "What shippingMethodCreate answered." })
export class ShippingMethodPayload extends Payload {
  @Field(() => ShippingMethod, { nullable: true, description: "The new method; null on userErrors." })
  shippingMethod: ShippingMethod | null;
}

@ObjectType({ description: "Tax rate of a destination, in basis points (825 = 8.25 %)." })
export class TaxRate {
  @Field(() => ID, { description: "The rate's id." }) id: string;
  @Field(() => String, { description: "ISO 3166-1 alpha-2 country code." }) country: string;
  @Field(() => String, {
    nullable: true,
    description: "Region code (upper-case); null = the whole country (used where no regional rate matches).",
  })
  region: string | null;
  @Field(() => Int, { description: "Basis points: 825 = 8.25 %." }) rateBps: number;
  @Field(() => String, { nullable: true, description: 'A label, e.g. "CA sales tax"; null when none.' })
  name: string | null;

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

@InputType({ description: "The tax rate of a country, or of one of its regions." })
export class TaxRateInput {
  @Field(() => String, { description: "ISO 3166-1 alpha-2." }) country: string;
  @Field(() => String, {
    nullable: true,
    description: "Region code (e.g. CA), any case, up to 10 of A-Z 0-9 -; omit for the whole country.",
  })
  region?: string | null;
  @Field(() => Int, { description: "0 to 10000 basis points." }) rateBps: number;
  @Field(() => String, { nullable: true, description: "A label, up to 100 characters." }) name?:
    | string
    | null;
}

@ObjectType({ description: "What taxRateUpsert answered." })
export class TaxRatePayload extends Payload {
  @Field(() => TaxRate, { nullable: true, description: "The rate as stored; null on userErrors." })
  taxRate: TaxRate | null;
}
