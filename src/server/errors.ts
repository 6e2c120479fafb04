/**
 * What clients see of errors: our auth errors keep their code, GraphQL syntax/validation errors pass
 * through, and anything unexpected is masked as INTERNAL_SERVER_ERROR with the request id (and logged).
 */
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { ForbiddenError, UnauthenticatedError, UnknownStoreError } from "../services/errors.js";

export function toGraphQLError(error: unknown): GraphQLError | null {
  if (error instanceof UnauthenticatedError) {
    return new GraphQLError(error.message, {
      extensions: { code: "UNAUTHENTICATED", http: { status: 401 } },
    });
  }
  if (error instanceof ForbiddenError) {
    return new GraphQLError(error.message, { extensions: { code: "FORBIDDEN", http: { status: 403 } } });
  }
  if (error instanceof UnknownStoreError) {
    return new GraphQLError(error.message, {
      extensions: { code: "STORE_NOT_FOUND", http: { status: 404 } },
    });
  }
  return null;
}

const PASS_THROUGH_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "STORE_NOT_FOUND",
  "QUERY_TOO_COMPLEX",
  "QUERY_TOO_DEEP",
  "RATE_LIMITED",
]);

/** An error the client did not cause and we did not raise on purpose: masked, and logged with the request id. */
export function isUnexpected(code: unknown, original: unknown): boolean {
  const cause = original instanceof GraphQLError ? (original.originalError ?? original) : original;
  if (toGraphQLError(cause)) return false;
  if (typeof code === "string" && PASS_THROUGH_CODES.has(code)) return false;
  // A GraphQL error raised on purpose without a code (e.g. argument coercion) is the client's fault.
  return !(original instanceof GraphQLError && !original.originalError);
}

export function formatError(formatted: GraphQLFormattedError, original: unknown): GraphQLFormattedError {
  const cause = original instanceof GraphQLError ? (original.originalError ?? original) : original;
  const mapped = toGraphQLError(cause);
  if (mapped) return { ...formatted, message: mapped.message, extensions: { code: mapped.extensions.code } };
  const code = formatted.extensions?.code;
  if (!isUnexpected(code, original)) {
    return typeof code === "string"
      ? formatted
      : { ...formatted, extensions: { ...formatted.extensions, code: "BAD_USER_INPUT" } };
  }
  return {
    message: "Internal server error",
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: "INTERNAL_SERVER_ERROR" },
  };
}
