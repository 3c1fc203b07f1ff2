#!/usr/bin/env bash
# api.sh -- the REST API against a real server: authentication, tenants, sessions, toolkits, links,
# accounts, auth configs, the error shape, and bad input that must change nothing.
cd "$(dirname "$0")/../.." && source tests/integration/lib.sh
start_tether --link-ttl 8 || exit 1

# --- authentication ---------------------------------------------------------------------------
STATUS=$(curl -s -o "$T_TMP/body" -w '%{http_code}' "$URL/api/v3.1/connected_accounts"); BODY=$(cat "$T_TMP/body")
expect_status "missing key -> 401" 401; expect_error_shape "401 has the error shape"
KEY_SAVED=$KEY; KEY=tk_live_wrong; api GET /api/v3.1/connected_accounts; KEY=$KEY_SAVED
expect_status "wrong key -> 401" 401
api GET /api/v3/connected_accounts; expect_status "v3 prefix served too" 200

# --- sessions ---------------------------------------------------------------------------------
api POST /api/v3.1/tool_router/session '{"user_id":"user_123"}'
expect_status "create session" 201
SID=$(jget .session_id)
check "session id is trs_" [ "${SID:0:4}" = trs_ ]
check "default manage_connections on" [ "$(jget .config.manage_connections.enabled)" = true ]
check "mcp url under the session" grep -q "/tool_router/$SID/mcp" <<<"$(jget .mcp.url)"
api POST /api/v3.1/tool_router/session '{"user_id":"user_123","manage_connections":{"enable":false},"toolkits":{"enable":["gmail","github","hackernews"]}}'
expect_status "create session with options" 201
SID2=$(jget .session_id)
check "manage_connections off echoed" [ "$(jget .config.manage_connections.enabled)" = false ]
check "toolkits echoed as enabled" [ "$(jget .config.toolkits.enabled.length)" = 3 ]
api GET /api/v3.1/tool_router/session/$SID2; expect_status "get session" 200
api PATCH /api/v3.1/tool_router/session/$SID2 '{"manage_connections":{"enable":true}}'
expect_status "patch session" 200
check "patch bumps config_version" [ "$(jget .config_version)" = 2 ]
api GET /api/v3.1/tool_router/session/trs_doesnotexist; expect_status "unknown session -> 404" 404
expect_error_shape "404 has the error shape"

# --- bad input changes nothing ----------------------------------------------------------------
api GET '/api/v3.1/connected_accounts?limit=1000'; before=$(jget .total_items)
for body in '{' '[]' '"x"' '{"user_id":5}' '{"user_id":"a","user_id":"b"}' '{"user_id":"u","bogus":1}' \
            '{"user_id":"u","toolkits":{"enable":["nope"]}}' '{"user_id":"u","toolkits":{"enable":"gmail"}}' \
            '{"user_id":"u","connected_accounts":{"gmail":["ca_missing"]}}' '{"user_id":"u","multi_account":{"max_accounts_per_toolkit":50}}' \
            '{"user_id":""}' '{}' ; do
  api POST /api/v3.1/tool_router/session "$body"
  if [[ $STATUS == 4* ]]; then ok "bad session body -> $STATUS: $body"; else bad "bad session body: $body" "$STATUS $BODY"; fi
done
printf '{"user_id":"\xff\xfe"}' > "$T_TMP/bad.json"
STATUS=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -H "x-api-key: $KEY" -H 'content-type: application/json' --data-binary @"$T_TMP/bad.json" "$URL/api/v3.1/tool_router/session"); BODY=$(cat "$T_TMP/body")
expect_status "invalid UTF-8 body -> 400" 400
head -c 300000 /dev/zero | tr '\0' 'a' > "$T_TMP/big.json"
STATUS=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -H "x-api-key: $KEY" -H 'content-type: application/json' --data-binary @"$T_TMP/big.json" "$URL/api/v3.1/tool_router/session"); BODY=$(cat "$T_TMP/body")
expect_status "oversized body -> 413" 413
api POST "/api/v3.1/tool_router/session/$SID/link" '{"toolkit":"nope"}'; expect_status "unknown toolkit -> 404" 404
api POST "/api/v3.1/tool_router/session/$SID/link" '{"toolkit":"github"}'; expect_status "no auth config -> 400" 400
check "400 says how to create one" grep -q auth_configs <<<"$BODY"
api POST "/api/v3.1/tool_router/session/$SID/link" '{"toolkit":"hackernews"}'; expect_status "no-auth toolkit -> 400" 400
api POST /api/v3.1/auth_configs '{"toolkit":{"slug":"github"},"auth_config":{"type":"use_custom_auth"}}'
expect_status "custom auth config without credentials -> 400" 400
api POST /api/v3.1/auth_configs '{"toolkit":{"slug":"github"},"auth_config":{"type":"use_composio_managed_auth"}}'
expect_status "managed auth config without an operator app -> 400" 400
for cb in 'javascript:alert(1)' 'https://user:pw@evil.example/' 'ftp://x.example/' 'not a url' '//evil.example/x'; do
  api POST /api/v3.1/auth_configs '{"toolkit":{"slug":"github"},"auth_config":{"type":"use_custom_auth","credentials":{"client_id":"id","client_secret":"s"}}}'
  api POST "/api/v3.1/tool_router/session/$SID/link" "{\"toolkit\":\"github\",\"callback_url\":\"$cb\"}"
  expect_status "callback '$cb' refused" 400
done
api GET '/api/v3.1/connected_accounts?limit=1000'
check "bad input created no account" [ "$(jget .total_items)" = "$before" ]
api GET "/api/v3.1/connected_accounts/ca_%ff%fe"; expect_status "invalid UTF-8 in path -> 400" 400
api GET "/api/v3.1/connected_accounts/ca_nope?wait_ms=abc"; expect_status "bad wait_ms -> 400" 400
api GET "/api/v3.1/connected_accounts?limit=0"; expect_status "limit 0 -> 400" 400
api DELETE /api/v3.1/toolkits; expect_status "wrong method -> 405" 405
api GET /api/v3.1/nothing-here; expect_status "unknown route -> 404" 404

# --- links and accounts -------------------------------------------------------------------------
api POST /api/v3.1/auth_configs '{"toolkit":{"slug":"github"},"auth_config":{"type":"use_custom_auth","authScheme":"OAUTH2","credentials":{"client_id":"cid","client_secret":"csecret","scopes":"repo,user"}}}'
expect_status "custom auth config" 201
AC=$(jget .auth_config.id)
api GET /api/v3.1/auth_configs/$AC; expect_status "get auth config" 200
check "client secret is never returned" bash -c "! grep -q csecret <<<'$BODY'"
api GET '/api/v3.1/auth_configs?toolkit_slug=github'; expect_status "list auth configs" 200
api PATCH /api/v3.1/project/settings '{"callback_origins":["https://app.example"]}'
expect_status "set callback origins" 200
api POST "/api/v3.1/tool_router/session/$SID/link" '{"toolkit":"github","callback_url":"https://other.example/cb"}'
expect_status "callback outside the allowlist -> 400" 400
for s in '{"callback_origins":["https://app.example/path"]}' '{"callback_origins":"x"}' \
         '{"branding":{"accent_color":"red"}}' '{"branding":{"logo_url":"javascript:x"}}' '{"nope":1}'; do
  api PATCH /api/v3.1/project/settings "$s"; expect_status "bad settings refused: $s" 400
done
api PATCH /api/v3.1/project/settings '{"branding":{"name":"Acme <b>AI</b>","accent_color":"#112233"}}'
expect_status "set branding" 200
check "allowlist kept when branding changes" [ "$(jget .settings.callback_origins.length)" = 1 ]
api GET "/api/v3.1/tool_router/session/$SID/toolkits?toolkits=github,hackernews"
expect_status "session toolkits filtered" 200
check "two toolkits listed" [ "$(jget .items.length)" = 2 ]
check "hackernews is_no_auth" [ "$(jget '.items.find(i=>i.slug=="hackernews").is_no_auth')" = true ]
check "github not connected yet" [ "$(jget '.items.find(i=>i.slug=="github").connected_account')" = null ]
api GET "/api/v3.1/tool_router/session/$SID/toolkits?limit=5"
check "page of 5" [ "$(jget .items.length)" = 5 ]
NEXT=$(jget .next_cursor)
api GET "/api/v3.1/tool_router/session/$SID/toolkits?limit=5&cursor=$NEXT"
check "second page differs" [ "$(jget .current_page)" = 2 ]
api GET "/api/v3.1/tool_router/session/$SID/toolkits?is_connected=true"
check "is_connected=true lists none" [ "$(jget .items.length)" = 0 ]
api GET "/api/v3.1/tool_router/session/$SID/toolkits?search=git"
check "search finds github" grep -q '"github"' <<<"$BODY"

api POST "/api/v3.1/tool_router/session/$SID/link" '{"toolkit":"github","callback_url":"https://app.example/cb?user_id=user_123#frag"}'
expect_status "link created" 201
CA=$(jget .connected_account_id); LINK=$(jget .redirect_url)
check "redirect_url is a Connect Link" grep -qE "^$URL/link/ln_[A-Za-z0-9_-]{43}$" <<<"$LINK"
api GET /api/v3.1/auth_configs/$AC
check "auth config counts its connections" [ "$(jget .no_of_connections)" -ge 1 ]
api GET /api/v3.1/connected_accounts/$CA; expect_status "get account" 200
check "new account is INITIATED" [ "$(jget .status)" = INITIATED ]
api GET /api/v3.1/connected_accounts/ca_AAAAAAAAAAAA; expect_status "unknown account -> 404" 404
check "unknown account code is 1803" [ "$(jget .error.code)" = 1803 ]
# --- the Connect Link page and callback (a fresh link, so its TTL covers these steps) -----------
api POST "/api/v3.1/tool_router/session/$SID/link" '{"toolkit":"github","callback_url":"https://app.example/cb"}'
CA_PAGE=$(jget .connected_account_id); LINK_PAGE=$(jget .redirect_url)
page=$(curl -s -c "$T_TMP/jar" "$LINK_PAGE")
check "link page shows the toolkit" grep -q 'Connect your GitHub account' <<<"$page"
check "link page has a CSRF field" grep -q 'name="csrf"' <<<"$page"
check "branding name shown, HTML-escaped" grep -q 'Acme &lt;b&gt;AI&lt;/b&gt;' <<<"$page"
hdrs=$(curl -s -D - -o /dev/null "$LINK_PAGE")
check "page sends CSP frame-ancestors none" grep -qi "frame-ancestors 'none'" <<<"$hdrs"
check "page sends no-store" grep -qi 'cache-control: no-store' <<<"$hdrs"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'csrf=forged' "$LINK_PAGE")
check "POST without the CSRF cookie -> 403" [ "$STATUS" = 403 ]
csrf=$(sed -nE 's/.*name="csrf" value="([^"]+)".*/\1/p' <<<"$page")
loc=$(curl -s -b "$T_TMP/jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf=$csrf" "$LINK_PAGE")
check "Continue redirects to the provider with PKCE S256" grep -q 'code_challenge_method=S256' <<<"$loc"
check "authorize URL carries state and scopes" bash -c "grep -q 'state=' <<<'$loc' && grep -q 'scope=repo' <<<'$loc'"
STATUS=$(curl -s -o "$T_TMP/page" -w '%{http_code}' "$URL/api/v3/toolkits/auth/callback?code=x&state=forged")
check "unknown state -> 400 page" [ "$STATUS" = 400 ]
STATUS=$(curl -s -o "$T_TMP/page" -w '%{http_code}' "$URL/api/v3/toolkits/auth/callback?code=x")
check "missing state -> 400 page" [ "$STATUS" = 400 ]
api GET /api/v3.1/connected_accounts/$CA_PAGE
check "forged callbacks left the account INITIATED" [ "$(jget .status)" = INITIATED ]
STATUS=$(curl -s -o "$T_TMP/page" -w '%{http_code}' "$URL/link/ln_unknownunknownunknownunknownunknownunknown1")
check "unknown link -> 404 page" [ "$STATUS" = 404 ]

# --- long-poll and expiry (link TTL is 8 s) ----------------------------------------------------
t0=$(date +%s%N)
api GET "/api/v3.1/connected_accounts/$CA?wait_ms=20000"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "long-poll wakes when the link expires (${ms} ms)" [ "$ms" -lt 15000 ]
check "expired account is EXPIRED" [ "$(jget .status)" = EXPIRED ]
STATUS=$(curl -s -o "$T_TMP/page" -w '%{http_code}' "$LINK")
check "expired link page says expired" bash -c "[ $STATUS = 410 ] && grep -qi expired '$T_TMP/page'"
t0=$(date +%s%N); api GET "/api/v3.1/connected_accounts/$CA?wait_ms=5000"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "long-poll on a settled account answers at once (${ms} ms)" [ "$ms" -lt 500 ]

# --- enable/disable/delete ---------------------------------------------------------------------
api PATCH /api/v3.1/connected_accounts/$CA/status '{"enabled":"yes"}'; expect_status "status with a string -> 400" 400
api PATCH /api/v3.1/connected_accounts/$CA/status '{"enabled":false}'; expect_status "disable" 200
api GET /api/v3.1/connected_accounts/$CA; check "is_disabled true" [ "$(jget .is_disabled)" = true ]
api PATCH /api/v3.1/connected_accounts/$CA/status '{"enabled":true}'; expect_status "enable" 200
api GET "/api/v3.1/connected_accounts?user_ids=user_123&statuses=EXPIRED"
check "list filters by user and status" [ "$(jget .items.length)" -ge 1 ]
api DELETE /api/v3.1/connected_accounts/$CA; expect_status "delete" 200
api GET /api/v3.1/connected_accounts/$CA; expect_status "deleted account -> 404" 404

# --- tenants -----------------------------------------------------------------------------------
out=$("$TETHER_BIN" projects create second --data-dir "$DATA" 2>&1)
KEY2=$(sed -nE 's/^api key \(shown once\): (.*)$/\1/p' <<<"$out")
check "second project created" [ -n "$KEY2" ]
KEY_A=$KEY; KEY=$KEY2
api GET /api/v3.1/tool_router/session/$SID; expect_status "project B cannot read A's session" 404
api GET "/api/v3.1/connected_accounts"; check "project B sees no accounts of A" [ "$(jget .total_items)" = 0 ]
api GET /api/v3.1/auth_configs/$AC; expect_status "project B cannot read A's auth config" 404
KEY=$KEY_A

# --- metrics, shutdown ---------------------------------------------------------------------------
m=$(curl -s "$URL/metrics")
check "metrics count requests by route" grep -q 'tether_http_requests_total{route="POST /api/tool_router/session",status="201"}' <<<"$m"
check "metrics have accounts by status" grep -q 'tether_connected_accounts' <<<"$m"
check "no secret in the log" bash -c "! grep -q csecret '$LOG'"
stop_tether; check "SIGTERM exits 0" [ $? -eq 0 ]
finish
