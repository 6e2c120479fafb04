/**
 * Publishes committed outbox rows to pub/sub and marks them published.
 *
 * Guarantees: at least once, and in id order within one relay. Rows are claimed with
 * `FOR UPDATE SKIP LOCKED` in a short transaction, published, and marked in that same transaction only
 * once their publish succeeded; a failed publish leaves the row (and every later one in the batch)
 * unpublished for a later round, and a crash before commit releases the locks. Several relays (one per
 * instance) share the work without blocking each other or publishing a row twice; across relays
 * events may interleave, so consumers order and dedupe by the message id.
 *
 * Wake-ups: LISTEN on the channel `writeOutbox` notifies at commit, plus a poll as a safety net (a
 * notification is lost while the listening connection is down).
 */
import { asc, inArray, isNull, lt, sql } from "drizzle-orm";
import type postgres from "postgres";
import type { Db } from "../db/client.js";
import { outbox } from "../db/schema.js";
import type { PubSub } from "../infra/types.js";
import type { Logger } from "../logger.js";
import { OUTBOX_NOTIFY_CHANNEL, type OutboxMessage, outboxChannels } from "./outbox.js";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface OutboxRelayOptions {
  db: Db;
  /** The postgres.js client to LISTEN with; without it the relay only polls. */
  listener?: Pick<postgres.Sql, "listen">;
  pubsub: PubSub;
  logger: Logger;
  /** Safety-net poll interval. */
  pollMs: number;
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** Published rows older than this are deleted. */
  retentionMs?: number;
  /** How often the relay deletes expired published rows. */
  purgeEveryMs?: number;
}

type OutboxRow = typeof outbox.$inferSelect;

export class OutboxRelay {
  private readonly batchSize: number;
  private readonly retentionMs: number;
  private readonly purgeEveryMs: number;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  /** The background loop, while one runs; a wake-up during it asks for one more pass. */
  private loop: Promise<void> | undefined;
  private wokenDuringLoop = false;
  /** Rounds of this relay run one after another, never overlapping: that keeps id order. */
  private tail: Promise<unknown> = Promise.resolve();
  private purgedAt = 0;
  private warnedAt = 0;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.batchSize = opts.batchSize ?? 100;
    this.retentionMs = opts.retentionMs ?? 7 * DAY_MS;
    this.purgeEveryMs = opts.purgeEveryMs ?? 60 * 60 * 1000;
  }

  /** Starts listening and polling, and publishes whatever is already waiting. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.opts.listener) {
      try {
        // onlisten also fires after postgres.js re-listens on a new connection: catch up then.
        const wake = () => this.wake();
        const { unlisten } = await this.opts.listener.listen(OUTBOX_NOTIFY_CHANNEL, wake, wake);
        this.unlisten = unlisten;
      } catch (err) {
        this.opts.logger.warn({ err }, "outbox relay: LISTEN failed, relying on polling");
      }
    }
    this.timer = setInterval(() => this.wake(), this.opts.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops waking up and waits for the round in flight, so no transaction outlives the relay. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.().catch(() => undefined);
    await this.idle();
    await this.tail;
  }

  /** Resolves once no background pass is running (until the next wake-up). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Asks for a pass over the outbox soon (coalesced with one already running). */
  wake(): void {
    if (!this.running) return;
    if (this.loop) {
      this.wokenDuringLoop = true;
      return;
    }
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
    });
  }

  /**
   * Publishes every unpublished event this relay can claim, oldest first, and resolves how many.
   * Rejects when a publish fails; that event and the ones after it stay for a later round.
   */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.round();
      total += claimed;
      if (claimed < this.batchSize) return total;
    }
  }

  /** Deletes published rows older than the retention; resolves how many. */
  async purgePublished(now: Date = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.retentionMs);
    let total = 0;
    for (;;) {
      // In slices, so a large backlog never holds a long transaction.
      const { db } = this.opts;
      const expired = db
        .select({ id: outbox.id })
        .from(outbox)
        .where(lt(outbox.publishedAt, cutoff))
        .limit(5000);
      const deleted = await db.delete(outbox).where(inArray(outbox.id, expired));
      total += deleted.count;
      if (deleted.count < 5000) return total;
    }
  }

  private async runLoop(): Promise<void> {
    do {
      this.wokenDuringLoop = false;
      try {
        while (this.running && (await this.round()) === this.batchSize) {}
      } catch (err) {
        // Pub/sub is down (or the database): the rows wait; the next poll tries again.
        this.warnOccasionally(err, "outbox relay: publish failed, will retry");
        return;
      }
      await this.purgeOccasionally();
    } while (this.running && this.wokenDuringLoop);
  }

  /** One claim-publish-mark transaction; resolves how many rows it claimed. */
  private round(): Promise<number> {
    const run = this.tail.then(() => this.publishBatch());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async publishBatch(): Promise<number> {
    const { claimed, failure } = await this.opts.db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(outbox)
        .where(isNull(outbox.publishedAt))
        .orderBy(asc(outbox.id))
        .limit(this.batchSize)
        .for("update", { skipLocked: true });
      const published: number[] = [];
      let failure: unknown;
      for (const row of rows) {
        try {
          await this.publish(row);
        } catch (err) {
          failure = err;
          break;
        }
        published.push(row.id);
      }
      // The rows published so far are marked even when a later one failed: republishing them would
      // only add duplicates, and the failed one still goes out before anything after it.
      if (published.length > 0) {
        await tx.update(outbox).set({ publishedAt: sql`now()` }).where(inArray(outbox.id, published));
      }
      return { claimed: rows.length, failure };
    });
    if (failure !== undefined) throw failure;
    return claimed;
  }

  private async publish(row: OutboxRow): Promise<void> {
    const message: OutboxMessage = {
      id: row.id,
      storeId: row.storeId,
      topic: row.topic,
      key: row.key,
      occurredAt: row.createdAt.toISOString(),
      payload: row.payload,
    };
    await Promise.all(outboxChannels(row).map((channel) => this.opts.pubsub.publish(channel, message)));
  }

  private async purgeOccasionally(): Promise<void> {
    if (Date.now() - this.purgedAt < this.purgeEveryMs) return;
    this.purgedAt = Date.now();
    try {
      const deleted = await this.purgePublished();
      if (deleted > 0) this.opts.logger.info({ deleted }, "outbox relay: purged published events");
    } catch (err) {
      this.warnOccasionally(err, "outbox relay: purge failed");
    }
  }

  private warnOccasionally(err: unknown, msg: string): void {
    // Once per 10 s while the failure lasts, not once per poll.
    if (Date.now() - this.warnedAt < 10_000) return;
    this.warnedAt = Date.now();
    this.opts.logger.warn({ err }, msg);
  }
}
