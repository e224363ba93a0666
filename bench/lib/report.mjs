/**
 * The report: every figure beside its ratio to direct stdio (the floor) and to the best peer (the best of
 * supergateway, mcp-proxy and mcp-hub for that figure; for throughput only peers with no errors and no wrong
 * results count), and the issue's targets checked against the same run.
 */

const fmt = (value, digits = 0) =>
  value === undefined || value === null || typeof value !== "number" || Number.isNaN(value) ? "—" : Number(value).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const ratio = (value, base) =>
  value === undefined || base === undefined || value === null || base === null || Number.isNaN(value) || Number.isNaN(base) || !base ? "—" : `${(value / base).toFixed(2)}×`;

/** The best peer value of a figure (lower is better unless `higher`). */
export function bestPeer(results, contenders, pick, { higher = false, eligible = () => true } = {}) {
  let best;
  for (const contender of contenders) {
    if (contender.group !== "peer") continue;
    const result = results?.[contender.id];
    if (!result || !eligible(result)) continue;
    const value = pick(result);
    if (value === undefined || value === null || Number.isNaN(value)) continue;
    if (best === undefined || (higher ? value > best.value : value < best.value)) best = { id: contender.id, value };
  }
  return best;
}

function table(header, rows) {
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

const kib2mib = (kib) => (kib === undefined || kib === null ? Number.NaN : kib / 1024);

/** Builds the markdown report from the results object. */
export function renderMarkdown(results) {
  const { contenders, scenarios } = results;
  const shown = contenders.filter((c) => c.status === "ok");
  const out = [];
  out.push(`Run ${results.date} (${results.mode}), ${results.machine.cpuModel} × ${results.machine.cpus}, ${results.machine.memGiB} GiB, Node ${results.machine.node}, load average ${results.machine.loadBefore.join(" / ")} before the run${results.machine.loadAfter ? ` and ${results.machine.loadAfter.join(" / ")} after it` : ""} (1 / 5 / 15 min). Ratios: ×direct = to direct stdio, ×peer = to the best peer (${"supergateway, mcp-proxy, mcp-hub"}) in the same run.`);
  const skipped = contenders.filter((c) => c.status !== "ok");
  if (skipped.length) out.push(`Not run: ${skipped.map((c) => `${c.id} (${c.reason})`).join("; ")}.`);

  const lat = scenarios.latency;
  if (lat) {
    const direct = lat["direct-stdio"]?.p50;
    const peer = bestPeer(lat, shown, (r) => r.p50, { eligible: (r) => r.errors === 0 && r.wrong === 0 });
    out.push(`### Latency of tools/call echo, 1 client (µs)`);
    out.push(
      table(
        ["contender", "p50", "×direct", "×peer", "p90", "p99", "calls", "errors / wrong"],
        shown.filter((c) => lat[c.id]).map((c) => {
          const r = lat[c.id];
          return [c.label, fmt(r.p50), ratio(r.p50, direct), ratio(r.p50, peer?.value), fmt(r.p90), fmt(r.p99), fmt(r.n), `${r.errors} / ${r.wrong}`];
        }),
      ),
    );
  }

  for (const key of ["throughput16", "throughput64"]) {
    const tp = scenarios[key];
    if (!tp) continue;
    const sessions = key === "throughput16" ? 16 : 64;
    const direct = tp["direct-stdio"]?.callsPerSec;
    const clean = (r) => r.errors === 0 && r.wrong === 0;
    const peer = bestPeer(tp, shown, (r) => r.callsPerSec, { higher: true, eligible: clean });
    const peerCpu = bestPeer(tp, shown, (r) => r.cpuPerCallMicros.own, { eligible: clean });
    out.push(`### Throughput, ${sessions} concurrent sessions in closed loops`);
    out.push(
      table(
        ["contender", "calls/s", "×direct", "×peer", "p50 µs", "p99 µs", "errors", "WRONG", "CPU µs/call own", "×peer", "upstream", "own + upstream", "client"],
        shown.filter((c) => tp[c.id]).map((c) => {
          const r = tp[c.id];
          return [
            c.label,
            fmt(r.callsPerSec),
            ratio(r.callsPerSec, direct),
            ratio(r.callsPerSec, peer?.value),
            fmt(r.p50),
            fmt(r.p99),
            fmt(r.errors),
            r.wrong ? `**${fmt(r.wrong)} (${fmt((100 * r.wrong) / Math.max(1, r.calls))}%)**` : "0",
            fmt(r.cpuPerCallMicros.own),
            ratio(r.cpuPerCallMicros.own, peerCpu?.value),
            fmt(r.cpuPerCallMicros.upstream),
            fmt(r.cpuPerCallMicros.ownAndUpstream),
            fmt(r.cpuPerCallMicros.client),
          ];
        }),
      ),
    );
  }
  if (scenarios.throughput16 || scenarios.throughput64) {
    out.push(
      "Direct stdio runs the same number of loops over its one connection (it has no sessions). CPU per call is from /proc utime+stime of the contender's own processes (for the gateway: daemon + frontend + watchdog), of the upstream server process(es), and of the benchmark client process. The SDK references run the tool in-process, so their own CPU includes the tool.",
    );
  }

  const blobs = scenarios.blobs;
  if (blobs) {
    const sizes = Object.keys(Object.values(blobs)[0]?.bySize ?? {}).map(Number);
    const header = ["contender"];
    for (const n of sizes) header.push(`${Math.round(n / 1048576)} MiB ms`, "×direct", "×peer");
    header.push("echo during largest: p50 / max ms", "errors / wrong");
    const rows = shown.filter((c) => blobs[c.id]).map((c) => {
      const r = blobs[c.id];
      const row = [c.label];
      for (const n of sizes) {
        const v = r.bySize[n]?.medianMs;
        const peer = bestPeer(blobs, shown, (x) => x.bySize[n]?.medianMs, { eligible: (x) => x.wrong === 0 });
        row.push(fmt(v, 1), ratio(v, blobs["direct-stdio"]?.bySize[n]?.medianMs), ratio(v, peer?.value));
      }
      row.push(`${fmt(r.sideEchoDuringLargest.p50Ms, 1)} / ${fmt(r.sideEchoDuringLargest.maxMs, 1)}`, `${r.errors} / ${r.wrong}`);
      return row;
    });
    out.push(`### Large results (median ms of blob calls)`);
    out.push(table(header, rows));
    out.push("The last column is a second session of the same contender calling echo while the largest result travels: a high max means one big result stalls other sessions.");
  }

  const mem = scenarios.memory;
  if (mem) {
    out.push(`### Memory: RSS of each contender's own processes (MiB)`);
    out.push(
      table(
        ["contender", "idle", "after the 64-session run"],
        shown.filter((c) => mem.idle?.[c.id] !== undefined).map((c) => [c.label, fmt(kib2mib(mem.idle[c.id]), 1), fmt(kib2mib(mem.after64?.[c.id]), 1)]),
      ),
    );
    if (mem.gatewayRoles) {
      const roles = mem.gatewayRoles;
      out.push(
        table(
          ["gateway process", "idle MiB", "after the 64-session run MiB"],
          ["daemon", "frontend", "watchdog"].map((role) => [role, fmt(kib2mib(roles.idle?.[role]), 1), fmt(kib2mib(roles.after64?.[role]), 1)]),
        ),
      );
    }
  }
  const gm = scenarios.gatewayMemory;
  if (gm) {
    out.push(`### Gateway memory and idle CPU with ${gm.sessions} idle sessions`);
    const withCpu = gm.idleCpuMsPerS !== undefined;
    out.push(
      table(
        ["process", "idle MiB", `${gm.sessions} sessions MiB`, ...(withCpu ? ["idle CPU ms/s", `${gm.sessions} sessions CPU ms/s`] : [])],
        ["daemon", "frontend"].map((role) => [
          role,
          fmt(kib2mib(gm.idleKiB[role]), 1),
          fmt(kib2mib(gm.withSessionsKiB[role]), 1),
          ...(withCpu ? [fmt(gm.idleCpuMsPerS[role], 1), fmt(gm.withSessionsCpuMsPerS[role], 1)] : []),
        ]),
      ),
    );
    out.push(
      `Per idle session (daemon + frontend): ${fmt(gm.perSessionKiB, 1)} KiB.` +
        (gm.sdkPerSessionKiB !== undefined ? ` The MCP SDK's own Streamable HTTP server (one process, no proxy), with as many sessions: ${fmt(gm.sdkPerSessionKiB, 1)} KiB.` : ""),
    );
  }

  const hops = scenarios.gatewayHops;
  if (hops) {
    out.push(`### The gateway's overhead by hop (tools/call echo over /mcp, 1 client, p50 µs, in-process timers)`);
    const rows = [
      ["MCP client and its HTTP (round trip − frontend POST)", hops.parts.clientAndHttp],
      ["frontend: HTTP request and answer (POST − its daemon round trip)", hops.parts.frontend],
      ["control API hop: OpenSession frames both ways (daemon round trip − daemon session span)", hops.parts.controlApi],
      ["daemon: session engine, routing, id remapping (session span − upstream span)", hops.parts.daemon],
      ["stdio and the server (request written → response parsed)", hops.parts.stdioAndServer],
      ["whole call as the client sees it", hops.clientP50],
    ];
    out.push(table(["hop", "p50 µs"], rows.map(([name, v]) => [name, fmt(v)])));
    out.push("Spans nest (the POST holds the daemon round trip, which holds the daemon's session span, which holds the upstream request); each row is the difference of two medians, so the rows add up to the whole only roughly.");
  }

  const st = scenarios.startup;
  if (st) {
    out.push(`### Start-up: ${st.gateway?.servers ?? st.mcpHub?.servers} servers that each answer initialize after ${(st.gateway?.initDelayMs ?? st.mcpHub?.initDelayMs) / 1000} s`);
    const rows = [];
    if (st.gateway) {
      rows.push(["gateway (`dsctl start --foreground`), empty cache", fmt(st.gateway.cold.healthzMs), fmt(st.gateway.cold.fullListMs), fmt(st.gateway.cold.fullListAfterHealthzMs)]);
      rows.push(["gateway, warm cache", fmt(st.gateway.warm.healthzMs), fmt(st.gateway.warm.fullListMs), fmt(st.gateway.warm.fullListAfterHealthzMs)]);
    }
    if (st.gatewayError) rows.push([`gateway: ${st.gatewayError}`, "—", "—", "—"]);
    if (st.mcpHub) rows.push(["mcp-hub (no cache)", fmt(st.mcpHub.healthzMs), fmt(st.mcpHub.fullListMs), fmt(st.mcpHub.fullListAfterHealthzMs)]);
    if (st.mcpHubError) rows.push([`mcp-hub: ${st.mcpHubError}`, "—", "—", "—"]);
    out.push(table(["", "health answers, ms", "complete tools/list, ms", "after health, ms"], rows));
  }

  out.push(...renderObservability(results));

  const targets = checkTargets(results);
  if (targets.length) {
    out.push(`### Targets (issues 5, 11 and 12)`);
    out.push(
      table(
        ["target", "measured", "met", "design floors: two-process / one-process"],
        targets.map((t) => [t.target, t.measured, t.met === undefined ? "—" : t.met ? "yes" : "**no**", t.floors ?? ""]),
      ),
    );
    if (targets.some((t) => t.floors)) {
      out.push(
        "The design floors are the least each process layout can cost with no MCP logic (`bench/design-floor.mjs`), measured " +
          "in the same run against the same reference: where the two-process floor itself misses a target, no code inside " +
          "this design reaches it (docs/architecture.md, \"Where the time goes, and what the design costs\").",
      );
    }
  }
  return out.join("\n\n") + "\n";
}

/** The observability contenders (bench/lib/contenders.mjs), in the order the table shows them. */
const OBSERVABILITY_IDS = { off: "gateway-mcp-observability-off", default: "gateway-mcp-observability-default", traces: "gateway-mcp-traces" };

/** `value` against `base` as a signed percentage ("+2.4 %"), for targets stated as "at most N % more". */
const percentMore = (value, base) =>
  typeof value !== "number" || typeof base !== "number" || Number.isNaN(value) || Number.isNaN(base) || !base
    ? "—"
    : `${value >= base ? "+" : "−"}${fmt((100 * Math.abs(value - base)) / base, 1)} %`;

/**
 * Issue 13's targets, judged on the settings measured in the same windows (run.mjs `observabilityPaired`,
 * bench/lib/paired.mjs): metrics + audit (the defaults) cost at most 3 % more CPU per call than audit off, and traces
 * on add at most 10 % to the defaults. CPU per call is the gateway's own (daemon + frontend) at 16 lean sessions a
 * side; the mean of the phases' ratios is judged, its 95 % interval (over pairs of phases) shown. A comparison whose settings did not take
 * effect (audit lines with audit off, none with it on, no spans exported) is not judged. Any error or wrong result
 * stops the paired run, so a judged figure has none.
 */
export function checkObservabilityTargets(results) {
  const paired = results.scenarios.observability?.paired;
  if (!paired || paired.error) return [];
  const targets = [];
  const { audit, traces } = paired;
  if (audit) {
    const held = audit.auditLines.a === 0 && audit.auditLines.b > 0;
    targets.push({
      target: "metrics + audit on (defaults): CPU per call ≤ 3 % more than audit off (same windows)",
      measured: `${pairedRatioText(audit)}; ${fmt(audit.cpuUsPerCall.b)} vs ${fmt(audit.cpuUsPerCall.a)} µs` + (held ? "" : ", **audit lines do not match the settings**"),
      met: held ? audit.ratio.mean <= 1.03 : undefined,
    });
  }
  if (traces) {
    const spansSent = (traces.traceExport?.requests ?? 0) > 0;
    targets.push({
      target: "traces on: CPU per call ≤ 10 % more than the defaults without traces (same windows)",
      measured: `${pairedRatioText(traces)}; ${fmt(traces.cpuUsPerCall.b)} vs ${fmt(traces.cpuUsPerCall.a)} µs` + (spansSent ? "" : ", **no spans reached the sink**"),
      met: spansSent ? traces.ratio.mean <= 1.1 : undefined,
    });
  }
  return targets;
}

/** A paired comparison's mean ratio as a percentage with its 95 % interval: "+2.1 % [+0.4, +3.9]". */
function pairedRatioText(comparison) {
  const percent = (ratio) => `${ratio >= 1 ? "+" : "−"}${fmt(Math.abs(100 * (ratio - 1)), 1)}`;
  const [low, high] = comparison.ratio.ci95;
  // One pair of phases (a quick run) has no interval.
  if (!Number.isFinite(low) || !Number.isFinite(high)) return `${percent(comparison.ratio.mean)} % (no interval)`;
  return `${percent(comparison.ratio.mean)} % [${percent(low)}, ${percent(high)}]`;
}

/** The "Observability cost" section: the three settings side by side, then the targets judged on them. */
function renderObservability(results) {
  const obs = results.scenarios.observability;
  if (!obs) return [];
  const labels = new Map(results.contenders.map((c) => [c.id, c.label]));
  const rows = [
    ...observabilityRows(obs, labels, obs.latency ?? {}, obs.throughput16 ?? {}, "SDK v1 client"),
    ...(obs.lean ? observabilityRows(obs, labels, obs.lean.latency ?? {}, obs.lean.throughput16 ?? {}, "lean client") : []),
  ];
  return renderObservabilityTable(results, obs, rows);
}

/** One instrument's rows of the observability table. */
function observabilityRows(obs, labels, lat, tp, client) {
  const offP50 = lat[OBSERVABILITY_IDS.off]?.p50;
  const offCpu = tp[OBSERVABILITY_IDS.off]?.cpuPerCallMicros?.own;
  return Object.entries(OBSERVABILITY_IDS)
    .filter(([, id]) => lat[id] || tp[id])
    .map(([setting, id]) => {
      const l = lat[id];
      const t = tp[id];
      const own = t?.cpuPerCallMicros?.own;
      const byRound = t?.cpuPerCallMicros?.ownByRound ?? [];
      return [
        `${setting}: ${labels.get(id) ?? id}; ${client}`,
        fmt(l?.p50),
        setting === "off" ? "" : percentMore(l?.p50, offP50),
        fmt(own),
        setting === "off" ? "" : percentMore(own, offCpu),
        byRound.length > 1 ? `${fmt(Math.min(...byRound))}–${fmt(Math.max(...byRound))}` : "—",
        fmt(t?.callsPerSec),
        fmt(obs.auditLines?.[id]),
        `${(l?.errors ?? 0) + (t?.errors ?? 0)} / ${(l?.wrong ?? 0) + (t?.wrong ?? 0)}`,
      ];
    });
}

function renderObservabilityTable(results, obs, rows) {
  const out = [];
  out.push("### Observability cost (issue 13)");
  out.push(
    table(["setting", "p50 µs (1 client)", "vs off", "CPU µs/call own (16 sessions)", "vs off", "per round", "calls/s (16 sessions)", "audit lines", "errors / wrong"], rows),
  );
  const exported = obs.traceExport?.[OBSERVABILITY_IDS.traces];
  out.push(
    "Three gateways of their own over /mcp, measured only in this scenario and alternating round by round (" +
      `${results.plan?.observability ? `latency ${results.plan.observability.latency.rounds} × ${fmt(results.plan.observability.latency.callsPerRound)} calls, ` + `throughput ${results.plan.observability.throughput.rounds} × ${fmt(results.plan.observability.throughput.durationMs / 1000, 1)} s` : "fewer rounds than above"}). ` +
      "Metrics have no off switch (the daemon's registry is always on), so **off** is the audit log off with metrics on; " +
      "**default** is a team file without an `audit:` section (metrics and audit on, arguments not recorded); **traces** is " +
      "the default with `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set to `bench/otlp-sink.mjs` on loopback, a process of its own " +
      "that accepts and discards every export (its CPU is not the gateway's). The audit lines are what each gateway wrote " +
      "in the whole run (none with audit off). " +
      (exported
        ? `The sink received ${fmt(exported.requests)} export requests (${fmt(exported.bytes / 1024, 1)} KiB) during the scenario.`
        : "No export figure was recorded for the sink.") +
      " The per round column is the lowest and highest round's CPU per call: a difference smaller than that spread is noise, " +
      "which is why the budgets are judged on the same-window comparison below, not on this table." +
      (obs.lean
        ? " Each setting is measured twice: with the SDK v1 client of the other scenarios, and then with the lean client " +
          "(`openLeanSession`, node's http client and JSON), which costs a tenth as much per call and leaves the two cores " +
          "to the gateway: the same setting's cost shows against a smaller base, so its percentage is larger and less noisy."
        : ""),
  );
  out.push(...renderPaired(results, obs.paired));
  const targets = checkObservabilityTargets(results);
  if (targets.length) {
    out.push(
      table(
        ["target", "measured", "met"],
        targets.map((t) => [t.target, t.measured, t.met === undefined ? "—" : t.met ? "yes" : "**no**"]),
      ),
    );
  }
  return out;
}

/** The same-window comparisons (run.mjs `observabilityPaired`): one row per comparison, B against A. */
function renderPaired(results, paired) {
  if (!paired) return [];
  if (paired.error) return [`The same-window comparison failed: ${paired.error}`];
  const plan = results.plan?.observability?.paired;
  const rows = [
    ["audit off → defaults", paired.audit],
    ["defaults → traces", paired.traces],
  ]
    .filter(([, comparison]) => comparison)
    .map(([name, c]) => [
      name,
      pairedRatioText(c),
      fmt(c.ratio.median, 3),
      `${fmt(c.cpuUsPerCall.a)} → ${fmt(c.cpuUsPerCall.b)}`,
      `${fmt(c.cpuUsPerCallByProcess.a.daemon, 1)} → ${fmt(c.cpuUsPerCallByProcess.b.daemon, 1)}`,
      `${fmt(c.cpuUsPerCallByProcess.a.frontend, 1)} → ${fmt(c.cpuUsPerCallByProcess.b.frontend, 1)}`,
      `${fmt(c.p50Us.a)} → ${fmt(c.p50Us.b)}`,
      `${fmt(c.callsPerSecond.a)} → ${fmt(c.callsPerSecond.b)}`,
      `${fmt(c.auditLines.a)} / ${fmt(c.auditLines.b)}`,
    ]);
  const exported = paired.traces?.traceExport;
  return [
    table(["comparison (A → B)", "CPU per call, B vs A (mean over phases, 95 % interval)", "median window ratio", "CPU µs/call own", "daemon µs", "frontend µs", "p50 µs under load", "calls/s", "audit lines A / B"], rows),
    "The same settings, measured in the same windows (`bench/lib/paired.mjs`, the method of `bench/pair.mjs`): two fresh " +
      "gateways at once, each with its own upstream and 16 lean sessions in closed loops, " +
      `${plan ? `${fmt(plan.windows)} windows of ${fmt(plan.windowMs / 1000, 1)} s in ${fmt(plan.phases)} phases` : "a number of windows in phases"}, ` +
      "each phase with fresh gateways and their places swapped from the last, and nothing else running; whatever the " +
      "host does in a window it does to both. Each phase's ratio is that of the two sides' CPU per call over its windows; " +
      "their mean is judged, with a 95 % interval taken over pairs of phases (a pair of processes keeps what it drew at " +
      "start for all its windows, so the windows of one phase are not independent measurements); the median ratio is " +
      "over single windows. " +
      (exported ? `The traces side exported ${fmt(exported.requests)} requests (${fmt(exported.bytes / 1024, 1)} KiB).` : ""),
  ];
}

/** The design-floor contenders (bench/design-floor.mjs), in the order the targets table shows them. */
const FLOOR_IDS = ["floor-two-process", "floor-one-process"];
/** The same two layouts with the remote server behind them (issue 12's target). */
const REMOTE_FLOOR_IDS = ["floor-two-process-remote", "floor-one-process-remote"];

/** The issue's targets, evaluated on this run's figures (only those the run measured). */
export function checkTargets(results) {
  const { scenarios, contenders } = results;
  const ok = contenders.filter((c) => c.status === "ok");
  const targets = [];
  /** The two design floors' figures and their ratios to `reference`, for the targets the layout decides. */
  const floors = (scenario, pick, reference, unit) => {
    const values = FLOOR_IDS.map((id) => (scenario?.[id] ? pick(scenario[id]) : undefined));
    if (values.every((v) => v === undefined) || !reference) return undefined;
    const ratio = (v) => (v === undefined ? "—" : `${(v / reference).toFixed(2)}×`);
    return `${values.map((v) => fmt(v)).join(" / ")} ${unit} (${values.map(ratio).join(" / ")})`;
  };
  const lat = scenarios.latency;
  const gw = lat?.["gateway-mcp"];
  if (gw) {
    const sdk = lat["sdk-mcp"]?.p50;
    const peer = bestPeer(lat, ok, (r) => r.p50, { eligible: (r) => r.errors === 0 && r.wrong === 0 });
    targets.push({
      target: "p50 over /mcp ≤ MCP SDK serving the server over Streamable HTTP",
      measured: `${fmt(gw.p50)} vs ${fmt(sdk)} µs`,
      met: sdk ? gw.p50 <= sdk : undefined,
      floors: floors(lat, (r) => r.p50, sdk, "µs"),
    });
    targets.push({
      target: "p50 over /mcp ≤ 0.7× the best peer's",
      measured: `${fmt(gw.p50)} vs ${fmt(peer?.value)} µs (${peer?.id ?? "—"})`,
      met: peer ? gw.p50 <= 0.7 * peer.value : undefined,
      floors: floors(lat, (r) => r.p50, peer?.value, "µs"),
    });
  }
  const clean = (r) => r.errors === 0 && r.wrong === 0;
  const t16 = scenarios.throughput16?.["gateway-mcp"];
  if (t16) {
    const peer = bestPeer(scenarios.throughput16, ok, (r) => r.cpuPerCallMicros.own, { eligible: clean });
    targets.push({
      target: "gateway CPU per call at 16 sessions ≤ half the best peer's",
      measured: `${fmt(t16.cpuPerCallMicros.own)} vs ${fmt(peer?.value)} µs (${peer?.id ?? "—"})`,
      met: peer ? t16.cpuPerCallMicros.own <= peer.value / 2 : undefined,
      floors: floors(scenarios.throughput16, (r) => r.cpuPerCallMicros.own, peer?.value, "µs"),
    });
  }
  const t64 = scenarios.throughput64?.["gateway-mcp"];
  if (t64) {
    const peer = bestPeer(scenarios.throughput64, ok, (r) => r.callsPerSec, { higher: true, eligible: clean });
    targets.push({
      target: "throughput at 64 sessions ≥ the best peer's, zero errors and wrong results",
      measured: `${fmt(t64.callsPerSec)} vs ${fmt(peer?.value)} calls/s (${peer?.id ?? "—"}), ${t64.errors} errors, ${t64.wrong} wrong`,
      met: peer ? t64.callsPerSec >= peer.value && clean(t64) : undefined,
      floors: floors(scenarios.throughput64, (r) => r.callsPerSec, peer?.value, "calls/s"),
    });
  }
  // Issue 11: the modern stateless path beside the legacy one, same gateway, same run. Judged with the lean client of
  // each era (the same client code, so the difference is the gateway's); the SDK pair (v2 client against v1) is
  // reported beside it, its figures carrying the difference between the two SDK clients too.
  const eraTargets = (legacyId, modernId, how) => {
    const legacyLat = lat?.[legacyId];
    const modernLat = lat?.[modernId];
    if (legacyLat && modernLat) {
      targets.push({ target: `modern /mcp (stateless) p50 ≤ legacy /mcp p50, ${how}`, measured: `${fmt(modernLat.p50)} vs ${fmt(legacyLat.p50)} µs`, met: modernLat.p50 <= legacyLat.p50 });
    }
    const legacy16 = scenarios.throughput16?.[legacyId];
    const modern16 = scenarios.throughput16?.[modernId];
    if (legacy16?.cpuPerCallMicros?.own && modern16?.cpuPerCallMicros?.own) {
      targets.push({
        target: `modern /mcp CPU per call (16 sessions) ≤ legacy /mcp's, ${how}`,
        measured: `${fmt(modern16.cpuPerCallMicros.own)} vs ${fmt(legacy16.cpuPerCallMicros.own)} µs`,
        met: modern16.cpuPerCallMicros.own <= legacy16.cpuPerCallMicros.own,
      });
    }
    const legacy64 = scenarios.throughput64?.[legacyId];
    const modern64 = scenarios.throughput64?.[modernId];
    if (legacy64 && modern64) {
      targets.push({
        target: `modern /mcp throughput at 64 clients ≥ legacy /mcp's, zero errors and wrong results, ${how}`,
        measured: `${fmt(modern64.callsPerSec)} vs ${fmt(legacy64.callsPerSec)} calls/s, ${modern64.errors} errors, ${modern64.wrong} wrong`,
        met: modern64.callsPerSec >= legacy64.callsPerSec && clean(modern64),
      });
    }
  };
  eraTargets("gateway-mcp-lean", "gateway-mcp-modern-lean", "same lean client");
  eraTargets("gateway-mcp", "gateway-mcp-modern", "SDK v2 client against SDK v1 (informative: the clients differ)");
  // Issue 12: what the gateway adds to a remote server at p50, against the same SDK client straight to that server
  // (`sdk-mcp` runs the very program the remote contender has as its upstream); the floors are the layouts' own
  // figures with that server behind them, as added latency.
  const remote = lat?.["gateway-remote"];
  const remoteDirect = lat?.["sdk-mcp"]?.p50;
  if (remote && remoteDirect) {
    const added = (id) => (lat[id] ? `+${fmt(lat[id].p50 - remoteDirect)}` : "—");
    targets.push({
      target: "gateway → remote server: p50 at most 1 ms above the SDK client straight to that server",
      measured: `${fmt(remote.p50)} vs ${fmt(remoteDirect)} µs (+${fmt(remote.p50 - remoteDirect)})`,
      met: remote.p50 - remoteDirect <= 1000,
      floors: REMOTE_FLOOR_IDS.some((id) => lat[id]) ? `${REMOTE_FLOOR_IDS.map(added).join(" / ")} µs` : undefined,
    });
  }
  const st = scenarios.startup?.gateway;
  if (st) {
    targets.push({ target: `warm cache: complete tools/list ≤ 1.5 s after dsctl start (${st.servers} servers, ${st.initDelayMs / 1000} s initialize)`, measured: `${fmt(st.warm.fullListMs)} ms`, met: st.warm.fullListMs <= 1500 });
    targets.push({ target: "warm cache: complete tools/list ≤ 100 ms after /healthz first answers", measured: `${fmt(st.warm.fullListAfterHealthzMs)} ms`, met: st.warm.fullListAfterHealthzMs <= 100 });
  }
  const blobs = scenarios.blobs;
  const gb = blobs?.["gateway-mcp"];
  if (gb) {
    const oneMiB = 1048576;
    const direct = blobs["direct-stdio"]?.bySize[oneMiB]?.medianMs;
    const v = gb.bySize[oneMiB]?.medianMs;
    targets.push({ target: "1 MiB result < 2× direct stdio", measured: `${fmt(v, 1)} vs ${fmt(direct, 1)} ms`, met: direct ? v < 2 * direct : undefined });
    const idleP50 = lat?.["gateway-mcp"]?.p50;
    // "Does not stall": the other session keeps being answered while the result travels, at a p50 within a few times
    // its idle one. (Its max includes the benchmark client's own event loop parsing 10 MiB, as direct stdio shows.)
    const side = gb.sideEchoDuringLargest;
    targets.push({
      target: "a 10 MiB result does not stall other sessions (their echo p50 meanwhile ≤ 5× idle)",
      measured: `echo on another session during it: ${side.n} calls, p50 ${fmt(side.p50Ms, 1)} ms, max ${fmt(side.maxMs, 1)} ms (idle p50 ${fmt(idleP50 / 1000, 2)} ms)`,
      met: idleP50 ? side.n > 0 && side.p50Ms * 1000 <= 5 * idleP50 : undefined,
    });
  }
  const gm = scenarios.gatewayMemory;
  if (gm) {
    targets.push({ target: "idle memory per session < 64 KiB", measured: `${fmt(gm.perSessionKiB, 1)} KiB${gm.sdkPerSessionKiB !== undefined ? ` (MCP SDK's own server: ${fmt(gm.sdkPerSessionKiB, 1)} KiB)` : ""}`, met: gm.perSessionKiB < 64 });
    targets.push({ target: "idle RSS of the daemon < 90 MB", measured: `${fmt(gm.idleKiB.daemon / 1024, 1)} MiB (${fmt((gm.idleKiB.daemon * 1024) / 1e6, 1)} MB)`, met: gm.idleKiB.daemon * 1024 < 90e6 });
    targets.push({ target: "idle RSS of the frontend < 70 MB", measured: `${fmt(gm.idleKiB.frontend / 1024, 1)} MiB (${fmt((gm.idleKiB.frontend * 1024) / 1e6, 1)} MB)`, met: gm.idleKiB.frontend * 1024 < 70e6 });
  }
  return targets;
}
