/* jsonrpc.h -- JSON-RPC 2.0 messages as MCP's Streamable HTTP carries them: parsing a POST body
 * into messages, checking each one, and building responses. Pure functions over jansson values,
 * with no I/O, so the parser can be fuzzed on its own (fuzz/fuzz_jsonrpc.c). */
#ifndef TETHER_MCP_JSONRPC_H
#define TETHER_MCP_JSONRPC_H
#include <jansson.h>
#include <stddef.h>

#define RPC_PARSE_ERROR (-32700)
#define RPC_INVALID_REQUEST (-32600)
#define RPC_METHOD_NOT_FOUND (-32601)
#define RPC_INVALID_PARAMS (-32602)
#define RPC_INTERNAL_ERROR (-32603)

/* {"jsonrpc":"2.0","id":id|null,"result":result}; consumes result, not id. Never NULL. */
json_t *jsonrpc_result(json_t *id, json_t *result);
/* {"jsonrpc":"2.0","id":id|null,"error":{"code","message"}}; the message is cut to valid UTF-8.
 * Never NULL. */
json_t *jsonrpc_error(json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses a POST body: one message or a batch of 1..max_batch. 0 with *msgs (a new array of the
 * messages) and *batch (the body was an array), or -1 with *err, the error response to send. */
int jsonrpc_parse(const char *data, size_t len, size_t max_batch, json_t **msgs, int *batch,
                  json_t **err);
/* Checks one message. 0 and *id / *method (borrowed from msg) for a request (*id NULL: a
 * notification), 1 for a message that needs no answer (a client's response), or -1 and *err. */
int jsonrpc_classify(json_t *msg, json_t **id, const char **method, json_t **err);

#endif
