/**
 * The default fraud check: the store's rules (store settings `fraud`), evaluated against what the order
 * says and what the store has seen in the rules' window. With no rule set it answers ACCEPT without a
 * query. With counting rules it asks ONE aggregate query (orders and failed payments by email, customer,
 * address and card in the window, and whether the buyer has ordered before), indexed by store and time.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { type FraudAction, type FraudRules, fraudRulesOff } from "../store-settings.js";
import { ACCEPT, type FraudCheck, type FraudDecision, type FraudInput } from "./fraud-check.js";

type Counts = {
  orders_email: number;
  orders_customer: number;
  orders_ip: number;
  orders_card: number;
  failed_email: number;
  failed_customer: number;
  failed_ip: number;
  failed_card: number;
  earlier_orders: number;
};

export class RulesFraudCheck implements FraudCheck {
  constructor(
    private readonly db: Db,
    /** The store's rules; read per check (settings change rarely, and the store row is small). */
    private readonly rulesOf: (storeId: string) => Promise<FraudRules>,
  ) {}

  async assess(input: FraudInput): Promise<FraudDecision> {
    const rules = await this.rulesOf(input.storeId);
    if (fraudRulesOff(rules)) return ACCEPT;
    const hits: { action: FraudAction; reason: string }[] = [];
    if (rules.totalAbove && input.total > rules.totalAbove.amount) {
      hits.push({
        action: rules.totalAbove.action,
        reason: `total ${input.total} is above ${rules.totalAbove.amount}`,
      });
    }
    if (
      rules.countryMismatch &&
      input.shippingCountry &&
      input.billingCountry &&
      input.shippingCountry !== input.billingCountry
    ) {
      hits.push({
        action: rules.countryMismatch,
        reason: `ships to ${input.shippingCountry}, bills to ${input.billingCountry}`,
      });
    }
    if (rules.ordersInWindow || rules.failedPaymentsInWindow || rules.firstOrderAbove) {
      const c = await this.counts(input, rules.windowMinutes);
      const window = `${rules.windowMinutes} min`;
      const over = (
        rule: { count: number; action: FraudAction } | null,
        kind: string,
        values: [string, number][],
      ) => {
        if (!rule) return;
        for (const [what, n] of values) {
          if (n > rule.count) {
            hits.push({
              action: rule.action,
              reason: `${n} ${kind} by this ${what} in ${window} (more than ${rule.count})`,
            });
          }
        }
      };
      over(rules.ordersInWindow, "orders", [
        ["email", c.orders_email],
        ["customer", c.orders_customer],
        ["address", c.orders_ip],
        ["card", c.orders_card],
      ]);
      over(rules.failedPaymentsInWindow, "failed payments", [
        ["email", c.failed_email],
        ["customer", c.failed_customer],
        ["address", c.failed_ip],
        ["card", c.failed_card],
      ]);
      if (rules.firstOrderAbove && c.earlier_orders === 0 && input.total > rules.firstOrderAbove.amount) {
        hits.push({
          action: rules.firstOrderAbove.action,
          reason: `first order of this buyer, total ${input.total} above ${rules.firstOrderAbove.amount}`,
        });
      }
    }
    if (hits.length === 0) return ACCEPT;
    return {
      verdict: hits.some((h) => h.action === "REJECT") ? "REJECT" : "REVIEW",
      reasons: hits.map((h) => h.reason),
    };
  }

  /**
   * This order counts itself in "orders in the window" (it exists as PENDING): the rule is about more
   * than `count` orders including this one, which is what a merchant means by "more than N orders".
   */
  private async counts(input: FraudInput, windowMinutes: number): Promise<Counts> {
    const since = sql`now() - ${windowMinutes}::int * interval '1 minute'`;
    // One statement, each count a range scan of its own index within the window (email, customer,
    // client address, card), so the check costs what the window holds, not what the store ever sold.
    const store = input.storeId;
    const failed = (match: SQL) => sql`(select count(*) from orders o
        join payments p on p.store_id = o.store_id and p.order_id = o.id and p.status = 'FAILED'
       where o.store_id = ${store} and ${match} and o.created_at > ${since})::int`;
    const rows = await this.db.execute<Counts>(sql`
      select
        (select count(*) from orders o where o.store_id = ${store} and o.email = ${input.email}
            and o.created_at > ${since})::int as orders_email,
        (select count(*) from orders o where o.store_id = ${store} and o.customer_id = ${input.customerId}::uuid
            and o.created_at > ${since})::int as orders_customer,
        (select count(*) from orders o where o.store_id = ${store} and o.client_ip = ${input.clientIp}
            and o.created_at > ${since})::int as orders_ip,
        (select count(*) from payments p join orders o on o.store_id = p.store_id and o.id = p.order_id
          where p.store_id = ${store} and p.card_fingerprint = ${input.cardFingerprint}
            and p.created_at > ${since} and o.created_at > ${since})::int as orders_card,
        ${failed(sql`o.email = ${input.email}`)} as failed_email,
        ${failed(sql`o.customer_id = ${input.customerId}::uuid`)} as failed_customer,
        ${failed(sql`o.client_ip = ${input.clientIp}`)} as failed_ip,
        (select count(*) from payments p join orders o on o.store_id = p.store_id and o.id = p.order_id
          where p.store_id = ${store} and p.card_fingerprint = ${input.cardFingerprint} and p.status = 'FAILED'
            and p.created_at > ${since} and o.created_at > ${since})::int as failed_card,
        ((select count(*) from (select 1 from orders o where o.store_id = ${store} and o.email = ${input.email}
            and o.id <> ${input.orderId}::uuid and o.status not in ('CANCELLED', 'PENDING') limit 1) e)
         + (select count(*) from (select 1 from orders o where o.store_id = ${store}
            and o.customer_id = ${input.customerId}::uuid and o.id <> ${input.orderId}::uuid
            and o.status not in ('CANCELLED', 'PENDING') limit 1) c))::int as earlier_orders`);
    const row = rows[0];
    return {
      orders_email: Number(row?.orders_email ?? 0),
      orders_customer: Number(row?.orders_customer ?? 0),
      orders_ip: Number(row?.orders_ip ?? 0),
      orders_card: Number(row?.orders_card ?? 0),
      failed_email: Number(row?.failed_email ?? 0),
      failed_customer: Number(row?.failed_customer ?? 0),
      failed_ip: Number(row?.failed_ip ?? 0),
      failed_card: Number(row?.failed_card ?? 0),
      earlier_orders: Number(row?.earlier_orders ?? 0),
    };
  }
}
