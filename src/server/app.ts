/**
 * One HTTP server on one port: GraphQL over HTTP and WebSocket (graphql-ws) at /graphql, the offline
 * GraphiQL playground on a browser GET of /graphql, /healthz, /readyz and /metrics.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { GraphQLError, type GraphQLSchema, specifiedRules, validate } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Config } from "../config.js";
import { type StatementCounter, withStatementCounter } from "../db/client.js";
import type { Logger } from "../logger.js";
import type { GraphQLContext } from "../resolvers/context.js";
import { createLoaders } from "../resolvers/loaders.js";
import type { Services } from "../services/index.js";
import { formatError, isUnexpected, toGraphQLError } from "./errors.js";
import { handleGraphQLHttp, sendJsonError } from "./graphql-http.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { servePlayground, wantsPlayground } from "./playground.js";
import { depthLimitRule, operationComplexity } from "./query-limits.js";
import { buildContext } from "./request-context.js";

export interface AppOptions {
  config: Config;
  services: Services;
  schema: GraphQLSchema;
  logger: Logger;
  /** Readiness probe of the dependencies (database and Redis). */
  ready: () => Promise<{ database: boolean; redis: boolean }>;
}

export interface App {
  server: Server;
  metrics: Metrics;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, drains in-flight requests, closes sockets. */
  close(): Promise<void>;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export async function createApp(opts: AppOptions): Promise<App> {
  const { config, services, schema, logger } = opts;
  const metrics = createMetrics();
  const server = createServer();
  const depthRule = depthLimitRule(config.MAX_QUERY_DEPTH);
  // NODE_ENV=test only: each request's SQL statement count goes out as `x-sql-statements`, so tests can
  // assert statement budgets (N+1 regressions fail) through the real HTTP path. The counter rides on the
  // context under a symbol: Apollo hands plugins a shallow copy of the context, which keeps it.
  const statementsKey = Symbol("sqlStatements");
  type CountedContext = GraphQLContext & { [statementsKey]?: StatementCounter };

  const wsServer = new WebSocketServer({ server, path: "/graphql", maxPayload: config.MAX_BODY_BYTES });
  const wsCleanup = useServer<Record<string, unknown>, { context?: GraphQLContext }>(
    {
      schema,
      validate: (s, document) => validate(s, document, [...specifiedRules, depthRule]),
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const str = (v: unknown) => (typeof v === "string" ? v : undefined);
        try {
          ctx.extra.context = await buildContext(services, {
            storeHandle: str(params.store),
            authorization: str(params.authorization) ?? str(params.Authorization),
          });
          return true;
        } catch (e) {
          logger.debug({ err: e }, "websocket connection refused");
          return false;
        }
      },
      // Each operation gets fresh DataLoaders: a long-lived subscription must not serve stale rows.
      context: (ctx) => {
        const base = ctx.extra.context;
        if (!base)
          throw new GraphQLError("Connection not initialised", { extensions: { code: "UNAUTHENTICATED" } });
        return { ...base, loaders: createLoaders(services, base) };
      },
      onError: (_ctx, _id, _payload, errors) => {
        for (const e of errors) logger.debug({ err: e }, "subscription error");
      },
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    introspection: true,
    csrfPrevention: true,
    validationRules: [depthRule],
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM/SIGINT (drain, pools, embedded database); Apollo's own handler would stop
    // the server in parallel and then re-send the signal, cutting that shutdown short.
    stopOnTerminationSignals: false,
    formatError,
    plugins: [
      ApolloServerPluginDrainHttpServer({
        httpServer: server,
        stopGracePeriodMillis: config.SHUTDOWN_GRACE_MS,
      }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
      {
        async requestDidStart({ contextValue }) {
          const started = process.hrtime.bigint();
          return {
            async didResolveOperation({ request, document, operationName }) {
              const complexity = operationComplexity(
                schema,
                document,
                operationName ?? undefined,
                request.variables,
              );
              if (complexity > config.MAX_QUERY_COMPLEXITY) {
                throw new GraphQLError(
                  `Query is too complex: ${complexity} exceeds the limit of ${config.MAX_QUERY_COMPLEXITY}`,
                  { extensions: { code: "QUERY_TOO_COMPLEX", http: { status: 400 } } },
                );
              }
            },
            async didEncounterErrors({ errors }) {
              // Only what formatError will mask: auth failures and bad queries are the client's, not ours.
              for (const e of errors) {
                if (isUnexpected(e.extensions?.code, e)) {
                  logger.error(
                    { err: e.originalError ?? e, requestId: contextValue.requestId },
                    "unexpected error",
                  );
                }
              }
            },
            async willSendResponse({ operationName, response }) {
              const seconds = Number(process.hrtime.bigint() - started) / 1e9;
              const failed = response.body.kind === "single" && !!response.body.singleResult.errors?.length;
              metrics.graphqlDuration.observe(
                { operation: operationName ?? "anonymous", failed: String(failed) },
                seconds,
              );
              response.http.headers.set("x-request-id", contextValue.requestId);
              const statements = (contextValue as CountedContext)[statementsKey];
              if (statements) response.http.headers.set("x-sql-statements", String(statements.count));
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    statements: StatementCounter,
  ): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/healthz") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: "ok" }));
      return;
    }
    if (url.pathname === "/readyz") {
      const status = await opts.ready().catch(() => ({ database: false, redis: false }));
      const ok = status.database && status.redis;
      res.statusCode = ok ? 200 : 503;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: ok ? "ready" : "unavailable", ...status }));
      return;
    }
    if (url.pathname === "/metrics") {
      res.setHeader("content-type", metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
      return;
    }
    if (servePlayground(req, res, url)) return;
    if (url.pathname !== "/graphql") {
      res.statusCode = 404;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ error: "Not found", graphql: "/graphql" }));
      return;
    }
    if (req.method === "GET" && wantsPlayground(req)) {
      servePlayground(req, res, url, true);
      return;
    }
    if (req.method !== "GET" && req.method !== "POST") {
      res.statusCode = 405;
      res.setHeader("allow", "GET, POST");
      res.end();
      return;
    }
    if (config.RATE_LIMIT_PER_MINUTE > 0) {
      const who = header(req, "authorization") ?? req.socket.remoteAddress ?? "unknown";
      const limit = await services.deps.infra.rateLimiter.hit(`rl:${who}`, config.RATE_LIMIT_PER_MINUTE, 60);
      res.setHeader("x-ratelimit-remaining", String(limit.remaining));
      if (!limit.allowed) {
        res.statusCode = 429;
        res.setHeader("retry-after", String(limit.resetSeconds));
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            errors: [{ message: "Too many requests", extensions: { code: "RATE_LIMITED" } }],
          }),
        );
        return;
      }
    }
    await handleGraphQLHttp(apollo, req, res, url, config.MAX_BODY_BYTES, async () => {
      try {
        const context: CountedContext = await buildContext(services, {
          storeHandle: header(req, "x-store"),
          authorization: header(req, "authorization"),
          requestId: header(req, "x-request-id"),
        });
        if (config.NODE_ENV === "test") context[statementsKey] = statements;
        return context;
      } catch (e) {
        throw toGraphQLError(e) ?? e;
      }
    });
  }

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const counter = { count: 0 };
    withStatementCounter(counter, () =>
      route(req, res, counter).catch((err: unknown) => {
        logger.error({ err }, "unhandled request failure");
        if (!res.headersSent) sendJsonError(res, 500, "Internal server error");
        else res.end();
      }),
    );
  });

  return {
    server,
    metrics,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    async close() {
      // Apollo's drain plugin stops the HTTP server and waits for in-flight requests (with a grace period).
      await apollo.stop();
      for (const client of wsServer.clients) client.terminate();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}
