#!/usr/bin/env bash
# make run: starts tether on the embedded SQLite store and says how to use it.
set -euo pipefail
cd "$(dirname "$0")/.."
listen=${TETHER_LISTEN:-127.0.0.1:8080}
data=${TETHER_DATA_DIR:-./var}
cat <<MSG
tether: starting on http://$listen with data in $data (SQLite). Ctrl-C stops it.

  The first start creates the default project and prints its API key once (or set TETHER_API_KEY).
  Point an SDK at it:      COMPOSIO_BASE_URL=http://$listen COMPOSIO_API_KEY=<key>
  Or the CLI:              TETHER_API_KEY=<key> build/tether connect github --user user_123 --wait
  OAuth toolkits need an auth config with your app's client id/secret (POST /api/v3.1/auth_configs)
  or a managed app:        build/tether apps set github --client-id ID --client-secret SECRET
  Health and metrics:      curl http://$listen/healthz ; curl http://$listen/metrics

MSG
exec build/tether serve --listen "$listen" --data-dir "$data" "$@"
