/**
 * The default fraud check: the store's rules (store settings `fraud`), evaluated against what the order
 * says and what the store has seen in the rules' window. With no rule set it answers ACCEPT without a
 * query. With counting rules it asks ONE aggregate query (orders and failed payments by email, customer,
 * address and card in the window, and whether the buyer has ordered before), indexed by store and time.
 */
import { sql } from "drizzle-orm";
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
    const rows = await this.db.execute<Counts>(sql`
      select
        count(*) filter (where o.created_at > ${since} and o.email = ${input.email})::int as orders_email,
        count(*) filter (where o.created_at > ${since} and o.customer_id = ${input.customerId}::uuid)::int as orders_customer,
        count(*) filter (where o.created_at > ${since} and o.client_ip = ${input.clientIp})::int as orders_ip,
        count(*) filter (where o.created_at > ${since} and p.card_fingerprint = ${input.cardFingerprint})::int as orders_card,
        count(*) filter (where o.created_at > ${since} and p.status = 'FAILED' and o.email = ${input.email})::int as failed_email,
        count(*) filter (where o.created_at > ${since} and p.status = 'FAILED' and o.customer_id = ${input.customerId}::uuid)::int as failed_customer,
        count(*) filter (where o.created_at > ${since} and p.status = 'FAILED' and o.client_ip = ${input.clientIp})::int as failed_ip,
        count(*) filter (where o.created_at > ${since} and p.status = 'FAILED' and p.card_fingerprint = ${input.cardFingerprint})::int as failed_card,
        count(*) filter (where o.id <> ${input.orderId}::uuid and o.status not in ('CANCELLED', 'PENDING')
                         and (o.email = ${input.email} or o.customer_id = ${input.customerId}::uuid))::int as earlier_orders
      from orders o
      left join payments p on p.store_id = o.store_id and p.order_id = o.id
      where o.store_id = ${input.storeId}
        and (o.email = ${input.email} or o.customer_id = ${input.customerId}::uuid
             or o.client_ip = ${input.clientIp} or p.card_fingerprint = ${input.cardFingerprint})`);
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
