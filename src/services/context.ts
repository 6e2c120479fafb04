/** Who is calling, for which store: every service method takes this as its first argument. */
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
}

export interface ServiceContext {
  store: StoreRef;
  caller: Caller;
  requestId: string;
  /** The client's address (rate limits, sign-in throttling, fraud rules); absent for internal callers. */
  clientIp?: string | null;
}

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
