/**
 * Preload (`node -r bench/force-loopback.cjs …`) for peers that have no host flag and listen on every interface
 * (supergateway, mcp-hub): every TCP `listen()` is forced onto 127.0.0.1 so the benchmark never opens a port to
 * the network. Unix socket paths and handles are left alone.
 */
"use strict";
const net = require("node:net");

const LOOPBACK = "127.0.0.1";
const originalListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    const port = Number(first);
    const rest = args.slice(1);
    if (typeof rest[0] === "string" || rest[0] === undefined || rest[0] === null) rest.shift();
    return originalListen.call(this, port, LOOPBACK, ...rest);
  }
  if (first && typeof first === "object" && !Array.isArray(first) && first.path === undefined && first.fd === undefined &&
    first._handle === undefined && ("port" in first || "host" in first)) {
    return originalListen.call(this, { ...first, host: LOOPBACK }, ...args.slice(1));
  }
  if (args.length === 0 || typeof first === "function") {
    return originalListen.call(this, 0, LOOPBACK, ...args);
  }
  return originalListen.apply(this, args);
};
