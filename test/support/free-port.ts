import { createServer } from "node:net";

/** A loopback port nobody listens on right now (the kernel picks it; the listener is closed again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      const port = a !== null && typeof a === "object" ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
