/**
 * A TCP proxy in front of PostgreSQL that lets a test see and stage what crosses the wire: cut a
 * connection at a chosen message, hold the server's replies back, or slip in a message of its own.
 * Each direction goes through a hook that decides what to forward; without a hook bytes pass as they
 * come.
 */
import net from "node:net";

export interface ProxiedConnection {
  /** Which connection through the proxy this is, from 0. */
  index: number;
  toServer(bytes: Buffer): void;
  toClient(bytes: Buffer): void;
  /** Ends both sides at once, as a lost network or a killed backend would. */
  cut(): void;
}

export interface PgProxyHooks {
  fromClient?(bytes: Buffer, conn: ProxiedConnection): void;
  fromServer?(bytes: Buffer, conn: ProxiedConnection): void;
}

export interface PgProxy {
  /** `target` with host and port replaced by the proxy's. */
  url: string;
  close(): Promise<void>;
}

export async function pgProxy(target: string, hooks: PgProxyHooks = {}): Promise<PgProxy> {
  const upstreamUrl = new URL(target);
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(upstreamUrl.port || 5432), upstreamUrl.hostname);
    sockets.add(client).add(upstream);
    const conn: ProxiedConnection = {
      index: connections++,
      toServer: (bytes) => {
        if (!upstream.destroyed) upstream.write(bytes);
      },
      toClient: (bytes) => {
        if (!client.destroyed) client.write(bytes);
      },
      cut: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    client.on("data", (bytes: Buffer) =>
      hooks.fromClient ? hooks.fromClient(bytes, conn) : conn.toServer(bytes),
    );
    upstream.on("data", (bytes: Buffer) =>
      hooks.fromServer ? hooks.fromServer(bytes, conn) : conn.toClient(bytes),
    );
    client.on("error", conn.cut).on("close", conn.cut);
    upstream.on("error", conn.cut).on("close", conn.cut);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
