/**
 * Settles sold units (inventory/settlement.ts) in-process on an interval: each run takes batches of
 * unsettled sales until none is left. Several instances settling at once take disjoint batches (the
 * reservations are locked SKIP LOCKED), so each sale leaves the counters once.
 */
import type { Db } from "../../db/client.js";
import type { Logger } from "../../logger.js";
import { type SettlementResult, settleSales } from "../inventory/settlement.js";

/** Sales per statement: enough to take a busy second's orders in one, few enough to hold locks briefly. */
const BATCH = 1000;
/** Batches per run at most, so a backlog never keeps one run going for long. */
const MAX_BATCHES = 20;

/** What the job has done in this process, for /metrics. */
export interface StockSettlementStats {
  settled: number;
  refused: number;
  failedRuns: number;
  /** When a run last finished without an error (ms since the epoch), null before the first. */
  lastRunAt: number | null;
}

export class StockSettlementJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly counts: StockSettlementStats = { settled: 0, refused: 0, failedRuns: 0, lastRunAt: null };

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Settles what is unsettled now: batches over the variants nobody holds, then each busy variant on
   * its own (waiting for its lock with no other held). Returns how many sales it settled.
   */
  async settle(): Promise<SettlementResult> {
    const total: SettlementResult = { settled: 0, refused: [], busy: [] };
    const busy = new Map<string, { storeId: string; variantId: string }>();
    for (let i = 0; i < MAX_BATCHES; i++) {
      const batch = await settleSales(this.db, { limit: BATCH }, this.now());
      total.settled += batch.settled;
      total.refused.push(...batch.refused);
      for (const b of batch.busy) busy.set(b.variantId, b);
      if (batch.settled < BATCH) break;
    }
    for (const { storeId, variantId } of busy.values()) {
      const alone = await settleSales(this.db, { storeId, variantIds: [variantId] }, this.now());
      total.settled += alone.settled;
      total.refused.push(...alone.refused);
    }
    // Cannot happen while every path keeps reserved >= what its reservations hold; say so if it does.
    if (total.refused.length) this.logger.error({ variants: total.refused }, "stock settlement refused");
    this.counts.settled += total.settled;
    this.counts.refused += total.refused.length;
    this.counts.lastRunAt = this.now().getTime();
    return total;
  }

  stats(): Readonly<StockSettlementStats> {
    return this.counts;
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.settle()
        .catch((err: unknown) => {
          this.counts.failedRuns += 1;
          this.logger.error({ err }, "stock settlement failed");
        })
        .finally(() => {
          this.running = null;
        });
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
