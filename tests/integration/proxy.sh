#!/usr/bin/env bash
# proxy.sh -- the API proxy and tool calls against a local echo server: credentials injected per
# scheme (API-key header, API-key query, Basic), relative endpoints, header and query parameters,
# raw and JSON bodies, binary answers, and the SSRF rules: other hosts, other ports and schemes,
# userinfo, IP literals, protocol-relative and dot-segment endpoints are refused; redirects are
# returned, never followed.
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib.sh

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{
  console.log(s.address().port);s.close();})'; }

# ---- two local servers: the toolkit's API (echo) and a bystander that must never be reached ----
cat >"$T_TMP/echo.mjs" <<'EOF'
import http from 'node:http';
const [echoPort, otherPort] = process.argv.slice(2).map(Number);
let otherHits = 0;
http.createServer((req, res) => {
    let body = '';
    const path = req.url.replace(/^\/api/, '');
    req.on('data', (d) => (body += d)).on('end', () => {
        if (path.startsWith('/redirect')) {
            res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/stolen` });
            return res.end();
        }
        if (path === '/binary') {
            res.writeHead(200, { 'content-type': 'image/png' });
            return res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0xff]));
        }
        if (path === '/text') {
            res.writeHead(200, { 'content-type': 'text/plain' });
            return res.end('plain words');
        }
        const status = path.startsWith('/status/') ? Number(path.slice(8)) : 200;
        res.writeHead(status, { 'content-type': 'application/json', 'x-echo': 'yes' });
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
}).listen(echoPort, '127.0.0.1');
http.createServer((req, res) => {
    if (req.url !== '/count') otherHits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ hits: otherHits }));
}).listen(otherPort, '127.0.0.1', () => console.log('ready'));
EOF
EPORT=$(free_port); OPORT=$(free_port)
node "$T_TMP/echo.mjs" "$EPORT" "$OPORT" >"$T_TMP/echo.out" 2>&1 &
T_PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$T_TMP/echo.out" 2>/dev/null && break; sleep 0.05; done
other_hits() { curl -sS "http://127.0.0.1:$OPORT/count" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).hits))'; }

# ---- a catalogue with three key-based toolkits on the echo server ----
CAT=$T_TMP/catalog; mkdir -p "$CAT"
toolkit() { # slug base_url scheme-json tools-json
  cat >"$CAT/$1.json" <<EOF
{"slug": "$1", "name": "$1", "description": "echo test toolkit", "base_url": "$2",
 "auth_schemes": [$3], "tools": $4}
EOF
}
toolkit echokey "http://localhost:$EPORT/api" \
  '{"type": "API_KEY", "fields": [{"name": "api_key", "display_name": "API key", "secret": true}],
    "inject": {"in": "header", "name": "X-Api-Key", "format": "{api_key}"}}' \
  '[{"slug": "ECHOKEY_GET_ITEM", "name": "Get item", "description": "Gets one item.",
     "input_parameters": {"type": "object", "properties": {
        "item_id": {"type": "string"}, "verbose": {"type": "boolean"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 10}}, "required": ["item_id"]},
     "http": {"method": "GET", "path": "/items/{item_id}", "query": ["verbose", "limit"]}},
    {"slug": "ECHOKEY_CREATE_ITEM", "name": "Create item", "description": "Creates an item.",
     "input_parameters": {"type": "object", "properties": {"name": {"type": "string"},
        "tags": {"type": "array"}}, "required": ["name"]},
     "http": {"method": "POST", "path": "/items", "body": "json"}},
    {"slug": "ECHOKEY_FOLLOW", "name": "Redirecting call", "description": "Redirects.",
     "input_parameters": {"type": "object", "properties": {}, "required": []},
     "http": {"method": "GET", "path": "/redirect"}}]'
toolkit echoquery "http://127.0.0.1:$EPORT" \
  '{"type": "API_KEY", "fields": [{"name": "api_key", "display_name": "API key", "secret": true}],
    "inject": {"in": "query", "name": "key", "format": "{api_key}"}}' '[]'
toolkit echobasic "http://127.0.0.1:$EPORT" \
  '{"type": "BASIC", "fields": [{"name": "username", "display_name": "User"},
    {"name": "password", "display_name": "Password", "secret": true}]}' '[]'

start_tether --allow-http --catalog-dir "$CAT" || exit 1

# connect TOOLKIT FIELD=VALUE...: an account for user u1 through the Connect Link form; sets CA.
connect() {
  local slug=$1; shift
  api POST /api/v3.1/auth_configs "{\"toolkit\":{\"slug\":\"$slug\"},\"auth_config\":{\"type\":\"use_composio_managed_auth\"}}"
  local ac; ac=$(jget .auth_config.id)
  api POST /api/v3.1/connected_accounts/link "{\"auth_config_id\":\"$ac\",\"user_id\":\"u1\"}"
  CA=$(jget .connected_account_id); local link; link=$(jget .redirect_url)
  local jar=$T_TMP/jar.$slug
  curl -sS -c "$jar" -b "$jar" "$link" >"$T_TMP/page.html"
  local csrf; csrf=$(sed -nE 's/.*name="csrf" value="([^"]+)".*/\1/p' "$T_TMP/page.html")
  local args=(--data-urlencode "csrf=$csrf")
  for kv in "$@"; do args+=(--data-urlencode "$kv"); done
  curl -sS -c "$jar" -b "$jar" -o /dev/null "${args[@]}" "$link"
  api GET "/api/v3.1/connected_accounts/$CA"
  [ "$(jget .status)" = ACTIVE ]
}
check "connect echokey" connect echokey api_key=key-123; KEYCA=$CA
check "connect echoquery" connect echoquery api_key='q k&1'; QCA=$CA
check "connect echobasic" connect echobasic username=ann password=pw:x; BCA=$CA

# proxy CA JSON-fields -> STATUS/BODY of POST /tools/execute/proxy
proxy() { api POST /api/v3.1/tools/execute/proxy "{\"connected_account_id\":\"$1\",$2}"; }
jcheck() { # name js-expression over b (the body)
  if node -e 'const b=JSON.parse(process.argv[1]);if(!('"$2"'))process.exit(1)' "$BODY" 2>/dev/null
  then ok "$1"; else bad "$1" "${BODY:0:400}"; fi
}

# ---- credentials and request shape ----
proxy "$KEYCA" '"endpoint":"/things?a=1","method":"GET","parameters":[{"name":"X-Trace","type":"header","value":"t1"},{"name":"b","type":"query","value":"2 3"}]'
expect_status "proxy relative GET" 200
jcheck "relative endpoint joins the base path" 'b.status===200 && b.data.url==="/api/things?a=1&b=2%203"'
jcheck "API key header injected" 'b.data.headers["x-api-key"]==="key-123"'
jcheck "header parameter sent" 'b.data.headers["x-trace"]==="t1"'
jcheck "response headers returned" 'b.headers["x-echo"]==="yes"'
jcheck "default user agent" '/^tether\//.test(b.data.headers["user-agent"])'

proxy "$KEYCA" '"endpoint":"things","method":"POST","body":{"n":1}'
jcheck "endpoint without slash, JSON body" 'b.data.url==="/api/things" && b.data.body==="{\"n\":1}" && b.data.headers["content-type"]==="application/json"'
proxy "$KEYCA" '"endpoint":"/raw","method":"PUT","body":"raw text","parameters":[{"name":"Content-Type","type":"header","value":"text/csv"}]'
jcheck "raw body with its own content type" 'b.data.method==="PUT" && b.data.body==="raw text" && b.data.headers["content-type"]==="text/csv"'
proxy "$KEYCA" "\"endpoint\":\"http://localhost:$EPORT/api/abs\",\"method\":\"GET\""
jcheck "absolute URL on the toolkit host" 'b.status===200 && b.data.url==="/api/abs"'
proxy "$QCA" '"endpoint":"/q","method":"GET"'
jcheck "API key query injected (encoded)" 'b.data.url==="/q?key=q%20k%261"'
proxy "$BCA" '"endpoint":"/b","method":"DELETE"'
jcheck "Basic injected" 'b.data.headers.authorization==="Basic "+Buffer.from("ann:pw:x").toString("base64") && b.data.method==="DELETE"'
proxy "$KEYCA" '"endpoint":"/binary","method":"GET"'
jcheck "binary answer as binary_data" 'b.data===null && b.binary_data.content_type==="image/png" && b.binary_data.size===8 && Buffer.from(b.binary_data.url.split(",")[1],"base64").equals(Buffer.from([0x89,0x50,0x4e,0x47,0,1,2,0xff]))'
proxy "$KEYCA" '"endpoint":"/text","method":"GET"'
jcheck "text answer as a string" 'b.data==="plain words"'
proxy "$KEYCA" '"endpoint":"/status/404","method":"GET"'
jcheck "upstream status passed through" 'b.status===404 && b.data.url==="/api/status/404"'

# ---- SSRF ----
refused() { # name endpoint [want status]
  proxy "$KEYCA" "\"endpoint\":$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$2"),\"method\":\"GET\""
  if [ "$STATUS" = "${3:-403}" ] || { [ -z "${3:-}" ] && [ "$STATUS" = 400 ]; }; then ok "$1"
  else bad "$1" "status $STATUS: ${BODY:0:300}"; fi
}
refused "other host" "https://evil.example/x"
refused "other port on the same host" "http://localhost:$OPORT/x"
refused "other scheme" "https://localhost:$EPORT/api/x"
refused "IP literal for a named host" "http://127.0.0.1:$EPORT/api/x"
refused "IPv6 literal" "http://[::1]:$EPORT/api/x"
refused "decimal IP literal" "http://2130706433:$EPORT/api/x"
refused "userinfo before the host" "http://user:pw@localhost:$EPORT/api/x"
refused "host as userinfo" "http://localhost:$EPORT@evil.example/x"
refused "protocol-relative" "//evil.example/x"
refused "backslash trick" '\\evil.example/x'
refused "other scheme name" "file:///etc/passwd"
refused "dot segments" "/../../secret"
refused "encoded dot segments" "/%2e%2e/secret"
refused "fragment" "http://localhost:$EPORT/api/x#frag"
refused "control characters" $'/x\r\nHost: evil.example'
proxy "$KEYCA" '"endpoint":"@evil.example/x","method":"GET"'
jcheck "@host as a path stays on the toolkit host" 'b.status===200 && b.data.url==="/api/@evil.example/x"'
proxy "$KEYCA" '"endpoint":"/redirect","method":"GET"'
jcheck "redirect returned, not followed" 'b.status===302 && /\/stolen$/.test(b.headers.location)'
check "the redirect target was never reached" [ "$(other_hits)" = 0 ]
proxy "$KEYCA" '"endpoint":"/x","method":"GET","parameters":[{"name":"Host","type":"header","value":"evil.example"}]'
expect_status "Host header refused" 400
proxy "$KEYCA" '"endpoint":"/x","method":"GET","parameters":[{"name":"X-Api-Key","type":"header","value":"mine"}]'
expect_status "credential header cannot be overridden" 400
proxy "$KEYCA" '"endpoint":"/x","method":"GET","parameters":[{"name":"X-A","type":"header","value":"a\r\nHost: evil"}]'
expect_status "header value with CR/LF refused" 400
proxy "$KEYCA" '"endpoint":"/x","method":"TRACE"'
expect_status "unknown method refused" 400
proxy "ca_doesnotexist" '"endpoint":"/x","method":"GET"'
expect_status "unknown account" 404
jcheck "unknown account is code 1803" 'b.error.code===1803'

# ---- tools ----
api GET "/api/v3.1/tools?toolkit_slug=echokey"
jcheck "tools listed for a toolkit" 'b.items.length===3 && b.items[0].toolkit.slug==="echokey" && b.items.every(t=>t.input_parameters.type==="object")'
api GET "/api/v3.1/tools/ECHOKEY_GET_ITEM"
jcheck "one tool" 'b.slug==="ECHOKEY_GET_ITEM" && b.input_parameters.required[0]==="item_id"'
api GET "/api/v3.1/tools/NOPE_NOTHING"
expect_status "unknown tool" 404
api POST /api/v3.1/tools/execute/ECHOKEY_GET_ITEM "{\"connected_account_id\":\"$KEYCA\",\"arguments\":{\"item_id\":\"it-7\",\"verbose\":true,\"limit\":3}}"
jcheck "tool GET: path and query from arguments" 'b.successful===true && b.error===null && b.data.url==="/api/items/it-7?verbose=true&limit=3" && b.data.headers["x-api-key"]==="key-123" && /^log_/.test(b.log_id)'
api POST /api/v3.1/tools/execute/ECHOKEY_CREATE_ITEM '{"user_id":"u1","arguments":{"name":"n1","tags":["a","b"]}}'
jcheck "tool POST by user_id: JSON body" 'b.successful && b.data.method==="POST" && JSON.parse(b.data.body).tags[1]==="b"'
api POST /api/v3.1/tools/execute/ECHOKEY_GET_ITEM "{\"connected_account_id\":\"$KEYCA\",\"arguments\":{\"item_id\":\"../admin\"}}"
jcheck "path argument cannot climb" 'b.successful===false && /path argument/.test(b.error)'
api POST /api/v3.1/tools/execute/ECHOKEY_GET_ITEM "{\"connected_account_id\":\"$KEYCA\",\"arguments\":{\"item_id\":\"x\",\"limit\":50}}"
jcheck "schema range checked" 'b.successful===false && /out of range/.test(b.error)'
api POST /api/v3.1/tools/execute/ECHOKEY_GET_ITEM "{\"connected_account_id\":\"$KEYCA\",\"arguments\":{}}"
jcheck "required argument checked" 'b.successful===false && /required/.test(b.error)'
api POST /api/v3.1/tools/execute/ECHOKEY_FOLLOW "{\"connected_account_id\":\"$KEYCA\",\"arguments\":{}}"
jcheck "tool redirect not followed" 'b.successful===false && /302/.test(b.error)'
check "the redirect target was still never reached" [ "$(other_hits)" = 0 ]
api POST /api/v3.1/tools/execute/ECHOKEY_GET_ITEM "{\"connected_account_id\":\"$QCA\",\"arguments\":{\"item_id\":\"x\"}}"
expect_status "account of another toolkit" 404
jcheck "...is code 1803" 'b.error.code===1803'
api POST /api/v3.1/tools/execute/ECHOKEY_GET_ITEM '{"user_id":"nobody","arguments":{"item_id":"x"}}'
jcheck "user without an account: 1803" 'b.error.code===1803 && b.error.status===404'
api PATCH "/api/v3.1/connected_accounts/$KEYCA/status" '{"enabled":false}'
api POST /api/v3.1/tools/execute/ECHOKEY_GET_ITEM "{\"connected_account_id\":\"$KEYCA\",\"arguments\":{\"item_id\":\"x\"}}"
jcheck "disabled account: 1803" 'b.error.code===1803'

check "no credential in the log" bash -c "! grep -q 'key-123' '$LOG' '$LOG.out'"
finish
