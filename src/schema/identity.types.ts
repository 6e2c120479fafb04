/** GraphQL types of identity: customers, staff, and the sign-in / registration payloads. */

import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import type { StaffRole as StaffRoleValue } from "../services/context.js";
import type { CustomerRecord, StaffRecord } from "../services/identity.service.js";
import { Cart } from "./cart.types.js";
import { Payload } from "./common.types.js";

export const StaffRole = { OWNER: "OWNER", ADMIN: "ADMIN", STAFF: "STAFF" } as const satisfies Record<
  StaffRoleValue,
  StaffRoleValue
>;
registerEnumType(StaffRole, { name: "StaffRole" });

@ObjectType({ description: "A shopper with an account in this store." })
export class Customer {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  email: string;

  @Field(() => String, { nullable: true })
  firstName: string | null;

  @Field(() => String, { nullable: true })
  lastName: string | null;

  @Field(() => Date)
  createdAt: Date;

  static from(c: CustomerRecord): Customer {
    return Object.assign(new Customer(), c);
  }
}

@ObjectType({ description: "Someone who runs the store." })
export class StaffUser {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  email: string;

  @Field(() => String)
  name: string;

  @Field(() => StaffRole)
  role: StaffRoleValue;

  static from(s: StaffRecord): StaffUser {
    return Object.assign(new StaffUser(), s);
  }
}

@ObjectType()
export class GuestSessionPayload extends Payload {
  @Field(() => String, { nullable: true, description: "Bearer token of the new guest session." })
  token: string | null;
}

@ObjectType()
export class CustomerAuthPayload extends Payload {
  @Field(() => String, { nullable: true, description: "Bearer token of the signed-in customer." })
  token: string | null;

  @Field(() => Customer, { nullable: true })
  customer: Customer | null;

  @Field(() => Cart, {
    nullable: true,
    description: "The customer's open cart, with the guest cart (guestCartId) merged into it.",
  })
  cart: Cart | null;
}

@ObjectType()
export class StaffAuthPayload extends Payload {
  @Field(() => String, { nullable: true, description: "Bearer token of the signed-in staff member." })
  token: string | null;

  @Field(() => StaffUser, { nullable: true })
  staff: StaffUser | null;
}

@InputType()
export class CustomerRegisterInput {
  @Field(() => String)
  email: string;

  @Field(() => String, { description: "8 to 200 characters." })
  password: string;

  @Field(() => String, { nullable: true })
  firstName?: string | null;

  @Field(() => String, { nullable: true })
  lastName?: string | null;

  @Field(() => ID, { nullable: true, description: "A guest cart of this shopper to take over." })
  guestCartId?: string | null;
}

@ObjectType({ description: "The result of signing out." })
export class SignOutPayload extends Payload {
  @Field(() => Boolean, { description: "True when every token of the account has been ended." })
  signedOut: boolean;
}
