/* fuzz_form.c -- form_parse and url_decode on arbitrary bytes (request bodies, query strings). */
#include "common/url.h"
#include "common/utf8.h"
#include "fuzz.h"

static void
check_list(const struct kv_list *l)
{
    FUZZ_CHECK(l->n <= URL_MAX_PAIRS);
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->items[i].key, *v = l->items[i].val;
        FUZZ_CHECK(k != NULL && v != NULL);
        FUZZ_CHECK(utf8_valid(k, strlen(k)));
        FUZZ_CHECK(utf8_valid(v, strlen(v)));
        FUZZ_CHECK(kv_get(l, k) != NULL);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct kv_list l = {NULL, 0};
    if (form_parse(s, size, &l) == 0) {
        check_list(&l);
        kv_list_free(&l);
    } else {
        FUZZ_CHECK(l.items == NULL && l.n == 0);
    }
    for (int plus = 0; plus < 2; plus++) {
        char *d = url_decode(s, size, plus);
        if (d != NULL)
            FUZZ_CHECK(strlen(d) <= size);
        free(d);
    }
    return 0;
}
