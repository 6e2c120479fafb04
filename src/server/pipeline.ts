/**
 * The one request pipeline. HTTP (Apollo) and WebSocket (graphql-ws) both run every operation through
 * these guards, in this order: message size (each transport's reader), parse, validation with the
 * limit rules (depth, aliases, root mutation fields, introspection switch), then `admit` (transport
 * fit, text of every input, complexity, rate limit keyed on the verified identity or the client IP),
 * execution, error formatting (masking), logging and metrics. A guard added here is a guard on both.
 */
import { HeaderMap } from "@apollo/server";
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  NoSchemaIntrospectionCustomRule,
  type OperationDefinitionNode,
  type ValidationRule,
} from "graphql";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { GraphQLContext } from "../resolvers/context.js";
import type { Caller } from "../services/context.js";
import type { Services } from "../services/index.js";
import { createErrorFormatter, type ErrorFormatter, isUnexpected } from "./errors.js";
import { badTextError, findBadText } from "./input-text.js";
import type { Metrics } from "./metrics.js";
import { ComplexityCache, complexityError, limitRules, type OperationLimits } from "./operation-limits.js";

export type Transport = "http" | "ws";

export interface AdmitInput {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown> | undefined;
  context: GraphQLContext;
  transport: Transport;
}

/** The bucket a caller's operations count in: its verified identity, else its address. */
export function rateLimitKey(caller: Caller, storeId: string, clientIp: string | null | undefined): string {
  switch (caller.kind) {
    case "customer":
      return `rl:c:${storeId}:${caller.customerId}`;
    case "staff":
      return `rl:s:${storeId}:${caller.staffId}`;
    case "guest":
      return `rl:g:${storeId}:${caller.sessionId}`;
    default:
      return `rl:ip:${clientIp ?? "unknown"}`;
  }
}

export function rateLimitedError(resetSeconds: number): GraphQLError {
  return new GraphQLError(`Too many requests; try again in ${resetSeconds} s`, {
    extensions: {
      code: "RATE_LIMITED",
      retryAfterSeconds: resetSeconds,
      http: { status: 429, headers: new HeaderMap([["retry-after", String(resetSeconds)]]) },
    },
  });
}

/**
 * A bounded metrics label: operation type and root field names, which come from the schema (the
 * document passed validation), never the client's free-form operation name.
 */
export function operationLabel(operation: OperationDefinitionNode | null | undefined): string {
  if (!operation) return "invalid";
  const names = new Set<string>();
  for (const sel of operation.selectionSet.selections) {
    if (sel.kind === "Field" && sel.name.value !== "__typename") names.add(sel.name.value);
  }
  if (names.size === 0) return `${operation.operation}:__typename`;
  if (names.size > 1) return `${operation.operation}:multiple`;
  return `${operation.operation}:${[...names][0]}`;
}

export class RequestPipeline {
  readonly validationRules: ValidationRule[];
  readonly formatError: ErrorFormatter;
  readonly introspection: boolean;
  private readonly limits: OperationLimits;
  private readonly complexity: ComplexityCache;

  constructor(
    private readonly opts: {
      schema: GraphQLSchema;
      config: Config;
      services: Services;
      logger: Logger;
      metrics: Metrics;
    },
  ) {
    const { config } = opts;
    this.introspection = config.GRAPHQL_INTROSPECTION;
    this.limits = {
      maxDepth: config.MAX_QUERY_DEPTH,
      maxAliases: config.MAX_ALIASES,
      maxRootMutationFields: config.MAX_ROOT_MUTATION_FIELDS,
      maxComplexity: config.MAX_QUERY_COMPLEXITY,
      maxIntrospectionComplexity: config.MAX_INTROSPECTION_COMPLEXITY,
    };
    this.validationRules = [
      ...limitRules(this.limits),
      ...(this.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
    ];
    this.formatError = createErrorFormatter({ hideSchemaDetails: !this.introspection });
    this.complexity = new ComplexityCache(opts.schema);
  }

  /** The error to answer with instead of executing, or null to go ahead. */
  async admit(input: AdmitInput): Promise<GraphQLError | null> {
    const { operation, transport, context } = input;
    if (transport === "http" && operation.operation === "subscription") {
      return new GraphQLError(
        "Subscriptions run over WebSocket (graphql-ws protocol) at /graphql, not over HTTP",
        { extensions: { code: "SUBSCRIPTION_REQUIRES_WEBSOCKET", http: { status: 400 } } },
      );
    }
    const badText = findBadText(input.document, operation, input.variables);
    if (badText) return badTextError(badText);
    const cost = this.complexity.get(input.document, operation.name?.value, input.variables);
    const tooComplex = complexityError(cost, this.limits);
    if (tooComplex) return tooComplex;
    const perMinute = this.opts.config.RATE_LIMIT_PER_MINUTE;
    if (perMinute > 0) {
      const key = rateLimitKey(context.caller, context.store.id, context.clientIp);
      const limit = await this.opts.services.deps.infra.rateLimiter.hit(key, perMinute, 60);
      context.rateLimitRemaining = limit.remaining;
      if (!limit.allowed) return rateLimitedError(limit.resetSeconds);
    }
    return null;
  }

  /** Logs what formatError will mask: the client sees only the request id. */
  logUnexpected(errors: readonly GraphQLError[], requestId: string): void {
    for (const e of errors) {
      if (isUnexpected(e.extensions?.code, e)) {
        this.opts.logger.error({ err: e.originalError ?? e, requestId }, "unexpected error");
      }
    }
  }

  formatAll(errors: readonly GraphQLError[]): GraphQLFormattedError[] {
    return errors.map((e) => this.formatError(e.toJSON(), e));
  }

  observe(label: string, seconds: number, failed: boolean, transport: Transport): void {
    this.opts.metrics.graphqlDuration.observe(
      { operation: label, failed: String(failed), transport },
      seconds,
    );
  }
}
