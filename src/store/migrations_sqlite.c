/* migrations_sqlite.c -- the SQLite schema as numbered migrations. Entry i brings the database to
 * version i + 1; store.c applies the missing ones in order, each in its own transaction, and
 * records each in schema_version. A released entry is never edited: change the schema by
 * appending a new entry before the NULL. Times are int64 milliseconds since the epoch. */
#include "store/store_int.h"

#include <stddef.h>

/* 1: the initial schema. */
static const char m0001_initial[] =
    "CREATE TABLE projects ("
    "  id          TEXT PRIMARY KEY,"
    "  name        TEXT NOT NULL,"
    "  settings    TEXT NOT NULL DEFAULT '{}',"
    "  created_at  INTEGER NOT NULL"
    ");"
    "CREATE INDEX projects_created ON projects(created_at);"

    "CREATE TABLE api_keys ("
    "  id          TEXT PRIMARY KEY,"
    "  project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  hash        BLOB NOT NULL UNIQUE,"
    "  hint        TEXT NOT NULL,"
    "  created_at  INTEGER NOT NULL,"
    "  revoked_at  INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX api_keys_project ON api_keys(project_id, created_at);"

    "CREATE TABLE managed_apps ("
    "  toolkit     TEXT PRIMARY KEY,"
    "  client_id   TEXT NOT NULL,"
    "  secret_enc  BLOB,"
    "  scopes      TEXT,"
    "  updated_at  INTEGER NOT NULL"
    ");"

    "CREATE TABLE auth_configs ("
    "  id          TEXT PRIMARY KEY,"
    "  project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  toolkit     TEXT NOT NULL,"
    "  auth_scheme TEXT NOT NULL,"
    "  name        TEXT NOT NULL,"
    "  is_managed  INTEGER NOT NULL,"
    "  disabled    INTEGER NOT NULL DEFAULT 0,"
    "  client_id   TEXT,"
    "  secret_enc  BLOB,"
    "  scopes      TEXT,"
    "  extra       TEXT NOT NULL DEFAULT '{}',"
    "  created_at  INTEGER NOT NULL,"
    "  updated_at  INTEGER NOT NULL"
    ");"
    "CREATE INDEX auth_configs_toolkit ON auth_configs(project_id, toolkit, created_at DESC);"
    "CREATE INDEX auth_configs_list ON auth_configs(project_id, created_at DESC, id DESC);"

    "CREATE TABLE sessions ("
    "  id          TEXT PRIMARY KEY,"
    "  project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  user_id     TEXT NOT NULL,"
    "  config      TEXT NOT NULL DEFAULT '{}',"
    "  version     INTEGER NOT NULL DEFAULT 1,"
    "  created_at  INTEGER NOT NULL,"
    "  updated_at  INTEGER NOT NULL"
    ");"
    "CREATE INDEX sessions_project ON sessions(project_id);"

    /* pending_expires_at: the link's expiry while the account is INITIATED or INITIALIZING, else
     * 0; the partial index makes store_account_expire_due a range scan. auth_config_id has no
     * foreign key: an account outlives a deleted auth config. */
    "CREATE TABLE accounts ("
    "  id                 TEXT PRIMARY KEY,"
    "  project_id         TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  user_id            TEXT NOT NULL,"
    "  toolkit            TEXT NOT NULL,"
    "  auth_config_id     TEXT NOT NULL,"
    "  status             TEXT NOT NULL,"
    "  status_reason      TEXT,"
    "  is_disabled        INTEGER NOT NULL DEFAULT 0,"
    "  alias              TEXT,"
    "  word_id            TEXT NOT NULL DEFAULT '',"
    "  creds_enc          BLOB,"
    "  data               TEXT NOT NULL DEFAULT '{}',"
    "  created_at         INTEGER NOT NULL,"
    "  updated_at         INTEGER NOT NULL,"
    "  connected_at       INTEGER NOT NULL DEFAULT 0,"
    "  expires_at         INTEGER NOT NULL DEFAULT 0,"
    "  pending_expires_at INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX accounts_user"
    "  ON accounts(project_id, user_id, status, connected_at DESC, id DESC);"
    "CREATE INDEX accounts_list ON accounts(project_id, created_at DESC, id DESC);"
    "CREATE INDEX accounts_auth_config ON accounts(auth_config_id);"
    "CREATE INDEX accounts_pending ON accounts(pending_expires_at) WHERE pending_expires_at > 0;"

    "CREATE TABLE links ("
    "  token_hash    BLOB PRIMARY KEY,"
    "  account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  project_id    TEXT NOT NULL,"
    "  session_id    TEXT NOT NULL DEFAULT '',"
    "  callback_url  TEXT,"
    "  state_hash    BLOB UNIQUE,"
    "  verifier_enc  BLOB,"
    "  created_at    INTEGER NOT NULL,"
    "  expires_at    INTEGER NOT NULL,"
    "  used_at       INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX links_account ON links(account_id);"

    /* The account event log and future webhook outbox: rows stay after their account is gone. */
    "CREATE TABLE events ("
    "  seq         INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account_id  TEXT NOT NULL,"
    "  project_id  TEXT NOT NULL,"
    "  type        TEXT NOT NULL,"
    "  status      TEXT NOT NULL,"
    "  reason      TEXT,"
    "  at          INTEGER NOT NULL"
    ");"
    "CREATE INDEX events_account ON events(account_id, seq);";

/* 2: the credential lifecycle and webhooks. Accounts carry their refresh lease (single flight:
 * claimed by compare-and-set), failure count and the time before which the background scheduler
 * leaves them alone. Events get an optional JSON detail. The trigger makes every events row the
 * outbox entry of each matching webhook endpoint, in the transaction that wrote the event. */
static const char m0002_lifecycle[] =
    "ALTER TABLE accounts ADD COLUMN refresh_lease_until INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE accounts ADD COLUMN refresh_lease_owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE accounts ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE accounts ADD COLUMN refresh_not_before INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX accounts_refresh ON accounts(expires_at) "
    "  WHERE status = 'ACTIVE' AND expires_at > 0;"
    "ALTER TABLE events ADD COLUMN detail TEXT;"

    "CREATE TABLE webhook_endpoints ("
    "  id              TEXT PRIMARY KEY,"
    "  project_id      TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  url             TEXT NOT NULL,"
    "  events          TEXT NOT NULL DEFAULT '[]',"
    "  disabled        INTEGER NOT NULL DEFAULT 0,"
    "  secret_enc      BLOB NOT NULL,"
    "  prev_secret_enc BLOB,"
    "  prev_until      INTEGER NOT NULL DEFAULT 0,"
    "  created_at      INTEGER NOT NULL,"
    "  updated_at      INTEGER NOT NULL"
    ");"
    "CREATE INDEX webhook_endpoints_project ON webhook_endpoints(project_id, created_at);"

    "CREATE TABLE webhook_deliveries ("
    "  seq           INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  endpoint_id   TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,"
    "  project_id    TEXT NOT NULL,"
    "  event_seq     INTEGER NOT NULL,"
    "  account_id    TEXT NOT NULL,"
    "  state         TEXT NOT NULL DEFAULT 'pending',"
    "  attempts      INTEGER NOT NULL DEFAULT 0,"
    "  next_at       INTEGER NOT NULL,"
    "  lease_until   INTEGER NOT NULL DEFAULT 0,"
    "  lease_owner   TEXT NOT NULL DEFAULT '',"
    "  last_status   INTEGER NOT NULL DEFAULT 0,"
    "  last_error    TEXT,"
    "  created_at    INTEGER NOT NULL,"
    "  delivered_at  INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE state = 'pending';"
    "CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint_id, account_id, seq) "
    "  WHERE state = 'pending';"
    "CREATE INDEX webhook_deliveries_log ON webhook_deliveries(endpoint_id, seq);"

    "CREATE TRIGGER events_outbox AFTER INSERT ON events BEGIN "
    "  INSERT INTO webhook_deliveries (endpoint_id, project_id, event_seq, account_id, next_at, "
    "    created_at) "
    "  SELECT w.id, NEW.project_id, NEW.seq, NEW.account_id, NEW.at, NEW.at "
    "  FROM webhook_endpoints w WHERE w.project_id = NEW.project_id AND w.disabled = 0 "
    "    AND (w.events = '[]' OR instr(w.events, '\"' || NEW.type || '\"') > 0); "
    "END;";

const char *const store__sqlite_migrations[] = {
    m0001_initial,
    m0002_lifecycle,
    NULL,
};
