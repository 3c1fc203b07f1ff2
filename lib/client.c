/* client.c -- the client handle: options and their environment defaults, curl's one-time global
 * set-up, the shared connection cache and its locks, and the version. */
#include <stdlib.h>
#include <string.h>

#include "tether_int.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.1.0"
#endif

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* Once per process: curl's global state, and jansson's hash seed (set here, before any thread
 * makes a JSON object, rather than lazily by whichever thread comes first). */
static void
global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object_seed(0);
}

const char *
tether_version(void)
{
    return TETHER_VERSION;
}

void
tether_client_options_init(tether_client_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->connect_timeout_ms = 10000;
    opts->request_timeout_ms = 60000;
}

/* First non-empty of the option and two environment variables, or fallback. */
static const char *
pick(const char *opt, const char *env1, const char *env2, const char *fallback)
{
    if (opt != NULL && opt[0])
        return opt;
    const char *v = getenv(env1);
    if (v != NULL && v[0])
        return v;
    v = getenv(env2);
    if (v != NULL && v[0])
        return v;
    return fallback;
}

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
    tether_client *c = userp;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&c->locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *userp)
{
    tether_client *c = userp;
    if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&c->locks[data]);
}

static int
make_share(tether_client *c)
{
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    pthread_mutex_init(&c->pool_mu, NULL);
    c->share = curl_share_init();
    if (c->share == NULL)
        return -1;
    CURLSHcode sc = CURLSHE_OK;
    sc |= curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    sc |= curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    sc |= curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    sc |= curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    sc |= curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return sc == CURLSHE_OK ? 0 : -1;
}

/* Validates and copies the resolved strings into c. 0 or a code. */
static int
set_strings(tether_client *c, const char *base, const char *key, const char *agent)
{
    if (key == NULL)
        return tether__fail(TETHER_EINVAL, "no API key: set TETHER_API_KEY (or COMPOSIO_API_KEY)");
    if (tether__check_arg(key, "API key") != 0 || tether__check_arg(base, "base URL") != 0)
        return TETHER_EINVAL;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return tether__fail(TETHER_EINVAL, "base URL '%s' is not http:// or https://", base);
    if (strpbrk(key, "\r\n") != NULL)
        return tether__fail(TETHER_EINVAL, "the API key contains a line break");
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    c->base_url = strndup(base, n);
    c->api_key = strdup(key);
    c->user_agent = strdup(agent);
    if (c->base_url == NULL || c->api_key == NULL || c->user_agent == NULL)
        return tether__fail(TETHER_ENOMEM, "out of memory");
    return 0;
}

tether_client *
tether_client_new(const tether_client_options *opts)
{
    tether_client_options defaults;
    if (opts == NULL) {
        tether_client_options_init(&defaults);
        opts = &defaults;
    }
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        tether__fail(TETHER_ENOMEM, "curl_global_init failed: %s", curl_easy_strerror(global_rc));
        return NULL;
    }
    tether_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        tether__fail(TETHER_ENOMEM, "out of memory");
        return NULL;
    }
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    c->request_timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 60000;
    const char *base =
        pick(opts->base_url, "TETHER_BASE_URL", "COMPOSIO_BASE_URL", TETHER_DEFAULT_BASE_URL);
    const char *key = pick(opts->api_key, "TETHER_API_KEY", "COMPOSIO_API_KEY", NULL);
    const char *agent = opts->user_agent ? opts->user_agent : "libtether/" TETHER_VERSION;
    if (make_share(c) != 0) {
        tether__fail(TETHER_ENOMEM, "cannot create curl's share object");
        tether_client_free(c);
        return NULL;
    }
    if (set_strings(c, base, key, agent) != 0) {
        tether_client_free(c);
        return NULL;
    }
    return c;
}

void
tether_client_free(tether_client *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    pthread_mutex_destroy(&c->pool_mu);
    if (c->api_key != NULL) {
        explicit_bzero(c->api_key, strlen(c->api_key));
        free(c->api_key);
    }
    free(c->base_url);
    free(c->user_agent);
    free(c);
}

const char *
tether_client_base_url(const tether_client *c)
{
    return c ? c->base_url : NULL;
}
