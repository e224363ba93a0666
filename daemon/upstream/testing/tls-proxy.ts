import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A TLS front for a plain-HTTP fixture, for the remote-server tests of TLS verification and HTTP/2: a
 * self-signed certificate for 127.0.0.1 made with openssl, an HTTP/2 server (HTTP/1.1 allowed) that passes every
 * request through to the fixture and records which HTTP version each one arrived in.
 */

/** A running TLS front. */
export interface TlsFront {
  /** `https://127.0.0.1:PORT` */
  readonly origin: string;
  /** The certificate file (PEM): what NODE_EXTRA_CA_CERTS points at to trust it. */
  readonly certFile: string;
  /** HTTP versions of the requests so far ("2.0", "1.1"). */
  readonly versions: string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "host"]);

/** Starts a TLS front passing requests to `target` (`http://127.0.0.1:PORT`). */
export async function startTlsFront(target: string): Promise<TlsFront> {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-tls-"));
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ], { stdio: "ignore" });
  const versions: string[] = [];
  const upstream = new URL(target);
  const server: Http2SecureServer = createSecureServer({ key: readFileSync(keyFile), cert: readFileSync(certFile), allowHTTP1: true }, (req, res) => {
    versions.push(req.httpVersion);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith(":") || HOP_BY_HOP.has(name) || value === undefined) continue;
      headers[name] = value;
    }
    const forwarded = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
      (answer) => {
        const back: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) back[name] = value;
        res.writeHead(answer.statusCode ?? 502, back);
        answer.pipe(res);
      },
    );
    forwarded.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `https://127.0.0.1:${port}`,
    certFile,
    versions,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open HTTP/2 sessions keep a server alive: let them go.
        setTimeout(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        }, 500).unref();
      }),
  };
}
