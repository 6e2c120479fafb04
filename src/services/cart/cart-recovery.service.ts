/**
 * Recovery links of abandoned carts: the link in the "your cart is waiting" email, and what following
 * it does.
 *
 * What holding a link proves. The link is signed by us (TokenService, the one home of signing), names
 * one cart of one store and expires (CART_RECOVERY_TTL_SECONDS). It was mailed to the cart's email
 * address, so whoever presents it can most likely read that mailbox, or was handed the link by someone
 * who can. It does NOT prove that they are the guest session that filled the cart, nor the owner of a
 * customer account. Hence:
 * - a guest cart is handed over to the link holder's guest session (their current one, or a new one
 *   whose token the payload returns): they get that cart, the thing we mailed them about, and nothing
 *   else. The session that filled it is not handed out, since it may own other carts and guest orders;
 *   it loses this cart. A link used again (within its lifetime, while the cart is open) moves the cart
 *   again: every holder of the link stands equal, and the email asks not to forward it;
 * - a customer's cart is behind the customer's password, and a link is no password: the cart is
 *   returned only to that customer signed in. Anyone else is told to sign in (FORBIDDEN), or, signed in
 *   as someone else, that there is no such cart (NOT_FOUND); neither answer shows anything of the cart.
 * An expired, tampered or foreign-store link is a userError and changes nothing.
 */
import { randomUUID } from "node:crypto";
import type { ServiceContext, StoreRef } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ErrorCode, userError } from "../errors.js";
import { TokenError } from "../tokens.js";
import { isUuid } from "../validation.js";
import type { CartService } from "./cart.service.js";
import type { CartRecord } from "./cart.types.js";

export interface CartRecovery {
  cart: CartRecord;
  /** A guest token of the session that now owns the cart; null for a customer's cart. */
  token: string | null;
}

export interface RecoveryLink {
  url: string;
  expiresAt: Date;
}

const invalidLink = () =>
  userError(ErrorCode.LINK_INVALID, "This link is not valid: open the latest email we sent", {
    field: ["token"],
  });

export class CartRecoveryService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly carts: CartService,
  ) {}

  /** A fresh link to `cartId`: CART_RECOVERY_URL with the store's handle and a signed token. */
  async linkFor(store: Pick<StoreRef, "id" | "handle">, cartId: string): Promise<RecoveryLink> {
    const ttl = this.deps.config.CART_RECOVERY_TTL_SECONDS;
    const token = await this.deps.tokens.signCartRecovery({ store: store.id, cart: cartId }, ttl);
    const url = new URL(this.deps.config.CART_RECOVERY_URL);
    url.searchParams.set("store", store.handle);
    url.searchParams.set("token", token);
    return { url: url.toString(), expiresAt: new Date(this.deps.now().getTime() + ttl * 1000) };
  }

  async recover(ctx: ServiceContext, token: string): Promise<CartRecovery> {
    let cartId: string;
    try {
      const claims = await this.deps.tokens.verifyCartRecovery(token);
      if (claims.store !== ctx.store.id || !isUuid(claims.cart)) throw invalidLink();
      cartId = claims.cart;
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      if (e.reason === "expired") {
        throw userError(ErrorCode.LINK_EXPIRED, "This link has expired", { field: ["token"] });
      }
      throw invalidLink();
    }
    const owner = await this.carts.ownerOf(ctx.store.id, cartId);
    if (!owner) throw userError(ErrorCode.NOT_FOUND, "This cart no longer exists", { field: ["token"] });
    const { caller } = ctx;
    if (owner.customerId !== null) {
      if (caller.kind !== "customer") {
        throw userError(ErrorCode.FORBIDDEN, "Sign in to your account to open this cart", {
          field: ["token"],
        });
      }
      const cart = caller.customerId === owner.customerId ? await this.carts.get(ctx, cartId) : null;
      if (!cart) throw userError(ErrorCode.NOT_FOUND, "Cart not found", { field: ["token"] });
      if (cart.status !== "ACTIVE" && cart.status !== "ABANDONED") {
        throw userError(ErrorCode.CART_NOT_ACTIVE, `Cart is ${cart.status.toLowerCase()}`, {
          field: ["token"],
        });
      }
      return { cart, token: null };
    }
    // A guest keeps their own session; anyone else (anonymous, a customer, staff) gets a new one.
    const sessionId = caller.kind === "guest" ? caller.sessionId : randomUUID();
    const cart = await this.carts.handOverGuestCart(ctx.store.id, cartId, sessionId);
    const guestToken = await this.deps.tokens.sign({ typ: "guest", sub: sessionId, store: ctx.store.id });
    return { cart, token: guestToken };
  }
}
