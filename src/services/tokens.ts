/**
 * Bearer tokens (HS256 JWTs via jose). Every token is bound to one store: a token presented to another
 * store is rejected. Guests get a token too; its subject is the guest session id that owns guest carts.
 */
import { randomUUID } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import type { Caller, StaffRole } from "./context.js";

export type TokenClaims =
  | { typ: "guest"; sub: string; store: string }
  | { typ: "customer"; sub: string; store: string; email: string }
  | { typ: "staff"; sub: string; store: string; email: string; role: StaffRole };

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

const ISSUER = "cartograph";

export class TokenService {
  private readonly key: Uint8Array;
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

  /** Verifies a token for `storeId` and returns the caller it identifies. */
  async verify(token: string, storeId: string): Promise<Caller> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ["HS256"] }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw new TokenError("Token expired");
      throw new TokenError("Invalid token");
    }
    if (payload.store !== storeId) throw new TokenError("Token was issued for another store");
    const sub = typeof payload.sub === "string" ? payload.sub : "";
    const email = typeof payload.email === "string" ? payload.email : "";
    switch (payload.typ) {
      case "guest":
        return { kind: "guest", sessionId: sub };
      case "customer":
        return { kind: "customer", customerId: sub, email };
      case "staff": {
        const role = payload.role;
        if (role !== "OWNER" && role !== "ADMIN" && role !== "STAFF") throw new TokenError("Invalid token");
        return { kind: "staff", staffId: sub, role, email };
      }
      default:
        throw new TokenError("Invalid token");
    }
  }
}
