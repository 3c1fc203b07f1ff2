/* test_common_ids.c -- random ids, secret tokens and word ids (ids.h). */
#include "common/ids.h"
#include "harness/test.h"

static int
all_alnum(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

static int
all_b64url(const char *s)
{
    for (; *s; s++)
        if (!(all_alnum((char[]){*s, 0}) || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

TEST(ids_new_shape)
{
    char id[IDS_MAX];
    ids_new(id, sizeof(id), "ca_");
    ASSERT_EQ(strlen(id), 15);
    ASSERT(strncmp(id, "ca_", 3) == 0);
    ASSERT(all_alnum(id + 3));
    ASSERT(ids_valid(id, "ca_"));
}

TEST(ids_new_exact_buffer)
{
    char id[16];
    ids_new(id, sizeof(id), "ca_");
    ASSERT_EQ(strlen(id), 15);
    char small[15];
    ids_new(small, sizeof(small), "ca_");
    ASSERT_STR(small, "");
}

TEST(ids_new_unique)
{
    char a[IDS_MAX], b[IDS_MAX];
    for (int i = 0; i < 1000; i++) {
        ids_new(a, sizeof(a), "x_");
        ids_new(b, sizeof(b), "x_");
        ASSERT(strcmp(a, b) != 0);
    }
}

TEST(ids_token_shape)
{
    char tok[IDS_MAX];
    ids_token(tok, sizeof(tok), "tk_live_");
    ASSERT_EQ(strlen(tok), 8 + 43);
    ASSERT(strncmp(tok, "tk_live_", 8) == 0);
    ASSERT(all_b64url(tok + 8));
    ASSERT(ids_valid(tok, "tk_live_"));
    char t2[IDS_MAX];
    ids_token(t2, sizeof(t2), "tk_live_");
    ASSERT(strcmp(tok, t2) != 0);
}

TEST(ids_token_buffer_sizes)
{
    char exact[3 + 44];
    ids_token(exact, sizeof(exact), "ln_");
    ASSERT_EQ(strlen(exact), 46);
    char small[3 + 43];
    ids_token(small, sizeof(small), "ln_");
    ASSERT_STR(small, "");
    char none[1] = {'Z'};
    ids_token(none, 0, "ln_");
    ASSERT(none[0] == 'Z');
}

TEST(ids_token_empty_prefix)
{
    char tok[IDS_MAX];
    ids_token(tok, sizeof(tok), "");
    ASSERT_EQ(strlen(tok), 43);
    ids_new(tok, sizeof(tok), NULL);
    ASSERT_EQ(strlen(tok), 12);
}

TEST(ids_word_shape)
{
    char w[IDS_MAX];
    ids_word(w, sizeof(w), "gmail");
    ASSERT(strncmp(w, "gmail_", 6) == 0);
    const char *dash = strchr(w + 6, '-');
    ASSERT(dash != NULL);
    ASSERT(dash > w + 6);
    ASSERT(dash[1] != '\0');
    for (const char *p = w + 6; *p; p++)
        ASSERT((*p >= 'a' && *p <= 'z') || *p == '-');
    ASSERT(ids_valid(w, "gmail_"));
}

TEST(ids_word_varies)
{
    char a[IDS_MAX], b[IDS_MAX];
    int differ = 0;
    for (int i = 0; i < 50 && !differ; i++) {
        ids_word(a, sizeof(a), "github");
        ids_word(b, sizeof(b), "github");
        differ = strcmp(a, b) != 0;
    }
    ASSERT(differ);
}

TEST(ids_word_small_buffer)
{
    char w[8];
    ids_word(w, sizeof(w), "googlecalendar");
    ASSERT_STR(w, "");
}

TEST(ids_valid_rejects)
{
    ASSERT(ids_valid("ca_abc", "ca_"));
    ASSERT(ids_valid("ca_a-b_C9", "ca_"));
    ASSERT(!ids_valid("ca_", "ca_"));
    ASSERT(!ids_valid("ln_abc", "ca_"));
    ASSERT(!ids_valid("ca", "ca_"));
    ASSERT(!ids_valid("ca_ab c", "ca_"));
    ASSERT(!ids_valid("ca_ab/c", "ca_"));
    ASSERT(!ids_valid("ca_ab%2f", "ca_"));
    ASSERT(!ids_valid("ca_\xc3\xa9", "ca_"));
    ASSERT(!ids_valid("ca_abc'; DROP TABLE x;--", "ca_"));
    ASSERT(!ids_valid(NULL, "ca_"));
    ASSERT(!ids_valid("ca_x", NULL));
    char long_id[80];
    memcpy(long_id, "ca_", 3);
    memset(long_id + 3, 'a', 60);
    long_id[63] = '\0';
    ASSERT(ids_valid(long_id, "ca_"));
    long_id[63] = 'a';
    long_id[64] = '\0';
    ASSERT(!ids_valid(long_id, "ca_"));
}

TEST_MAIN()
