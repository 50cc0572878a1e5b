// A TCP proxy in front of the API server that can stall: while stalled it
// accepts connections and bytes but forwards nothing in either direction and
// closes nothing, as a network partition or a wedged middlebox would. Bytes
// held during the stall are delivered once it ends, as TCP retransmission
// would deliver them once the partition heals. TLS passes through untouched.
//
// Upstream connections leave from `localAddress` (e.g. 127.0.0.2), so the
// API server's audit log (`sourceIPs`) tells the proxied client apart from
// clients that connect directly from 127.0.0.1.
import net from "node:net";

export interface StallProxy {
  /** Local port clients connect to (on 127.0.0.1). */
  port: number;
  stall(): void;
  unstall(): void;
  readonly stalled: boolean;
  close(): Promise<void>;
}

interface Pipe {
  to: () => net.Socket | undefined;
  held: Buffer[];
  ended: boolean;
}

export async function startStallProxy(
  upstream: { host: string; port: number },
  localAddress: string,
): Promise<StallProxy> {
  let stalled = false;
  const connections = new Set<{ client: net.Socket; server?: net.Socket; flush(): void }>();

  const server = net.createServer((client) => {
    const connection: { client: net.Socket; server?: net.Socket; flush(): void } = { client, flush: () => {} };
    const up: Pipe = { to: () => connection.server, held: [], ended: false };
    const down: Pipe = { to: () => client, held: [], ended: false };
    const drain = (pipe: Pipe) => {
      const to = pipe.to();
      if (stalled || !to || to.destroyed) return;
      for (const chunk of pipe.held.splice(0)) to.write(chunk);
      if (pipe.ended) to.end();
    };
    const connect = () => {
      if (connection.server) return;
      const socket = net.connect({ host: upstream.host, port: upstream.port, localAddress });
      connection.server = socket;
      socket.on("data", (chunk) => {
        down.held.push(chunk);
        drain(down);
      });
      socket.on("end", () => {
        down.ended = true;
        drain(down);
      });
      socket.on("error", () => client.destroy());
      socket.on("connect", () => drain(up));
    };
    connection.flush = () => {
      connect();
      drain(up);
      drain(down);
    };
    client.on("data", (chunk) => {
      up.held.push(chunk);
      drain(up);
    });
    client.on("end", () => {
      up.ended = true;
      drain(up);
    });
    client.on("error", () => connection.server?.destroy());
    // Kept while stalled even once the client is gone: what it sent is still delivered when the stall ends.
    client.on("close", () => {
      if (!stalled) connections.delete(connection);
    });
    connections.add(connection);
    // A connection opened during a stall reaches the server only once it ends.
    if (!stalled) connect();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get stalled() {
      return stalled;
    },
    stall() {
      stalled = true;
    },
    unstall() {
      stalled = false;
      for (const connection of connections) {
        connection.flush();
        if (connection.client.destroyed) connections.delete(connection);
      }
    },
    async close() {
      for (const connection of connections) {
        connection.client.destroy();
        connection.server?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
