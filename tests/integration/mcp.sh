#!/usr/bin/env bash
# mcp.sh -- bad input against a session's MCP endpoint and its REST tool routes: every malformed
# message gets a JSON-RPC error (or a 4xx in the API's error shape), nothing crashes, nothing
# changes, and the server stays healthy.
cd "$(dirname "$0")/../.." && source tests/integration/lib.sh
start_tether || exit 1

api POST /api/v3.1/tool_router/session '{"user_id":"mcp_bad","toolkits":{"enable":["gmail","hackernews"]}}'
expect_status "create session" 201
SID=$(jget .session_id)
MCP="$URL/tool_router/$SID/mcp"

# rpc BODY [extra curl args...] -> sets STATUS and BODY. CT and AK override the content type and
# the API key for one call.
rpc() {
  printf '%s' "$1" >"$T_TMP/req"; shift
  STATUS=$(curl -sS -o "$T_TMP/body" -w '%{http_code}' -X POST -H "x-api-key: ${AK:-$KEY}" \
    -H "content-type: ${CT:-application/json}" -H 'accept: application/json, text/event-stream' \
    "$@" --data-binary @"$T_TMP/req" "$MCP"); BODY=$(cat "$T_TMP/body")
}
# expect_rpc_error NAME HTTP CODE: BODY is one JSON-RPC error with that code
expect_rpc_error() {
  if [ "$STATUS" = "$2" ] && node -e 'const b=JSON.parse(process.argv[1]);if(b.jsonrpc!=="2.0"||!b.error||b.error.code!==+process.argv[2]||typeof b.error.message!=="string")process.exit(1)' "$BODY" "$3" 2>/dev/null; then
    ok "$1"; else bad "$1" "status $STATUS, want $2 / code $3: ${BODY:0:300}"; fi
}

# --- a healthy exchange ------------------------------------------------------------------------
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"sh","version":"0"}}}'
expect_status "initialize" 200
check "version negotiated" [ "$(jget .result.protocolVersion)" = 2025-03-26 ]
check "no session id assigned (stateless)" bash -c "! curl -sS -D - -o /dev/null -H 'x-api-key: $KEY' -H 'content-type: application/json' --data-binary '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}' '$MCP' | grep -qi '^mcp-session-id'"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
expect_status "tools/list" 200
check "meta tools listed" grep -q COMPOSIO_MANAGE_CONNECTIONS <<<"$BODY"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}'
expect_status "notification -> 202" 202
check "202 has no body" [ -z "$BODY" ]

# --- malformed bodies --------------------------------------------------------------------------
rpc '{"jsonrpc":"2.0","id":1,'
expect_rpc_error "truncated JSON -> -32700" 400 -32700
rpc $'\xff\xfe{}'
expect_rpc_error "not UTF-8 -> -32700" 400 -32700
rpc '{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}'
expect_rpc_error "duplicate keys -> -32700" 400 -32700
rpc "$(printf '%.0s[' $(seq 5000))"
expect_rpc_error "deep nesting -> -32700" 400 -32700
rpc ''
expect_rpc_error "empty body -> -32700" 400 -32700
rpc '[]'
expect_rpc_error "empty batch -> -32600" 400 -32600
rpc "[$(for i in $(seq 500); do printf '{"jsonrpc":"2.0","id":%d,"method":"ping"},' "$i"; done)0]"
expect_rpc_error "huge batch -> -32600" 400 -32600
rpc "[$(for i in $(seq 31); do printf '{"jsonrpc":"2.0","id":%d,"method":"ping"},' "$i"; done){\"jsonrpc\":\"2.0\",\"id\":32,\"method\":\"ping\"}]"
check "a batch of 32 is answered in full" [ "$STATUS" = 200 -a "$(jget .length)" = 32 ]
big=$(head -c 300000 /dev/zero | tr '\0' 'a')
rpc "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":\"$big\"}}"
expect_status "body over the cap -> 413" 413

# --- messages that are not requests ------------------------------------------------------------
rpc '42'
expect_rpc_error "a number -> -32600" 200 -32600
rpc '{"id":1,"method":"ping"}'
expect_rpc_error "no jsonrpc member -> -32600" 200 -32600
rpc '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}'
expect_rpc_error "object id -> -32600" 200 -32600
rpc '{"jsonrpc":"2.0","id":null,"method":"ping"}'
expect_rpc_error "null id -> -32600" 200 -32600
rpc '{"jsonrpc":"2.0","id":1,"method":7}'
expect_rpc_error "numeric method -> -32600" 200 -32600
rpc '{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}'
expect_rpc_error "string params -> -32600" 200 -32600

# --- unknown methods and wrong params ----------------------------------------------------------
rpc '{"jsonrpc":"2.0","id":1,"method":"prompts/list"}'
expect_rpc_error "unknown method -> -32601" 200 -32601
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
expect_rpc_error "initialize without protocolVersion -> -32602" 200 -32602
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}'
expect_rpc_error "tools/call without name -> -32602" 200 -32602
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"NOPE"}}'
expect_rpc_error "unknown tool -> -32602" 200 -32602
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"GITHUB_GET_A_REPOSITORY"}}'
expect_rpc_error "tool of a toolkit outside the session -> -32602" 200 -32602
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"COMPOSIO_SEARCH_TOOLS","arguments":[1]}}'
expect_rpc_error "array arguments -> -32602" 200 -32602
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"-5"}}'
expect_rpc_error "foreign cursor -> -32602" 200 -32602
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"COMPOSIO_MANAGE_CONNECTIONS","arguments":{"toolkits":[1,2],"extra":true}}}'
check "bad tool arguments -> isError result" [ "$STATUS" = 200 -a "$(jget .result.isError)" = true ]
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"COMPOSIO_WAIT_FOR_CONNECTIONS","arguments":{"toolkits":["gmail"],"timeout_seconds":-1}}}'
check "bad timeout -> isError result" [ "$STATUS" = 200 -a "$(jget .result.isError)" = true ]

# --- transport-level refusals ------------------------------------------------------------------
CT=text/plain rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status "wrong content type -> 415" 415
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'mcp-protocol-version: 2000-01-01'
expect_rpc_error "unsupported protocol version header -> 400" 400 -32600
AK=wrong rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status "wrong key -> 401" 401; expect_error_shape "401 has the API error shape"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $KEY" "$MCP")
check "GET (no SSE stream) -> 405" [ "$STATUS" = 405 ]
MCP_SAVED=$MCP; MCP="$URL/tool_router/trs_nosuchsession/mcp"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status "unknown session -> 404" 404
MCP="$URL/api/v3.1/tool_router/$SID/mcp"
rpc '{"jsonrpc":"2.0","id":1,"method":"ping"}'
expect_status "served under /api/v3.1 too" 200
MCP=$MCP_SAVED

# --- the REST tool routes ----------------------------------------------------------------------
api POST "/api/v3.1/tool_router/session/$SID/execute" '{"tool_slug":"COMPOSIO_SEARCH_TOOLS","arguments":{"query":"profile"}}'
expect_status "execute search" 200
check "strict result shape" node -e 'const b=JSON.parse(process.argv[1]);if(typeof b.data!=="object"||Array.isArray(b.data)||!("error" in b)||!/^log_/.test(b.log_id))process.exit(1)' "$BODY"
api POST "/api/v3.1/tool_router/session/$SID/execute" '{"tool_slug":"COMPOSIO_SEARCH_TOOLS","arguments":"x"}'
expect_status "string arguments -> 400" 400; expect_error_shape "400 has the error shape"
api POST "/api/v3.1/tool_router/session/$SID/execute" '{"arguments":{}}'
expect_status "no tool_slug -> 400" 400
api POST "/api/v3.1/tool_router/session/$SID/execute" '{"tool_slug":"COMPOSIO_SEARCH_TOOLS","bogus":1}'
expect_status "unknown key -> 400" 400
api POST "/api/v3.1/tool_router/session/$SID/execute" '{"tool_slug":"NOPE"}'
expect_status "unknown tool -> 404" 404; expect_error_shape "404 has the error shape"
api POST "/api/v3.1/tool_router/session/$SID/execute" '{"tool_slug":"COMPOSIO_SEARCH_TOOLS","arguments":{"query":"'"$(head -c 600 /dev/zero | tr '\0' 'q')"'"}}'
check "oversized query -> tool error" [ "$STATUS" = 200 -a "$(jget .error)" != null ]
api GET "/api/v3.1/tool_router/session/$SID/tools?limit=abc"
expect_status "bad limit -> 400" 400
api GET "/api/v3.1/tool_router/session/$SID/tools?cursor=-1"
expect_status "bad cursor -> 400" 400
api POST /api/v3.1/tool_router/session '{"user_id":"mcp_bad","manage_connections":{"enable":false}}'
SID_OFF=$(jget .session_id)
api POST "/api/v3.1/tool_router/session/$SID_OFF/execute" '{"tool_slug":"COMPOSIO_MANAGE_CONNECTIONS","arguments":{"toolkits":["gmail"]}}'
expect_status "manage_connections off: executing it -> 404" 404
check "the error says why" grep -q manage_connections <<<"$BODY"
api GET /api/v3.1/connected_accounts?user_ids=mcp_bad
check "bad input created no account" [ "$(jget .items.length)" = 0 ]

# --- still healthy -----------------------------------------------------------------------------
check "healthz after all that" curl -fsS "$URL/healthz" -o /dev/null
rpc '{"jsonrpc":"2.0","id":9,"method":"ping"}'
check "ping still answers" [ "$BODY" = '{"jsonrpc":"2.0","id":9,"result":{}}' ]
check "logged executions carry a log_id" grep -q 'msg=tool.executed log_id=log_' "$LOG"
stop_tether; check "SIGTERM exits 0" [ $? -eq 0 ]
finish
