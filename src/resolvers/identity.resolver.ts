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
  @Query(() => Customer, { nullable: true, description: "The signed-in customer; null for anyone else." })
  async me(@Ctx() ctx: GraphQLContext): Promise<Customer | null> {
    const customer = await ctx.services.identity.me(ctx);
    return customer ? Customer.from(customer) : null;
  }

  @Mutation(() => GuestSessionPayload, { description: "A token for a shopper without an account." })
  async guestSessionCreate(@Ctx() ctx: GraphQLContext): Promise<GuestSessionPayload> {
    const { value, userErrors } = await withUserErrors(() => ctx.services.identity.createGuestSession(ctx));
    return Object.assign(new GuestSessionPayload(), { token: value?.token ?? null, userErrors });
  }

  @Mutation(() => CustomerAuthPayload)
  async customerRegister(
    @Arg("input", () => CustomerRegisterInput) input: CustomerRegisterInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CustomerAuthPayload> {
    return customerAuthPayload(await withUserErrors(() => ctx.services.signIn.register(ctx, input)));
  }

  @Mutation(() => CustomerAuthPayload)
  async customerLogin(
    @Arg("email", () => String) email: string,
    @Arg("password", () => String) password: string,
    @Arg("guestCartId", () => ID, {
      nullable: true,
      description: "A guest cart to merge into the customer's cart.",
    })
    guestCartId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CustomerAuthPayload> {
    return customerAuthPayload(
      await withUserErrors(() => ctx.services.signIn.login(ctx, { email, password }, guestCartId)),
    );
  }

  @Mutation(() => StaffAuthPayload)
  async staffLogin(
    @Arg("email", () => String) email: string,
    @Arg("password", () => String) password: string,
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
    description:
      "Signs the calling customer or staff member out everywhere: every token of the account stops " +
      "working (at once on this instance, within AUTH_CHECK_CACHE_SECONDS on others). Guests and " +
      "anonymous callers get FORBIDDEN / UNAUTHENTICATED.",
  })
  async signOut(@Ctx() ctx: GraphQLContext): Promise<SignOutPayload> {
    const { value, userErrors } = await withUserErrors(async () => {
      await ctx.services.sessions.signOut(ctx);
      return true;
    });
    return Object.assign(new SignOutPayload(), { signedOut: value ?? false, userErrors });
  }
}
