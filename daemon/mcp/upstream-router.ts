/**
 * The upstream half of the session engine: forwards requests to the one shared
 * connection of each server, and routes what servers send back to the right caller.
 *
 * Servers are untrusted: whatever a server sends can reach only the callers of requests
 * issued to that server.
 * - Request ids are the connection's own (daemon/upstream/connection.ts keeps the pending
 *   requests, and the server-to-client requests a `notifications/cancelled` may abort, per
 *   connection), so sessions never collide upstream and a server's responses and
 *   cancellations can only touch requests on its own connection.
 * - Progress tokens are replaced by unguessable ones issued per server (MCP 2025-11-25
 *   "Base Protocol › Utilities › Progress": tokens MUST be unique across active requests)
 *   and mapped back to the caller's original token. A `notifications/progress` is delivered
 *   only if its token was issued to the server that sent it for a call still in flight;
 *   anything else is dropped and counted.
 * - Server-to-client requests (`sampling/createMessage`, `elicitation/create`, `roots/list`)
 *   go only to a call in flight on that server whose client declared the capability (see
 *   `chooseCall` for how one is chosen when several could be the cause). Otherwise sampling
 *   and elicitation are refused and `roots/list` is answered with the server's configured
 *   roots (`roots:` in the team file), else an empty list: never with another session's roots.
 * - The handlers are installed through the supervisor's handler factory when it has one
 *   (`setUpstreamHandlers`), so they are on every connection before its `initialize`: nothing
 *   a server sends during start-up or right after a restart is answered by the defaults.
 */
import { randomBytes } from "node:crypto";
import { GatewayError } from "../errors.js";
import type { Logger } from "../../shared/logger.js";
import { InflightTable } from "../../shared/inflight-table.js";
import type { Supervisor } from "../supervisor/types.js";
import { defaultUpstreamHandlers } from "../upstream/connection.js";
import { UpstreamRpcError, type JsonObject, type UpstreamConnection, type UpstreamHandlers, type UpstreamResult } from "../upstream/types.js";
import { JsonRpcErrorCode } from "./json-rpc.js";
import type { Caller } from "./caller.js";
import { systemClock, type Clock } from "./clock.js";
import { asInputRequired, MRTR_METHODS } from "./mrtr.js";
import { createHeldCalls, type HeldCalls } from "./mrtr-held-calls.js";
import { completeForLegacyCaller } from "./mrtr-legacy-caller.js";
import { isGatewayState } from "./mrtr-state.js";
import type { CallSignal } from "../call-signal.js";

export type { Caller, CallerCapabilities } from "./caller.js";

/** A caller that can take no server-to-client request (internal bookkeeping requests). */
export const internalCaller: Caller = { capabilities: {} };

/** What the router reports to the engine. */
export interface UpstreamRouterHooks {
  /** A `notifications/message` from a server, to broadcast to sessions. */
  onLog(server: string, params: JsonObject): void;
  /** A `notifications/resources/updated` from a server. */
  onResourceUpdated(server: string, params: JsonObject): void;
  /**
   * The server's own configured roots (MCP `Root` objects), the answer to its `roots/list`
   * when no call on that server can take it.
   */
  configuredRoots(server: string): JsonObject[];
  /** A new connection was hooked (first use or a restarted server): re-apply session state. */
  onConnection(connection: UpstreamConnection): void;
}

/**
 * A supervisor that installs handlers on every connection it makes, before `initialize`
 * (`ManagedSupervisor` in daemon/supervisor/supervisor.ts, and the engine tests' in-memory one).
 */
export interface UpstreamHandlerInstaller {
  setUpstreamHandlers(factory: (serverName: string) => UpstreamHandlers): void;
}

/** A supervisor, possibly able to install the engine's handlers itself. */
export type RoutableSupervisor = Supervisor & Partial<UpstreamHandlerInstaller>;

/** Options of `createUpstreamRouter`. */
export interface UpstreamRouterOptions {
  readonly supervisor: RoutableSupervisor;
  readonly logger: Logger;
  readonly hooks: UpstreamRouterHooks;
  /** How long a call waits for a starting, idle or backing-off server. */
  readonly acquireTimeoutMs: number;
  /** The clock of held calls' lifetimes (default: real time). */
  readonly clock?: Clock;
  /** The held calls of modern callers on legacy servers (default: a store with the default bounds and a fresh key). */
  readonly heldCalls?: HeldCalls;
}

/** The router's face. */
export interface UpstreamRouter {
  /**
   * Sends `method` to `server` for `caller`, remapping the progress token; resolves with the
   * result untouched, rejects with `UpstreamRpcError` (forwarded) or `GatewayError`.
   */
  forward(server: string, method: string, params: JsonObject | undefined, caller: Caller, signal: CallSignal): Promise<UpstreamResult>;
  /** Makes sure a running server's connection is hooked, so its notifications reach sessions. */
  attach(server: string): void;
  /** The live hooked connection of a server, if any. */
  connection(server: string): UpstreamConnection | undefined;
  /** The live hooked connections. */
  connections(): UpstreamConnection[];
  close(): void;
}

/**
 * The progress tokens issued to one server for its calls in flight.
 *
 * A token is `dsgw-<prefix>-<n>` with a prefix of 96 random bits drawn once per server and a
 * counter. A server sees only its own tokens, so it learns only its own prefix; tokens of other
 * servers carry a prefix it has never seen, which cannot be guessed. A random value per call
 * would buy nothing more (a server may already address any of its own calls, which it sees in
 * full) and cost a CSPRNG read on the hot path; this costs one string concatenation. The
 * table is per server in any case, so even a leaked token of another server would be dropped.
 */
interface ProgressTable {
  readonly prefix: string;
  next: number;
  /** Issued token → the caller's progress sink, while the call is in flight. */
  readonly sinks: Map<string, (params: JsonObject) => void>;
}

/** One call in flight on a server, as server-to-client request routing sees it. */
export interface InFlightCall {
  readonly caller: Caller;
  /** Increasing in the order the calls were written to the server. */
  readonly seq: number;
  /** What the call targets: its method and tool or prompt name or URI. */
  readonly target: string;
  /** How many server-to-client requests were routed to this call so far. */
  asked: number;
}

/**
 * Chooses the call a server-to-client request belongs to, among the calls in flight on the
 * server that sent it, or undefined when no caller can take it.
 *
 * Over stdio nothing in the request links it to the call that caused it: the SDK's
 * `relatedRequestId` only tells a transport which stream to use and is never written into
 * the message, and `_meta` carries no originating id (only `io.modelcontextprotocol/related-task`
 * for tasks, which the gateway does not advertise). So the choice is an inference from what a
 * server does with requests it reads in order:
 * 1. only calls whose client declared the capability (MCP 2025-11-25 "Client Features");
 * 2. the calls asked the fewest times so far: concurrent calls each get one request before any
 *    gets a second (two sessions running the same sampling tool get one request each);
 * 3. the target of the most recent of those (a call that has been running for a while without
 *    asking is less likely the cause than one just sent: a long-running tool next to a
 *    sampling one does not get its request);
 * 4. among calls of that target, the oldest: a server handles the same tool's calls in the
 *    order it read them, so their requests come out in that order.
 * When calls of different tools that each ask run at once on one server, the order of their
 * requests is the server's business and the choice can be wrong; no client is ever asked
 * without a call in flight on that server.
 */
export function chooseCall(calls: Iterable<InFlightCall>, method: string, params: JsonObject | undefined): InFlightCall | undefined {
  const able: InFlightCall[] = [];
  let fewest = Infinity;
  for (const call of calls) {
    if (!canTake(call.caller, method, params)) continue;
    able.push(call);
    if (call.asked < fewest) fewest = call.asked;
  }
  let latest: InFlightCall | undefined;
  for (const call of able) if (call.asked === fewest && (latest === undefined || call.seq > latest.seq)) latest = call;
  if (latest === undefined) return undefined;
  let chosen = latest;
  for (const call of able) if (call.asked === fewest && call.target === latest.target && call.seq < chosen.seq) chosen = call;
  return chosen;
}

function targetOf(method: string, params: JsonObject | undefined): string {
  const name = params?.name ?? params?.uri;
  return typeof name === "string" ? `${method} ${name}` : method;
}

/** Whether `caller` can take the server-to-client request `method` with `params` (MCP 2025-11-25 "Client Features"). */
export function canTake(caller: Caller, method: string, params: JsonObject | undefined): boolean {
  if (!caller.clientRequest) return false;
  const caps = caller.capabilities;
  if (method === "sampling/createMessage") {
    if (!caps.sampling) return false;
    if (params?.tools !== undefined && caps.sampling.tools === undefined) return false;
    return true;
  }
  if (method === "elicitation/create") {
    if (!caps.elicitation) return false;
    const mode = params?.mode ?? "form";
    // An empty `elicitation: {}` declares form mode only.
    const declared = Object.keys(caps.elicitation);
    if (declared.length === 0) return mode === "form";
    return caps.elicitation[mode as string] !== undefined;
  }
  if (method === "roots/list") return caps.roots !== undefined;
  return false;
}

/** Whether some server request could ever be put to `caller`'s client (the capabilities `canTake` looks for). */
function mayBeAsked(caller: Caller): boolean {
  const caps = caller.capabilities;
  return caps.sampling !== undefined || caps.elicitation !== undefined || caps.roots !== undefined;
}

/** Creates the router. */
export function createUpstreamRouter(options: UpstreamRouterOptions): UpstreamRouter {
  const { supervisor, logger, hooks, acquireTimeoutMs } = options;
  const heldCalls = options.heldCalls ?? createHeldCalls({ clock: options.clock ?? systemClock, logger });
  const hooked = new WeakSet<UpstreamConnection>();
  const live = new Map<string, UpstreamConnection>();
  const inflight = new InflightTable<string, InflightTable<number, InFlightCall>>();
  const progressTables = new Map<string, ProgressTable>();
  const handlerCache = new Map<string, UpstreamHandlers>();
  let seq = 0;
  let dropped = 0;
  const closing = new AbortController();

  function progressTable(server: string): ProgressTable {
    let table = progressTables.get(server);
    if (!table) {
      table = { prefix: `dsgw-${randomBytes(12).toString("base64url")}-`, next: 0, sinks: new Map() };
      progressTables.set(server, table);
    }
    return table;
  }

  /** A message from `server` names no request of ours in flight on it: dropped (never delivered elsewhere) and counted. */
  function drop(server: string, method: string): void {
    dropped++;
    logger.debug({ server, method, dropped }, "dropped a server message that names no request in flight on that server");
  }

  function pick(server: string, method: string, params: JsonObject | undefined): Caller | undefined {
    const chosen = chooseCall(inflight.get(server)?.values() ?? [], method, params);
    if (chosen) chosen.asked++;
    return chosen?.caller;
  }

  /** The handlers of one server's connections (the same object for all of them). */
  function handlersFor(server: string): UpstreamHandlers {
    let handlers = handlerCache.get(server);
    if (!handlers) handlerCache.set(server, (handlers = createHandlers(server)));
    return handlers;
  }

  /**
   * Once the router is closed its handlers act as the supervisor's defaults. They are not
   * uninstalled: a newer engine may already have installed its own, which must stay.
   */
  function createHandlers(server: string): UpstreamHandlers {
    return {
      onNotification(method, params) {
        if (closing.signal.aborted) return defaultUpstreamHandlers.onNotification(method, params);
        if (method === "notifications/progress") {
          const token = params?.progressToken;
          const sink = typeof token === "string" ? progressTables.get(server)?.sinks.get(token) : undefined;
          if (sink) sink(params!);
          else drop(server, method);
          return;
        }
        if (method === "notifications/message" && params) {
          for (const entry of inflight.get(server)?.values() ?? []) entry.caller.onLog?.(params);
          hooks.onLog(server, params);
          return;
        }
        if (method === "notifications/resources/updated" && params) {
          hooks.onResourceUpdated(server, params);
        }
        // list_changed: the supervisor refreshes the catalog and the registry follows its events.
      },
      async onRequest(method, params, signal) {
        if (closing.signal.aborted) return defaultUpstreamHandlers.onRequest(method, params, signal);
        if (method === "ping") return {};
        if (method === "sampling/createMessage" || method === "elicitation/create") {
          const caller = pick(server, method, params);
          if (!caller?.clientRequest) {
            throw new UpstreamRpcError(
              JsonRpcErrorCode.methodNotFound,
              `no client can answer ${method} for server "${server}": it must come during a call from a client that declared the capability`,
            );
          }
          return caller.clientRequest(method, params, signal);
        }
        if (method === "roots/list") {
          // Outside a call from a client with roots, the server gets only what its own config gives it.
          const caller = pick(server, method, params);
          if (!caller?.clientRequest) return { roots: hooks.configuredRoots(server) };
          return caller.clientRequest(method, params, signal);
        }
        throw new UpstreamRpcError(JsonRpcErrorCode.methodNotFound, `method not found: "${method}"`);
      },
    };
  }

  const installer = typeof supervisor.setUpstreamHandlers === "function" ? supervisor : undefined;
  installer?.setUpstreamHandlers?.(handlersFor);

  /** Tracks a live connection (for broadcasts) and re-applies session state on it, once per connection. */
  function hook(connection: UpstreamConnection): void {
    if (hooked.has(connection) || closing.signal.aborted) return;
    hooked.add(connection);
    const server = connection.serverName;
    live.set(server, connection);
    connection.closed.addEventListener("abort", () => {
      if (live.get(server) === connection) live.delete(server);
    }, { once: true });
    if (!installer) connection.setHandlers(handlersFor(server));
    hooks.onConnection(connection);
  }

  function attach(server: string): void {
    const signal = AbortSignal.any([closing.signal, AbortSignal.timeout(acquireTimeoutMs)]);
    supervisor.acquire(server, { timeoutMs: acquireTimeoutMs, signal }).then(hook, (error: unknown) => {
      logger.debug({ server, err: error }, "could not attach to server");
    });
  }

  /** The server's live connection, hooked. */
  async function acquire(server: string, signal: CallSignal): Promise<UpstreamConnection> {
    const connection = await supervisor.acquire(server, { timeoutMs: acquireTimeoutMs, signal });
    hook(connection);
    if (signal.aborted) throw new GatewayError("cancelled", "request cancelled");
    return connection;
  }

  /**
   * Asks `caller` one of a modern server's input requests for a caller that cannot retry (mrtr-legacy-caller.ts),
   * with the checks a legacy server's request gets: `roots/list` from a caller without roots is answered with the
   * server's configured roots; sampling or elicitation the caller cannot take fails the call.
   */
  function askCaller(server: string, caller: Caller, method: string, params: JsonObject | undefined, signal: CallSignal): Promise<JsonObject> {
    if (canTake(caller, method, params)) return caller.clientRequest!(method, params, signal);
    if (method === "roots/list") return Promise.resolve({ roots: hooks.configuredRoots(server) });
    const kind = method === "sampling/createMessage" ? "sampling" : "elicitation";
    return Promise.reject(
      new GatewayError(
        "failed_precondition",
        `server "${server}" needs ${method} from the client to finish this request, but the client did not declare the ${kind} capability${kind === "elicitation" && params?.mode === "url" ? " (url mode)" : ""}`,
      ),
    );
  }

  /**
   * Multi round-trip requests across eras (docs/protocol.md "MRTR across eras"): a modern caller's retry of a held
   * call resumes it; a modern caller's call on a legacy server may be held; a modern server's `InputRequiredResult`
   * is answered for a caller that cannot retry. Everything else (and modern to modern) passes through untouched.
   */
  async function forward(
    server: string,
    method: string,
    params: JsonObject | undefined,
    caller: Caller,
    signal: CallSignal,
  ): Promise<UpstreamResult> {
    if (caller.suspendsForInput && isGatewayState(params?.requestState)) return heldCalls.resume(server, method, params!, caller, signal);
    const connection = await acquire(server, signal);
    if (!MRTR_METHODS.has(method)) return send(connection, method, params, caller, signal);
    if (connection.identity.era === "legacy") {
      if (!caller.suspendsForInput) return send(connection, method, params, caller, signal);
      if (params?.requestState !== undefined) throw new GatewayError("invalid_argument", "requestState refused: not issued by this gateway");
      // A caller that declared none of the capabilities a server's request needs is never asked (`canTake`): holding
      // its call would cost a round of bookkeeping per call for nothing.
      if (!mayBeAsked(caller)) return send(connection, method, params, caller, signal);
      return heldCalls.start({ server, method, params, caller, signal, send: (p, c, s) => send(connection, method, p, c, s) });
    }
    const first = await send(connection, method, params, caller, signal);
    if (caller.suspendsForInput || asInputRequired(first) === undefined) return first;
    return completeForLegacyCaller(first, {
      server,
      method,
      params,
      signal,
      ask: (inputMethod, inputParams, inputSignal) => askCaller(server, caller, inputMethod, inputParams, inputSignal),
      send: async (retry) => send(await acquire(server, signal), method, retry, caller, signal),
    });
  }

  /** Sends one request on `connection` for `caller`, with its progress token remapped and the call tracked in flight. */
  async function send(
    connection: UpstreamConnection,
    method: string,
    params: JsonObject | undefined,
    caller: Caller,
    signal: CallSignal,
  ): Promise<UpstreamResult> {
    const server = connection.serverName;
    let upstreamParams = params;
    let upstreamToken: string | undefined;
    let tokens: ProgressTable | undefined;
    const meta = params?._meta;
    if (typeof meta === "object" && meta !== null && (meta as JsonObject).progressToken !== undefined) {
      const original = (meta as JsonObject).progressToken;
      tokens = progressTable(server);
      upstreamToken = `${tokens.prefix}${++tokens.next}`;
      upstreamParams = { ...params, _meta: { ...(meta as JsonObject), progressToken: upstreamToken } };
      tokens.sinks.set(upstreamToken, (p) => caller.onProgress?.({ ...p, progressToken: original }));
    }
    const entry: InFlightCall = { caller, seq: ++seq, target: targetOf(method, params), asked: 0 };
    // A server's table stays when it empties, as its handlers and progress table do: a new table's first entry costs
    // V8 a new hidden class (its integer keys make its elements sparse), which one table per busy spell paid again
    // and again (about one call in six under load).
    let calls = inflight.get(server);
    if (!calls) inflight.set(server, (calls = new InflightTable()));
    calls.set(entry.seq, entry);
    try {
      // A modern caller answers a modern server's input requests itself: the server sees that caller's capabilities.
      const options = caller.suspendsForInput ? { signal, clientCapabilities: { ...caller.capabilities } } : { signal };
      return await (caller.forwardsResults ? connection.forward(method, upstreamParams, options) : connection.request(method, upstreamParams, options));
    } finally {
      calls.delete(entry.seq);
      if (upstreamToken !== undefined) tokens!.sinks.delete(upstreamToken);
    }
  }

  return {
    forward,
    attach,
    connection: (server) => live.get(server),
    connections: () => [...live.values()].filter((c) => !c.closed.aborted),
    close() {
      closing.abort();
      heldCalls.close();
      live.clear();
    },
  };
}
