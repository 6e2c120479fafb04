/**
 * Customer sign-in and registration as the shopper experiences them: authenticate, then take the guest
 * cart along (merged into the customer's open cart in one transaction) when the request carries the
 * guest token that owns it. A guest cart that cannot be
 * merged never blocks signing in: the customer is signed in and told why, with a userError on
 * `guestCartId`, and gets their own cart.
 */
import type { CartService } from "./cart/cart.service.js";
import type { CartRecord } from "./cart/cart.types.js";
import type { ServiceContext } from "./context.js";
import { ErrorCode, type UserErrorData, UserFacingError, userError } from "./errors.js";
import type {
  Credentials,
  CustomerAuth,
  CustomerRegisterInput,
  IdentityService,
} from "./identity.service.js";

export interface SignedIn extends CustomerAuth {
  cart: CartRecord | null;
  /** Why the guest cart was not merged (empty when it was, or when none was given). */
  cartErrors: UserErrorData[];
}

export class SignInService {
  constructor(
    private readonly identity: IdentityService,
    private readonly carts: CartService,
  ) {}

  async register(ctx: ServiceContext, input: CustomerRegisterInput): Promise<SignedIn> {
    const auth = await this.identity.registerCustomer(ctx, input);
    return this.withCart(ctx, auth, input.guestCartId, ["input", "guestCartId"]);
  }

  async login(ctx: ServiceContext, credentials: Credentials, guestCartId?: string | null): Promise<SignedIn> {
    const auth = await this.identity.loginCustomer(ctx, credentials);
    return this.withCart(ctx, auth, guestCartId, ["guestCartId"]);
  }

  private async withCart(
    ctx: ServiceContext,
    auth: CustomerAuth,
    guestCartId: string | null | undefined,
    field: string[],
  ): Promise<SignedIn> {
    const asCustomer: ServiceContext = {
      ...ctx,
      caller: { kind: "customer", customerId: auth.customer.id, email: auth.customer.email },
    };
    if (!guestCartId) return { ...auth, cart: await this.carts.mine(asCustomer), cartErrors: [] };
    // The proof of owning the guest cart is the guest token on this very request.
    const guestSession = ctx.caller.kind === "guest" ? ctx.caller.sessionId : null;
    try {
      if (!guestSession) {
        throw userError(
          ErrorCode.NOT_FOUND,
          "Guest cart not found: send the guest session's token (Authorization) with the sign-in to bring its cart",
        );
      }
      return {
        ...auth,
        cart: await this.carts.mergeGuestCart(asCustomer, guestCartId, guestSession),
        cartErrors: [],
      };
    } catch (e) {
      if (!(e instanceof UserFacingError)) throw e;
      return {
        ...auth,
        cart: await this.carts.mine(asCustomer),
        cartErrors: e.errors.map((err) => ({ ...err, field })),
      };
    }
  }
}
