/* test_common_buf.c -- the capped buffer (buf.h) and strict UTF-8 validation (utf8.h). */
#include "common/buf.h"
#include "common/utf8.h"
#include "harness/test.h"

#include <stdint.h>

TEST(buf_append_and_take)
{
    struct buf b;
    buf_init(&b, 100);
    ASSERT_EQ(buf_puts(&b, "hello"), 0);
    ASSERT_EQ(buf_append(&b, ", ", 2), 0);
    ASSERT_EQ(buf_printf(&b, "%s %d", "world", 42), 0);
    ASSERT_EQ(b.len, 15);
    ASSERT_STR(b.data, "hello, world 42");
    char *s = buf_take(&b);
    ASSERT_STR(s, "hello, world 42");
    ASSERT(b.data == NULL);
    ASSERT_EQ(b.len, 0);
    ASSERT_EQ(b.max, 100);
    free(s);
    buf_free(&b);
}

TEST(buf_take_empty_is_empty_string)
{
    struct buf b;
    buf_init(&b, 10);
    char *s = buf_take(&b);
    ASSERT(s != NULL);
    ASSERT_STR(s, "");
    free(s);
}

TEST(buf_zero_length_append_terminates)
{
    struct buf b;
    buf_init(&b, 10);
    ASSERT_EQ(buf_append(&b, "", 0), 0);
    ASSERT(b.data != NULL);
    ASSERT_STR(b.data, "");
    buf_free(&b);
}

TEST(buf_cap_is_exact)
{
    struct buf b;
    buf_init(&b, 8);
    ASSERT_EQ(buf_puts(&b, "12345678"), 0);
    ASSERT_EQ(buf_puts(&b, "9"), -1);
    ASSERT_EQ(b.len, 8);
    ASSERT_STR(b.data, "12345678");
    ASSERT_EQ(buf_append(&b, "", 0), 0);
    buf_free(&b);
}

TEST(buf_failed_append_leaves_buffer_unchanged)
{
    struct buf b;
    buf_init(&b, 10);
    ASSERT_EQ(buf_puts(&b, "abcdef"), 0);
    ASSERT_EQ(buf_puts(&b, "ghijk"), -1);
    ASSERT_EQ(buf_printf(&b, "%s", "toolong"), -1);
    ASSERT_EQ(b.len, 6);
    ASSERT_STR(b.data, "abcdef");
    ASSERT_EQ(buf_printf(&b, "%d", 1234), 0);
    ASSERT_STR(b.data, "abcdef1234");
    buf_free(&b);
}

TEST(buf_huge_append_rejected_without_overflow)
{
    struct buf b;
    buf_init(&b, SIZE_MAX);
    ASSERT_EQ(buf_puts(&b, "x"), 0);
    ASSERT_EQ(buf_append(&b, "y", SIZE_MAX), -1);
    ASSERT_EQ(buf_append(&b, "y", SIZE_MAX - 1), -1);
    ASSERT_STR(b.data, "x");
    buf_free(&b);
}

TEST(buf_grows_through_many_appends)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        ASSERT_EQ(buf_printf(&b, "%04d", i % 10000), 0);
    ASSERT_EQ(b.len, 40000);
    ASSERT(memcmp(b.data + 39996, "9999", 4) == 0);
    ASSERT(b.cap <= (1 << 20) + 1);
    buf_free(&b);
}

TEST(buf_free_is_safe_twice_and_on_zeroed)
{
    struct buf b = {0};
    buf_free(&b);
    buf_init(&b, 4);
    ASSERT_EQ(buf_puts(&b, "ab"), 0);
    buf_free(&b);
    buf_free(&b);
    ASSERT(b.data == NULL);
}

TEST(buf_zeroed_rejects_appends)
{
    struct buf b = {0};
    ASSERT_EQ(buf_puts(&b, "a"), -1);
    buf_free(&b);
}

TEST(utf8_accepts_valid)
{
    ASSERT(utf8_valid("", 0));
    ASSERT(utf8_valid("hello", 5));
    ASSERT(utf8_valid("caf\xc3\xa9", 5));      /* é */
    ASSERT(utf8_valid("\xe2\x82\xac", 3));     /* € */
    ASSERT(utf8_valid("\xf0\x9f\x98\x80", 4)); /* emoji */
    ASSERT(utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    ASSERT(utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF */
    ASSERT(utf8_valid("\xee\x80\x80", 3));     /* U+E000 */
    ASSERT(utf8_valid("\xc2\x80", 2));         /* U+0080 */
}

TEST(utf8_rejects_invalid)
{
    ASSERT(!utf8_valid("a\0b", 3));             /* NUL */
    ASSERT(!utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    ASSERT(!utf8_valid("\xc1\xbf", 2));         /* overlong */
    ASSERT(!utf8_valid("\xe0\x80\xaf", 3));     /* overlong 3-byte */
    ASSERT(!utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong 4-byte */
    ASSERT(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate U+D800 */
    ASSERT(!utf8_valid("\xed\xbf\xbf", 3));     /* surrogate U+DFFF */
    ASSERT(!utf8_valid("\xf4\x90\x80\x80", 4)); /* U+110000 */
    ASSERT(!utf8_valid("\xf5\x80\x80\x80", 4));
    ASSERT(!utf8_valid("\xff", 1));
    ASSERT(!utf8_valid("\x80", 1)); /* lone continuation */
    ASSERT(!utf8_valid("\xc3", 1)); /* truncated */
    ASSERT(!utf8_valid("\xe2\x82", 2));
    ASSERT(!utf8_valid("\xf0\x9f\x98", 3));
    ASSERT(!utf8_valid("\xe2\x28\xa1", 3)); /* bad continuation */
    ASSERT(!utf8_valid("\xf0\x9f\x98\x28", 4));
}

TEST(utf8_respects_length)
{
    ASSERT(utf8_valid("ab\xc3\xa9", 2));
    ASSERT(!utf8_valid("ab\xc3\xa9", 3));
    ASSERT(utf8_valid("ab\xc3\xa9", 4));
}

TEST_MAIN()
