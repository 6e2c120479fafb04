/**
 * GraphQL over WebSocket (graphql-ws) on /graphql. Queries and mutations run here as well as
 * subscriptions, so every operation goes through the same pipeline as HTTP: the message size cap
 * (maxPayload), parse and the same validation rules, `admit` (input text, complexity, rate limit),
 * then execution with each result's errors formatted (masked) exactly as HTTP formats them.
 * The connection authenticates once, from connectionParams `{ store, authorization }`; a bad token
 * refuses the connection.
 */
import type { IncomingMessage, Server } from "node:http";
import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
} from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { ServiceContext } from "../services/context.js";
import type { Services } from "../services/index.js";
import { clientIp } from "./client-ip.js";
import { operationLabel, type RequestPipeline } from "./pipeline.js";
import { buildServiceContext, requestIdFrom, withLoaders } from "./request-context.js";

type ConnectionExtra = {
  request: IncomingMessage;
  context?: ServiceContext;
  started?: Map<string, { at: bigint; label: string; failed: boolean }>;
  expiry?: NodeJS.Timeout;
};

/** Close code when the connection's token runs out: graphql-ws clients treat 4403 as final. */
const TOKEN_EXPIRED = 4403;

/** Parsed and validated documents by their text: clients send the same few documents again and again. */
class DocumentCache {
  private readonly entries = new Map<string, { document?: DocumentNode; errors: readonly GraphQLError[] }>();
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rules: typeof specifiedRules,
    private readonly maxEntries = 500,
  ) {}

  get(query: string): { document?: DocumentNode; errors: readonly GraphQLError[] } {
    const hit = this.entries.get(query);
    if (hit) return hit;
    let entry: { document?: DocumentNode; errors: readonly GraphQLError[] };
    try {
      const document = parse(query);
      // Coded like Apollo codes them over HTTP, so both transports answer a bad document alike.
      const errors = validate(this.schema, document, this.rules).map((e) =>
        typeof e.extensions.code === "string"
          ? e
          : new GraphQLError(e.message, {
              nodes: e.nodes,
              originalError: e,
              extensions: { ...e.extensions, code: "GRAPHQL_VALIDATION_FAILED" },
            }),
      );
      entry = errors.length ? { errors } : { document, errors };
    } catch (e) {
      if (!(e instanceof GraphQLError)) throw e;
      entry = { errors: [new GraphQLError(e.message, { extensions: { code: "GRAPHQL_PARSE_FAILED" } })] };
    }
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(query, entry);
    return entry;
  }
}

export function attachWebSocket(opts: {
  server: Server;
  schema: GraphQLSchema;
  config: Config;
  services: Services;
  pipeline: RequestPipeline;
  logger: Logger;
}) {
  const { server, schema, config, services, pipeline, logger } = opts;
  const wsServer = new WebSocketServer({ server, path: "/graphql", maxPayload: config.MAX_BODY_BYTES });
  const documents = new DocumentCache(schema, [...specifiedRules, ...pipeline.validationRules]);
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);

  const cleanup = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      schema,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        try {
          ctx.extra.context = await buildServiceContext(services, {
            storeHandle: str(params.store),
            authorization: str(params.authorization) ?? str(params.Authorization),
            clientIp: clientIp(ctx.extra.request, config.TRUST_PROXY_HOPS),
          });
          ctx.extra.started = new Map();
          const expiresAt = ctx.extra.context.credentialExpiresAt;
          if (expiresAt) {
            // A token that expires ends the connection and every subscription on it; the client
            // reconnects with a fresh token. (Timers are capped near 24.8 days; tokens live less.)
            const ms = Math.max(0, Math.min(expiresAt.getTime() - Date.now(), 2 ** 31 - 1));
            ctx.extra.expiry = setTimeout(() => ctx.extra.socket.close(TOKEN_EXPIRED, "Token expired"), ms);
            ctx.extra.expiry.unref();
          }
          return true;
        } catch (e) {
          logger.debug({ err: e }, "websocket connection refused");
          return false;
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const base = ctx.extra.context;
        if (!base)
          return [
            new GraphQLError("Connection not initialised", { extensions: { code: "UNAUTHENTICATED" } }),
          ];
        const max = config.WS_MAX_OPERATIONS_PER_CONNECTION;
        if (max > 0 && Object.keys(ctx.subscriptions).length > max) {
          return [
            new GraphQLError(`At most ${max} operations may run at once on one connection`, {
              extensions: { code: "RATE_LIMITED" },
            }),
          ];
        }
        try {
          const { document, errors } = documents.get(payload.query);
          if (!document) return [...errors];
          const operation = getOperationAST(document, payload.operationName);
          if (!operation) {
            return [
              new GraphQLError("Unable to identify the operation", { extensions: { code: "BAD_REQUEST" } }),
            ];
          }
          // Fresh loaders and request id per operation: a long-lived subscription must not serve stale rows.
          const context = withLoaders(services, { ...base, requestId: requestIdFrom(null) });
          const refused = await pipeline.admit({
            document,
            operation,
            variables: payload.variables ?? undefined,
            context,
            transport: "ws",
          });
          if (refused) return [refused];
          ctx.extra.started?.set(id, {
            at: process.hrtime.bigint(),
            label: operationLabel(operation),
            failed: false,
          });
          return {
            schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: context,
          };
        } catch (e) {
          logger.error(
            { err: e, requestId: base.requestId },
            "unexpected error before executing an operation",
          );
          return [
            new GraphQLError("Internal server error", { extensions: { code: "INTERNAL_SERVER_ERROR" } }),
          ];
        }
      },
      onNext: (ctx, id, _payload, args, result) => {
        const errors = (result as ExecutionResult).errors;
        if (!errors?.length) return;
        const run = ctx.extra.started?.get(id);
        if (run) run.failed = true;
        const requestId = (args.contextValue as ServiceContext | undefined)?.requestId ?? "unknown";
        pipeline.logUnexpected(errors, requestId);
        return { ...result, errors: pipeline.formatAll(errors) };
      },
      onError: (ctx, id, _payload, errors) => {
        const run = ctx.extra.started?.get(id);
        if (run) run.failed = true;
        pipeline.logUnexpected(errors, ctx.extra.context?.requestId ?? "unknown");
        return pipeline.formatAll(errors);
      },
      onClose: (ctx) => {
        if (ctx.extra.expiry) clearTimeout(ctx.extra.expiry);
      },
      onComplete: (ctx, id) => {
        const run = ctx.extra.started?.get(id);
        if (!run) return;
        ctx.extra.started?.delete(id);
        pipeline.observe(run.label, Number(process.hrtime.bigint() - run.at) / 1e9, run.failed, "ws");
      },
    },
    wsServer,
  );

  return {
    wsServer,
    async close() {
      await cleanup.dispose();
      // dispose() closed every socket with "going away" (clients reconnect elsewhere); drop stragglers.
      for (const client of wsServer.clients) client.terminate();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
