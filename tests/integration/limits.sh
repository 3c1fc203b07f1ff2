#!/usr/bin/env bash
# limits.sh -- rate limits answer 429 with Retry-After and the error shape; the server keeps serving.
cd "$(dirname "$0")/../.." && source tests/integration/lib.sh
TETHER_RATE_API=5 TETHER_RATE_PAGES=3 start_tether || exit 1
codes=""
for i in $(seq 20); do api GET /api/v3.1/toolkits; codes="$codes $STATUS"; done
check "API key limited after its burst" grep -q 429 <<<"$codes"
check "the first requests passed" [ "${codes:1:3}" = 200 ]
for i in $(seq 30); do   # a limited answer, read whole (the bucket refills 5 per second)
  hdr=$(curl -s -D - -o "$T_TMP/body" -H "x-api-key: $KEY" "$URL/api/v3.1/toolkits")
  grep -q '^HTTP/1.1 429' <<<"$hdr" && break
done
STATUS=429; BODY=$(cat "$T_TMP/body")
check "429 carries Retry-After" grep -qi '^retry-after: [0-9]' <<<"$hdr"
expect_error_shape "429 has the error shape"
pages=""
for i in $(seq 12); do pages="$pages $(curl -s -o /dev/null -w '%{http_code}' "$URL/link/ln_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")"; done
check "public pages limited per IP" grep -q 429 <<<"$pages"
check "health is never limited" [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ]
sleep 2.2
api GET /api/v3.1/toolkits; expect_status "tokens refill" 200
finish
