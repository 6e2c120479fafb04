/** GraphiQL playground (work in progress in this session: replaced by the offline bundle). */
import type { IncomingMessage, ServerResponse } from "node:http";

export function wantsPlayground(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return accept.includes("text/html");
}

export function servePlayground(_req: IncomingMessage, res: ServerResponse, _url: URL, page = false): boolean {
  if (!page) return false;
  res.statusCode = 501;
  res.end("playground not built yet");
  return true;
}
