/**
 * Per-request DataLoaders. Every field that loads a row goes through one, so a query's statement count
 * does not grow with the number of items it returns. Batch functions are service methods.
 */
import type { ServiceContext } from "../services/context.js";
import type { Services } from "../services/index.js";

export function createLoaders(_services: Services, _ctx: ServiceContext) {
  return {};
}

export type Loaders = ReturnType<typeof createLoaders>;
