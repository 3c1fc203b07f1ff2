/* test_catalog.c -- the catalogue loader: shipped entries, lookups, operator overrides, rejection
 * of invalid files, placeholder expansion, credential formatting and logo lookup. */
#include "catalog/catalog.h"
#include "harness/test.h"

#include <dirent.h>
#include <sodium.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------------------------- */

static char *
make_dir(void)
{
    char tmpl[] = "/tmp/tether-catalog-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int
write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void
remove_dir(char *dir)
{
    if (dir == NULL)
        return;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
    free(dir);
}

/* Loads a directory holding one file; returns catalog_load's result and the message. */
static int
load_one(const char *name, const char *text, char *err, size_t errlen)
{
    char *dir = make_dir();
    if (dir == NULL || write_file(dir, name, text) != 0) {
        remove_dir(dir);
        return 99;
    }
    int rc = catalog_load(dir, err, errlen);
    remove_dir(dir);
    return rc;
}

static const char *
param(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A valid OAuth2 toolkit file; each argument is the part a case breaks (extra scheme members, the
 * authorize URL, the tools). */
#define OAUTH_FILE(slug, extra_scheme, authorize, tools)                                          \
    "{\"slug\":\"" slug "\",\"name\":\"Acme\",\"description\":\"Acme things.\","                \
    "\"base_url\":\"https://api.acme.test\",\"auth_schemes\":[{\"type\":\"OAUTH2\","            \
    "\"authorize_url\":\"" authorize "\",\"scopes\":[\"read\"],\"pkce\":true" extra_scheme "}]," \
    "\"tools\":[" tools "]}"
#define TOKEN_URL ",\"token_url\":\"https://acme.test/token\""

static const char *const oauth_slugs[] = {
    "gmail", "googlecalendar", "github", "slack",   "notion", "linear", "jira",   "hubspot",
    "salesforce", "outlook", "discord", "dropbox", "zoom",   "asana",  "airtable", "figma", NULL};

/* ---- shipped catalogue ---------------------------------------------------------------------- */

TEST(shipped_entries_load)
{
    char err[512] = "";
    ASSERT_EQ(catalog_load(NULL, err, sizeof err), 0);
    ASSERT_STR(err, "");
    ASSERT(catalog_count() >= 20);
    ASSERT(catalog_at(catalog_count()) == NULL);
    for (size_t i = 1; i < catalog_count(); i++)
        ASSERT(strcmp(catalog_at(i - 1)->slug, catalog_at(i)->slug) < 0);
    for (size_t i = 0; i < catalog_count(); i++) {
        const struct catalog_toolkit *t = catalog_at(i);
        ASSERT(catalog_get(t->slug) == t);
        ASSERT(t->name[0] != '\0' && t->description[0] != '\0');
        ASSERT(t->categories != NULL && t->categories[0] != NULL);
        ASSERT(json_is_array(t->tools) && json_array_size(t->tools) > 0);
        ASSERT(json_is_object(catalog_headers(t)));
        const char *data, *type;
        size_t len;
        ASSERT_EQ(catalog_logo(t->logo, &data, &len, &type), 0);
        ASSERT_STR(type, "image/svg+xml");
        ASSERT(len > 0 && len < 1024);
        ASSERT(strncmp(data, "<svg", 4) == 0);
        ASSERT(strstr(data, "<script") == NULL && strstr(data, "href") == NULL);
        for (size_t s = 0; s < t->nschemes; s++) {
            ASSERT(json_is_object(t->schemes[s].authorize_params));
            if (t->schemes[s].type != CATALOG_NO_AUTH)
                ASSERT(t->schemes[s].inject_format != NULL);
        }
    }
    catalog_free();
    ASSERT_EQ(catalog_count(), 0);
}

TEST(shipped_oauth_toolkits)
{
    char err[512];
    ASSERT_EQ(catalog_load(NULL, err, sizeof err), 0);
    for (size_t i = 0; oauth_slugs[i] != NULL; i++) {
        const struct catalog_toolkit *t = catalog_get(oauth_slugs[i]);
        if (t == NULL)
            FAIL_AT("missing toolkit %s", oauth_slugs[i]);
        const struct catalog_scheme *s = catalog_scheme(t, "OAUTH2");
        ASSERT(s != NULL && s == catalog_scheme(t, NULL));
        ASSERT(strncmp(s->authorize_url, "https://", 8) == 0);
        ASSERT(strncmp(s->token_url, "https://", 8) == 0);
        ASSERT(s->scopes != NULL);
        ASSERT_STR(s->inject_in, "header");
        ASSERT_STR(s->inject_name, "Authorization");
        ASSERT_STR(s->inject_format, "Bearer {access_token}");
        ASSERT(strcmp(s->token_auth, "client_secret_post") == 0 ||
               strcmp(s->token_auth, "client_secret_basic") == 0);
        ASSERT(t->no_auth == 0);
    }
    catalog_free();
}

TEST(slug_lookups)
{
    char err[512];
    ASSERT_EQ(catalog_load(NULL, err, sizeof err), 0);
    const struct catalog_toolkit *g = catalog_get("gmail");
    ASSERT(g != NULL);
    ASSERT_STR(g->name, "Gmail");
    ASSERT_STR(g->logo, "gmail.svg");
    ASSERT_STR(g->base_url, "https://gmail.googleapis.com");
    const struct catalog_scheme *s = catalog_scheme(g, NULL);
    ASSERT_EQ(s->type, CATALOG_OAUTH2);
    ASSERT_STR(s->type_name, "OAUTH2");
    ASSERT_STR(s->token_url, "https://oauth2.googleapis.com/token");
    ASSERT(s->refresh_url == NULL);
    ASSERT_STR(s->revoke_url, "https://oauth2.googleapis.com/revoke");
    ASSERT_STR(s->identity_field, "email");
    ASSERT_STR(s->scopes[0], "openid");
    ASSERT_STR(s->scopes[2], "https://www.googleapis.com/auth/gmail.modify");
    ASSERT(s->scopes[3] == NULL);
    ASSERT_STR(s->scope_separator, " ");
    ASSERT_EQ(s->pkce, 1);
    ASSERT_STR(param(s->authorize_params, "access_type"), "offline");
    ASSERT_STR(param(s->authorize_params, "prompt"), "consent");
    ASSERT(catalog_scheme(g, "API_KEY") == NULL);

    const struct catalog_scheme *sl = catalog_scheme(catalog_get("slack"), NULL);
    ASSERT_STR(sl->scope_separator, ",");
    ASSERT_EQ(sl->pkce, 0);
    const struct catalog_toolkit *n = catalog_get("notion");
    ASSERT_STR(catalog_scheme(n, NULL)->token_auth, "client_secret_basic");
    ASSERT_STR(param(catalog_scheme(n, NULL)->authorize_params, "owner"), "user");
    ASSERT_STR(param(catalog_headers(n), "Notion-Version"), "2022-06-28");
    ASSERT_EQ(json_object_size(catalog_headers(g)), 0);
    ASSERT_STR(catalog_scheme(catalog_get("figma"), NULL)->refresh_url,
               "https://api.figma.com/v1/oauth/refresh");
    ASSERT_STR(param(catalog_scheme(catalog_get("jira"), NULL)->authorize_params, "audience"),
               "api.atlassian.com");

    const struct catalog_toolkit *hn = catalog_get("hackernews");
    ASSERT(hn != NULL && hn->no_auth == 1);
    ASSERT_STR(hn->base_url, "https://hacker-news.firebaseio.com/v0");
    const struct catalog_scheme *ow = catalog_scheme(catalog_get("openweathermap"), "API_KEY");
    ASSERT(ow != NULL);
    ASSERT_STR(ow->inject_in, "query");
    ASSERT_STR(ow->inject_name, "appid");
    ASSERT_EQ(ow->nfields, 1);
    ASSERT_STR(ow->fields[0].name, "api_key");
    ASSERT_EQ(ow->fields[0].secret, 1);
    ASSERT_EQ(ow->fields[0].required, 1);
    ASSERT_STR(ow->test_method, "GET");
    ASSERT(catalog_scheme(catalog_get("digitalocean"), "BEARER_TOKEN") != NULL);
    ASSERT(catalog_scheme(catalog_get("twilio"), "BASIC") != NULL);

    const struct catalog_scheme *sf = catalog_scheme(catalog_get("salesforce"), NULL);
    ASSERT_STR(sf->fields[0].name, "instance_url");
    ASSERT_STR(catalog_field_source(sf, 0), "token_response");
    ASSERT_STR(catalog_field_source(catalog_scheme(catalog_get("jira"), NULL), 0), "user");

    ASSERT(catalog_get("nope") == NULL);
    ASSERT(catalog_get("GMAIL") == NULL);
    ASSERT(catalog_get("") == NULL);
    ASSERT(catalog_get(NULL) == NULL);
    catalog_free();
}

TEST(tool_lookups)
{
    char err[512];
    ASSERT_EQ(catalog_load(NULL, err, sizeof err), 0);
    const struct catalog_toolkit *t = NULL;
    const json_t *tool = catalog_tool("GITHUB_GET_THE_AUTHENTICATED_USER", &t);
    ASSERT(tool != NULL && t == catalog_get("github"));
    const json_t *http = json_object_get(tool, "http");
    ASSERT_STR(param(http, "method"), "GET");
    ASSERT_STR(param(http, "path"), "/user");
    ASSERT_STR(param(http, "body"), "none");
    ASSERT(json_is_array(json_object_get(http, "query")));
    tool = catalog_tool("HACKERNEWS_GET_ITEM", &t);
    ASSERT(tool != NULL && t == catalog_get("hackernews"));
    ASSERT_STR(param(json_object_get(tool, "http"), "path"), "/item/{id}.json");
    ASSERT(catalog_tool("GMAIL_GET_PROFILE", NULL) != NULL);
    ASSERT(catalog_tool("SLACK_LIST_CHANNELS", NULL) != NULL);
    ASSERT(catalog_tool("NOTION_GET_ME", NULL) != NULL);
    ASSERT(catalog_tool("HACKERNEWS_GET_TOP_STORIES", NULL) != NULL);
    ASSERT(catalog_tool("NOPE_NOTHING", NULL) == NULL);
    ASSERT(catalog_tool(NULL, NULL) == NULL);
    catalog_free();
}

/* ---- operator directory --------------------------------------------------------------------- */

static const char local_gmail[] =
    "{\"slug\":\"gmail\",\"name\":\"Gmail (local)\",\"description\":\"Test provider.\","
    "\"logo\":\"gmail.svg\",\"categories\":[\"email\"],\"base_url\":\"http://127.0.0.1:4455\","
    "\"auth_schemes\":[{\"type\":\"OAUTH2\","
    "\"authorize_url\":\"http://127.0.0.1:4455/auth\","
    "\"token_url\":\"http://127.0.0.1:4455/token\","
    "\"userinfo_url\":\"http://localhost:4455/me\",\"identity_field\":\"email\","
    "\"scopes\":[\"openid\",\"email\"],\"pkce\":true}],"
    "\"tools\":[{\"slug\":\"GMAIL_GET_PROFILE\",\"name\":\"Profile\",\"description\":\"\","
    "\"input_parameters\":{\"type\":\"object\",\"properties\":{}},"
    "\"http\":{\"method\":\"GET\",\"path\":\"/profile\"}}]}";

static const char acme[] =
    "{\"slug\":\"acme\",\"name\":\"Acme\",\"description\":\"An operator's own API.\","
    "\"logo\":\"acme.svg\",\"base_url\":\"https://{subdomain}.acme.example/api\","
    "\"headers\":{\"X-Acme-Version\":\"3\"},"
    "\"auth_schemes\":[{\"type\":\"API_KEY\",\"fields\":["
    "{\"name\":\"subdomain\",\"display_name\":\"Subdomain\",\"secret\":false},"
    "{\"name\":\"api_key\",\"display_name\":\"API key\",\"secret\":true}],"
    "\"inject\":{\"in\":\"header\",\"name\":\"X-Api-Key\",\"format\":\"{api_key}\"},"
    "\"test_request\":{\"method\":\"GET\",\"url\":\"https://{subdomain}.acme.example/api/me\"}}]}";

TEST(override_dir_replaces_and_adds)
{
    char *dir = make_dir();
    ASSERT(dir != NULL);
    ASSERT_EQ(write_file(dir, "gmail.json", local_gmail), 0);
    ASSERT_EQ(write_file(dir, "acme.json", acme), 0);
    ASSERT_EQ(write_file(dir, "acme.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), 0);
    ASSERT_EQ(write_file(dir, "gmail.svg", "<svg id=\"local\"/>"), 0);
    ASSERT_EQ(write_file(dir, "README.txt", "ignored"), 0);
    char err[512];
    ASSERT_EQ(catalog_load(NULL, err, sizeof err), 0);
    size_t shipped = catalog_count();
    int rc = catalog_load(dir, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "  load: %s\n", err);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(catalog_count(), shipped + 1);
    const struct catalog_toolkit *g = catalog_get("gmail");
    ASSERT_STR(g->name, "Gmail (local)");
    ASSERT_STR(catalog_scheme(g, NULL)->authorize_url, "http://127.0.0.1:4455/auth");
    ASSERT_STR(catalog_scheme(g, NULL)->token_auth, "client_secret_post");
    ASSERT_STR(catalog_scheme(g, NULL)->scope_separator, " ");
    const struct catalog_toolkit *t = NULL;
    const json_t *tool = catalog_tool("GMAIL_GET_PROFILE", &t);
    ASSERT(tool != NULL && t == g);
    ASSERT_STR(param(json_object_get(tool, "http"), "path"), "/profile");
    ASSERT(catalog_tool("GMAIL_LIST_MESSAGES", NULL) == NULL);
    ASSERT(catalog_get("github") != NULL);

    const struct catalog_toolkit *a = catalog_get("acme");
    ASSERT(a != NULL);
    ASSERT_STR(param(catalog_headers(a), "X-Acme-Version"), "3");
    const char *data, *type;
    size_t len;
    ASSERT_EQ(catalog_logo("acme.svg", &data, &len, &type), 0);
    ASSERT(strstr(data, "<svg") != NULL);
    ASSERT_EQ(catalog_logo("gmail.svg", &data, &len, &type), 0);
    ASSERT_STR(data, "<svg id=\"local\"/>");
    ASSERT_EQ(catalog_logo("github.svg", &data, &len, &type), 0);

    json_t *f = json_pack("{s:s}", "subdomain", "tenant-1");
    char *url = catalog_expand(a->base_url, f);
    ASSERT_STR(url, "https://tenant-1.acme.example/api");
    free(url);
    json_decref(f);
    catalog_free();
    remove_dir(dir);
}

TEST(missing_dir_is_an_error)
{
    char err[512];
    ASSERT_EQ(catalog_load("/nonexistent/tether-catalog", err, sizeof err), -1);
    ASSERT(strstr(err, "/nonexistent/tether-catalog: cannot open") == err);
    ASSERT_EQ(catalog_count(), 0);
}

/* ---- rejection ------------------------------------------------------------------------------ */

struct bad_case {
    const char *file;
    const char *text;
    const char *expect; /* substring of the message */
};

static const struct bad_case bad_cases[] = {
    {"acme.json", "{\"slug\":\"acme\",\"slug\":\"acme\"}", "duplicate"},
    {"acme.json", "{\"slug\":\"acme\", ", "line 1"},
    {"acme.json", "[1,2]", "one JSON object"},
    {"Acme.json", OAUTH_FILE("Acme", TOKEN_URL, "https://acme.test/auth", ""),
     "slug \"Acme\" must match"},
    {"acme.json", OAUTH_FILE("acme2", TOKEN_URL, "https://acme.test/auth", ""),
     "must equal the file name"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "http://example.com/auth", ""),
     "auth_schemes[0].authorize_url: http:// is only allowed for 127.0.0.1"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "ftp://acme.test/auth", ""), "must start with"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://user@acme.test/auth", ""), "userinfo"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://{host}/auth", ""), "not a declared"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/a b", ""), "spaces"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth#x", ""), "fragment"},
    {"acme.json", OAUTH_FILE("acme", "", "https://acme.test/auth", ""),
     "auth_schemes[0]: missing \"token_url\""},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL ",\"scope_separator\":\";\"",
                             "https://acme.test/auth", ""), "scope_separator"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL ",\"token_auth\":\"private_key_jwt\"",
                             "https://acme.test/auth", ""), "token_auth"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL ",\"colour\":\"red\"", "https://acme.test/auth",
                             ""), "unknown key \"colour\""},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL ",\"authorize_params\":{\"state\":\"x\"}",
                             "https://acme.test/auth", ""), "set by tether"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL ",\"userinfo_url\":\"https://acme.test/me\"",
                             "https://acme.test/auth", ""), "go together"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL ",\"fields\":[{\"name\":\"Sub\",\"display_name\":"
                                               "\"S\"}]", "https://acme.test/auth", ""),
     "field name \"Sub\""},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth",
                             "{\"slug\":\"ACME_X\",\"name\":\"X\",\"description\":\"\","
                             "\"input_parameters\":{\"type\":\"array\",\"properties\":{}},"
                             "\"http\":{\"method\":\"GET\",\"path\":\"/x\"}}"),
     "tools[0].input_parameters: \"type\" must be \"object\""},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth",
                             "{\"slug\":\"ACME_X\",\"name\":\"X\",\"description\":\"\","
                             "\"input_parameters\":{\"type\":\"object\",\"properties\":{},"
                             "\"required\":[1]},\"http\":{\"method\":\"GET\",\"path\":\"/x\"}}"),
     "array of strings"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth",
                             "{\"slug\":\"ACME_X\",\"name\":\"X\",\"description\":\"\","
                             "\"input_parameters\":{\"type\":\"object\",\"properties\":[]},"
                             "\"http\":{\"method\":\"GET\",\"path\":\"/x\"}}"),
     "\"properties\" must be an object"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth",
                             "{\"slug\":\"OTHER_X\",\"name\":\"X\",\"description\":\"\","
                             "\"input_parameters\":{\"type\":\"object\",\"properties\":{}},"
                             "\"http\":{\"method\":\"GET\",\"path\":\"/x\"}}"),
     "start with \"ACME_\""},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth",
                             "{\"slug\":\"ACME_X\",\"name\":\"X\",\"description\":\"\","
                             "\"input_parameters\":{\"type\":\"object\",\"properties\":{}},"
                             "\"http\":{\"method\":\"GET\",\"path\":\"/x/{id}\"}}"),
     "{id} is not an input property"},
    {"acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth",
                             "{\"slug\":\"ACME_X\",\"name\":\"X\",\"description\":\"\","
                             "\"input_parameters\":{\"type\":\"object\",\"properties\":{}},"
                             "\"http\":{\"method\":\"GET\",\"path\":\"/x/../y\"}}"),
     "'..'"},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\",\"logo\":\"../x.svg\","
     "\"base_url\":\"https://a.test\",\"auth_schemes\":[{\"type\":\"NO_AUTH\"}]}",
     "logo \"../x.svg\""},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\",\"logo\":\"nothere.svg\","
     "\"base_url\":\"https://a.test\",\"auth_schemes\":[{\"type\":\"NO_AUTH\"}]}",
     "neither in"},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\",\"base_url\":\"https://a.test\","
     "\"auth_schemes\":[{\"type\":\"MAGIC\"}]}",
     "unknown type \"MAGIC\""},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\",\"base_url\":\"https://a.test\","
     "\"auth_schemes\":[]}",
     "auth_schemes"},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\","
     "\"base_url\":\"https://{subdomain}.com\",\"auth_schemes\":[{\"type\":\"API_KEY\","
     "\"fields\":[{\"name\":\"subdomain\",\"display_name\":\"S\"}],"
     "\"inject\":{\"in\":\"query\",\"name\":\"k\",\"format\":\"{subdomain}\"}}]}",
     "fixed domain"},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\",\"base_url\":\"https://a.test\","
     "\"auth_schemes\":[{\"type\":\"API_KEY\",\"fields\":[{\"name\":\"api_key\","
     "\"display_name\":\"K\"}],"
     "\"inject\":{\"in\":\"header\",\"name\":\"X\",\"format\":\"{key}\"}}]}",
     "placeholder {key} is not a declared field"},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\",\"base_url\":\"https://a.test\","
     "\"headers\":{\"Authorization\":\"x\"},\"auth_schemes\":[{\"type\":\"NO_AUTH\"}]}",
     "cannot be a fixed header"},
    {"acme.json",
     "{\"slug\":\"acme\",\"name\":\"A\",\"description\":\"\",\"base_url\":\"https://a.test\","
     "\"auth_schemes\":[{\"type\":\"BASIC\",\"fields\":[{\"name\":\"user\","
     "\"display_name\":\"U\"}]}]}",
     "\"username\" and \"password\""},
};

TEST(invalid_files_rejected)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char err[512] = "";
        int rc = load_one(bad_cases[i].file, bad_cases[i].text, err, sizeof err);
        if (rc != -1)
            FAIL_AT("case %zu (%s) loaded (rc %d)", i, bad_cases[i].expect, rc);
        char head[64];
        snprintf(head, sizeof head, "/%s: ", bad_cases[i].file);
        if (strstr(err, head) == NULL || strstr(err, bad_cases[i].expect) == NULL)
            FAIL_AT("case %zu: message \"%s\" lacks \"%s\"", i, err, bad_cases[i].expect);
        ASSERT_EQ(catalog_count(), 0);
    }
}

TEST(valid_minimal_file_loads)
{
    char err[512] = "";
    int rc = load_one("acme.json", OAUTH_FILE("acme", TOKEN_URL, "https://acme.test/auth", ""),
                      err, sizeof err);
    if (rc != 0)
        FAIL_AT("rejected: %s", err);
    const struct catalog_toolkit *t = catalog_get("acme");
    ASSERT(t != NULL);
    ASSERT_STR(t->logo, "");
    ASSERT(t->categories != NULL && t->categories[0] == NULL);
    ASSERT_EQ(json_array_size(t->tools), 0);
    catalog_free();
}

/* ---- expansion ------------------------------------------------------------------------------ */

static char *
expand1(const char *tmpl, const char *name, const char *value)
{
    json_t *f = json_object();
    json_object_set_new(f, name, json_string(value));
    char *out = catalog_expand(tmpl, f);
    json_decref(f);
    return out;
}

TEST(expand_good_values)
{
    char *s = expand1("https://{subdomain}.zendesk.com/api/v2", "subdomain", "acme");
    ASSERT_STR(s, "https://acme.zendesk.com/api/v2");
    free(s);
    s = expand1("https://api.atlassian.com/ex/jira/{cloud_id}", "cloud_id",
                "11223344-a1b2-3b33-c444-def123456789");
    ASSERT_STR(s, "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789");
    free(s);
    s = expand1("/item/{id}.json", "id", "8863");
    ASSERT_STR(s, "/item/8863.json");
    free(s);
    s = expand1("/x/{a}", "a", "v1.2_beta-3");
    ASSERT_STR(s, "/x/v1.2_beta-3");
    free(s);
    s = catalog_expand("https://api.github.com/user", NULL);
    ASSERT_STR(s, "https://api.github.com/user");
    free(s);
    json_t *f = json_pack("{s:s,s:s}", "owner", "octo", "repo", "hello");
    s = catalog_expand("/repos/{owner}/{repo}/issues", f);
    ASSERT_STR(s, "/repos/octo/hello/issues");
    free(s);
    json_decref(f);
    char hundred[101];
    memset(hundred, 'a', 100);
    hundred[100] = '\0';
    s = expand1("/{x}", "x", hundred);
    ASSERT(s != NULL && strlen(s) == 101);
    free(s);
}

TEST(expand_hostile_values)
{
    static const char *const bad[] = {"evil.com/x", "a@b", "..", ".", "", "a/../b", "a..b",
                                      "a b",        "a%2f", "a?b", "a#b", "a\r\nb", "é", "{x}",
                                      NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        char *s = expand1("https://{subdomain}.zendesk.com/api", "subdomain", bad[i]);
        if (s != NULL)
            FAIL_AT("value \"%s\" accepted: %s", bad[i], s);
    }
    char long_value[102];
    memset(long_value, 'a', 101);
    long_value[101] = '\0';
    ASSERT(expand1("/{x}", "x", long_value) == NULL);
    ASSERT(expand1("/{x}", "y", "fine") == NULL);
    json_t *f = json_pack("{s:i}", "x", 5);
    ASSERT(catalog_expand("/{x}", f) == NULL);
    json_decref(f);
    ASSERT(catalog_expand("/{x}", NULL) == NULL);
    ASSERT(expand1("/{x", "x", "a") == NULL);
    ASSERT(expand1("/x}", "x", "a") == NULL);
    ASSERT(catalog_expand(NULL, NULL) == NULL);
}

TEST(expand_origin_rule)
{
    char *s = expand1("{instance_url}/services/data", "instance_url",
                      "https://acme.my.salesforce.com");
    ASSERT_STR(s, "https://acme.my.salesforce.com/services/data");
    free(s);
    s = expand1("{instance_url}", "instance_url", "https://na1.salesforce.com/");
    ASSERT_STR(s, "https://na1.salesforce.com");
    free(s);
    s = expand1("{instance_url}/x", "instance_url", "http://127.0.0.1:8443");
    ASSERT_STR(s, "http://127.0.0.1:8443/x");
    free(s);
    static const char *const bad[] = {"https://evil.com/x",     "https://a@b.com",
                                      "http://evil.com",        "javascript:alert(1)",
                                      "https://",               "https://a..b.com",
                                      "https://a.com:99999",    "https://a.com?x=1",
                                      "https://a.com#f",        "na1.salesforce.com",
                                      "https://a.com\r\nX: y", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        s = expand1("{instance_url}/services", "instance_url", bad[i]);
        if (s != NULL)
            FAIL_AT("origin \"%s\" accepted: %s", bad[i], s);
    }
    /* Only a leading placeholder gets the origin rule. */
    ASSERT(expand1("https://x.test/{next_url}", "next_url", "https://a.com") == NULL);
}

/* ---- credentials ---------------------------------------------------------------------------- */

static char *
basic_of(const char *user, const char *pass)
{
    char pair[256];
    snprintf(pair, sizeof pair, "%s:%s", user, pass);
    char b64[512];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)pair, strlen(pair),
                      sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(strlen(b64) + 7);
    snprintf(out, strlen(b64) + 7, "Basic %s", b64);
    return out;
}

TEST(credential_formats)
{
    char err[512];
    ASSERT_EQ(catalog_load(NULL, err, sizeof err), 0);
    json_t *c = json_pack("{s:s}", "access_token", "ya29.tok-en");
    char *v = catalog_credential(catalog_scheme(catalog_get("gmail"), NULL), c);
    ASSERT_STR(v, "Bearer ya29.tok-en");
    free(v);
    json_decref(c);

    c = json_pack("{s:s,s:s}", "username", "AC123", "password", "s3cr:et");
    v = catalog_credential(catalog_scheme(catalog_get("twilio"), NULL), c);
    char *want = basic_of("AC123", "s3cr:et");
    ASSERT_STR(v, want);
    free(v);
    free(want);
    json_decref(c);

    c = json_pack("{s:s,s:s,s:s}", "subdomain", "acme", "email", "a@b.test", "api_token", "TOK");
    v = catalog_credential(catalog_scheme(catalog_get("zendesk"), NULL), c);
    want = basic_of("a@b.test/token", "TOK");
    ASSERT_STR(v, want);
    free(v);
    free(want);
    json_decref(c);

    c = json_pack("{s:s}", "api_key", "k&y=1");
    v = catalog_credential(catalog_scheme(catalog_get("openweathermap"), NULL), c);
    ASSERT_STR(v, "k&y=1");
    free(v);
    json_decref(c);

    c = json_pack("{s:s}", "access_token", "tok\r\nX-Evil: 1");
    ASSERT(catalog_credential(catalog_scheme(catalog_get("gmail"), NULL), c) == NULL);
    json_decref(c);
    c = json_pack("{s:s}", "username", "a:b");
    json_object_set_new(c, "password", json_string("p"));
    ASSERT(catalog_credential(catalog_scheme(catalog_get("twilio"), NULL), c) == NULL);
    json_decref(c);
    c = json_object();
    ASSERT(catalog_credential(catalog_scheme(catalog_get("gmail"), NULL), c) == NULL);
    ASSERT(catalog_credential(catalog_scheme(catalog_get("hackernews"), NULL), c) == NULL);
    json_decref(c);
    catalog_free();
}

/* ---- logos ---------------------------------------------------------------------------------- */

TEST(logo_lookup_rejects_path_tricks)
{
    char err[512];
    ASSERT_EQ(catalog_load(NULL, err, sizeof err), 0);
    const char *data = NULL, *type = NULL;
    size_t len = 0;
    ASSERT_EQ(catalog_logo("gmail.svg", &data, &len, &type), 0);
    ASSERT_STR(type, "image/svg+xml");
    ASSERT(len == strlen(data));
    static const char *const bad[] = {"../gmail.svg",     "gmail.svg/..",   "/etc/passwd",
                                      "logos/gmail.svg", "GMAIL.svg",      "gmail.svgz",
                                      "gmail.SVG",       "",               ".svg",
                                      "gmail",           "gmail.json",     "..svg",
                                      "gm ail.svg",      "gmail.svg\n",    "nothere.svg",
                                      "catalog/logos/gmail.svg", NULL};
    for (size_t i = 0; bad[i] != NULL; i++)
        if (catalog_logo(bad[i], &data, &len, &type) != -1)
            FAIL_AT("logo \"%s\" served", bad[i]);
    char longname[80];
    memset(longname, 'a', 65);
    memcpy(longname + 65, ".svg", 5);
    ASSERT_EQ(catalog_logo(longname, &data, &len, &type), -1);
    ASSERT_EQ(catalog_logo(NULL, &data, &len, &type), -1);
    catalog_free();
}

TEST_MAIN()
