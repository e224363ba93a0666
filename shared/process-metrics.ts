/**
 * How often the gateway's processes sample their event-loop lag for prom-client's `nodejs_eventloop_lag_*` metrics
 * (`collectDefaultMetrics`'s `eventLoopMonitoringPrecision`). prom-client's default, 10 ms, wakes an idle daemon
 * about 200 times a second — measured here at 12 ms of CPU per second (1.2 % of a core) for a process with nothing to
 * do, and a laptop kept out of its deep sleep states for weeks. Every 100 ms is ten wake-ups a second, and a stall of
 * 100 ms or more still always shows: it covers at least one sampling instant, which then fires late by the stall.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;
