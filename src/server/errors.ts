/**
 * What clients see of errors, the same over HTTP and WebSocket: our auth errors keep their code, the
 * client's own mistakes (syntax, validation, limits, bad input) pass through with their code, and
 * anything unexpected is masked as INTERNAL_SERVER_ERROR (and logged with the request id by the
 * pipeline). With introspection off, validation messages lose their "Did you mean ...?" suggestions,
 * which would otherwise spell out the schema one guess at a time.
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

/** Codes of errors the client caused (or we raised on purpose): shown as they are. */
const CLIENT_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "STORE_NOT_FOUND",
  "QUERY_TOO_COMPLEX",
  "QUERY_TOO_DEEP",
  "TOO_MANY_ALIASES",
  "TOO_MANY_MUTATIONS",
  "INVALID_INPUT",
  "RATE_LIMITED",
  "SUBSCRIPTION_REQUIRES_WEBSOCKET",
  "INTROSPECTION_DISABLED",
]);

/** Our own limit codes survive Apollo's ValidationError wrapper, which stamps GRAPHQL_VALIDATION_FAILED. */
function ownCode(original: unknown): string | undefined {
  if (!(original instanceof GraphQLError)) return undefined;
  const inner = original.originalError;
  if (inner instanceof GraphQLError && typeof inner.extensions?.code === "string") {
    if (CLIENT_CODES.has(inner.extensions.code)) return inner.extensions.code;
  }
  return undefined;
}

function causeOf(original: unknown): unknown {
  return original instanceof GraphQLError ? (original.originalError ?? original) : original;
}

/** An error the client did not cause and we did not raise on purpose: masked, and logged. */
export function isUnexpected(code: unknown, original: unknown): boolean {
  if (toGraphQLError(causeOf(original))) return false;
  if (typeof code === "string" && CLIENT_CODES.has(code)) return false;
  if (ownCode(original)) return false;
  // A GraphQL error raised on purpose without a code (e.g. argument coercion) is the client's fault.
  return !(original instanceof GraphQLError && !original.originalError);
}

const SUGGESTION = / ?Did you mean [^?]*\?/g;

export function createErrorFormatter(opts: { hideSchemaDetails: boolean }) {
  return function formatError(formatted: GraphQLFormattedError, original: unknown): GraphQLFormattedError {
    const mapped = toGraphQLError(causeOf(original));
    if (mapped) {
      return { ...formatted, message: mapped.message, extensions: { code: mapped.extensions.code } };
    }
    const code = ownCode(original) ?? formatted.extensions?.code;
    if (isUnexpected(code, original)) {
      return {
        message: "Internal server error",
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: "INTERNAL_SERVER_ERROR" },
      };
    }
    const message = opts.hideSchemaDetails ? formatted.message.replace(SUGGESTION, "") : formatted.message;
    const { http: _http, ...extensions } = formatted.extensions ?? {};
    return {
      ...formatted,
      message,
      extensions: { ...extensions, code: typeof code === "string" ? code : "BAD_USER_INPUT" },
    };
  };
}

export type ErrorFormatter = ReturnType<typeof createErrorFormatter>;
