/** Turns a service call into a mutation payload: expected failures become userErrors. */
import { UserError } from "../schema/common.types.js";
import { UserFacingError } from "../services/errors.js";

export interface Outcome<T> {
  value: T | null;
  userErrors: UserError[];
}

export async function withUserErrors<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await fn(), userErrors: [] };
  } catch (e) {
    if (e instanceof UserFacingError) return { value: null, userErrors: e.errors.map(UserError.from) };
    throw e;
  }
}
