/**
 * The tracing seam as one import for the daemon's code: settings, the tracer facade and the attribute names.
 * Nothing here loads OpenTelemetry (see request-tracer.ts).
 */
export * from "./request-tracer.js";
export * from "./span-attributes.js";
export * from "./tracing-settings.js";
