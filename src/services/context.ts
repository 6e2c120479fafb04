/** Who is calling, for which store: every service method takes this as its first argument. */
import type { ReadTarget } from "../db/read-executor.js";
import type { StoreSettings } from "./store-settings.js";

export type StaffRole = "OWNER" | "ADMIN" | "STAFF";

export type Caller =
  | { kind: "anonymous" }
  | { kind: "guest"; sessionId: string }
  | { kind: "customer"; customerId: string; email: string }
  | { kind: "staff"; staffId: string; role: StaffRole; email: string };

export interface StoreRef {
  id: string;
  handle: string;
  name: string;
  currency: string;
  /** BCP 47 tag (canonical) money is formatted in for this store: `Money.formatted` and messages. */
  locale: string;
  /** The store's own rules (reservation policy, ...); defaults when absent. */
  settings?: StoreSettings;
}

export interface ServiceContext {
  store: StoreRef;
  caller: Caller;
  requestId: string;
  /** The client's address (rate limits, sign-in throttling, fraud rules); absent for internal callers. */
  clientIp?: string | null;
  /** When the caller's token runs out (absent: anonymous, or not from a token). */
  credentialExpiresAt?: Date | null;
  /**
   * Where this request's replica-eligible reads (catalog, shipping method list) may go; absent =
   * the primary. Set per operation by server/read-routing.ts; carts, writes and staff never use it.
   */
  reads?: ReadTarget;
}

/** What a batch read needs from the request: the store and where it may read. */
export type ReadScope = Pick<ServiceContext, "store" | "reads">;

export function isStaff(caller: Caller): caller is Extract<Caller, { kind: "staff" }> {
  return caller.kind === "staff";
}

/** A short, stable label for history rows and logs ("customer:<id>", "staff:<id>", "system"). */
export function actorLabel(caller: Caller): string {
  switch (caller.kind) {
    case "customer":
      return `customer:${caller.customerId}`;
    case "guest":
      return `guest:${caller.sessionId}`;
    case "staff":
      return `staff:${caller.staffId}`;
    default:
      return "anonymous";
  }
}
