/**
 * A named consumer of the outbox TABLE (pub/sub is at most once; a consumer that must not miss an
 * event reads the table). Each consumer has a durable cursor, a row of `outbox_consumers`: every event
 * with an id up to `last_id` has been handled or never committed.
 *
 * Guarantees.
 * - At least once overall, effectively once for database writes: each event is handled in a
 *   transaction that also moves the cursor past it. A crash (or a throwing handler) between the handler
 *   and the commit rolls both back, and the event is handled again later. A backlog goes up to
 *   `eventsPerTransaction` events per transaction: one commit (one WAL flush) for the lot. A commit per
 *   event held the notifications consumer to ~30-45 events/s on the bench VM, fewer than checkout
 *   produced, so its backlog kept PostgreSQL busy long after the orders.
 * - Nothing is skipped: the cursor only moves up to the commit horizon (commit-horizon.ts), below which
 *   every id is final, so an event whose transaction commits after later ones is still handled.
 * - Id order: events are handed over in id order (for one key, commit order, see outbox.ts).
 * - One instance works at a time: several may run; the one holding the lease (`claimed_by`,
 *   `claimed_until`) handles events, renewing the lease as it goes; a dead holder's lease runs out and
 *   another instance takes over. The lease is only about who works: correctness comes from the event
 *   transaction locking the cursor row and checking it is still where this instance left it, so two
 *   instances that both believe they hold the lease still commit each event once.
 *
 * A handler that keeps failing stops its consumer at that event (retried with backoff, logged): an
 * event is never skipped to get past it.
 *
 * Wake-ups: LISTEN on `OUTBOX_NOTIFY_CHANNEL` (the relay's channel, notified at commit), plus a poll.
 */
import { randomUUID } from "node:crypto";
import { and, asc, eq, gt, inArray, lte, sql } from "drizzle-orm";
import type postgres from "postgres";
import type { Db, Tx } from "../../db/client.js";
import { outbox, outboxConsumers } from "../../db/schema.js";
import type { Logger } from "../../logger.js";
import { OUTBOX_NOTIFY_CHANNEL, type OutboxMessage } from "../outbox.js";
import { CommitHorizon, lastHandedOutId } from "./commit-horizon.js";

/** Handles one event inside the transaction that moves the cursor past it. Throw to retry it later. */
export type OutboxHandler = (tx: Tx, message: OutboxMessage) => Promise<void>;

export interface OutboxConsumerOptions {
  /** The cursor's name: every instance with this name shares one cursor. */
  name: string;
  db: Db;
  /** The postgres.js client to LISTEN with; without it the consumer only polls. */
  listener?: Pick<postgres.Sql, "listen">;
  logger: Logger;
  handle: OutboxHandler;
  /** Only events of these topics reach the handler (the cursor still passes the others). */
  topics?: readonly string[];
  /** Safety-net poll interval. */
  pollMs: number;
  /** Events read per query. */
  batchSize?: number;
  /** Most events handled in one transaction (default 50). When one of them fails, they go one by one. */
  eventsPerTransaction?: number;
  /** How long the lease keeps other instances off (integer milliseconds, default 30 s). */
  leaseMs?: number;
  /**
   * Where a consumer with no cursor yet begins: after every event handed out so far ("end", the
   * default: a new notifier does not mail about last week), or at the first event still stored.
   */
  startAt?: "beginning" | "end";
  /** Called after a pass that handled events (outside any transaction), e.g. to wake a sender. */
  onHandled?: (count: number) => void;
  /** Upper bound of the retry delay after a failed pass. */
  maxRetryMs?: number;
}

/** The cursor moved under us (another instance took the lease over): stop this pass quietly. */
class CursorMoved extends Error {}

/**
 * SQL that holds for an outbox row every registered consumer has passed: the relay's purge deletes
 * only those. (`<= all` over no consumers is true.)
 */
export const passedByEveryConsumer = sql`${outbox.id} <= all (select ${outboxConsumers.lastId} from ${outboxConsumers})`;

type OutboxRow = typeof outbox.$inferSelect;

export interface ConsumerPass {
  handled: number;
  /** Some ids are not final yet: another pass soon will get further. */
  pending: boolean;
}

export class OutboxConsumer {
  /** Written to `claimed_by`: random per instance, so a restarted process never inherits a lease. */
  readonly instanceId = randomUUID();
  private readonly batchSize: number;
  private readonly eventsPerTransaction: number;
  private readonly leaseMs: number;
  private readonly maxRetryMs: number;
  private readonly horizon = new CommitHorizon();
  private running = false;
  private stopping = false;
  private registered = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private loop: Promise<void> | undefined;
  private wokenDuringLoop = false;
  /** Passes never overlap (the loop's and drain()'s): that keeps the cursor checks simple. */
  private tail: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private retryAt = 0;
  private pendingChecks = 0;
  private warnedAt = 0;

  constructor(private readonly opts: OutboxConsumerOptions) {
    this.batchSize = opts.batchSize ?? 100;
    this.eventsPerTransaction = Math.max(1, Math.floor(opts.eventsPerTransaction ?? 50));
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.maxRetryMs = opts.maxRetryMs ?? 60_000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs <= 0) {
      throw new Error(
        `outbox consumer ${opts.name}: leaseMs must be a positive integer, got ${this.leaseMs}`,
      );
    }
  }

  get name(): string {
    return this.opts.name;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    if (this.opts.listener) {
      try {
        const wake = () => this.wake();
        const { unlisten } = await this.opts.listener.listen(OUTBOX_NOTIFY_CHANNEL, wake, wake);
        this.unlisten = unlisten;
      } catch (err) {
        this.opts.logger.warn({ err, consumer: this.name }, "outbox consumer: LISTEN failed, polling");
      }
    }
    this.pollTimer = setInterval(() => this.wake(), this.opts.pollMs);
    this.pollTimer.unref();
    this.wake();
  }

  /** Stops waking up, waits for the pass in flight, and gives the lease back so another instance need not wait it out. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.soonTimer);
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.().catch(() => undefined);
    await this.idle();
    await this.tail;
    await this.release().catch((err: unknown) =>
      this.opts.logger.warn({ err, consumer: this.name }, "outbox consumer: could not release its lease"),
    );
  }

  /** Resolves once no background pass is running. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  wake(): void {
    if (!this.running || Date.now() < this.retryAt) return;
    if (this.loop) {
      this.wokenDuringLoop = true;
      return;
    }
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
    });
  }

  /**
   * Handles every event committed before the call (waiting up to `settleMs` for transactions still
   * open to finish) and resolves how many; 0 when another instance holds the lease. Rejects with the
   * handler's error.
   */
  async drain(settleMs = 5_000): Promise<number> {
    const until = Date.now() + settleMs;
    let total = 0;
    for (;;) {
      const pass = await this.pass();
      total += pass.handled;
      if (!pass.pending || Date.now() >= until) return total;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The cursor as stored: every id up to it is done. Null before the consumer first ran. */
  async position(): Promise<number | null> {
    const [row] = await this.opts.db
      .select({ lastId: outboxConsumers.lastId })
      .from(outboxConsumers)
      .where(eq(outboxConsumers.name, this.name));
    return row?.lastId ?? null;
  }

  private async runLoop(): Promise<void> {
    do {
      this.wokenDuringLoop = false;
      let pass: ConsumerPass;
      try {
        pass = await this.pass();
        this.failures = 0;
        this.retryAt = 0;
      } catch (err) {
        this.failures++;
        const delay = Math.min(this.maxRetryMs, this.opts.pollMs * 2 ** Math.min(this.failures, 20));
        this.retryAt = Date.now() + delay;
        this.warnOccasionally(err, "outbox consumer: pass failed, will retry", delay);
        return;
      }
      if (pass.handled > 0) this.opts.onHandled?.(pass.handled);
      this.scheduleSettleCheck(pass.pending);
    } while (this.running && this.wokenDuringLoop);
  }

  /**
   * Marks taken while other transactions were open settle once those end, usually within
   * milliseconds: look again soon (20, 40, 80 ms ... up to the poll) instead of waiting for the poll.
   */
  private scheduleSettleCheck(pending: boolean): void {
    if (!pending || !this.running) {
      this.pendingChecks = 0;
      return;
    }
    this.pendingChecks++;
    const delay = Math.min(this.opts.pollMs, 10 * 2 ** Math.min(this.pendingChecks, 16));
    clearTimeout(this.soonTimer);
    this.soonTimer = setTimeout(() => this.wake(), delay);
    this.soonTimer.unref();
  }

  private pass(): Promise<ConsumerPass> {
    const run = this.tail.then(() => this.handleUpToHorizon());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async handleUpToHorizon(): Promise<ConsumerPass> {
    // Reads first, and the lease (a write) only when there is something to do: an idle consumer
    // writes nothing, so it adds no WAL and no commits to a quiet database.
    const stored = await this.storedCursor();
    const { settled, pending } = await this.horizon.observe(this.opts.db);
    if (settled === null || settled <= stored) return { handled: 0, pending };
    const cursor = await this.lease();
    if (cursor === null || settled <= cursor) return { handled: 0, pending: cursor !== null && pending };
    let at = cursor;
    let handled = 0;
    try {
      for (;;) {
        const rows = await this.readAfter(at, settled);
        for (let i = 0; i < rows.length; i += this.eventsPerTransaction) {
          // A stop waits for the transaction in flight, not for the whole backlog.
          if (this.stopping) return { handled, pending: true };
          const group = rows.slice(i, i + this.eventsPerTransaction);
          await this.handleGroup(group, at);
          at = group[group.length - 1]?.id ?? at;
          handled += group.length;
        }
        if (rows.length < this.batchSize) break;
      }
      // Ids up to the horizon with no (matching) event: final, so the cursor may pass them.
      if (at < settled) await this.moveCursor(at, settled);
    } catch (err) {
      if (err instanceof CursorMoved) return { handled, pending: false };
      throw err;
    }
    return { handled, pending };
  }

  private readAfter(after: number, upTo: number): Promise<OutboxRow[]> {
    const { topics } = this.opts;
    return this.opts.db
      .select()
      .from(outbox)
      .where(
        and(
          gt(outbox.id, after),
          lte(outbox.id, upTo),
          topics ? inArray(outbox.topic, [...topics]) : undefined,
        ),
      )
      .orderBy(asc(outbox.id))
      .limit(this.batchSize);
  }

  /** The events in one transaction; if one fails, one per transaction, so the consumer stops at it. */
  private async handleGroup(group: readonly OutboxRow[], expected: number): Promise<void> {
    try {
      await this.handleInOneTransaction(group, expected);
    } catch (err) {
      if (err instanceof CursorMoved || group.length === 1) throw err;
      let at = expected;
      for (const row of group) {
        await this.handleInOneTransaction([row], at);
        at = row.id;
      }
    }
  }

  private async handleInOneTransaction(group: readonly OutboxRow[], expected: number): Promise<void> {
    const last = group[group.length - 1];
    if (!last) return;
    await this.opts.db.transaction(async (tx) => {
      // Locks the cursor for the whole transaction: a takeover waits for this commit and then sees
      // the moved cursor; a pass of ours that lost the lease stops here before handling anything.
      const [cursor] = await tx
        .select({ lastId: outboxConsumers.lastId })
        .from(outboxConsumers)
        .where(and(eq(outboxConsumers.name, this.name), eq(outboxConsumers.claimedBy, this.instanceId)))
        .for("update");
      if (!cursor || cursor.lastId !== expected) throw new CursorMoved();
      for (const row of group) await this.opts.handle(tx, toMessage(row));
      await tx
        .update(outboxConsumers)
        .set({ lastId: last.id, claimedUntil: this.leaseEnd(), updatedAt: sql`now()` })
        .where(eq(outboxConsumers.name, this.name));
    });
  }

  private async moveCursor(from: number, to: number): Promise<void> {
    const moved = await this.opts.db
      .update(outboxConsumers)
      .set({ lastId: to, claimedUntil: this.leaseEnd(), updatedAt: sql`now()` })
      .where(
        and(
          eq(outboxConsumers.name, this.name),
          eq(outboxConsumers.claimedBy, this.instanceId),
          eq(outboxConsumers.lastId, from),
        ),
      )
      .returning({ lastId: outboxConsumers.lastId });
    if (moved.length === 0) throw new CursorMoved();
  }

  /**
   * The cursor as stored. It is created where `startAt` says on first use, and again if its row was
   * deleted while this instance runs (a consumer is retired by stopping it, then deleting its row).
   */
  private async storedCursor(): Promise<number> {
    for (;;) {
      if (!this.registered) {
        const { db } = this.opts;
        const start = this.opts.startAt === "beginning" ? 0 : await lastHandedOutId(db);
        await db.insert(outboxConsumers).values({ name: this.name, lastId: start }).onConflictDoNothing();
        this.registered = true;
      }
      const position = await this.position();
      if (position !== null) return position;
      this.registered = false;
    }
  }

  /** Takes or renews the lease; resolves the cursor, or null when another instance holds a live lease. */
  private async lease(): Promise<number | null> {
    const { db } = this.opts;
    const [row] = await db
      .update(outboxConsumers)
      .set({ claimedBy: this.instanceId, claimedUntil: this.leaseEnd() })
      .where(
        and(
          eq(outboxConsumers.name, this.name),
          sql`(${outboxConsumers.claimedBy} = ${this.instanceId} or ${outboxConsumers.claimedUntil} is null
               or ${outboxConsumers.claimedUntil} < now())`,
        ),
      )
      .returning({ lastId: outboxConsumers.lastId });
    if (!row) return null;
    return row.lastId;
  }

  private async release(): Promise<void> {
    await this.opts.db
      .update(outboxConsumers)
      .set({ claimedBy: null, claimedUntil: null })
      .where(and(eq(outboxConsumers.name, this.name), eq(outboxConsumers.claimedBy, this.instanceId)));
  }

  private leaseEnd() {
    return sql`now() + ${this.leaseMs}::integer * interval '1 millisecond'`;
  }

  private warnOccasionally(err: unknown, msg: string, retryInMs: number): void {
    if (Date.now() - this.warnedAt < 10_000) return;
    this.warnedAt = Date.now();
    this.opts.logger.warn({ err, consumer: this.name, retryInMs }, msg);
  }
}

function toMessage(row: OutboxRow): OutboxMessage {
  return {
    id: row.id,
    storeId: row.storeId,
    topic: row.topic,
    key: row.key,
    occurredAt: row.createdAt.toISOString(),
    payload: row.payload,
  };
}
