/* test_vault.c -- sealing, opening, key files, rotation and lookup hashes. */
#include "harness/test.h"
#include "vault/vault.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_A "1111111111111111111111111111111111111111111111111111111111111111"
#define KEY_B "2222222222222222222222222222222222222222222222222222222222222222"
#define KEY_H "abababababababababababababababababababababababababababababababab"

/* A fresh private directory under TMPDIR; the caller removes it with rm_dir. */
static void
make_dir(char *out, size_t len)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(out, len, "%s/tether-vault-XXXXXX", base);
    if (mkdtemp(out) == NULL)
        out[0] = '\0';
}

static void
rm_dir(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/master.key", dir);
    unlink(path);
    rmdir(dir);
}

static int
write_file(const char *dir, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/master.key", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    fclose(f);
    return chmod(path, mode);
}

static struct vault *
open_text(const char *text)
{
    struct vault *v = NULL;
    char err[256];
    if (vault_open(NULL, text, &v, err, sizeof err) != 0)
        fprintf(stderr, "  vault_open: %s\n", err);
    return v;
}

TEST(vault_round_trip)
{
    struct vault *v = open_text("hash " KEY_H "\n1 " KEY_A "\n");
    ASSERT(v != NULL);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    ASSERT_EQ(vault_seal(v, "ca_1|access_token", "secret-token", 12, &ct, &ctlen), 0);
    ASSERT_EQ(ctlen, 1 + 24 + 12 + 16);
    ASSERT_EQ(ct[0], 1);
    char *pt = NULL;
    size_t ptlen = 0;
    ASSERT_EQ(vault_unseal(v, "ca_1|access_token", ct, ctlen, &pt, &ptlen), 0);
    ASSERT_EQ(ptlen, 12);
    ASSERT_STR(pt, "secret-token");
    vault_free_secret(pt, ptlen);

    /* two seals of the same value differ (random nonces) */
    unsigned char *ct2 = NULL;
    size_t ct2len = 0;
    ASSERT_EQ(vault_seal(v, "ca_1|access_token", "secret-token", 12, &ct2, &ct2len), 0);
    ASSERT(memcmp(ct, ct2, ctlen) != 0);
    free(ct2);
    free(ct);
    vault_close(v);
}

TEST(vault_empty_value)
{
    struct vault *v = open_text("hash " KEY_H "\n1 " KEY_A "\n");
    ASSERT(v != NULL);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    ASSERT_EQ(vault_seal(v, "x", "", 0, &ct, &ctlen), 0);
    char *pt = NULL;
    size_t ptlen = 9;
    ASSERT_EQ(vault_unseal(v, "x", ct, ctlen, &pt, &ptlen), 0);
    ASSERT_EQ(ptlen, 0);
    ASSERT_STR(pt, "");
    vault_free_secret(pt, ptlen);
    free(ct);
    vault_close(v);
}

TEST(vault_tamper_and_context)
{
    struct vault *v = open_text("hash " KEY_H "\n1 " KEY_A "\n");
    ASSERT(v != NULL);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    char *pt = NULL;
    size_t ptlen = 0;
    ASSERT_EQ(vault_seal(v, "row-1", "hello", 5, &ct, &ctlen), 0);
    ASSERT_EQ(vault_unseal(v, "row-2", ct, ctlen, &pt, &ptlen), -1);
    ASSERT_EQ(vault_unseal(v, "", ct, ctlen, &pt, &ptlen), -1);
    for (size_t i = 1; i < ctlen; i += 7) {
        ct[i] ^= 0x01;
        ASSERT_EQ(vault_unseal(v, "row-1", ct, ctlen, &pt, &ptlen), -1);
        ct[i] ^= 0x01;
    }
    ASSERT_EQ(vault_unseal(v, "row-1", ct, ctlen - 1, &pt, &ptlen), -1);
    ASSERT_EQ(vault_unseal(v, "row-1", ct, 10, &pt, &ptlen), -1);
    ASSERT_EQ(vault_unseal(v, "row-1", NULL, 0, &pt, &ptlen), -1);
    ct[0] = 7; /* unknown kid */
    ASSERT_EQ(vault_unseal(v, "row-1", ct, ctlen, &pt, &ptlen), -1);
    ct[0] = 0;
    ASSERT_EQ(vault_unseal(v, "row-1", ct, ctlen, &pt, &ptlen), -1);
    ct[0] = 1;
    ASSERT_EQ(vault_unseal(v, "row-1", ct, ctlen, &pt, &ptlen), 0);
    vault_free_secret(pt, ptlen);
    free(ct);
    vault_close(v);
}

TEST(vault_wrong_key_fails)
{
    struct vault *a = open_text("hash " KEY_H "\n1 " KEY_A "\n");
    struct vault *b = open_text("hash " KEY_H "\n1 " KEY_B "\n");
    ASSERT(a != NULL && b != NULL);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    char *pt = NULL;
    size_t ptlen = 0;
    ASSERT_EQ(vault_seal(a, "c", "v", 1, &ct, &ctlen), 0);
    ASSERT_EQ(vault_unseal(b, "c", ct, ctlen, &pt, &ptlen), -1);
    free(ct);
    vault_close(a);
    vault_close(b);
}

TEST(vault_two_keys)
{
    struct vault *old = open_text("hash " KEY_H "\n1 " KEY_A "\n");
    struct vault *v = open_text("hash " KEY_H "\n1 " KEY_A "\n2 " KEY_B "\n");
    ASSERT(old != NULL && v != NULL);
    ASSERT_EQ(vault_current_kid(old), 1);
    ASSERT_EQ(vault_current_kid(v), 2);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    char *pt = NULL;
    size_t ptlen = 0;
    ASSERT_EQ(vault_seal(old, "c", "legacy", 6, &ct, &ctlen), 0);
    ASSERT_EQ(vault_unseal(v, "c", ct, ctlen, &pt, &ptlen), 0);
    ASSERT_STR(pt, "legacy");
    vault_free_secret(pt, ptlen);
    free(ct);
    ASSERT_EQ(vault_seal(v, "c", "fresh", 5, &ct, &ctlen), 0);
    ASSERT_EQ(ct[0], 2);
    ASSERT_EQ(vault_unseal(old, "c", ct, ctlen, &pt, &ptlen), -1);
    free(ct);
    vault_close(old);
    vault_close(v);
}

TEST(vault_bad_key_text)
{
    struct vault *v = NULL;
    char err[256] = "";
    ASSERT_EQ(vault_open(NULL, "1 " KEY_A "\n", &v, err, sizeof err), -1);
    ASSERT(strstr(err, "hash") != NULL);
    ASSERT_EQ(vault_open(NULL, "hash " KEY_H "\n", &v, err, sizeof err), -1);
    ASSERT(strstr(err, "sealing") != NULL);
    ASSERT_EQ(vault_open(NULL, "hash " KEY_H "\n1 abcd\n", &v, err, sizeof err), -1);
    ASSERT(strstr(err, "line 2") != NULL);
    ASSERT_EQ(vault_open(NULL, "hash " KEY_H "\n0 " KEY_A "\n", &v, err, sizeof err), -1);
    ASSERT_EQ(vault_open(NULL, "hash " KEY_H "\n256 " KEY_A "\n", &v, err, sizeof err), -1);
    ASSERT_EQ(vault_open(NULL, "hash " KEY_H "\n1 " KEY_A "\n1 " KEY_B "\n", &v, err, sizeof err),
              -1);
    ASSERT(strstr(err, "twice") != NULL);
    ASSERT_EQ(vault_open(NULL, "hash " KEY_H "\n1 " KEY_A "zz\n", &v, err, sizeof err), -1);
    ASSERT_EQ(vault_open(NULL, "", &v, err, sizeof err), -1);
    ASSERT(v == NULL);
    /* comments, blank lines, CRLF and extra spaces are tolerated */
    ASSERT_EQ(
        vault_open(NULL, "# keys\r\n\r\nhash  " KEY_H "\r\n 3 " KEY_A " \r\n", &v, err, sizeof err),
        0);
    ASSERT_EQ(vault_current_kid(v), 3);
    vault_close(v);
}

TEST(vault_key_file_created_and_reread)
{
    char dir[256], path[300];
    make_dir(dir, sizeof dir);
    ASSERT(dir[0] != '\0');
    snprintf(path, sizeof path, "%s/master.key", dir);
    struct vault *v = NULL;
    char err[256] = "";
    ASSERT_EQ(vault_open(dir, NULL, &v, err, sizeof err), 0);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_EQ(vault_current_kid(v), 1);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    ASSERT_EQ(vault_seal(v, "c", "persisted", 9, &ct, &ctlen), 0);
    unsigned char h1[VAULT_HASH_LEN], h2[VAULT_HASH_LEN];
    vault_hash(v, "tk_live_abc", h1);
    vault_close(v);

    v = NULL;
    ASSERT_EQ(vault_open(dir, NULL, &v, err, sizeof err), 0);
    char *pt = NULL;
    size_t ptlen = 0;
    ASSERT_EQ(vault_unseal(v, "c", ct, ctlen, &pt, &ptlen), 0);
    ASSERT_STR(pt, "persisted");
    vault_free_secret(pt, ptlen);
    vault_hash(v, "tk_live_abc", h2);
    ASSERT(vault_equal(h1, h2, VAULT_HASH_LEN));
    vault_close(v);
    free(ct);
    rm_dir(dir);
}

TEST(vault_refuses_open_mode)
{
    char dir[256];
    make_dir(dir, sizeof dir);
    ASSERT(dir[0] != '\0');
    ASSERT_EQ(write_file(dir, "hash " KEY_H "\n1 " KEY_A "\n", 0644), 0);
    struct vault *v = NULL;
    char err[256] = "";
    ASSERT_EQ(vault_open(dir, NULL, &v, err, sizeof err), -1);
    ASSERT(strstr(err, "readable by group or others") != NULL);
    ASSERT(strstr(err, "chmod 600") != NULL);
    ASSERT_EQ(write_file(dir, "hash " KEY_H "\n1 " KEY_A "\n", 0600), 0);
    ASSERT_EQ(vault_open(dir, NULL, &v, err, sizeof err), 0);
    vault_close(v);
    rm_dir(dir);
}

TEST(vault_missing_dir)
{
    struct vault *v = NULL;
    char err[256] = "";
    ASSERT_EQ(vault_open("/nonexistent/tether-test-dir", NULL, &v, err, sizeof err), -1);
    ASSERT(err[0] != '\0');
}

TEST(vault_rotate_file)
{
    char dir[256], path[300];
    make_dir(dir, sizeof dir);
    ASSERT(dir[0] != '\0');
    snprintf(path, sizeof path, "%s/master.key", dir);
    struct vault *v = NULL;
    char err[256] = "";
    uint8_t kid = 0;
    ASSERT_EQ(vault_rotate(dir, &kid, err, sizeof err), -1); /* no file yet */
    ASSERT_EQ(vault_open(dir, NULL, &v, err, sizeof err), 0);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    ASSERT_EQ(vault_seal(v, "c", "before", 6, &ct, &ctlen), 0);
    vault_close(v);

    ASSERT_EQ(vault_rotate(dir, &kid, err, sizeof err), 0);
    ASSERT_EQ(kid, 2);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_EQ(vault_open(dir, NULL, &v, err, sizeof err), 0);
    ASSERT_EQ(vault_current_kid(v), 2);
    char *pt = NULL;
    size_t ptlen = 0;
    ASSERT_EQ(vault_unseal(v, "c", ct, ctlen, &pt, &ptlen), 0);
    ASSERT_STR(pt, "before");
    vault_free_secret(pt, ptlen);
    free(ct);
    vault_close(v);
    rm_dir(dir);
}

TEST(vault_hash_keyed)
{
    struct vault *a = open_text("hash " KEY_H "\n1 " KEY_A "\n");
    struct vault *b = open_text("hash " KEY_A "\n1 " KEY_A "\n");
    ASSERT(a != NULL && b != NULL);
    unsigned char h1[VAULT_HASH_LEN], h2[VAULT_HASH_LEN], h3[VAULT_HASH_LEN];
    vault_hash(a, "state-123", h1);
    vault_hash(a, "state-123", h2);
    vault_hash(b, "state-123", h3);
    ASSERT(vault_equal(h1, h2, VAULT_HASH_LEN));
    ASSERT(!vault_equal(h1, h3, VAULT_HASH_LEN));
    vault_hash(a, "state-124", h2);
    ASSERT(!vault_equal(h1, h2, VAULT_HASH_LEN));
    vault_close(a);
    vault_close(b);
    vault_close(NULL);
    vault_free_secret(NULL, 0);
}

TEST_MAIN()
