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
registerEnumType(StaffRole, {
  name: "StaffRole",
  description:
    "What a staff member may do. Every role may use the staff operations; some need OWNER or ADMIN.",
  valuesConfig: {
    OWNER: { description: "Owns the store; may also change its settings (storeSettingsUpdate)." },
    ADMIN: { description: "Runs the store; may also change its settings (storeSettingsUpdate)." },
    STAFF: { description: "Works in the store: catalog, stock, discounts, shipping, tax and orders." },
  },
});

@ObjectType({ description: "A shopper with an account in this store." })
export class Customer {
  @Field(() => ID, { description: "The customer's id." })
  id: string;

  @Field(() => String, { description: "Sign-in email, trimmed and lower-case; unique in the store." })
  email: string;

  @Field(() => String, { nullable: true, description: "Null when not given." })
  firstName: string | null;

  @Field(() => String, { nullable: true, description: "Null when not given." })
  lastName: string | null;

  @Field(() => Date, { description: "When the account was registered." })
  createdAt: Date;

  static from(c: CustomerRecord): Customer {
    return Object.assign(new Customer(), c);
  }
}

@ObjectType({ description: "Someone who runs the store." })
export class StaffUser {
  @Field(() => ID, { description: "The staff member's id." })
  id: string;

  @Field(() => String, { description: "Sign-in email." })
  email: string;

  @Field(() => String, { description: "Display name." })
  name: string;

  @Field(() => StaffRole, { description: "What this staff member may do." })
  role: StaffRoleValue;

  static from(s: StaffRecord): StaffUser {
    return Object.assign(new StaffUser(), s);
  }
}

@ObjectType({ description: "What guestSessionCreate answered." })
export class GuestSessionPayload extends Payload {
  @Field(() => String, {
    nullable: true,
    description:
      "Bearer token of the new guest session, for this store only; it lives JWT_TTL_SECONDS (7 days by default). " +
      "Send it as `authorization: Bearer <token>`.",
  })
  token: string | null;
}

@ObjectType({ description: "What customerRegister and customerLogin answered." })
export class CustomerAuthPayload extends Payload {
  @Field(() => String, {
    nullable: true,
    description:
      "Bearer token of the signed-in customer, for this store only (JWT_TTL_SECONDS, 7 days by default); " +
      "null when signing in failed. It stops working at signOut.",
  })
  token: string | null;

  @Field(() => Customer, {
    nullable: true,
    description: "The signed-in customer; null when signing in failed.",
  })
  customer: Customer | null;

  @Field(() => Cart, {
    nullable: true,
    description:
      "The customer's open cart, with the guest cart (guestCartId) merged into it when that worked; null when " +
      "the customer has no open cart.",
  })
  cart: Cart | null;
}

@ObjectType({ description: "What staffLogin answered." })
export class StaffAuthPayload extends Payload {
  @Field(() => String, {
    nullable: true,
    description:
      "Bearer token of the signed-in staff member, for this store only (JWT_TTL_SECONDS); null when signing in failed.",
  })
  token: string | null;

  @Field(() => StaffUser, {
    nullable: true,
    description: "The signed-in staff member; null when signing in failed.",
  })
  staff: StaffUser | null;
}

@InputType({ description: "A new customer account." })
export class CustomerRegisterInput {
  @Field(() => String, { description: "Sign-in email; stored trimmed and lower-case, unique in the store." })
  email: string;

  @Field(() => String, { description: "8 to 200 characters." })
  password: string;

  @Field(() => String, { nullable: true, description: "At most 100 characters." })
  firstName?: string | null;

  @Field(() => String, { nullable: true, description: "At most 100 characters." })
  lastName?: string | null;

  @Field(() => ID, {
    nullable: true,
    description:
      "A guest cart to take over; send the guest session's token (Authorization) that owns it with the request.",
  })
  guestCartId?: string | null;
}

@ObjectType({ description: "The result of signing out." })
export class SignOutPayload extends Payload {
  @Field(() => Boolean, { description: "True when every token of the account has been ended." })
  signedOut: boolean;
}
