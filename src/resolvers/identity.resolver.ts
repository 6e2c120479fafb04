/** Guest sessions, customer registration and sign-in, staff sign-in, and `me`. */
import { Arg, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import { Cart } from "../schema/cart.types.js";
import { UserError } from "../schema/common.types.js";
import {
  Customer,
  CustomerAuthPayload,
  CustomerRegisterInput,
  GuestSessionPayload,
  SignOutPayload,
  StaffAuthPayload,
  StaffUser,
} from "../schema/identity.types.js";
import { describeOperation } from "../schema/operations.js";
import type { SignedIn } from "../services/sign-in.service.js";
import type { GraphQLContext } from "./context.js";
import { type Outcome, withUserErrors } from "./payload.js";

function customerAuthPayload({ value, userErrors }: Outcome<SignedIn>): CustomerAuthPayload {
  return Object.assign(new CustomerAuthPayload(), {
    token: value?.token ?? null,
    customer: value ? Customer.from(value.customer) : null,
    cart: value?.cart ? Cart.from(value.cart) : null,
    // Signed in, but the guest cart could not be merged: say why.
    userErrors: [...userErrors, ...(value?.cartErrors ?? []).map(UserError.from)],
  });
}

@Resolver()
export class IdentityResolver {
  @Query(() => Customer, {
    nullable: true,
    description: describeOperation("me", "The signed-in customer's account; null for anyone else."),
  })
  async me(@Ctx() ctx: GraphQLContext): Promise<Customer | null> {
    const customer = await ctx.services.identity.me(ctx);
    return customer ? Customer.from(customer) : null;
  }

  @Mutation(() => GuestSessionPayload, {
    description: describeOperation(
      "guestSessionCreate",
      "Starts a guest session: a token for a shopper without an account, valid in this store. Send it as " +
        "`authorization: Bearer <token>` to create and use carts, check out and follow the guest's orders. " +
        "Nothing is written: the session exists only as its token.",
    ),
  })
  async guestSessionCreate(@Ctx() ctx: GraphQLContext): Promise<GuestSessionPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.identity.createGuestSession(ctx));
    return Object.assign(new GuestSessionPayload(), { token: value?.token ?? null, userErrors });
  }

  @Mutation(() => CustomerAuthPayload, {
    description: describeOperation(
      "customerRegister",
      "Creates a customer account in this store and signs it in (returns its token). With guestCartId and the " +
        "guest session's token on the request, the guest cart's lines move into a new cart of the customer (the " +
        "guest cart becomes MERGED); a cart that cannot be taken over does not stop the registration (a userError on input.guestCartId says why, the account " +
        "exists). Attempts count against the sign-in throttle (RATE_LIMITED).",
    ),
  })
  async customerRegister(
    @Arg("input", () => CustomerRegisterInput, { description: "The account to create." })
    input: CustomerRegisterInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CustomerAuthPayload> {
    return customerAuthPayload(await withUserErrors(() => ctx.services.signIn.register(ctx, input)));
  }

  @Mutation(() => CustomerAuthPayload, {
    description: describeOperation(
      "customerLogin",
      "Signs a customer in (returns a token for this store). With guestCartId, sent with the guest session's " +
        "token that owns that cart, the guest cart's lines are merged into the customer's open cart (created " +
        "if none): matching lines add up, capped at what is in stock and at 999, each line keeping its captured " +
        "price; what does not fit shows as cart warnings. A guest cart that cannot be merged never blocks " +
        "signing in: the customer is signed in and a userError on guestCartId says why. Attempts are " +
        "throttled per client and account (RATE_LIMITED, or slowed down).",
    ),
  })
  async customerLogin(
    @Arg("email", () => String, { description: "The account's email, any case." }) email: string,
    @Arg("password", () => String, { description: "The account's password." }) password: string,
    @Arg("guestCartId", () => ID, {
      nullable: true,
      description:
        "A guest cart to merge into the customer's cart; the request must carry the guest session's token.",
    })
    guestCartId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CustomerAuthPayload> {
    return customerAuthPayload(
      await withUserErrors(() => ctx.services.signIn.login(ctx, { email, password }, guestCartId)),
    );
  }

  @Mutation(() => StaffAuthPayload, {
    description: describeOperation(
      "staffLogin",
      "Signs a staff member of this store in (returns a staff token for this store). Attempts are throttled " +
        "per client and account like customers' (RATE_LIMITED, or slowed down).",
    ),
  })
  async staffLogin(
    @Arg("email", () => String, { description: "The staff member's email, any case." }) email: string,
    @Arg("password", () => String, { description: "The staff member's password." }) password: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<StaffAuthPayload> {
    const { value, userErrors } = await withUserErrors(() =>
      ctx.services.identity.loginStaff(ctx, { email, password }),
    );
    return Object.assign(new StaffAuthPayload(), {
      token: value?.token ?? null,
      staff: value ? StaffUser.from(value.staff) : null,
      userErrors,
    });
  }

  @Mutation(() => SignOutPayload, {
    description: describeOperation(
      "signOut",
      "Signs the calling customer or staff member out everywhere: every token of the account stops " +
        "working (at once on this instance, within AUTH_CHECK_CACHE_SECONDS on others). Guests get FORBIDDEN " +
        "(discard the guest token instead), anonymous callers UNAUTHENTICATED.",
    ),
  })
  async signOut(@Ctx() ctx: GraphQLContext): Promise<SignOutPayload> {
    const { value, userErrors } = await withUserErrors(async () => {
      await ctx.services.sessions.signOut(ctx);
      return true;
    });
    return Object.assign(new SignOutPayload(), { signedOut: value ?? false, userErrors });
  }
}
