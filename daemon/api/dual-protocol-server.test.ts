import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import test from "ava";
import { createDualProtocolServer } from "./dual-protocol-server.js";

// One cleartext port for HTTP/1.1 and h2c (prior knowledge), told apart by the preface.

async function listen(t: import("ava").ExecutionContext) {
  const dual = createDualProtocolServer((req, res) => {
    res.setHeader("content-type", "text/plain");
    res.end(`HTTP/${req.httpVersion} ${req.url}`);
  });
  await new Promise<void>((resolve) => dual.server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => dual.close(50));
  return { dual, port: (dual.server.address() as AddressInfo).port };
}

test("HTTP/1.1 and HTTP/2 requests are served on the same port", async (t) => {
  const { port } = await listen(t);
  const h1 = await fetch(`http://127.0.0.1:${port}/one`);
  t.is(await h1.text(), "HTTP/1.1 /one");

  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const body = await new Promise<string>((resolve, reject) => {
    const stream = session.request({ ":path": "/two" });
    let text = "";
    stream.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
  });
  t.is(body, "HTTP/2.0 /two");
});

test("a preface split across several packets is still recognised", async (t) => {
  const { port } = await listen(t);
  // A proxy that delivers the client's first 24 bytes (the preface) in 5-byte packets.
  let splitWrites = 0;
  const proxy = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    upstream.setNoDelay(true);
    let forwarded = 0;
    let chain = Promise.resolve();
    client.on("data", (chunk: Buffer) => {
      chain = chain.then(async () => {
        for (let offset = 0; offset < chunk.length; ) {
          const size = forwarded < 24 ? 5 : chunk.length - offset;
          upstream.write(chunk.subarray(offset, offset + size));
          if (forwarded < 24) {
            splitWrites++;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          forwarded += size;
          offset += size;
        }
      });
    });
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  t.teardown(() => void proxy.close());
  const session = http2.connect(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  t.teardown(() => session.destroy());
  const body = await new Promise<string>((resolve, reject) => {
    const stream = session.request({ ":path": "/split" });
    let text = "";
    stream.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
  });
  t.is(body, "HTTP/2.0 /split");
  t.true(splitWrites >= 5, "the preface really arrived in pieces");
});

test("with limits, answers slower than the request timeout still arrive on HTTP/1.1 and HTTP/2 (only receiving is timed)", async (t) => {
  const dual = createDualProtocolServer(
    (req, res) => {
      req.resume();
      req.on("end", () => setTimeout(() => res.end(`late ${req.httpVersion}`), 800));
    },
    { headersTimeoutMs: 200, requestTimeoutMs: 400, maxConnections: 10 },
  );
  await new Promise<void>((resolve) => dual.server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => dual.close(50));
  const port = (dual.server.address() as AddressInfo).port;
  const h1 = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "x" });
  t.is(await h1.text(), "late 1.1");
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const body = await new Promise<string>((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": "/" });
    let text = "";
    stream.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
    stream.end("x");
  });
  t.is(body, "late 2.0");
});
