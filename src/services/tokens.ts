/**
 * Bearer tokens (HS256 JWTs via jose). Every token is bound to one store: a token presented to another
 * store is rejected. Guests get a token too; its subject is the guest session id that owns guest carts.
 * Every token must carry `exp`. A verified token is remembered until it expires (bounded), so the
 * signature is checked once per token rather than once per request; whether its account still exists
 * and is still signed in is the session service's question (session.service.ts).
 */
import { randomUUID } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import type { Caller, StaffRole } from "./context.js";

/** `ep`: the account's session epoch when the token was issued (signing out bumps it). */
export type TokenClaims =
  | { typ: "guest"; sub: string; store: string }
  | { typ: "customer"; sub: string; store: string; email: string; ep: number }
  | { typ: "staff"; sub: string; store: string; email: string; role: StaffRole; ep: number };

/** What a valid token says, with its expiry (seconds since the Unix epoch). */
export interface VerifiedToken {
  caller: Caller;
  store: string;
  /** The account's session epoch the token belongs to (0 for guests). */
  sessionEpoch: number;
  expiresAt: number;
}

export class TokenError extends Error {
  constructor(
    message: string,
    /** Why: an expired token may be worth a fresh one; an invalid one never is. */
    readonly reason: "expired" | "invalid" = "invalid",
  ) {
    super(message);
    this.name = "TokenError";
  }
}

/** What a cart recovery link names: a cart of a store. */
export interface CartRecoveryClaims {
  store: string;
  cart: string;
}

const ISSUER = "cartograph";
/**
 * The audience of cart recovery links. It, and their `typ`, keep the two kinds apart: a recovery
 * token is no bearer token (`checkSignature` knows no such `typ`), and a bearer token is no recovery
 * token (it has no such audience).
 */
const CART_RECOVERY_AUDIENCE = "cart-recovery";
const CART_RECOVERY_TYP = "cart_recovery";
/**
 * Verified tokens remembered (oldest first out): ~0.65 KB each with the token string itself (a guest
 * token is ~340 characters), so ~6 MiB full. A miss costs one HMAC-SHA256 check, so a cache that
 * cycles faster than its tokens are reused (every new guest is a new token) costs CPU, not memory.
 */
const MAX_REMEMBERED = 10_000;
/** Longer than any token we issue: anything bigger is not ours and not worth an HMAC. */
const MAX_TOKEN_LENGTH = 2048;

export class TokenService {
  private readonly key: Uint8Array;
  private readonly remembered = new Map<string, VerifiedToken>();

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(claims: TokenClaims): Promise<string> {
    const { sub, ...rest } = claims;
    return new SignJWT(rest)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** A signed link token naming `claims.cart` of `claims.store`, valid for `ttlSeconds`. */
  async signCartRecovery(claims: CartRecoveryClaims, ttlSeconds: number): Promise<string> {
    return new SignJWT({ typ: CART_RECOVERY_TYP, store: claims.store })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(claims.cart)
      .setIssuer(ISSUER)
      .setAudience(CART_RECOVERY_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.key);
  }

  /** The cart and store a recovery token names; TokenError (expired or invalid) otherwise. */
  async verifyCartRecovery(token: string): Promise<CartRecoveryClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError("Invalid token");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: CART_RECOVERY_AUDIENCE,
        algorithms: ["HS256"],
        requiredClaims: ["exp", "iat", "sub"],
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw new TokenError("Token expired", "expired");
      throw new TokenError("Invalid token");
    }
    const cart = typeof payload.sub === "string" ? payload.sub : "";
    const store = typeof payload.store === "string" ? payload.store : "";
    if (payload.typ !== CART_RECOVERY_TYP || !cart || !store) throw new TokenError("Invalid token");
    return { store, cart };
  }

  /** Verifies a token for `storeId` and returns the caller it identifies. */
  async verify(token: string, storeId: string): Promise<Caller> {
    return (await this.verifyToken(token, storeId)).caller;
  }

  async verifyToken(token: string, storeId: string): Promise<VerifiedToken> {
    const now = Date.now() / 1000;
    let verified = this.remembered.get(token);
    if (verified && verified.expiresAt <= now) {
      this.remembered.delete(token);
      throw new TokenError("Token expired", "expired");
    }
    if (!verified) {
      verified = await this.checkSignature(token);
      if (this.remembered.size >= MAX_REMEMBERED) {
        const oldest = this.remembered.keys().next().value;
        if (oldest !== undefined) this.remembered.delete(oldest);
      }
      this.remembered.set(token, verified);
    }
    if (verified.store !== storeId) throw new TokenError("Token was issued for another store");
    return verified;
  }

  private async checkSignature(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError("Invalid token");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        algorithms: ["HS256"],
        requiredClaims: ["exp", "iat", "sub"],
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw new TokenError("Token expired", "expired");
      throw new TokenError("Invalid token");
    }
    const sub = typeof payload.sub === "string" ? payload.sub : "";
    const email = typeof payload.email === "string" ? payload.email : "";
    const store = typeof payload.store === "string" ? payload.store : "";
    const expiresAt = Number(payload.exp);
    const sessionEpoch = Number.isSafeInteger(payload.ep) ? Number(payload.ep) : 0;
    let caller: Caller;
    switch (payload.typ) {
      case "guest":
        caller = { kind: "guest", sessionId: sub };
        break;
      case "customer":
        caller = { kind: "customer", customerId: sub, email };
        break;
      case "staff": {
        const role = payload.role;
        if (role !== "OWNER" && role !== "ADMIN" && role !== "STAFF") throw new TokenError("Invalid token");
        caller = { kind: "staff", staffId: sub, role, email };
        break;
      }
      default:
        throw new TokenError("Invalid token");
    }
    if (!sub || !store) throw new TokenError("Invalid token");
    return { caller, store, sessionEpoch, expiresAt };
  }
}
