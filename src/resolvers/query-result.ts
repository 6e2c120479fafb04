/** Queries have no userErrors: a bad argument (a forged cursor, first > 100) is a BAD_USER_INPUT error. */
import { GraphQLError } from "graphql";
import { UserFacingError } from "../services/errors.js";

export async function asQueryResult<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof UserFacingError)) throw e;
    throw new GraphQLError(e.message, {
      extensions: { code: "BAD_USER_INPUT", userErrors: e.errors, http: { status: 400 } },
    });
  }
}
