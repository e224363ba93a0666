import test from "ava";
import { LATEST_PROTOCOL_VERSION as SDK_LATEST, SUPPORTED_PROTOCOL_VERSIONS as SDK_SUPPORTED } from "@modelcontextprotocol/sdk/types.js";
import {
  DEFAULT_HTTP_PROTOCOL_VERSION,
  LATEST_PROTOCOL_VERSION,
  PRIMING_MIN_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  isSupportedProtocolVersion,
  negotiateProtocolVersion,
} from "./mcp-protocol-versions.js";

test("one list, newest first; the latest is the MCP SDK's latest, every revision one the SDK knows", (t) => {
  t.deepEqual([...SUPPORTED_PROTOCOL_VERSIONS], ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]);
  t.deepEqual([...SUPPORTED_PROTOCOL_VERSIONS].sort().reverse(), [...SUPPORTED_PROTOCOL_VERSIONS]);
  t.is(LATEST_PROTOCOL_VERSION, SDK_LATEST);
  for (const version of SUPPORTED_PROTOCOL_VERSIONS) t.true(SDK_SUPPORTED.includes(version), version);
  t.true(isSupportedProtocolVersion(DEFAULT_HTTP_PROTOCOL_VERSION));
  t.true(isSupportedProtocolVersion(PRIMING_MIN_VERSION));
  t.throws(() => (SUPPORTED_PROTOCOL_VERSIONS as string[]).push("x"), { instanceOf: TypeError }, "the list cannot be changed at run time");
});

test("negotiation answers a supported version with itself and anything else with the latest", (t) => {
  for (const version of SUPPORTED_PROTOCOL_VERSIONS) t.is(negotiateProtocolVersion(version), version);
  for (const version of ["2024-10-07", "2099-01-01", "", "2025-11-25 "]) {
    t.false(isSupportedProtocolVersion(version), version);
    t.is(negotiateProtocolVersion(version), LATEST_PROTOCOL_VERSION, version);
  }
});
