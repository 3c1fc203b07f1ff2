#!/usr/bin/env bash
# dashboard.sh -- the admin dashboard over plain HTTP: sign-in and its cookie flags, the session
# gate, CSRF refusal on every form, bad input answered with 4xx and no change, and markup in user
# ids, aliases, toolkit names, status reasons and branding always rendered as text.
cd "$(dirname "$0")/../.." && source tests/integration/lib.sh

XSS='<script>alert(1)</script>'
XSS_ATTR='"><img src=x onerror=alert(2)>'
CAT=$T_TMP/catalog; mkdir -p "$CAT"
# "xsskit": an API-key toolkit with markup in its name and no key test request.
node -e '
const fs = require("fs");
const e = JSON.parse(fs.readFileSync("catalog/toolkits/openweathermap.json", "utf8"));
e.slug = "xsskit"; e.name = process.argv[2]; e.tools = [];
e.auth_schemes = e.auth_schemes.map(({test_request, ...s}) => s);
fs.writeFileSync(process.argv[1] + "/xsskit.json", JSON.stringify(e));
' "$CAT" "<script>alert('tk')</script>Kit"
TETHER_RATE_PAGES=1000 start_tether --catalog-dir "$CAT" --allow-http || exit 1

JAR=$T_TMP/jar
# page METHOD PATH [curl args...] -> STATUS, BODY, HDRS (with the dashboard's cookie jar)
page() {
  local method=$1 path=$2; shift 2
  STATUS=$(curl -sS -o "$T_TMP/pbody" -D "$T_TMP/phdrs" -w '%{http_code}' -b "$JAR" -c "$JAR" \
    -X "$method" "$@" "$URL$path")
  BODY=$(cat "$T_TMP/pbody"); HDRS=$(cat "$T_TMP/phdrs")
}
csrf_of() { grep -o 'name="csrf" value="[^"]*"' <<<"$BODY" | head -1 | sed 's/.*value="//; s/"$//'; }
has() { grep -qF -- "$1" <<<"$BODY"; }
lacks() { ! grep -qF -- "$1" <<<"$BODY"; }
hdr() { grep -i "^$1:" <<<"$HDRS" | tr -d '\r'; }

# --- the session gate ----------------------------------------------------------------------------
page GET /dashboard
expect_status "signed out: /dashboard redirects" 302
check "to the sign-in page" grep -q "^Location: /dashboard/signin" <<<"$(hdr location)"
page GET /dashboard/accounts; expect_status "signed out: accounts redirect" 302
page POST /dashboard/accounts/ca_aaaaaaaaaaaa/disable --data 'csrf=x'
expect_status "signed out: a POST is refused" 403

# --- sign-in ------------------------------------------------------------------------------------
page GET /dashboard/signin; expect_status "sign-in page" 200
LOGIN_CSRF=$(csrf_of)
check "sign-in page sends CSP without scripts" bash -c '[[ "$1" == *"default-src '"'"'none'"'"'"* && "$1" != *script-src* ]]' _ "$(hdr content-security-policy)"
check "sign-in page cannot be framed" grep -qi "DENY" <<<"$(hdr x-frame-options)"
check "login cookie is HttpOnly and SameSite=Strict" grep -q "HttpOnly; SameSite=Strict" <<<"$(hdr set-cookie)"
page POST /dashboard/signin --data-urlencode "api_key=$KEY"
expect_status "sign-in without the CSRF token -> 403" 403
page GET /dashboard/signin; LOGIN_CSRF=$(csrf_of)
page POST /dashboard/signin --data-urlencode "csrf=${LOGIN_CSRF}x" --data-urlencode "api_key=$KEY"
expect_status "sign-in with a wrong CSRF token -> 403" 403
page GET /dashboard/signin; LOGIN_CSRF=$(csrf_of)
page POST /dashboard/signin --data-urlencode "csrf=$LOGIN_CSRF" --data-urlencode "api_key=tk_live_wrong"
expect_status "sign-in with a wrong key -> 401" 401
check "no session cookie for a wrong key" bash -c '! grep -qi "tether_dash=" <<<"$1"' _ "$HDRS"
page GET /dashboard/signin; LOGIN_CSRF=$(csrf_of)
page POST /dashboard/signin --data-urlencode "csrf=$LOGIN_CSRF" --data-urlencode "api_key=$KEY" -H 'Sec-Fetch-Site: cross-site'
expect_status "a cross-site sign-in -> 403" 403
page GET /dashboard/signin; LOGIN_CSRF=$(csrf_of)
page POST /dashboard/signin --data-urlencode "csrf=$LOGIN_CSRF" --data-urlencode "api_key=$KEY"
expect_status "sign-in -> 302" 302
COOKIE=$(hdr set-cookie)
check "session cookie is HttpOnly" grep -q "HttpOnly" <<<"$COOKIE"
check "session cookie is SameSite=Strict" grep -q "SameSite=Strict" <<<"$COOKIE"
check "session cookie is scoped to /dashboard" grep -q "Path=/dashboard;" <<<"$COOKIE"
check "session token is random (ds_ + 43)" grep -qE "tether_dash=ds_[A-Za-z0-9_-]{43};" <<<"$COOKIE"
SESSION=$(sed -E 's/.*tether_dash=([^;]+);.*/\1/' <<<"$COOKIE")
page GET /dashboard; expect_status "overview" 200
check "overview draws an SVG chart" grep -q '<svg viewBox' <<<"$BODY"
check "dashboard pages are no-store" grep -q "no-store" <<<"$(hdr cache-control)"
CSRF=$(csrf_of)
check "a session CSRF token" [ ${#CSRF} -ge 40 ]
page GET /dashboard/signin; expect_status "signed in: the sign-in page redirects" 302

# --- data with markup ----------------------------------------------------------------------------
api POST /api/v3.1/auth_configs '{"toolkit":{"slug":"xsskit"},"auth_config":{"type":"use_composio_managed_auth"}}'
expect_status "auth config for xsskit" 201
XAC=$(jget .auth_config.id)
BODYJ=$(node -e 'console.log(JSON.stringify({auth_config_id: process.argv[1], user_id: process.argv[2], alias: process.argv[3]}))' "$XAC" "$XSS" "$XSS_ATTR")
api POST /api/v3.1/connected_accounts/link "$BODYJ"; expect_status "link with markup in user id and alias" 201
XID=$(jget .connected_account_id)
# A FAILED account whose status reason carries markup: start an OAuth flow, answer with an error.
api POST /api/v3.1/auth_configs '{"toolkit":{"slug":"gmail"},"auth_config":{"type":"use_custom_auth","authScheme":"OAUTH2","credentials":{"client_id":"cid","client_secret":"csecret"}}}'
expect_status "gmail auth config" 201
GAC=$(jget .auth_config.id)
api POST /api/v3.1/connected_accounts/link "{\"auth_config_id\":\"$GAC\",\"user_id\":\"reason_user\"}"
GID=$(jget .connected_account_id); LINK=$(jget .redirect_url)
LJAR=$T_TMP/ljar
LCSRF=$(curl -sS -c "$LJAR" "$LINK" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//; s/"$//')
LOC=$(curl -sS -o /dev/null -D - -b "$LJAR" --data-urlencode "csrf=$LCSRF" "$LINK" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
STATE=$(node -e 'console.log(new URL(process.argv[1]).searchParams.get("state") || "")' "$LOC")
check "the OAuth flow started (state in the authorize URL)" [ -n "$STATE" ]
curl -sS -o /dev/null -G --data-urlencode "state=$STATE" --data-urlencode "error=$XSS" \
  --data-urlencode "error_description=$XSS_ATTR" "$URL/api/v3/toolkits/auth/callback"
api GET /api/v3.1/connected_accounts/$GID
check "the account FAILED with the provider's text as reason" [ "$(jget .status)" = FAILED ]

page GET /dashboard/accounts; expect_status "accounts list" 200
check "list: no raw <script> from data" bash -c '! grep -q "<script>alert" <<<"$1"' _ "$BODY"
check "list: no raw injected <img>" bash -c '! grep -q "<img src=x" <<<"$1"' _ "$BODY"
check "list: user id shown escaped" has '&lt;script&gt;alert(1)&lt;/script&gt;'
check "list: alias shown escaped" has '&quot;&gt;&lt;img src&#61;x onerror&#61;alert(2)&gt;'
check "list: toolkit name shown escaped" has "&lt;script&gt;alert(&#39;tk&#39;)&lt;/script&gt;Kit"
check "list: status reason shown escaped" has 'the provider refused: &lt;script&gt;'
page GET /dashboard/accounts/$GID; expect_status "failed account page" 200
check "account: no raw markup" bash -c '! grep -qE "<script>alert|<img src=x" <<<"$1"' _ "$BODY"
check "account: reason escaped in the history too" [ "$(grep -c 'the provider refused: &lt;script&gt;' <<<"$BODY")" -ge 2 ]
page GET "/dashboard/accounts?q=$(node -p 'encodeURIComponent(process.argv[1])' "$XSS")"
expect_status "search by a user id with markup" 200
check "search finds it" grep -q "data-id=\"$XID\"" <<<"$BODY"
check "search box echoes the query escaped" has 'value="&lt;script&gt;alert(1)&lt;/script&gt;"'
page GET /dashboard/accounts/$XID/disable; expect_status "confirm page" 200
check "confirm: no raw markup" bash -c '! grep -qE "<script>alert|<img src=x" <<<"$1"' _ "$BODY"

# --- CSRF on account actions ---------------------------------------------------------------------
page POST /dashboard/accounts/$XID/disable
expect_status "disable without a CSRF token -> 403" 403
page POST /dashboard/accounts/$XID/disable --data "csrf=${CSRF}x"
expect_status "disable with a wrong CSRF token -> 403" 403
page POST /dashboard/accounts/$XID/disable --data-urlencode "csrf=$CSRF" -H 'Sec-Fetch-Site: cross-site'
expect_status "a cross-site disable -> 403" 403
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: tether_dash=ds_$(printf 'A%.0s' {1..43})" \
  --data-urlencode "csrf=$CSRF" "$URL/dashboard/accounts/$XID/disable")
expect_status "a forged session cookie -> 403" 403
api GET /api/v3.1/connected_accounts/$XID
check "refused forms changed nothing" [ "$(jget .is_disabled)" = false ]
page POST /dashboard/accounts/$XID/disable --data-urlencode "csrf=$CSRF"
expect_status "disable with the session's token -> 302" 302
api GET /api/v3.1/connected_accounts/$XID
check "the account is disabled" [ "$(jget .is_disabled)" = true ]
page POST /dashboard/accounts/$XID/enable --data-urlencode "csrf=$CSRF"
expect_status "enable -> 302" 302
api GET /api/v3.1/connected_accounts/$XID
check "the account is enabled" [ "$(jget .is_disabled)" = false ]

# --- bad input -----------------------------------------------------------------------------------
page GET '/dashboard/accounts?status=BOGUS'; expect_status "unknown status filter -> 400" 400
page GET '/dashboard/accounts?toolkit=%3Cx%3E'; expect_status "bad toolkit filter -> 400" 400
check "the bad value is not echoed raw" bash -c '! grep -q "<x>" <<<"$1"' _ "$BODY"
page GET '/dashboard/accounts?cursor=garbage'; expect_status "bad cursor -> 400" 400
page GET "/dashboard/accounts?q=$(head -c 300 /dev/zero | tr '\0' a)"; expect_status "long search -> 400" 400
page GET '/dashboard/accounts?q=%ff'; expect_status "invalid UTF-8 -> 400" 400
page GET /dashboard/accounts/not_an_id; expect_status "bad account id -> 404" 404
page GET /dashboard/accounts/ca_doesnotexist1; expect_status "unknown account -> 404" 404
page GET /dashboard/accounts/$XID/explode; expect_status "unknown action -> 404" 404
page POST /dashboard/accounts/$XID/explode --data-urlencode "csrf=$CSRF"; expect_status "unknown action POST -> 404" 404
page POST /dashboard/accounts/$XID/disable --data 'csrf=%zz'; expect_status "unreadable form -> 400" 400
head -c 300000 /dev/zero | tr '\0' a > "$T_TMP/big"
page POST /dashboard/accounts/$XID/disable --data-binary "@$T_TMP/big"; expect_status "huge form -> 413" 413
api GET /api/v3.1/connected_accounts/$XID
check "bad input changed nothing" [ "$(jget .is_disabled)" = false ]
page GET '/dashboard/auth-configs?q=gmail'; expect_status "auth configs search" 200
check "auth configs list the gmail config" grep -q "$GAC" <<<"$BODY"
page GET '/dashboard/auth-configs?cursor=nope'; expect_status "auth configs bad cursor -> 400" 400
page GET /dashboard/webhooks; expect_status "webhooks page" 200
check "webhooks: an honest not-configured state" has 'Not configured'
api POST /api/v3.1/webhooks '{"url":"http://127.0.0.1:9/hook?x=<b>","events":["account.disabled"]}'
expect_status "the API refuses markup in a webhook URL" 400
api POST /api/v3.1/webhooks '{"url":"http://127.0.0.1:9/hook?a=1&b=2","events":["account.disabled"]}'
expect_status "a webhook endpoint (unreachable on purpose)" 201
WID=$(jget .id)
WSECRET=$(jget .secret)
page POST /dashboard/accounts/$XID/disable --data-urlencode "csrf=$CSRF"; expect_status "disable again" 302
page POST /dashboard/accounts/$XID/enable --data-urlencode "csrf=$CSRF"; expect_status "enable again" 302
page GET /dashboard/webhooks; expect_status "webhooks page with an endpoint" 200
check "webhooks: the endpoint is listed" has "data-webhook=\"$WID\""
check "webhooks: its URL is shown, escaped" has 'hook?a&#61;1&amp;b&#61;2'
check "webhooks: the filter is shown" has '<code>account.disabled</code>'
check "webhooks: a delivery of the disable event" grep -q "account.disabled</td>" <<<"$BODY"
check "webhooks: the secret is not shown" lacks "$WSECRET"

# --- branding ------------------------------------------------------------------------------------
page POST /dashboard/branding --data-urlencode "csrf=$CSRF" --data-urlencode 'accent_color=red;}body{'
expect_status "bad accent colour -> 400" 400
check "the reason is shown" has 'accent_color'
page POST /dashboard/branding --data-urlencode "csrf=$CSRF" --data-urlencode 'logo_url=javascript:alert(1)'
expect_status "javascript: logo -> 400" 400
page POST /dashboard/branding --data-urlencode "csrf=$CSRF" --data-urlencode 'support_url=http://plain.example'
expect_status "plain-http support link -> 400" 400
page POST /dashboard/branding --data-urlencode 'name=No token'
expect_status "branding without CSRF -> 403" 403
api GET /api/v3.1/project/settings
check "refused branding changed nothing" [ "$(jget .settings.branding)" = undefined ]
page POST /dashboard/branding --data-urlencode "csrf=$CSRF" --data-urlencode "name=$XSS" \
  --data-urlencode 'logo_url=https://cdn.example.test/logo.png' --data-urlencode 'accent_color=#e8590c'
expect_status "branding saved -> 302" 302
api GET /api/v3.1/project/settings
check "the API sees the new name" [ "$(jget .settings.branding.name)" = "$XSS" ]
page GET /dashboard/branding; expect_status "branding page" 200
check "branding form: name escaped" has 'value="&lt;script&gt;alert(1)&lt;/script&gt;"'
check "frame: project name escaped" bash -c '! grep -q "<script>alert" <<<"$1"' _ "$BODY"
api POST /api/v3.1/connected_accounts/link "{\"auth_config_id\":\"$XAC\",\"user_id\":\"brand_user\"}"
LPAGE=$(curl -sS "$(jget .redirect_url)")
check "Connect Link: branded name escaped" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' <<<"$LPAGE"
check "Connect Link: no raw markup" bash -c '! grep -q "<script>alert" <<<"$1"' _ "$LPAGE"
check "Connect Link: the logo" grep -qF 'src="https://cdn.example.test/logo.png"' <<<"$LPAGE"
check "Connect Link: the accent colour" grep -qF -- '--accent: #e8590c' <<<"$LPAGE"

# --- other keys and other projects --------------------------------------------------------------
# signin_as KEY JARFILE: signs in with KEY into a separate cookie jar; sets STATUS.
signin_as() {
  local key=$1 jar=$2 c
  c=$(curl -sS -c "$jar" "$URL/dashboard/signin" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//; s/"$//')
  STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" --data-urlencode "csrf=$c" \
    --data-urlencode "api_key=$key" "$URL/dashboard/signin")
}
PA=$("$TETHER_BIN" projects list --data-dir "$DATA" 2>/dev/null | head -1 | cut -f1)
OUT=$("$TETHER_BIN" keys create --project "$PA" --data-dir "$DATA" 2>/dev/null)
K2=$(sed -n 's/^api key (shown once): //p' <<<"$OUT"); K2ID=$(sed -n 's/^key //p' <<<"$OUT")
signin_as "$K2" "$T_TMP/jar2"; expect_status "sign-in with a second key" 302
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -b "$T_TMP/jar2" "$URL/dashboard/accounts")
expect_status "its session works" 200
"$TETHER_BIN" keys revoke "$K2ID" --project "$PA" --data-dir "$DATA" >/dev/null 2>&1
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -b "$T_TMP/jar2" "$URL/dashboard/accounts")
expect_status "revoking the key ends its dashboard sessions" 302
OUT=$("$TETHER_BIN" projects create other --data-dir "$DATA" 2>/dev/null)
KB=$(sed -n 's/^api key (shown once): //p' <<<"$OUT")
signin_as "$KB" "$T_TMP/jar3"; expect_status "sign-in to another project" 302
STATUS=$(curl -sS -o "$T_TMP/b3" -w '%{http_code}' -b "$T_TMP/jar3" "$URL/dashboard/accounts/$GID")
expect_status "another project cannot open this project's account" 404
STATUS=$(curl -sS -o "$T_TMP/b3" -w '%{http_code}' -b "$T_TMP/jar3" "$URL/dashboard/accounts")
check "another project lists none of these accounts" bash -c '! grep -q "data-id=" "$1"' _ "$T_TMP/b3"
B3CSRF=$(grep -o 'name="csrf" value="[^"]*"' "$T_TMP/b3" | head -1 | sed 's/.*value="//; s/"$//')
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -b "$T_TMP/jar3" --data-urlencode "csrf=$B3CSRF" \
  "$URL/dashboard/accounts/$GID/delete")
expect_status "another project cannot delete this project's account" 404
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -b "$T_TMP/jar3" --data-urlencode "csrf=$CSRF" \
  "$URL/dashboard/branding")
expect_status "one session's CSRF token is refused in another session" 403
api GET /api/v3.1/connected_accounts/$GID; expect_status "the account is still there" 200

# --- delete and sign-out -------------------------------------------------------------------------
page GET /dashboard/accounts/$XID/delete; expect_status "delete confirmation" 200
check "the confirmation says it cannot be undone" has 'cannot be undone'
page POST /dashboard/accounts/$XID/delete --data-urlencode "csrf=$CSRF"; expect_status "delete -> 302" 302
api GET /api/v3.1/connected_accounts/$XID; expect_status "the account is gone" 404
page GET /dashboard/accounts/$XID; expect_status "its dashboard page is a 404" 404
page POST /dashboard/signout; expect_status "sign-out without CSRF -> 403" 403
page POST /dashboard/signout --data-urlencode "csrf=$CSRF"; expect_status "sign-out -> 302" 302
check "sign-out expires the cookie" grep -q "Max-Age=0" <<<"$(hdr set-cookie)"
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: tether_dash=$SESSION" "$URL/dashboard")
expect_status "the old session cookie is dead" 302

finish
