// Ports for test servers: asked of the kernel, never hard-coded, so a test
// never collides with whatever else the machine runs.
import { type AddressInfo, createServer } from "node:net";

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
