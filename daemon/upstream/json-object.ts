/**
 * Any JSON object, as the upstream side and the session engine hold parsed MCP messages. In a module of its own so
 * that the modules describing results (raw-json.ts) and connections (types.ts) can both use it without importing
 * each other.
 */
export type JsonObject = { [key: string]: unknown };
