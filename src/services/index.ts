/** The service container: one instance of each service per process, sharing deps. */
import type { ServiceDeps } from "./deps.js";
import { StoreService } from "./store.service.js";

export function createServices(deps: ServiceDeps) {
  return {
    deps,
    stores: new StoreService(deps),
  };
}

export type Services = ReturnType<typeof createServices>;
