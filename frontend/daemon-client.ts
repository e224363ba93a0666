import { type ClientHttp2Session, type ClientHttp2Stream, connect as http2Connect, constants } from "node:http2";
import { connect as netConnect } from "node:net";
import {
  OPEN_SESSION_PATH,
  decodeOpenSessionResponse,
  decodeOpenSessionResponsePieces,
  encodeOpenSessionRequest,
  type OpenSessionRequestFrame,
  type OpenSessionResponseFrame,
} from "../shared/open-session-wire/codec.js";
import { isPieces } from "../shared/byte-pieces.js";
import { EnvelopeReader, FLAG_COMPRESSED, FLAG_END_STREAM, parseEndStream, type ConnectWireCode } from "../shared/open-session-wire/envelope.js";

/** Why a session's stream to the daemon ended badly: a Connect error code and its message. */
export interface ChannelError {
  readonly code: ConnectWireCode;
  readonly message: string;
}

/** What a channel reports; `onEnd` is called exactly once, after the last frame. */
export interface ChannelHandlers {
  /** A frame; a large message's JSON comes as the pieces it arrived in (`decodeOpenSessionResponsePieces`). */
  onFrame(frame: OpenSessionResponseFrame<Uint8Array | Buffer[]>): void;
  /** The stream ended: cleanly (the daemon finished it) or with an error (refused, cut, daemon gone). */
  onEnd(error: ChannelError | undefined): void;
}

/** One `McpService.OpenSession` call: frames out, frames in through the handlers. */
export interface DaemonChannel {
  /** Sends a frame; resolves false when the stream is gone, and waits while the daemon is not reading (back-pressure). */
  send(frame: OpenSessionRequestFrame): Promise<boolean>;
  /** Half-closes: the daemon ends the session and then the stream. */
  closeSend(): void;
  /** Cancels the call at once (RST_STREAM CANCEL). */
  cancel(): void;
}

/** The frontend's connection to the daemon's control socket. */
export interface DaemonClient {
  /** Opens a session's stream. Never throws: a daemon that is not there shows as `onEnd` with `unavailable`. */
  open(handlers: ChannelHandlers): DaemonChannel;
  /**
   * Whether the daemon's socket answers now (opens or verifies the HTTP/2 connection). Used before a legacy SSE
   * session announces its endpoint: that transport has no answer in which to report a missing daemon later.
   */
  reachable(): Promise<boolean>;
  /**
   * The names of the current team's profiles (`TeamService.ListProfiles`, the bare path's first), or undefined
   * when the daemon does not answer: `/mcp/<profile>` and `/sse/<profile>` answer an unknown profile with 404.
   */
  profileNames(): Promise<readonly string[] | undefined>;
  /** Closes the HTTP/2 connection (shutdown, tests). */
  close(): void;
}

const REQUEST_HEADERS = {
  [constants.HTTP2_HEADER_METHOD]: "POST",
  [constants.HTTP2_HEADER_PATH]: OPEN_SESSION_PATH,
  "content-type": "application/connect+proto",
  "connect-protocol-version": "1",
};
/** Largest daemon envelope accepted: a tool result can be big, but not unbounded. */
const MAX_FRAME_BYTES = 512 * 1024 * 1024;
/** From this size on a frame is decoded from its pieces, so its JSON is never joined (written out as it came). */
const PIECED_FRAME_BYTES = 64 * 1024;
/**
 * What `DaemonChannel.send` returns, this very promise, when the frame was written at once: a hot path may test for it
 * and skip waiting (a `.then` per frame is an allocation and a turn of the microtask queue).
 */
export const SENT = Promise.resolve(true);
const NOT_SENT = Promise.resolve(false);

/** The Connect protocol's mapping of an HTTP status without a Connect error body to a code. */
function codeOfHttpStatus(status: number): ConnectWireCode {
  switch (status) {
    case 400:
      return "internal";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "unimplemented";
    case 429:
    case 502:
    case 503:
    case 504:
      return "unavailable";
    default:
      return "unknown";
  }
}

/**
 * Dials the daemon's control socket and speaks `OpenSession` in the Connect protocol's binary streaming form on
 * node's HTTP/2 directly (shared/open-session-wire: the same bytes connect-es sends, without its per-message
 * machinery, which profiling showed to be most of the frontend's CPU per MCP message). One connection multiplexes
 * every session's stream (docs/architecture.md "Why a stream per session"); it is opened lazily and again after it breaks, so when
 * the daemon restarts new sessions simply work again.
 */
export function createDaemonClient(socketPath: string): DaemonClient {
  let connection: ClientHttp2Session | undefined;

  const connect = (): ClientHttp2Session => {
    if (connection && !connection.closed && !connection.destroyed) return connection;
    const opened = http2Connect("http://localhost", { createConnection: () => netConnect(socketPath) });
    const forget = (): void => {
      if (connection === opened) connection = undefined;
    };
    opened.on("error", forget);
    opened.on("close", forget);
    // A daemon going away sends GOAWAY: streams already open finish, new ones need a new connection.
    opened.on("goaway", forget);
    connection = opened;
    return opened;
  };

  return {
    open(handlers) {
      let stream: ClientHttp2Stream;
      try {
        stream = connect().request(REQUEST_HEADERS, { endStream: false });
      } catch (error) {
        queueMicrotask(() => handlers.onEnd({ code: "unavailable", message: `gateway daemon unavailable: ${(error as Error).message}` }));
        return { send: () => NOT_SENT, closeSend: () => undefined, cancel: () => undefined };
      }
      return openChannel(stream, handlers);
    },
    reachable() {
      const session = connect();
      if (!session.connecting) return Promise.resolve(!session.destroyed && !session.closed);
      return new Promise((resolve) => {
        const done = (ok: boolean) => (): void => {
          session.off("connect", onConnect);
          session.off("close", onClose);
          resolve(ok);
        };
        const onConnect = done(true);
        const onClose = done(false);
        session.once("connect", onConnect);
        session.once("close", onClose);
      });
    },
    profileNames() {
      return new Promise((resolve) => {
        let stream: ClientHttp2Stream;
        try {
          stream = connect().request(LIST_PROFILES_HEADERS);
        } catch {
          resolve(undefined);
          return;
        }
        const chunks: Buffer[] = [];
        let status = 0;
        stream.setTimeout(LIST_PROFILES_TIMEOUT_MS, () => stream.close(constants.NGHTTP2_CANCEL));
        stream.on("response", (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", () => undefined);
        stream.on("close", () => resolve(status === 200 ? profileNamesOf(Buffer.concat(chunks)) : undefined));
        stream.end("{}");
      });
    },
    close() {
      connection?.destroy();
      connection = undefined;
    },
  };
}

/** `TeamService.ListProfiles` in the Connect protocol's unary JSON form: a few names, read rarely (a new session). */
const LIST_PROFILES_HEADERS = {
  [constants.HTTP2_HEADER_METHOD]: "POST",
  [constants.HTTP2_HEADER_PATH]: "/deploystack.gateway.v1.TeamService/ListProfiles",
  "content-type": "application/json",
  "connect-protocol-version": "1",
};
const LIST_PROFILES_TIMEOUT_MS = 5_000;

function profileNamesOf(body: Buffer): readonly string[] | undefined {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { profiles?: { name?: unknown }[] };
    return (parsed.profiles ?? []).flatMap((profile) => (typeof profile.name === "string" ? [profile.name] : []));
  } catch {
    return undefined;
  }
}

function openChannel(stream: ClientHttp2Stream, handlers: ChannelHandlers): DaemonChannel {
  const reader = new EnvelopeReader(MAX_FRAME_BYTES, PIECED_FRAME_BYTES);
  let ended = false;
  let failure: ChannelError | undefined;
  let endOfStream: { error: ChannelError | undefined } | undefined;

  const end = (error: ChannelError | undefined): void => {
    if (ended) return;
    ended = true;
    handlers.onEnd(error);
  };

  stream.on("response", (headers) => {
    const status = Number(headers[constants.HTTP2_HEADER_STATUS]);
    if (status !== 200) failure = { code: codeOfHttpStatus(status), message: `the daemon answered HTTP ${status}` };
    else if (headers["content-type"] !== "application/connect+proto") {
      failure = { code: "internal", message: `the daemon answered with content type ${String(headers["content-type"])}` };
    }
  });
  /** One envelope, whole or (a large one) in the pieces it arrived in. */
  const onEnvelope = (flags: number, payload: Buffer | Buffer[], length: number): void => {
    if (endOfStream) return;
    const pieces = isPieces(payload) ? payload : undefined;
    if (flags & FLAG_END_STREAM) {
      endOfStream = { error: parseEndStream(pieces ? Buffer.concat(pieces, length) : (payload as Buffer)) };
      // The daemon is done with this stream (say, it refused the start): our side ends too, so that the stream
      // closes and its end is reported now rather than when the client next gives up on it.
      if (!stream.writableEnded) stream.end();
      return;
    }
    if (flags & FLAG_COMPRESSED) throw new Error("the daemon sent a compressed message");
    handlers.onFrame(pieces ? decodeOpenSessionResponsePieces(pieces, length) : decodeOpenSessionResponse(payload as Buffer));
  };

  stream.on("data", (chunk: Buffer) => {
    if (failure || endOfStream) return;
    try {
      reader.push(chunk, (flags, payload) => onEnvelope(flags, payload, payload.length), onEnvelope);
    } catch (error) {
      failure = { code: "internal", message: `malformed OpenSession stream from the daemon: ${(error as Error).message}` };
      stream.close(constants.NGHTTP2_CANCEL);
    }
  });
  stream.on("close", () => {
    if (failure) end(failure);
    else if (endOfStream) end(endOfStream.error);
    else end({ code: "unavailable", message: "gateway daemon unavailable: the stream closed without an end" });
  });
  stream.on("error", () => undefined);

  return {
    send(frame) {
      if (ended || stream.destroyed || stream.writableEnded) return NOT_SENT;
      if (stream.write(encodeOpenSessionRequest(frame, true))) return SENT;
      return new Promise((resolve) => {
        const settle = (): void => {
          stream.off("drain", settle);
          stream.off("close", settle);
          resolve(!stream.destroyed);
        };
        stream.on("drain", settle);
        stream.on("close", settle);
      });
    },
    closeSend() {
      if (!stream.destroyed && !stream.writableEnded) stream.end();
    },
    cancel() {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    },
  };
}
