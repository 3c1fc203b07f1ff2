#include "mcp/jsonrpc.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "common/utf8.h"

json_t *
jsonrpc_result(json_t *id, json_t *result)
{
    json_t *r = json_pack("{ss sO so}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result",
                          result ? result : json_object());
    return r ? r : jsonrpc_error(id, RPC_INTERNAL_ERROR, "the result could not be encoded");
}

json_t *
jsonrpc_error(json_t *id, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A %.Ns cut may split a UTF-8 sequence: drop bytes from the end until the text is valid. */
    size_t n = strlen(msg);
    while (n > 0 && !utf8_valid(msg, n))
        msg[--n] = '\0';
    json_t *e = json_pack("{ss sO s{si ss}}", "jsonrpc", "2.0", "id",
                          id && (json_is_string(id) || json_is_integer(id)) ? id : json_null(),
                          "error", "code", code, "message", msg);
    return e ? e
             : json_pack("{ss sn s{si ss}}", "jsonrpc", "2.0", "id", "error", "code", code,
                         "message", "error");
}

int
jsonrpc_parse(const char *data, size_t len, size_t max_batch, json_t **msgs, int *batch,
              json_t **err)
{
    json_error_t je;
    json_t *body = json_loadb(data ? data : "", len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (body == NULL) {
        *err = jsonrpc_error(NULL, RPC_PARSE_ERROR, "parse error: %.200s", je.text);
        return -1;
    }
    *batch = json_is_array(body);
    size_t n = *batch ? json_array_size(body) : 1;
    if (n == 0 || n > max_batch) {
        json_decref(body);
        *err = n == 0 ? jsonrpc_error(NULL, RPC_INVALID_REQUEST, "an empty batch is not a request")
                      : jsonrpc_error(NULL, RPC_INVALID_REQUEST,
                                      "a batch may hold at most %zu messages", max_batch);
        return -1;
    }
    *msgs = *batch ? body : json_pack("[o]", body);
    if (*msgs == NULL) {
        *err = jsonrpc_error(NULL, RPC_INTERNAL_ERROR, "out of memory");
        return -1;
    }
    return 0;
}

int
jsonrpc_classify(json_t *msg, json_t **id, const char **method, json_t **err)
{
    *id = NULL;
    *method = NULL;
    if (!json_is_object(msg)) {
        *err = jsonrpc_error(NULL, RPC_INVALID_REQUEST, "a message must be a JSON object");
        return -1;
    }
    json_t *v = json_object_get(msg, "jsonrpc"), *m = json_object_get(msg, "method");
    json_t *i = json_object_get(msg, "id");
    int id_ok = i == NULL || json_is_string(i) || json_is_integer(i);
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
        *err = jsonrpc_error(id_ok ? i : NULL, RPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
        return -1;
    }
    if (m == NULL && i != NULL &&
        (json_object_get(msg, "result") != NULL || json_object_get(msg, "error") != NULL))
        return 1;
    if (!id_ok) {
        *err = jsonrpc_error(NULL, RPC_INVALID_REQUEST, "\"id\" must be a string or an integer");
        return -1;
    }
    if (!json_is_string(m)) {
        *err = jsonrpc_error(i, RPC_INVALID_REQUEST, "\"method\" must be a string");
        return -1;
    }
    json_t *p = json_object_get(msg, "params");
    if (p != NULL && !json_is_object(p) && !json_is_array(p)) {
        *err = jsonrpc_error(i, RPC_INVALID_REQUEST, "\"params\" must be an object");
        return -1;
    }
    *id = i;
    *method = json_string_value(m);
    return 0;
}
