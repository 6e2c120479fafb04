/**
 * Cart lifecycle sweeps, run in-process on an interval. Each sweep is one statement whose WHERE clause
 * re-checks the state, so several instances sweeping at once change each cart once and announce it once
 * (the outbox insert reads the UPDATE's RETURNING in the same statement).
 */
import { sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import type { Logger } from "../../logger.js";

/** The event of a cart that became ABANDONED (payload: cartId, storeId, customerId, email, lastActivityAt). */
export const CART_ABANDONED = "cart.abandoned";

export interface CartLifecycleOptions {
  abandonAfterSeconds: number;
  guestExpireAfterSeconds: number;
  /** EXPIRED carts are deleted (with their lines and codes) this long after they expired. */
  expiredRetentionSeconds: number;
  /** At most this many carts per sweep, so one sweep never holds many row locks. */
  batchSize?: number;
}

export interface SweepResult {
  abandoned: number;
  expired: number;
  purged: number;
  holdsExpired: number;
}

export class CartLifecycleJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly opts: CartLifecycleOptions,
    private readonly now: () => Date = () => new Date(),
    /** Releases cart holds that ran out (the cart module's job: it owns carts). */
    private readonly expireHolds?: () => Promise<number>,
  ) {}

  /** ACTIVE carts with items, idle past the threshold, become ABANDONED with a `cart.abandoned` event. */
  async abandonIdleCarts(): Promise<string[]> {
    const cutoff = new Date(this.now().getTime() - this.opts.abandonAfterSeconds * 1000);
    const limit = this.opts.batchSize ?? 500;
    const rows = await this.db.execute<{ id: string; version: number }>(sql`
      with candidates as (
        select c.id from carts c
        where c.status = 'ACTIVE' and c.updated_at < ${cutoff.toISOString()}::timestamptz
          and exists (select 1 from cart_items i where i.cart_id = c.id)
        order by c.updated_at
        limit ${limit}
        for update skip locked
      ), changed as (
        update carts c set status = 'ABANDONED', version = c.version + 1
        from candidates where c.id = candidates.id and c.status = 'ACTIVE'
        returning c.id, c.version, c.store_id, c.customer_id, c.email, c.updated_at
      ), announced as (
        insert into outbox (store_id, topic, key, payload)
        select store_id, ${CART_ABANDONED}, id::text,
          jsonb_build_object('cartId', id, 'storeId', store_id, 'customerId', customer_id, 'email', email,
                             'lastActivityAt', updated_at)
        from changed
      )
      select id, version from changed`);
    const changed = rows.map((r) => ({ id: r.id, version: Number(r.version) }));
    if (changed.length) {
      // Wake the outbox relay now rather than at its next poll.
      await this.db.execute(sql`select pg_notify('cartograph_outbox', '')`);
    }
    return changed.map((c) => c.id);
  }

  /** Guest carts idle past the guest threshold become EXPIRED. */
  async expireGuestCarts(): Promise<string[]> {
    const cutoff = new Date(this.now().getTime() - this.opts.guestExpireAfterSeconds * 1000);
    const limit = this.opts.batchSize ?? 500;
    const rows = await this.db.execute<{ id: string; version: number }>(sql`
      with candidates as (
        select id from carts
        where status in ('ACTIVE', 'ABANDONED') and customer_id is null and updated_at < ${cutoff.toISOString()}::timestamptz
        order by updated_at
        limit ${limit}
        for update skip locked
      )
      -- updated_at becomes the moment of expiry: the purge's retention counts from it.
      update carts c set status = 'EXPIRED', version = c.version + 1, updated_at = now()
      from candidates where c.id = candidates.id and c.status in ('ACTIVE', 'ABANDONED')
      returning c.id, c.version`);
    const changed = rows.map((r) => ({ id: r.id, version: Number(r.version) }));
    return changed.map((c) => c.id);
  }

  /**
   * Deletes EXPIRED carts past the retention, so guest carts nobody will come back to do not pile up.
   * A cart an order points at (a checkout that was declined, then abandoned) is kept with its order.
   */
  async purgeExpiredCarts(): Promise<number> {
    const cutoff = new Date(this.now().getTime() - this.opts.expiredRetentionSeconds * 1000);
    const limit = this.opts.batchSize ?? 500;
    const rows = await this.db.execute<{ id: string }>(sql`
      delete from carts c
      using (
        select store_id, id from carts
        where status = 'EXPIRED' and updated_at < ${cutoff.toISOString()}::timestamptz
        order by updated_at
        limit ${limit}
        for update skip locked
      ) doomed
      where c.store_id = doomed.store_id and c.id = doomed.id
        and not exists (select 1 from orders o where o.store_id = c.store_id and o.cart_id = c.id)
      returning c.id`);
    return rows.length;
  }

  async sweep(): Promise<SweepResult> {
    const expired = await this.expireGuestCarts();
    const abandoned = await this.abandonIdleCarts();
    const purged = await this.purgeExpiredCarts();
    const holdsExpired = (await this.expireHolds?.()) ?? 0;
    return { abandoned: abandoned.length, expired: expired.length, purged, holdsExpired };
  }

  start(intervalSeconds: number): void {
    if (intervalSeconds <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .then((r) => {
          if (r.abandoned || r.expired || r.purged || r.holdsExpired)
            this.logger.info(r, "cart lifecycle sweep");
        })
        .catch((err: unknown) => this.logger.error({ err }, "cart lifecycle sweep failed"))
        .finally(() => {
          this.running = null;
        });
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
