/** Authorisation checks shared by services. Auth failures are GraphQL errors, not userErrors. */
import type { Caller } from "./context.js";
import { ForbiddenError, UnauthenticatedError } from "./errors.js";

export function assertStaff(caller: Caller): asserts caller is Extract<Caller, { kind: "staff" }> {
  if (caller.kind !== "staff") throw new ForbiddenError("Staff access required");
}

export function assertCustomer(caller: Caller): asserts caller is Extract<Caller, { kind: "customer" }> {
  if (caller.kind === "anonymous") throw new UnauthenticatedError("Sign in as a customer");
  if (caller.kind !== "customer") throw new ForbiddenError("Customer access required");
}
