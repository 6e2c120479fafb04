/** What every resolver receives as its GraphQL context. Built per HTTP request / WebSocket operation. */
import type { ServiceContext } from "../services/context.js";
import type { Services } from "../services/index.js";
import type { Loaders } from "./loaders.js";

export interface GraphQLContext extends ServiceContext {
  services: Services;
  loaders: Loaders;
  /** Set by the rate limit guard: what is left of the caller's budget this minute (a response header). */
  rateLimitRemaining?: number;
}
