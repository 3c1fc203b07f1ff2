#!/usr/bin/env bash
# limits.sh -- rate limits answer 429 with Retry-After and the error shape; the server keeps serving.
cd "$(dirname "$0")/../.." && source tests/integration/lib.sh
TETHER_RATE_API=5 TETHER_RATE_PAGES=3 start_tether || exit 1
codes=""
for i in $(seq 20); do api GET /api/v3.1/toolkits; codes="$codes $STATUS"; done
check "API key limited after its burst" grep -q 429 <<<"$codes"
check "the first requests passed" [ "${codes:1:3}" = 200 ]
api GET /api/v3.1/toolkits
hdr=$(curl -s -D - -o /dev/null -H "x-api-key: $KEY" "$URL/api/v3.1/toolkits")
check "429 carries Retry-After" grep -qi '^retry-after: [0-9]' <<<"$hdr"
[ "$STATUS" = 429 ] && expect_error_shape "429 has the error shape"
pages=""
for i in $(seq 12); do pages="$pages $(curl -s -o /dev/null -w '%{http_code}' "$URL/link/ln_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")"; done
check "public pages limited per IP" grep -q 429 <<<"$pages"
check "health is never limited" [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ]
sleep 2.2
api GET /api/v3.1/toolkits; expect_status "tokens refill" 200
finish
