/* fuzz.h -- helpers shared by the libFuzzer drivers in this folder.
 * A driver is one file fuzz_<name>.c defining LLVMFuzzerTestOneInput; it checks invariants with
 * FUZZ_CHECK, which aborts so that libFuzzer records the input as a crash. */
#ifndef TETHER_FUZZ_H
#define TETHER_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a NUL-terminated string (cut at its first NUL, if any); free() it. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
