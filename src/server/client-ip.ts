/**
 * The client's address, for rate limits, sign-in throttling and fraud rules. Behind N trusted reverse
 * proxies (TRUST_PROXY_HOPS), the client is the N-th address from the right of X-Forwarded-For: entries
 * further left were written by the client itself and prove nothing.
 */
import type { IncomingMessage } from "node:http";

export function clientIp(req: IncomingMessage, trustedHops: number): string {
  const socket = normalise(req.socket.remoteAddress ?? "unknown");
  if (trustedHops <= 0) return socket;
  const header = req.headers["x-forwarded-for"];
  const raw = Array.isArray(header) ? header.join(",") : (header ?? "");
  const hops = raw
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  const candidate = hops[hops.length - trustedHops];
  return candidate ? normalise(candidate) : socket;
}

/** "::ffff:127.0.0.1" and "127.0.0.1" are one client. */
function normalise(address: string): string {
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}
