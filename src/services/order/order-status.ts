/**
 * The order state machine, as a table: which status may follow which, who may make the move, and what
 * must hold first. Every transition in the code base is checked against it (applyTransition), so a
 * new path cannot skip the rules by writing the column itself.
 *
 *   PENDING ──► CONFIRMED ──► PROCESSING ──► SHIPPED ──► DELIVERED ──► REFUNDED
 *      │  └──► ON_HOLD ──┘ │            │
 *      └──────────┴────────┴────────────┴──► CANCELLED
 */
export type OrderStatus =
  | "PENDING"
  | "ON_HOLD"
  | "CONFIRMED"
  | "PROCESSING"
  | "SHIPPED"
  | "DELIVERED"
  | "CANCELLED"
  | "REFUNDED";

/** Who moves an order: the system (checkout, webhooks, jobs), staff of its store, or its customer. */
export type TransitionActor = "system" | "staff" | "customer";

export interface TransitionFacts {
  trackingNumber?: string | null;
}

export interface TransitionRule {
  to: OrderStatus;
  by: readonly TransitionActor[];
  /** A reason the move may not happen yet, or null when it may. */
  guard?: (facts: TransitionFacts) => string | null;
}

const needsTracking = (facts: TransitionFacts) =>
  facts.trackingNumber ? null : "a tracking number is required to ship";

export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly TransitionRule[]>> = {
  PENDING: [
    { to: "CONFIRMED", by: ["system"] },
    { to: "ON_HOLD", by: ["system"] },
    { to: "CANCELLED", by: ["system", "staff", "customer"] },
  ],
  ON_HOLD: [
    { to: "CONFIRMED", by: ["system", "staff"] },
    { to: "CANCELLED", by: ["system", "staff"] },
  ],
  CONFIRMED: [
    { to: "PROCESSING", by: ["staff"] },
    { to: "CANCELLED", by: ["system", "staff", "customer"] },
  ],
  PROCESSING: [
    { to: "SHIPPED", by: ["staff"], guard: needsTracking },
    { to: "CANCELLED", by: ["staff", "system"] },
  ],
  SHIPPED: [{ to: "DELIVERED", by: ["staff", "system"] }],
  DELIVERED: [{ to: "REFUNDED", by: ["staff", "system"] }],
  CANCELLED: [],
  REFUNDED: [],
};

/** The statuses `actor` may move an order to from `from`. */
export function allowedTargets(from: OrderStatus, actor: TransitionActor): OrderStatus[] {
  return ORDER_TRANSITIONS[from].filter((r) => r.by.includes(actor)).map((r) => r.to);
}

/** Why `actor` may not move an order from `from` to `to`, or null when the table allows it. */
export function transitionProblem(
  from: OrderStatus,
  to: OrderStatus,
  actor: TransitionActor,
  facts: TransitionFacts = {},
): string | null {
  const rule = ORDER_TRANSITIONS[from].find((r) => r.to === to);
  if (!rule?.by.includes(actor)) {
    const allowed = allowedTargets(from, actor);
    return `An order ${from} cannot become ${to}${allowed.length ? `; it can become ${allowed.join(", ")}` : "; it is final"}`;
  }
  return rule.guard?.(facts) ?? null;
}

/** Orders that still hold stock or an authorisation: checkout has not settled them yet. */
export const UNSETTLED: readonly OrderStatus[] = ["PENDING", "ON_HOLD"];
