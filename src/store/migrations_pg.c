/* migrations_pg.c -- the PostgreSQL schema as numbered migrations, the same numbering as
 * migrations_sqlite.c: entry i brings the database to version i + 1 and means the same schema on
 * both backends. store.c applies the missing ones in order; the backend runs each in its own
 * transaction under an advisory lock, so nodes starting together migrate once. A released entry
 * is never edited. Times are int64 milliseconds since the epoch; ids compare byte-wise
 * (COLLATE "C"), as in SQLite, so keyset pages have one order on both backends. */
#include "store/store_int.h"

#include <stddef.h>

/* 1: the initial schema. The identity column n of projects and api_keys stands in for SQLite's
 * rowid (insertion order breaks created_at ties). Inserting an event row other than
 * account.initiated notifies the channel tether_account with the account id, inside the inserting
 * transaction, so other nodes hear of a status change exactly when it commits. */
static const char m0001_initial[] =
    "CREATE TABLE projects ("
    "  n           BIGINT GENERATED ALWAYS AS IDENTITY,"
    "  id          TEXT COLLATE \"C\" PRIMARY KEY,"
    "  name        TEXT NOT NULL,"
    "  settings    TEXT NOT NULL DEFAULT '{}',"
    "  created_at  BIGINT NOT NULL"
    ");"
    "CREATE INDEX projects_created ON projects(created_at, n);"

    "CREATE TABLE api_keys ("
    "  n           BIGINT GENERATED ALWAYS AS IDENTITY,"
    "  id          TEXT COLLATE \"C\" PRIMARY KEY,"
    "  project_id  TEXT COLLATE \"C\" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  hash        BYTEA NOT NULL UNIQUE,"
    "  hint        TEXT NOT NULL,"
    "  created_at  BIGINT NOT NULL,"
    "  revoked_at  BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX api_keys_project ON api_keys(project_id, created_at, n);"

    "CREATE TABLE managed_apps ("
    "  toolkit     TEXT COLLATE \"C\" PRIMARY KEY,"
    "  client_id   TEXT NOT NULL,"
    "  secret_enc  BYTEA,"
    "  scopes      TEXT,"
    "  updated_at  BIGINT NOT NULL"
    ");"

    "CREATE TABLE auth_configs ("
    "  id          TEXT COLLATE \"C\" PRIMARY KEY,"
    "  project_id  TEXT COLLATE \"C\" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  toolkit     TEXT COLLATE \"C\" NOT NULL,"
    "  auth_scheme TEXT NOT NULL,"
    "  name        TEXT NOT NULL,"
    "  is_managed  BIGINT NOT NULL,"
    "  disabled    BIGINT NOT NULL DEFAULT 0,"
    "  client_id   TEXT,"
    "  secret_enc  BYTEA,"
    "  scopes      TEXT,"
    "  extra       TEXT NOT NULL DEFAULT '{}',"
    "  created_at  BIGINT NOT NULL,"
    "  updated_at  BIGINT NOT NULL"
    ");"
    "CREATE INDEX auth_configs_toolkit ON auth_configs(project_id, toolkit, created_at DESC);"
    "CREATE INDEX auth_configs_list ON auth_configs(project_id, created_at DESC, id DESC);"

    "CREATE TABLE sessions ("
    "  id          TEXT COLLATE \"C\" PRIMARY KEY,"
    "  project_id  TEXT COLLATE \"C\" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  user_id     TEXT NOT NULL,"
    "  config      TEXT NOT NULL DEFAULT '{}',"
    "  version     BIGINT NOT NULL DEFAULT 1,"
    "  created_at  BIGINT NOT NULL,"
    "  updated_at  BIGINT NOT NULL"
    ");"
    "CREATE INDEX sessions_project ON sessions(project_id);"

    "CREATE TABLE accounts ("
    "  id                 TEXT COLLATE \"C\" PRIMARY KEY,"
    "  project_id         TEXT COLLATE \"C\" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
    "  user_id            TEXT COLLATE \"C\" NOT NULL,"
    "  toolkit            TEXT COLLATE \"C\" NOT NULL,"
    "  auth_config_id     TEXT COLLATE \"C\" NOT NULL,"
    "  status             TEXT COLLATE \"C\" NOT NULL,"
    "  status_reason      TEXT,"
    "  is_disabled        BIGINT NOT NULL DEFAULT 0,"
    "  alias              TEXT,"
    "  word_id            TEXT NOT NULL DEFAULT '',"
    "  creds_enc          BYTEA,"
    "  data               TEXT NOT NULL DEFAULT '{}',"
    "  created_at         BIGINT NOT NULL,"
    "  updated_at         BIGINT NOT NULL,"
    "  connected_at       BIGINT NOT NULL DEFAULT 0,"
    "  expires_at         BIGINT NOT NULL DEFAULT 0,"
    "  pending_expires_at BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX accounts_user"
    "  ON accounts(project_id, user_id, status, connected_at DESC, id DESC);"
    "CREATE INDEX accounts_list ON accounts(project_id, created_at DESC, id DESC);"
    "CREATE INDEX accounts_auth_config ON accounts(auth_config_id);"
    "CREATE INDEX accounts_pending ON accounts(pending_expires_at) WHERE pending_expires_at > 0;"

    "CREATE TABLE links ("
    "  token_hash    BYTEA PRIMARY KEY,"
    "  account_id    TEXT COLLATE \"C\" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  project_id    TEXT COLLATE \"C\" NOT NULL,"
    "  session_id    TEXT NOT NULL DEFAULT '',"
    "  callback_url  TEXT,"
    "  state_hash    BYTEA UNIQUE,"
    "  verifier_enc  BYTEA,"
    "  created_at    BIGINT NOT NULL,"
    "  expires_at    BIGINT NOT NULL,"
    "  used_at       BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX links_account ON links(account_id);"

    "CREATE TABLE events ("
    "  seq         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  account_id  TEXT COLLATE \"C\" NOT NULL,"
    "  project_id  TEXT COLLATE \"C\" NOT NULL,"
    "  type        TEXT NOT NULL,"
    "  status      TEXT NOT NULL,"
    "  reason      TEXT,"
    "  at          BIGINT NOT NULL"
    ");"
    "CREATE INDEX events_account ON events(account_id, seq);"
    "CREATE INDEX events_at ON events(at);"

    "CREATE FUNCTION tether_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN PERFORM pg_notify('tether_account', NEW.account_id); RETURN NULL; END $$;"
    "CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW"
    "  WHEN (NEW.type <> 'account.initiated') EXECUTE FUNCTION tether_event_notify();";

const char *const store__pg_migrations[] = {
    m0001_initial,
    NULL,
};
