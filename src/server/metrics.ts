/**
 * Prometheus metrics, on a registry per app instance (tests run several apps in one process). Every
 * label value comes from a bounded set (operation labels are built from schema field names, see
 * `operationLabel`), so no client can grow the number of series.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ReadReplicaHealth } from "../db/read-replica.js";
import type { StockSettlementStats } from "../services/jobs/stock-settlement.job.js";

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

/** The read replica's state, read at scrape time from its last probe. */
export function registerReadReplicaMetrics(
  registry: Registry,
  replica: { health(): ReadReplicaHealth },
): void {
  const flag = (v: boolean) => (v ? 1 : 0);
  new Gauge({
    name: "cartograph_db_replica_up",
    help: "1 when the last lag probe reached the read replica and no read lost its connection since",
    registers: [registry],
    collect() {
      this.set(flag(replica.health().up));
    },
  });
  new Gauge({
    name: "cartograph_db_replica_usable",
    help: "1 when replica-eligible reads are sent to the read replica (up and within the lag bound)",
    registers: [registry],
    collect() {
      this.set(flag(replica.health().usable));
    },
  });
  new Gauge({
    name: "cartograph_db_replica_lag_seconds",
    help: "How stale the read replica was at the last probe (NaN when unknown)",
    registers: [registry],
    collect() {
      const { lagMs } = replica.health();
      this.set(lagMs === null ? Number.NaN : lagMs / 1000);
    },
  });
  new Gauge({
    name: "cartograph_db_replica_lag_bytes",
    help: "WAL bytes the read replica had not replayed at the last probe (NaN when unknown)",
    registers: [registry],
    collect() {
      const { lagBytes } = replica.health();
      this.set(lagBytes ?? Number.NaN);
    },
  });
  new Counter({
    name: "cartograph_db_replica_fallbacks_total",
    help: "Reads that failed on the read replica and were answered by the primary",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(replica.health().fallbacks);
    },
  });
}

/** The stock settlement job's counts in this process (src/services/jobs/stock-settlement.job.ts). */
export function registerStockSettlementMetrics(
  registry: Registry,
  job: { stats(): Readonly<StockSettlementStats> },
): void {
  const counter = (name: string, help: string, read: (s: Readonly<StockSettlementStats>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(job.stats()));
      },
    });
  counter(
    "cartograph_stock_settled_total",
    "Sold reservations this process took off the stock counters",
    (s) => s.settled,
  );
  counter(
    "cartograph_stock_settlement_refused_total",
    "Variants whose counters refused a settlement (reserved below what was sold: a bug to look into)",
    (s) => s.refused,
  );
  counter(
    "cartograph_stock_settlement_failures_total",
    "Settlement runs that ended with an error",
    (s) => s.failedRuns,
  );
  new Gauge({
    name: "cartograph_stock_settlement_last_run_timestamp_seconds",
    help: "When this process's settlement last finished a run (0 before the first): alert when it stops moving",
    registers: [registry],
    collect() {
      this.set((job.stats().lastRunAt ?? 0) / 1000);
    },
  });
}
