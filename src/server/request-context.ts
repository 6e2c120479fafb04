/**
 * Turns request headers (HTTP) or connectionParams (WebSocket) into the GraphQL context: request id,
 * store, caller identity, client address and fresh per-request DataLoaders.
 */
import { randomUUID } from "node:crypto";
import type { GraphQLContext } from "../resolvers/context.js";
import { createLoaders } from "../resolvers/loaders.js";
import type { Caller, ServiceContext } from "../services/context.js";
import { UnauthenticatedError } from "../services/errors.js";
import type { Services } from "../services/index.js";
import { TokenError } from "../services/tokens.js";

export interface RequestIdentity {
  storeHandle?: string | null;
  authorization?: string | null;
  requestId?: string | null;
  clientIp?: string | null;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(candidate: string | null | undefined): string {
  return candidate && REQUEST_ID_PATTERN.test(candidate) ? candidate : randomUUID();
}

export async function buildServiceContext(
  services: Services,
  identity: RequestIdentity,
): Promise<ServiceContext> {
  const requestId = requestIdFrom(identity.requestId);
  const store = await services.stores.resolve(identity.storeHandle);
  const { caller, expiresAt } = await resolveCaller(services, identity.authorization, store.id);
  return { store, caller, requestId, clientIp: identity.clientIp ?? null, credentialExpiresAt: expiresAt };
}

export function withLoaders(services: Services, base: ServiceContext): GraphQLContext {
  return { ...base, services, loaders: createLoaders(services, base) };
}

export async function buildContext(services: Services, identity: RequestIdentity): Promise<GraphQLContext> {
  return withLoaders(services, await buildServiceContext(services, identity));
}

/** The bearer token of an Authorization value; null for an empty header or a bare "Bearer". */
export function bearerToken(authorization: string | null | undefined): string | null {
  // An empty header, or a bare "Bearer" (what a client sends before it has a token), is anonymous.
  if (!authorization || /^\s*(Bearer)?\s*$/i.test(authorization)) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match?.[1]) throw new UnauthenticatedError("Authorization must be 'Bearer <token>'");
  return match[1];
}

async function resolveCaller(
  services: Services,
  authorization: string | null | undefined,
  storeId: string,
): Promise<{ caller: Caller; expiresAt: Date | null }> {
  const token = bearerToken(authorization);
  if (!token) return { caller: { kind: "anonymous" }, expiresAt: null };
  try {
    return await services.sessions.session(token, storeId);
  } catch (e) {
    if (e instanceof TokenError) throw new UnauthenticatedError(e.message);
    throw e;
  }
}
