/** The service container: one instance of each service per process, sharing deps. */

import type { PaymentGateway } from "../payments/index.js";
import { CartService } from "./cart/cart.service.js";
import { CartPriceEvents } from "./cart/cart-price-events.js";
import { CartPricingService } from "./cart/cart-pricing.service.js";
import { CartRecoveryService } from "./cart/cart-recovery.service.js";
import { SavedItemsService } from "./cart/saved-items.service.js";
import { CatalogService } from "./catalog.service.js";
import { CheckoutService } from "./checkout/checkout.service.js";
import { WebhookService } from "./checkout/webhook.service.js";
import type { ServiceDeps } from "./deps.js";
import { DiscountService } from "./discount.service.js";
import { StoreFeed } from "./events/store-feed.js";
import { IdentityService } from "./identity.service.js";
import { CartLifecycleJob } from "./jobs/cart-lifecycle.job.js";
import { CheckoutRecoveryJob } from "./jobs/checkout-recovery.job.js";
import { StockSettlementJob } from "./jobs/stock-settlement.job.js";
import { OrderCommands } from "./order/order-commands.service.js";
import { OrderEvents } from "./order/order-events.js";
import { OrderQueries } from "./order/order-queries.service.js";
import { RedemptionService } from "./redemption.service.js";
import type { FraudCheck } from "./risk/fraud-check.js";
import { RulesFraudCheck } from "./risk/fraud-rules.js";
import { ReviewService } from "./risk/review.service.js";
import { SessionService } from "./session.service.js";
import { ShippingService } from "./shipping.service.js";
import { SignInService } from "./sign-in.service.js";
import { StoreService } from "./store.service.js";

export function createServices(deps: ServiceDeps, ports: { gateway: PaymentGateway; fraud?: FraudCheck }) {
  const carts = new CartService(deps);
  const cartPricing = new CartPricingService(deps);
  const identity = new IdentityService(deps);
  const redemptions = new RedemptionService(deps);
  const orders = new OrderQueries(deps);
  const stores = new StoreService(deps);
  const checkout = new CheckoutService(deps, {
    gateway: ports.gateway,
    fraud:
      ports.fraud ??
      new RulesFraudCheck(deps.db, async (storeId) => (await stores.settingsOf(storeId)).fraud),
    carts,
    pricing: cartPricing,
    redemptions,
  });
  const reviews = new ReviewService(deps, { queries: orders, checkout, carts, redemptions });
  const cartLifecycle = new CartLifecycleJob(
    deps.db,
    deps.logger,
    {
      abandonAfterSeconds: deps.config.CART_ABANDON_AFTER_SECONDS,
      guestExpireAfterSeconds: deps.config.GUEST_CART_EXPIRE_AFTER_SECONDS,
      expiredRetentionSeconds: deps.config.EXPIRED_CART_RETENTION_DAYS * 86_400,
    },
    deps.now,
    () => carts.expireHolds(),
  );
  return {
    deps,
    stores,
    catalog: new CatalogService(deps),
    identity,
    sessions: new SessionService(deps),
    signIn: new SignInService(identity, carts),
    carts,
    cartPricing,
    cartPriceEvents: new CartPriceEvents(deps, carts),
    cartRecovery: new CartRecoveryService(deps, carts),
    shipping: new ShippingService(deps, carts, cartPricing),
    savedItems: new SavedItemsService(deps, carts),
    discounts: new DiscountService(deps, carts, cartPricing),
    redemptions,
    orders,
    orderEvents: new OrderEvents(deps, orders),
    orderCommands: new OrderCommands(deps, { queries: orders, checkout, carts, redemptions }),
    checkout,
    webhooks: new WebhookService(deps, checkout),
    reviews,
    storeFeed: new StoreFeed(deps),
    checkoutRecovery: new CheckoutRecoveryJob(deps, checkout, carts, redemptions, () =>
      reviews.sweepHeldOrders(),
    ),
    cartLifecycle,
    stockSettlement: new StockSettlementJob(deps.db, deps.logger, deps.now),
  };
}

export type Services = ReturnType<typeof createServices>;
