/**
 * Cross-origin access for browser storefronts (Vite on :5173, Next on :3000, a shop's own domain).
 * Tokens travel in the Authorization header, never in cookies, so no request needs credentials and
 * `Access-Control-Allow-Credentials` is never sent: a page that is not allowed gets nothing, and an
 * allowed page can act only with a token it holds. Cross-site request forgery stays blocked by Apollo's
 * CSRF prevention (a simple cross-origin request cannot carry a JSON body or the preflight header).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config.js";

const ALLOWED_HEADERS = [
  "authorization",
  "content-type",
  "x-store",
  "x-request-id",
  "apollo-require-preflight",
  "x-apollo-operation-name",
].join(", ");
const EXPOSED_HEADERS = ["x-request-id", "x-ratelimit-remaining", "retry-after"].join(", ");
const LOCALHOST = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

export function originAllowed(origins: Config["CORS_ORIGINS"], origin: string): boolean {
  if (origins === "*") return true;
  if (origins === "localhost") return LOCALHOST.test(origin);
  return origins.includes(origin);
}

/**
 * Adds CORS headers for an allowed Origin; answers a preflight (OPTIONS) itself. Returns true when the
 * response is complete.
 */
export function applyCors(
  req: IncomingMessage,
  res: ServerResponse,
  origins: Config["CORS_ORIGINS"],
): boolean {
  const origin = req.headers.origin;
  const preflight = req.method === "OPTIONS";
  res.setHeader("vary", "Origin");
  const allowed = typeof origin === "string" && originAllowed(origins, origin);
  if (allowed) {
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
  }
  if (!preflight) return false;
  if (allowed) {
    res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
    res.setHeader("access-control-allow-headers", ALLOWED_HEADERS);
    res.setHeader("access-control-max-age", "600");
  }
  // Without the allow headers the browser refuses the real request: that is the answer to a stranger.
  res.statusCode = 204;
  res.end();
  return true;
}
