/** What a client's `Accept` header allows among the two media types MCP's Streamable HTTP transport answers with. */
export interface AcceptedMedia {
  readonly json: boolean;
  readonly eventStream: boolean;
}

/**
 * Parses `Accept` (RFC 9110 §12.5.1) just enough to know whether `application/json` and `text/event-stream` are
 * acceptable: wildcards count, `q=0` excludes. A missing header accepts neither, because the MCP transport requires
 * clients to list what they accept (2025-11-25 "Sending Messages to the Server").
 */
export function parseAccept(header: string | undefined): AcceptedMedia {
  let json = false;
  let eventStream = false;
  if (!header) return { json, eventStream };
  for (const part of header.split(",")) {
    const [rawType, ...params] = part.split(";");
    const type = rawType.trim().toLowerCase();
    if (params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(p))) continue;
    if (type === "*/*") {
      json = true;
      eventStream = true;
    } else if (type === "application/json" || type === "application/*") {
      json = true;
    } else if (type === "text/event-stream" || type === "text/*") {
      eventStream = true;
    }
  }
  return { json, eventStream };
}

/** True when a `Content-Type` header names JSON (`application/json`, any parameters). */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(";")[0].trim().toLowerCase() === "application/json";
}
