/* test.h -- the unit-test harness: TEST() cases registered in a table, ASSERT macros that print both
 * sides, and a closing "N passed, N failed" line. A test file defines its cases with TEST(name) and
 * ends with TEST_MAIN(). A failing ASSERT ends only the current case. */
#ifndef TETHER_TEST_H
#define TETHER_TEST_H
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

typedef void (*test_fn)(int *failed);
struct test_case {
    const char *name;
    test_fn fn;
};
#define TEST_MAX 256
static struct test_case test_cases[TEST_MAX];
static int test_count;

#define TEST(name)                                                                                 \
    static void test_##name(int *failed);                                                          \
    __attribute__((constructor)) static void reg_##name(void)                                      \
    {                                                                                              \
        if (test_count < TEST_MAX)                                                                 \
            test_cases[test_count++] = (struct test_case){#name, test_##name};                     \
    }                                                                                              \
    static void test_##name(int *failed)

#define FAIL_AT(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        *failed = 1;                                                                               \
        return;                                                                                    \
    } while (0)

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            FAIL_AT("assertion failed: %s", #c);                                                   \
    } while (0)
#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            FAIL_AT("%s == %s: %lld != %lld", #a, #b, a_, b_);                                     \
    } while (0)
#define ASSERT_STR(a, b)                                                                           \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    } while (0)

#define TEST_MAIN()                                                                                \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        int passed = 0, nfailed = 0;                                                               \
        for (int i = 0; i < test_count; i++) {                                                     \
            if (argc > 1 && strstr(test_cases[i].name, argv[1]) == NULL)                           \
                continue;                                                                          \
            int failed = 0;                                                                        \
            test_cases[i].fn(&failed);                                                             \
            printf("%s %s\n", failed ? "FAIL" : "ok  ", test_cases[i].name);                       \
            if (failed)                                                                            \
                nfailed++;                                                                         \
            else                                                                                   \
                passed++;                                                                          \
        }                                                                                          \
        printf("%d passed, %d failed\n", passed, nfailed);                                         \
        return nfailed ? 1 : 0;                                                                    \
    }

#endif
