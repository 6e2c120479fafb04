/**
 * Publishes committed outbox rows to pub/sub and marks them published, without ever holding a database
 * transaction open across the publish (a network call to Redis).
 *
 * Leases. A round is three steps:
 *   1. claim: one UPDATE leases up to `batchSize` unpublished rows to this relay (`claimed_by` = its
 *      random id, `claimed_until` = now + `leaseMs`), skipping rows another relay holds a live lease on
 *      (`FOR UPDATE SKIP LOCKED` in the sub-select keeps two relays' claims from colliding);
 *   2. publish, with no transaction open, in id order, stopping at the first failure, and starting a row
 *      only within the first two thirds of the lease, so the last publish has time to finish before the
 *      lease runs out and another relay may take the row over;
 *   3. settle: one UPDATE marks the published rows and clears the lease of the rest (failed or not
 *      attempted) so the next round retries them promptly, both only where `claimed_by` is still this
 *      relay: a row another relay took over after our lease ran out is that relay's to mark.
 *
 * Guarantees: at least once. A relay that dies mid-publish (or cannot settle) leaves its rows leased;
 * once the lease runs out any relay claims and publishes them again. A committed event is never lost.
 *
 * Order. One relay publishes in id order: its rounds never overlap, each starts at the lowest unpublished
 * id it can claim, and it may always reclaim rows still leased to itself (left over when a settle
 * failed), so a failed row goes out before anything after it. The exception is a restart: rows still
 * leased by the crashed instance (another relay id) go out once that lease runs out, after newer ones.
 * Several relays each keep id order within their own batches, but their batches interleave, a row
 * released after a failure can go out after later rows another relay held, and a lease that ran out
 * mid-publish yields a duplicate: consumers order and dedupe by the message id.
 *
 * Wake-ups: LISTEN on the channel `OUTBOX_NOTIFY_CHANNEL` (notified at commit by `writeOutbox`), plus a
 * poll as a safety net (a notification is lost while the listening connection is down, and a lease that
 * ran out wakes nobody).
 */
import { randomUUID } from "node:crypto";
import { and, asc, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type postgres from "postgres";
import type { Db } from "../db/client.js";
import { outbox } from "../db/schema.js";
import type { PubSub } from "../infra/types.js";
import type { Logger } from "../logger.js";
import { passedByEveryConsumer } from "./events/outbox-consumer.js";
import { OUTBOX_NOTIFY_CHANNEL, type OutboxMessage, outboxChannels } from "./outbox.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Share of the lease in which a row's publish may start; the rest is left for that publish to finish. */
const PUBLISH_WINDOW = 2 / 3;

export interface OutboxRelayOptions {
  db: Db;
  /** The postgres.js client to LISTEN with; without it the relay only polls. */
  listener?: Pick<postgres.Sql, "listen">;
  pubsub: PubSub;
  logger: Logger;
  /** Safety-net poll interval. */
  pollMs: number;
  /** Rows claimed per round. */
  batchSize?: number;
  /**
   * How long a claim keeps other relays off the rows (integer milliseconds, default 30 s). Far above one
   * row's publish (three channels in parallel, each bounded by the 2 s Redis command timeout), yet short
   * enough that a crashed relay's rows go out again soon.
   */
  leaseMs?: number;
  /** Published rows older than this are deleted. */
  retentionMs?: number;
  /** How often the relay deletes expired published rows. */
  purgeEveryMs?: number;
}

type OutboxRow = typeof outbox.$inferSelect;

export class OutboxRelay {
  /**
   * Written to `claimed_by`: random per instance, so a restarted relay never mistakes the leases of its
   * previous life for its own.
   */
  readonly relayId = randomUUID();
  private readonly batchSize: number;
  private readonly leaseMs: number;
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
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.retentionMs = opts.retentionMs ?? 7 * DAY_MS;
    this.purgeEveryMs = opts.purgeEveryMs ?? 60 * 60 * 1000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs <= 0) {
      throw new Error(`outbox relay: leaseMs must be a positive integer, got ${this.leaseMs}`);
    }
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

  /**
   * Stops waking up and waits for the round in flight to publish and settle, so the relay leaves no
   * lease behind that others would have to wait out.
   */
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
   * Publishes every unpublished event this relay can claim, oldest first, and resolves how many rows it
   * claimed. Rejects when a publish fails; that event and the ones after it stay for a later round.
   */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.round();
      total += claimed;
      if (claimed < this.batchSize) return total;
    }
  }

  /**
   * Deletes published rows older than the retention that every outbox consumer has passed (a consumer
   * reads the table, not pub/sub: a row it has not handled yet must stay however old); resolves how many.
   */
  async purgePublished(now: Date = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.retentionMs);
    let total = 0;
    for (;;) {
      // In slices, so a large backlog never makes one long statement; `published_at < cutoff` implies
      // `published_at IS NOT NULL`, so the slice is found through the partial published_at index.
      const { db } = this.opts;
      const expired = db
        .select({ id: outbox.id })
        .from(outbox)
        .where(and(lt(outbox.publishedAt, cutoff), passedByEveryConsumer))
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

  /** One claim-publish-settle round; resolves how many rows it claimed. */
  private round(): Promise<number> {
    const run = this.tail.then(() => this.publishBatch());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async publishBatch(): Promise<number> {
    // Taken before the claim is sent, so it is never later than the database's now() for the lease:
    // measured from here, the lease cannot run out sooner than this relay believes.
    const claimedAt = performance.now();
    const rows = await this.claim();
    if (rows.length === 0) return 0;
    const publishBefore = claimedAt + this.leaseMs * PUBLISH_WINDOW;
    const published: number[] = [];
    let failure: unknown;
    for (const row of rows) {
      // Past this point another relay may soon take the row over: leave it (and the rest) to a later
      // round rather than race that relay and publish out of order.
      if (performance.now() >= publishBefore) break;
      try {
        await this.publish(row);
      } catch (err) {
        failure = err;
        break;
      }
      published.push(row.id);
    }
    // The rows published so far are marked even when a later one failed: republishing them would only
    // add duplicates, and the failed one still goes out before anything after it.
    await this.settle(
      rows.map((r) => r.id),
      published,
    );
    if (failure !== undefined) throw failure;
    return rows.length;
  }

  /**
   * Leases the oldest claimable unpublished rows to this relay, in one statement (its own short
   * transaction), and returns them in id order. Claimable: not leased, lease run out, or leased to this
   * relay itself (a leftover of a round whose settle failed: rounds never overlap, so nothing of ours is
   * in flight).
   */
  private async claim(): Promise<OutboxRow[]> {
    const { db } = this.opts;
    const claimable = db
      .select({ id: outbox.id })
      .from(outbox)
      .where(
        and(
          isNull(outbox.publishedAt),
          or(
            isNull(outbox.claimedUntil),
            lt(outbox.claimedUntil, sql`now()`),
            eq(outbox.claimedBy, this.relayId),
          ),
        ),
      )
      .orderBy(asc(outbox.id))
      .limit(this.batchSize)
      .for("update", { skipLocked: true });
    const rows = await db
      .update(outbox)
      .set({
        claimedUntil: sql`now() + ${this.leaseMs}::integer * interval '1 millisecond'`,
        claimedBy: this.relayId,
      })
      .where(inArray(outbox.id, claimable))
      .returning();
    // UPDATE ... RETURNING does not keep the sub-select's order.
    return rows.sort((a, b) => a.id - b.id);
  }

  /**
   * Marks `published` and releases the lease on every other claimed row, in one statement, only where
   * this relay still holds the row: once our lease ran out another relay may have claimed it, and then
   * marking or releasing it is that relay's business.
   */
  private async settle(claimed: number[], published: number[]): Promise<void> {
    const wentOut = inArray(outbox.id, published); // `false` when nothing did
    await this.opts.db
      .update(outbox)
      .set({
        publishedAt: sql`case when ${wentOut} then now() else ${outbox.publishedAt} end`,
        claimedUntil: null,
      })
      .where(and(inArray(outbox.id, claimed), eq(outbox.claimedBy, this.relayId)));
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
