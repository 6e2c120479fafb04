/**
 * Sends due PENDING notifications through the transport, never holding a database transaction open
 * across the send (a network call).
 *
 * A pass:
 *   1. claim: one UPDATE picks up to `batchSize` due rows (`FOR UPDATE SKIP LOCKED`, so concurrent
 *      senders pick disjoint rows), counts the attempt (`attempts + 1`) and pushes `next_attempt_at`
 *      a lease into the future, so no other sender picks the row while this one sends it;
 *   2. send each, with no transaction open, bounded by `sendTimeoutMs`, and only while the lease has
 *      most of its time left (a row whose lease might run out mid-send is left for a later pass);
 *   3. settle each with one conditional UPDATE: SENT, or back to PENDING at an exponential backoff
 *      (capped), or FAILED after `maxAttempts`. The condition is `status = 'PENDING' AND attempts = <the
 *      attempt this sender claimed>`: the claim's attempt number is its version, so a sender whose
 *      lease ran out (and whose row was claimed again) changes nothing.
 *
 * Never sent twice by two senders: a row is claimed by one sender per attempt, and an attempt is only
 * started well inside its lease. What a database cannot rule out is a process that dies after the
 * transport accepted a message and before step 3: the lease runs out and the row is sent again. The
 * message carries the notification id so a transport that de-duplicates can drop that second copy.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { notifications } from "../../db/schema.js";
import type { Logger } from "../../logger.js";
import type { NotificationTransport, RenderedNotification } from "./notification-transport.js";

/** A row as claimed for one attempt; `attempts` counts this attempt and is the claim's version. */
export interface ClaimedNotification {
  storeId: string;
  id: string;
  eventId: number;
  channel: string;
  template: string;
  recipient: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/** Turns a claimed row into the message to send. */
export type NotificationRenderer = (row: ClaimedNotification) => Promise<RenderedNotification>;

export interface NotificationSenderOptions {
  db: Db;
  transport: NotificationTransport;
  render: NotificationRenderer;
  logger: Logger;
  /** How often due rows are looked for (a sender is also woken when the consumer writes rows). */
  pollMs: number;
  /** Delay before the first retry; each further one doubles, up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Attempts after which a row is FAILED. */
  maxAttempts: number;
  batchSize?: number;
  /** How long a claim keeps other senders off a row (default 60 s). */
  leaseMs?: number;
  /** Longest one send may take before it counts as failed (default 15 s, below half the lease). */
  sendTimeoutMs?: number;
  /** Rows that are not retried (render failures) are FAILED at once; this decides which errors those are. */
  isPermanent?: (err: unknown) => boolean;
}

export interface SendSummary {
  claimed: number;
  sent: number;
  retried: number;
  failed: number;
}

const MAX_ERROR_LENGTH = 500;

/** The delay before the retry that follows failed attempt number `attempt` (1-based). */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
}

export class NotificationSender {
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly sendTimeoutMs: number;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wokenDuringLoop = false;
  private warnedAt = 0;

  constructor(private readonly opts: NotificationSenderOptions) {
    this.batchSize = opts.batchSize ?? 20;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 15_000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs <= 0) {
      throw new Error(`notification sender: leaseMs must be a positive integer, got ${this.leaseMs}`);
    }
    if (this.sendTimeoutMs * 2 > this.leaseMs) {
      throw new Error("notification sender: sendTimeoutMs must be at most half of leaseMs");
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => this.wake(), this.opts.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops waking up and waits for the pass in flight to settle what it claimed. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.loop) await this.loop;
  }

  /** Asks for a pass soon (coalesced with one already running). */
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

  /** One pass: claims due rows, sends them, settles them. */
  async sendDue(): Promise<SendSummary> {
    await this.failExhausted();
    const claimedAt = performance.now();
    const rows = await this.claim();
    const summary: SendSummary = { claimed: rows.length, sent: 0, retried: 0, failed: 0 };
    const startBefore = claimedAt + this.leaseMs / 2 - this.sendTimeoutMs;
    for (const row of rows) {
      if (performance.now() >= startBefore) {
        // Too little lease left to be sure this send ends before another sender may claim the row:
        // give the attempt back instead.
        await this.giveBack(row);
        continue;
      }
      const outcome = await this.attempt(row);
      summary[outcome]++;
    }
    return summary;
  }

  private async runLoop(): Promise<void> {
    do {
      this.wokenDuringLoop = false;
      try {
        while (this.running && (await this.sendDue()).claimed === this.batchSize) {}
      } catch (err) {
        if (Date.now() - this.warnedAt > 10_000) {
          this.warnedAt = Date.now();
          this.opts.logger.warn({ err }, "notification sender: pass failed, will retry");
        }
        return;
      }
    } while (this.running && this.wokenDuringLoop);
  }

  private async attempt(row: ClaimedNotification): Promise<"sent" | "retried" | "failed"> {
    let message: RenderedNotification;
    try {
      message = await this.opts.render(row);
    } catch (err) {
      if (this.opts.isPermanent?.(err)) {
        await this.settleFailure(row, err, true);
        return "failed";
      }
      return this.settleFailure(row, err, false);
    }
    try {
      await this.sendBounded(message);
    } catch (err) {
      return this.settleFailure(row, err, false);
    }
    const settled = await this.opts.db.execute(sql`
      update ${notifications} set status = 'SENT', sent_at = now(), last_error = null
      where store_id = ${row.storeId} and id = ${row.id} and status = 'PENDING' and attempts = ${row.attempts}
      returning id`);
    if (settled.length === 0) {
      this.opts.logger.warn(
        { notificationId: row.id },
        "notification sender: sent, but the claim had been taken over",
      );
    }
    return "sent";
  }

  private async sendBounded(message: RenderedNotification): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`transport did not answer within ${this.sendTimeoutMs} ms`));
      }, this.sendTimeoutMs);
    });
    try {
      await Promise.race([this.opts.transport.send(message, controller.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Back to PENDING at the next backoff step, or FAILED when the attempts are used up (or `permanent`). */
  private async settleFailure(
    row: ClaimedNotification,
    err: unknown,
    permanent: boolean,
  ): Promise<"retried" | "failed"> {
    const exhausted = permanent || row.attempts >= this.opts.maxAttempts;
    const delayMs = retryDelayMs(row.attempts, this.opts.retryBaseMs, this.opts.retryMaxMs);
    const error = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_LENGTH);
    await this.opts.db.execute(sql`
      update ${notifications}
      set status = ${exhausted ? "FAILED" : "PENDING"}::notification_status,
          next_attempt_at = now() + ${delayMs}::bigint * interval '1 millisecond',
          last_error = ${error}
      where store_id = ${row.storeId} and id = ${row.id} and status = 'PENDING' and attempts = ${row.attempts}`);
    return exhausted ? "failed" : "retried";
  }

  /** An attempt claimed but not started: undo the claim so the row is due again at once. */
  private async giveBack(row: ClaimedNotification): Promise<void> {
    await this.opts.db.execute(sql`
      update ${notifications} set attempts = attempts - 1, next_attempt_at = now()
      where store_id = ${row.storeId} and id = ${row.id} and status = 'PENDING' and attempts = ${row.attempts}`);
  }

  /**
   * Leases due rows to this pass (its own short statement) and returns them with the attempt number
   * now counted. Rows whose attempts are used up are not claimed (failExhausted settles them).
   */
  private async claim(): Promise<ClaimedNotification[]> {
    const rows = await this.opts.db.execute<Record<string, unknown>>(sql`
      update ${notifications} n
      set attempts = n.attempts + 1,
          next_attempt_at = now() + ${this.leaseMs}::integer * interval '1 millisecond'
      from (
        select store_id, id from ${notifications}
        where status = 'PENDING' and next_attempt_at <= now() and attempts < ${this.opts.maxAttempts}
        order by next_attempt_at
        limit ${this.batchSize}
        for update skip locked
      ) due
      where n.store_id = due.store_id and n.id = due.id and n.status = 'PENDING'
        and n.next_attempt_at <= now() and n.attempts < ${this.opts.maxAttempts}
      returning n.store_id, n.id, n.attempts, n.template, n.channel, n.recipient, n.payload, n.event_id`);
    return rows.map(toRow);
  }

  /**
   * A row whose last attempt died with its sender (the lease ran out, nobody settled it) and that has
   * no attempt left becomes FAILED here rather than being claimed once more.
   */
  private async failExhausted(): Promise<void> {
    await this.opts.db.execute(sql`
      update ${notifications}
      set status = 'FAILED', last_error = coalesce(last_error, 'no answer from the last attempt')
      where status = 'PENDING' and next_attempt_at <= now() and attempts >= ${this.opts.maxAttempts}`);
  }
}

function toRow(r: Record<string, unknown>): ClaimedNotification {
  return {
    storeId: String(r.store_id),
    id: String(r.id),
    eventId: Number(r.event_id),
    channel: String(r.channel),
    template: String(r.template),
    recipient: String(r.recipient),
    payload: (r.payload ?? {}) as Record<string, unknown>,
    attempts: Number(r.attempts),
  };
}
