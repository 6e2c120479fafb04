/**
 * One HTTP server on one port: GraphQL over HTTP and WebSocket (graphql-ws) at /graphql, both through
 * the same request pipeline (pipeline.ts); the offline GraphiQL playground on a browser GET of /graphql;
 * /healthz, /readyz and /metrics (optionally behind a token, or on a port of its own); CORS for browser
 * storefronts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import type { GraphQLSchema } from "graphql";
import type { Config } from "../config.js";
import { type StatementCounter, withStatementCounter } from "../db/statement-counter.js";
import type { Logger } from "../logger.js";
import type { GraphQLContext } from "../resolvers/context.js";
import { WebhookSignatureError } from "../services/checkout/webhook.service.js";
import { UnauthenticatedError } from "../services/errors.js";
import type { Services } from "../services/index.js";
import { clientIp } from "./client-ip.js";
import { compiledExecutionGateway } from "./compiled-execution.js";
import { applyCors } from "./cors.js";
import { toGraphQLError } from "./errors.js";
import { BodyTooLargeError, handleGraphQLHttp, readRawBody, sendJsonError } from "./graphql-http.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { operationLabel, RequestPipeline, rateLimitKey } from "./pipeline.js";
import { servePlayground, wantsPlayground } from "./playground.js";
import { routeReads } from "./read-routing.js";
import { buildContext } from "./request-context.js";
import { attachWebSocket } from "./ws.js";

/** What /readyz reports: ready means PostgreSQL answers and is migrated; the rest is detail. */
export interface Readiness {
  ready: boolean;
  database: { reachable: boolean; migrated: boolean };
  [detail: string]: unknown;
}

export interface AppOptions {
  config: Config;
  services: Services;
  schema: GraphQLSchema;
  logger: Logger;
  readiness: () => Promise<Readiness>;
}

export interface App {
  server: Server;
  metrics: Metrics;
  listen(port: number, host?: string): Promise<number>;
  /** The port /metrics listens on when METRICS_PORT is set. */
  metricsPort(): number | null;
  /** Stops accepting, drains in-flight requests, closes sockets. */
  close(): Promise<void>;
}

/** Gateway events are small; anything bigger is not one. */
const WEBHOOK_MAX_BYTES = 512 * 1024;

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}

export async function createApp(opts: AppOptions): Promise<App> {
  const { config, services, schema, logger } = opts;
  const metrics = createMetrics();
  const server = createServer();
  const pipeline = new RequestPipeline({ schema, config, services, logger, metrics });
  const ws = attachWebSocket({ server, schema, config, services, pipeline, logger });
  let draining = false;
  // NODE_ENV=test only: each request's SQL statement count goes out as `x-sql-statements`, so tests can
  // assert statement budgets (N+1 regressions fail) through the real HTTP path. The counter rides on the
  // context under a symbol: Apollo hands plugins a shallow copy of the context, which keeps it.
  const statementsKey = Symbol("sqlStatements");
  type CountedContext = GraphQLContext & { [statementsKey]?: StatementCounter };

  const apollo = new ApolloServer<GraphQLContext>({
    // The schema, executed through graphql-jit (compiled-execution.ts).
    gateway: compiledExecutionGateway(schema),
    // Introspection is switched by our own validation rule (the same for both transports).
    introspection: true,
    hideSchemaDetailsFromClientErrors: !pipeline.introspection,
    csrfPrevention: true,
    validationRules: pipeline.validationRules,
    includeStacktraceInErrorResponses: false,
    // main.ts owns SIGTERM/SIGINT (drain, pools, embedded database); Apollo's own handler would stop
    // the server in parallel and then re-send the signal, cutting that shutdown short.
    stopOnTerminationSignals: false,
    formatError: pipeline.formatError,
    plugins: [
      // Apollo installs cache control by default, and with it a hook on every resolved field; nothing
      // here sets cache hints, so it only cost time per field.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginDrainHttpServer({
        httpServer: server,
        stopGracePeriodMillis: config.SHUTDOWN_GRACE_MS,
      }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await ws.close();
            },
          };
        },
      },
      {
        async requestDidStart({ contextValue }) {
          const started = process.hrtime.bigint();
          let label = "invalid";
          return {
            async didResolveOperation({ request, document, operation }) {
              label = operationLabel(operation);
              if (!operation) return;
              // Read replica: may this operation's catalog reads go there (loaders are rebuilt to follow).
              routeReads(contextValue, operation.operation);
              const refused = await pipeline.admit({
                document,
                operation,
                variables: request.variables,
                context: contextValue,
                transport: "http",
              });
              if (refused) throw refused;
            },
            async didEncounterErrors({ errors }) {
              pipeline.logUnexpected(errors, contextValue.requestId);
            },
            async willSendResponse({ response }) {
              const seconds = Number(process.hrtime.bigint() - started) / 1e9;
              const failed = response.body.kind === "single" && !!response.body.singleResult.errors?.length;
              pipeline.observe(label, seconds, failed, "http");
              response.http.headers.set("x-request-id", contextValue.requestId);
              if (contextValue.rateLimitRemaining !== undefined) {
                response.http.headers.set("x-ratelimit-remaining", String(contextValue.rateLimitRemaining));
              }
              const statements = (contextValue as CountedContext)[statementsKey];
              if (statements) {
                response.http.headers.set("x-sql-statements", String(statements.count));
                response.http.headers.set("x-sql-statements-replica", String(statements.replica ?? 0));
                if (statements.log) response.http.headers.set("x-sql-log", JSON.stringify(statements.log));
              }
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  const metricsAllowed = (req: IncomingMessage): boolean =>
    !config.METRICS_TOKEN || header(req, "authorization") === `Bearer ${config.METRICS_TOKEN}`;

  async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!metricsAllowed(req)) {
      res.setHeader("www-authenticate", "Bearer");
      return sendJson(res, 401, { error: "metrics need a bearer token" });
    }
    res.setHeader("content-type", metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  }

  /**
   * A request that failed authentication still counts against its address: without that, guessing
   * tokens would be the one thing nobody limits.
   */
  async function refuseUnauthenticated(res: ServerResponse, ip: string, error: unknown): Promise<void> {
    const mapped = toGraphQLError(error);
    if (config.RATE_LIMIT_PER_MINUTE > 0) {
      const limit = await services.deps.infra.rateLimiter.hit(
        rateLimitKey({ kind: "anonymous" }, "", ip),
        config.RATE_LIMIT_PER_MINUTE,
        60,
      );
      if (!limit.allowed) {
        res.setHeader("retry-after", String(limit.resetSeconds));
        return sendJson(res, 429, {
          errors: [{ message: "Too many requests", extensions: { code: "RATE_LIMITED" } }],
        });
      }
    }
    return sendJson(res, 401, {
      errors: [{ message: mapped?.message ?? "Unauthenticated", extensions: { code: "UNAUTHENTICATED" } }],
    });
  }

  /** Gateway webhooks: verified over the raw bytes; 400 for anything unverifiable, 500 to get a redelivery. */
  async function receiveWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      res.statusCode = 405;
      res.setHeader("allow", "POST");
      res.end();
      return;
    }
    let raw: Buffer;
    try {
      raw = await readRawBody(req, WEBHOOK_MAX_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLargeError) return sendJsonError(res, 413, "Webhook body too large");
      throw e;
    }
    try {
      const answer = await services.webhooks.receive(raw, header(req, "stripe-signature"));
      return sendJson(res, answer.status, answer.body);
    } catch (e) {
      if (e instanceof WebhookSignatureError) return sendJson(res, 400, { error: e.message });
      logger.error({ err: e }, "webhook handling failed; the gateway will redeliver");
      return sendJson(res, 500, { error: "Internal server error" });
    }
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    statements: StatementCounter | undefined,
  ): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (applyCors(req, res, config.CORS_ORIGINS)) return;
    if (url.pathname === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (url.pathname === "/readyz") {
      const state = draining
        ? { ready: false, draining: true, database: { reachable: true, migrated: true } }
        : await opts
            .readiness()
            .catch((): Readiness => ({ ready: false, database: { reachable: false, migrated: false } }));
      return sendJson(res, state.ready ? 200 : 503, {
        status: state.ready ? "ready" : "unavailable",
        ...state,
      });
    }
    if (url.pathname === "/metrics" && config.METRICS_PORT === undefined) return serveMetrics(req, res);
    if (url.pathname === "/webhooks/stripe") return receiveWebhook(req, res);
    if (servePlayground(req, res, url)) return;
    if (url.pathname !== "/graphql") return sendJson(res, 404, { error: "Not found", graphql: "/graphql" });
    if (req.method === "GET" && wantsPlayground(req)) {
      servePlayground(req, res, url, true);
      return;
    }
    if (req.method !== "GET" && req.method !== "POST") {
      res.statusCode = 405;
      res.setHeader("allow", "GET, POST, OPTIONS");
      res.end();
      return;
    }
    const ip = clientIp(req, config.TRUST_PROXY_HOPS);
    let context: CountedContext;
    try {
      context = await buildContext(services, {
        storeHandle: header(req, "x-store"),
        authorization: header(req, "authorization"),
        requestId: header(req, "x-request-id"),
        clientIp: ip,
      });
    } catch (e) {
      if (e instanceof UnauthenticatedError) return refuseUnauthenticated(res, ip, e);
      const mapped = toGraphQLError(e);
      if (!mapped) throw e;
      const status = (mapped.extensions.http as { status?: number } | undefined)?.status ?? 400;
      return sendJson(res, status, {
        errors: [{ message: mapped.message, extensions: { code: mapped.extensions.code } }],
      });
    }
    if (statements) context[statementsKey] = statements;
    await handleGraphQLHttp(apollo, req, res, url, config.MAX_BODY_BYTES, async () => context);
  }

  const handle = (req: IncomingMessage, res: ServerResponse, counter?: StatementCounter) =>
    route(req, res, counter).catch((err: unknown) => {
      logger.error({ err }, "unhandled request failure");
      if (!res.headersSent) sendJsonError(res, 500, "Internal server error");
      else res.end();
    });
  server.on(
    "request",
    config.NODE_ENV === "test"
      ? (req: IncomingMessage, res: ServerResponse) => {
          // `x-sql-log: 1` also returns the statements' text (tests print it when a budget is broken).
          const counter: StatementCounter = req.headers["x-sql-log"] ? { count: 0, log: [] } : { count: 0 };
          withStatementCounter(counter, () => handle(req, res, counter));
        }
      : (req: IncomingMessage, res: ServerResponse) => void handle(req, res),
  );

  let metricsServer: Server | null = null;
  if (config.METRICS_PORT !== undefined) {
    metricsServer = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname !== "/metrics") return sendJson(res, 404, { error: "Not found", metrics: "/metrics" });
      serveMetrics(req, res).catch((err: unknown) => {
        logger.error({ err }, "metrics failed");
        if (!res.headersSent) sendJsonError(res, 500, "Internal server error");
      });
    });
  }

  return {
    server,
    metrics,
    metricsPort: () => (metricsServer?.address() as AddressInfo | null)?.port ?? null,
    async listen(port, host) {
      if (metricsServer) {
        await new Promise<void>((resolve, reject) => {
          metricsServer?.once("error", reject);
          metricsServer?.listen(config.METRICS_PORT, host, () => resolve());
        });
      }
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      });
    },
    async close() {
      draining = true;
      // Apollo's drain plugin stops the HTTP server and waits for in-flight requests (with a grace period),
      // and closes the WebSockets through drainServer.
      await apollo.stop();
      server.closeAllConnections?.();
      if (metricsServer) await new Promise<void>((resolve) => metricsServer?.close(() => resolve()));
    },
  };
}
