/**
 * Turns request headers (HTTP) or connectionParams (WebSocket) into the GraphQL context: request id,
 * store, caller identity and fresh per-request DataLoaders.
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
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildContext(services: Services, identity: RequestIdentity): Promise<GraphQLContext> {
  const requestId =
    identity.requestId && REQUEST_ID_PATTERN.test(identity.requestId) ? identity.requestId : randomUUID();
  const store = await services.stores.resolve(identity.storeHandle);
  const caller = await resolveCaller(services, identity.authorization, store.id);
  const base: ServiceContext = { store, caller, requestId };
  return { ...base, services, loaders: createLoaders(services, base) };
}

async function resolveCaller(
  services: Services,
  authorization: string | null | undefined,
  storeId: string,
): Promise<Caller> {
  // An empty header, or a bare "Bearer" (what a client sends before it has a token), is anonymous.
  if (!authorization || /^\s*(Bearer)?\s*$/i.test(authorization)) return { kind: "anonymous" };
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match?.[1]) throw new UnauthenticatedError("Authorization must be 'Bearer <token>'");
  try {
    return await services.deps.tokens.verify(match[1], storeId);
  } catch (e) {
    if (e instanceof TokenError) throw new UnauthenticatedError(e.message);
    throw e;
  }
}
