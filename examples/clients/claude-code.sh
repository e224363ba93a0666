#!/bin/sh
# Register the gateway with Claude Code (run once; the gateway must be running: `dsctl start`).

# Streamable HTTP (MCP 2025-03-26 and later):
claude mcp add --transport http deploystack http://localhost:9095/mcp

# Or the legacy HTTP+SSE transport (MCP 2024-11-05):
# claude mcp add --transport sse deploystack http://localhost:9095/sse

# With `clientAuth: token` in the team file, send the token from the state folder:
# claude mcp add --transport http deploystack http://localhost:9095/mcp \
#   --header "Authorization: Bearer $(cat "${DEPLOYSTACK_HOME:-$HOME/.deploystack}/client.token")"
