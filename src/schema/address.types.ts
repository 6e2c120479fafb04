import { Field, InputType, ObjectType } from "type-graphql";
import type { AddressJson } from "../db/schema.js";

@ObjectType({
  description: "A postal address, as stored: trimmed, country, region and postal code upper-case.",
})
export class Address {
  @Field(() => String, { description: "Recipient's first name." }) firstName: string;
  @Field(() => String, { description: "Recipient's last name." }) lastName: string;
  @Field(() => String, { description: "Street and number." }) line1: string;
  @Field(() => String, { nullable: true, description: "Apartment, suite, building; null when not given." })
  line2?: string | null;
  @Field(() => String, { description: "City or town." }) city: string;
  @Field(() => String, {
    nullable: true,
    description:
      "State, province or region code (e.g. CA); selects a regional tax rate. Null when not given.",
  })
  region?: string | null;
  @Field(() => String, { description: "Postal code, e.g. 94107 or SW1A 1AA." }) postalCode: string;
  @Field(() => String, { description: "ISO 3166-1 alpha-2 country code, e.g. US or DE." }) country: string;
  @Field(() => String, { nullable: true, description: "Phone number for the carrier; null when not given." })
  phone?: string | null;

  static from(a: AddressJson): Address {
    return Object.assign(new Address(), a);
  }
}

@InputType({
  description:
    "A postal address. Every text is trimmed and at most 200 characters; any problem is an INVALID_INPUT " +
    "userError naming the field, all problems at once.",
})
export class AddressInput {
  @Field(() => String, { description: "Required." }) firstName: string;
  @Field(() => String, { description: "Required." }) lastName: string;
  @Field(() => String, { description: "Street and number. Required." }) line1: string;
  @Field(() => String, { nullable: true, description: "Apartment, suite, building." }) line2?: string | null;
  @Field(() => String, { description: "Required." }) city: string;
  @Field(() => String, {
    nullable: true,
    description: "State, province or region code, any case (stored upper-case); picks a regional tax rate.",
  })
  region?: string | null;
  @Field(() => String, {
    description:
      "Required. Checked against the country's format for US, CA, GB, DE, FR, NL and AU; elsewhere 1-12 " +
      "letters, digits, spaces or '-'. Stored upper-case.",
  })
  postalCode: string;
  @Field(() => String, { description: "ISO 3166-1 alpha-2 code, any case (e.g. US, de). Required." })
  country: string;
  @Field(() => String, {
    nullable: true,
    description: "4-30 of digits, spaces and + ( ) . / -.",
  })
  phone?: string | null;
}
