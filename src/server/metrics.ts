/**
 * Prometheus metrics, on a registry per app instance (tests run several apps in one process). Every
 * label value comes from a bounded set (operation labels are built from schema field names, see
 * `operationLabel`), so no client can grow the number of series.
 */
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const graphqlDuration = new Histogram({
    name: "cartograph_graphql_duration_seconds",
    help: "GraphQL operation duration, by operation type and root field",
    labelNames: ["operation", "failed", "transport"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return { registry, graphqlDuration };
}

export type Metrics = ReturnType<typeof createMetrics>;
