/**
 * The default fraud check: the store's rules (store settings `fraud`), evaluated against what the order
 * says and what the store has seen in the rules' window. With no rule set it answers ACCEPT without a
 * query. With counting rules it asks one statement of bounded counts (see `counts`): orders and failed
 * payments by email, customer, client address and card in the window, and whether the buyer ordered before.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { type FraudAction, type FraudRules, fraudRulesOff } from "../store-settings.js";
import { ACCEPT, type FraudCheck, type FraudDecision, type FraudInput } from "./fraud-check.js";

/** What is counted, per buyer identity: orders, and orders whose payment failed. */
type Identity = "email" | "customer" | "address" | "card";
const IDENTITIES: readonly Identity[] = ["email", "customer", "address", "card"];

interface Counts {
  orders: Partial<Record<Identity, number>>;
  failed: Partial<Record<Identity, number>>;
  earlierOrders: number;
}

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
      const c = await this.counts(input, rules);
      const window = `${rules.windowMinutes} min`;
      const over = (
        rule: { count: number; action: FraudAction } | null,
        kind: string,
        counted: Counts["orders"],
      ) => {
        if (!rule) return;
        for (const what of IDENTITIES) {
          const n = counted[what] ?? 0;
          // Counts stop at count + 1 (all a rule needs to know): "at least" is exact, not a guess.
          if (n > rule.count) {
            hits.push({
              action: rule.action,
              reason: `at least ${n} ${kind} by this ${what} in ${window} (more than ${rule.count})`,
            });
          }
        }
      };
      over(rules.ordersInWindow, "orders", c.orders);
      over(rules.failedPaymentsInWindow, "failed payments", c.failed);
      if (rules.firstOrderAbove && c.earlierOrders === 0 && input.total > rules.firstOrderAbove.amount) {
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
   *
   * One statement of at most nine scalar subqueries, only for the rules that are set and the identities
   * the order has. Each is a range scan of its own index within the window (email, customer, client
   * address, card) that stops at `count + 1` rows: a shared address (a NAT, a proxy) or a card seen
   * thousands of times in the window costs what the rule needs, not what the window holds.
   */
  private async counts(input: FraudInput, rules: FraudRules): Promise<Counts> {
    const store = input.storeId;
    const since = sql`now() - ${rules.windowMinutes}::int * interval '1 minute'`;
    const matchOf: Record<Identity, SQL | null> = {
      email: input.email === null ? null : sql`o.email = ${input.email}`,
      customer: input.customerId === null ? null : sql`o.customer_id = ${input.customerId}::uuid`,
      address: input.clientIp === null ? null : sql`o.client_ip = ${input.clientIp}`,
      card: null,
    };
    const rowsOf = (identity: Identity, failedOnly: boolean): SQL | null => {
      const failed = failedOnly ? sql` and p.status = 'FAILED'` : sql``;
      if (identity === "card") {
        if (input.cardFingerprint === null) return null;
        return sql`select 1 from payments p join orders o on o.store_id = p.store_id and o.id = p.order_id
          where p.store_id = ${store} and p.card_fingerprint = ${input.cardFingerprint}${failed}
            and p.created_at > ${since} and o.created_at > ${since}`;
      }
      const match = matchOf[identity];
      if (match === null) return null;
      return failedOnly
        ? sql`select 1 from orders o
            join payments p on p.store_id = o.store_id and p.order_id = o.id and p.status = 'FAILED'
           where o.store_id = ${store} and ${match} and o.created_at > ${since}`
        : sql`select 1 from orders o where o.store_id = ${store} and ${match} and o.created_at > ${since}`;
    };
    const columns: SQL[] = [];
    const names: { kind: "orders" | "failed"; identity: Identity; column: string }[] = [];
    const ask = (kind: "orders" | "failed", rule: { count: number } | null) => {
      if (!rule) return;
      for (const identity of IDENTITIES) {
        const rows = rowsOf(identity, kind === "failed");
        if (rows === null) continue;
        const column = `${kind}_${identity}`;
        columns.push(
          sql`(select count(*) from (${rows} limit ${rule.count + 1}) x)::int as ${sql.identifier(column)}`,
        );
        names.push({ kind, identity, column });
      }
    };
    ask("orders", rules.ordersInWindow);
    ask("failed", rules.failedPaymentsInWindow);
    const earlier: SQL[] = [];
    if (rules.firstOrderAbove) {
      const before = (match: SQL) => sql`(select count(*) from (select 1 from orders o
          where o.store_id = ${store} and ${match} and o.id <> ${input.orderId}::uuid
            and o.status not in ('CANCELLED', 'PENDING') limit 1) x)`;
      if (matchOf.email) earlier.push(before(matchOf.email));
      if (matchOf.customer) earlier.push(before(matchOf.customer));
      if (earlier.length > 0) columns.push(sql`(${sql.join(earlier, sql` + `)})::int as earlier_orders`);
    }
    const counts: Counts = { orders: {}, failed: {}, earlierOrders: 0 };
    if (columns.length === 0) return counts;
    // The texts are few (one per set of rules), so each is a named statement on a cached plan
    // (named-statements.ts): its seven counts took milliseconds to plan on every checkout.
    const rows = (await this.db.execute(sql`select ${sql.join(columns, sql`, `)}`)) as unknown as Record<
      string,
      number
    >[];
    const row = rows[0] ?? {};
    for (const { kind, identity, column } of names) counts[kind][identity] = Number(row[column] ?? 0);
    counts.earlierOrders = Number(row.earlier_orders ?? 0);
    return counts;
  }
}
