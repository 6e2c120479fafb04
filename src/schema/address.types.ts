import { Field, InputType, ObjectType } from "type-graphql";
import type { AddressJson } from "../db/schema.js";

@ObjectType({ description: "A postal address." })
export class Address {
  @Field(() => String) firstName: string;
  @Field(() => String) lastName: string;
  @Field(() => String) line1: string;
  @Field(() => String, { nullable: true }) line2?: string | null;
  @Field(() => String) city: string;
  @Field(() => String, { nullable: true }) region?: string | null;
  @Field(() => String) postalCode: string;
  @Field(() => String, { description: "ISO 3166-1 alpha-2." }) country: string;
  @Field(() => String, { nullable: true }) phone?: string | null;

  static from(a: AddressJson): Address {
    return Object.assign(new Address(), a);
  }
}

@InputType({ description: "A postal address; country is ISO 3166-1 alpha-2 (e.g. US, DE)." })
export class AddressInput {
  @Field(() => String) firstName: string;
  @Field(() => String) lastName: string;
  @Field(() => String) line1: string;
  @Field(() => String, { nullable: true }) line2?: string | null;
  @Field(() => String) city: string;
  @Field(() => String, { nullable: true }) region?: string | null;
  @Field(() => String) postalCode: string;
  @Field(() => String) country: string;
  @Field(() => String, { nullable: true }) phone?: string | null;
}
