/* mcp.h -- the Model Context Protocol face of a tool-router session: session.mcp.url
 * ({public_url}/tool_router/{id}/mcp) speaks the Streamable HTTP transport.
 *
 * JSON-RPC 2.0 over POST, one message or a batch, answered with application/json (a response,
 * an array of responses, or 202 with no body when the POST held only notifications and
 * responses). The server is stateless: it assigns no Mcp-Session-Id and offers no SSE stream
 * (GET gets 405 from the route table). Requests are authenticated with x-api-key by the router and
 * scoped to the session of the URL: its user, its tools. Methods: initialize (protocol version
 * negotiation), ping, tools/list, tools/call; notifications are accepted and ignored.
 * Tool calls run through core/metatools; one that waits parks the HTTP request.
 *
 * Bad input gets JSON-RPC errors: -32700 for a body that is not JSON (HTTP 400), -32600 for a
 * message that is not a request (or an empty or oversized batch), -32601 for an unknown method,
 * -32602 for wrong params or an unknown tool. */
#ifndef TETHER_MCP_H
#define TETHER_MCP_H
#include "http/http.h"

#define MCP_LATEST_VERSION "2025-06-18"
#define MCP_MAX_BATCH 32 /* messages in one POST */
#define MCP_PAGE 100     /* tools per tools/list page */

/* The handler, mcp_post (POST /tool_router/{id}/mcp, also under /api/v3 and /api/v3.1), is
 * declared with the other faces' handlers in api/handlers.h. */

/* 1 when v is a protocol version this server speaks. */
int mcp_version_supported(const char *v);

#endif
