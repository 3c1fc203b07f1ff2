/* fuzz_jsonrpc.c -- the MCP endpoint's JSON-RPC parsing: a POST body through jsonrpc_parse, then
 * every message through jsonrpc_classify. Whatever the input, each outcome must be a response
 * that encodes (never NULL, valid JSON text) or a well-formed request. */
#include "fuzz.h"
#include "mcp/jsonrpc.h"

static void
check_response(json_t *r)
{
    FUZZ_CHECK(r != NULL);
    FUZZ_CHECK(json_is_object(json_object_get(r, "error")));
    char *text = json_dumps(r, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
    json_decref(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *msgs = NULL, *err = NULL;
    int batch = 0;
    if (jsonrpc_parse((const char *)data, size, 32, &msgs, &batch, &err) != 0) {
        check_response(err);
        return 0;
    }
    FUZZ_CHECK(json_is_array(msgs) && json_array_size(msgs) >= 1 && json_array_size(msgs) <= 32);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        json_t *id = NULL, *e = NULL;
        const char *method = NULL;
        int k = jsonrpc_classify(m, &id, &method, &e);
        if (k < 0)
            check_response(e);
        else if (k == 0) {
            FUZZ_CHECK(method != NULL);
            /* an error naming the method must still encode, however it is cut */
            check_response(jsonrpc_error(id, RPC_METHOD_NOT_FOUND, "method '%.100s'", method));
        }
    }
    json_decref(msgs);
    return 0;
}
