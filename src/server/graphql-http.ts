/**
 * GraphQL over HTTP on a plain node:http server, through Apollo Server's framework-neutral entry point
 * (no Express: one less layer on the hot path).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ApolloServer, HeaderMap } from "@apollo/server";
import type { GraphQLContext } from "../resolvers/context.js";

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return (await readRawBody(req, maxBytes)).toString("utf8");
}

/** The body as bytes (webhook signatures are computed over the exact bytes sent). */
export async function readRawBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function handleGraphQLHttp(
  apollo: ApolloServer<GraphQLContext>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  maxBodyBytes: number,
  context: () => Promise<GraphQLContext>,
): Promise<void> {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
  }
  let body: unknown;
  if (req.method === "POST") {
    let raw: string;
    try {
      raw = await readBody(req, maxBodyBytes);
    } catch (e) {
      if (e instanceof BodyTooLargeError)
        return sendJsonError(res, 413, `Request body exceeds ${maxBodyBytes} bytes`);
      throw e;
    }
    const contentType = headers.get("content-type") ?? "";
    if (
      contentType.includes("application/json") ||
      contentType.includes("application/graphql-response+json")
    ) {
      try {
        body = raw.length ? JSON.parse(raw) : undefined;
      } catch {
        return sendJsonError(res, 400, "Request body is not valid JSON");
      }
    } else {
      body = raw;
    }
  }
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? "GET", headers, search: url.search, body },
    context,
  });
  for (const [key, value] of response.headers) res.setHeader(key, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === "complete") {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

export function sendJsonError(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(
    JSON.stringify({
      errors: [{ message, extensions: { code: status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST" } }],
    }),
  );
}
