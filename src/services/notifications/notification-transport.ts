/**
 * The port notifications leave through: an email provider, an SMS gateway, a queue. The sender hands
 * it a message already rendered; the transport only delivers it.
 */
import type { Logger } from "../../logger.js";

export type NotificationChannel = "email";

export interface RenderedNotification {
  /**
   * The notification's id, the same on every retry: a provider that de-duplicates (an idempotency
   * key, a message id header) can use it to deliver a message once even when it is handed over twice
   * (see the sender: a process that dies between a delivery and recording it).
   */
  id: string;
  storeId: string;
  channel: NotificationChannel;
  template: string;
  to: string;
  subject: string;
  text: string;
}

export interface NotificationTransport {
  /**
   * Delivers the message or rejects; `signal` aborts when the sender stops waiting (its send timeout),
   * after which the attempt counts as failed and is retried.
   */
  send(message: RenderedNotification, signal: AbortSignal): Promise<void>;
}

/**
 * The default transport: writes one log line per message. The line names the message (id, template,
 * subject) but never the recipient or the body: logs carry no email addresses, and an abandoned-cart
 * body carries a recovery link that grants the cart.
 */
export class LoggingTransport implements NotificationTransport {
  constructor(private readonly logger: Logger) {}

  async send(message: RenderedNotification): Promise<void> {
    this.logger.info(
      {
        notificationId: message.id,
        storeId: message.storeId,
        channel: message.channel,
        template: message.template,
        subject: message.subject,
      },
      "notification sent (logging transport)",
    );
  }
}
