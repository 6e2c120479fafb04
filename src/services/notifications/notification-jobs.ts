/**
 * The notification pipeline as the runtime runs it: an outbox consumer ("notifications") that turns
 * events into PENDING rows, and a sender that delivers them through the transport. The consumer wakes
 * the sender when it wrote rows, so a notification leaves within moments of its event.
 */
import type postgres from "postgres";
import type { Config } from "../../config.js";
import type { Db } from "../../db/client.js";
import type { Logger } from "../../logger.js";
import type { CartRecoveryService } from "../cart/cart-recovery.service.js";
import { OutboxConsumer } from "../events/outbox-consumer.js";
import { NOTIFICATION_TOPICS, recordNotifications } from "./notification-events.js";
import { type NotificationRenderer, NotificationSender } from "./notification-sender.job.js";
import {
  cartAbandonedPayload,
  NotificationTemplate,
  type RenderExtras,
  renderTemplate,
  TemplateError,
} from "./notification-templates.js";
import { LoggingTransport, type NotificationTransport } from "./notification-transport.js";

/** The cursor name of the notifications consumer. */
export const NOTIFICATIONS_CONSUMER = "notifications";

/** Renders a claimed row; an abandoned cart's recovery link is signed now, so no token is ever stored. */
export function notificationRenderer(
  cartRecovery: Pick<CartRecoveryService, "linkFor">,
): NotificationRenderer {
  return async (row) => {
    if (row.channel !== "email") throw new TemplateError(`unknown channel "${row.channel}"`);
    const extras: RenderExtras = {};
    if (row.template === NotificationTemplate.CART_ABANDONED) {
      const parsed = cartAbandonedPayload.safeParse(row.payload);
      if (!parsed.success) throw new TemplateError("payload does not fit template cart_abandoned");
      extras.recovery = await cartRecovery.linkFor(
        { id: row.storeId, handle: parsed.data.storeHandle },
        parsed.data.cartId,
      );
    }
    const { subject, text } = renderTemplate(row.template, row.payload, extras);
    return {
      id: row.id,
      storeId: row.storeId,
      channel: "email",
      template: row.template,
      to: row.recipient,
      subject,
      text,
    };
  };
}

export interface NotificationJobsOptions {
  db: Db;
  /** The postgres.js client the consumer LISTENs with. */
  listener?: Pick<postgres.Sql, "listen">;
  logger: Logger;
  config: Pick<
    Config,
    | "OUTBOX_CONSUMER_POLL_MS"
    | "NOTIFICATION_POLL_MS"
    | "NOTIFICATION_RETRY_BASE_MS"
    | "NOTIFICATION_RETRY_MAX_MS"
    | "NOTIFICATION_MAX_ATTEMPTS"
  >;
  cartRecovery: Pick<CartRecoveryService, "linkFor">;
  /** Default: the logging transport. */
  transport?: NotificationTransport;
}

export class NotificationJobs {
  readonly consumer: OutboxConsumer;
  readonly sender: NotificationSender;

  constructor(opts: NotificationJobsOptions) {
    const { config, logger } = opts;
    this.sender = new NotificationSender({
      db: opts.db,
      transport: opts.transport ?? new LoggingTransport(logger),
      render: notificationRenderer(opts.cartRecovery),
      logger,
      pollMs: config.NOTIFICATION_POLL_MS,
      retryBaseMs: config.NOTIFICATION_RETRY_BASE_MS,
      retryMaxMs: config.NOTIFICATION_RETRY_MAX_MS,
      maxAttempts: config.NOTIFICATION_MAX_ATTEMPTS,
      isPermanent: (err) => err instanceof TemplateError,
    });
    this.consumer = new OutboxConsumer({
      name: NOTIFICATIONS_CONSUMER,
      db: opts.db,
      listener: opts.listener,
      logger,
      topics: NOTIFICATION_TOPICS,
      pollMs: config.OUTBOX_CONSUMER_POLL_MS,
      handle: async (tx, message) => {
        await recordNotifications(tx, message, logger);
      },
      onHandled: () => this.sender.wake(),
    });
  }

  async start(): Promise<void> {
    await this.consumer.start();
    this.sender.start();
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.sender.stop();
  }
}
