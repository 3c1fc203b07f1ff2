/* tmpl.c -- the mustache-like renderer of tmpl.h. A template is first cut into tokens and its
 * sections matched (so an unbalanced template fails even where a section would be skipped), then
 * rendered into a capped buffer. Templates belong to the server; values come from anywhere and are
 * HTML-escaped unless the tag asks for raw output. */
#include "common/tmpl.h"
#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TMPL_MAX_OUT (1024 * 1024)
#define TMPL_MAX_DEPTH 16
#define TMPL_MAX_NAME 128
#define TMPL_MAX_STEPS 1000000L /* bounds the work of sections nested over large arrays */

enum tok_kind { T_TEXT, T_VAR, T_RAW, T_SECTION, T_INVERTED, T_CLOSE };

struct tok {
    enum tok_kind kind;
    const char *s; /* text, or the tag's name */
    size_t len;
    size_t end; /* sections: index of the matching close tag */
};

struct toks {
    struct tok *v;
    size_t n, cap;
};

struct render {
    const struct toks *t;
    struct buf out;
    const json_t *stack[TMPL_MAX_DEPTH + 1];
    int depth;
    long steps;
    char *err;
    size_t errlen;
};

/* Writes a sentence into err (if given); returns -1. */
static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* How much of a tag name to quote in an error. */
static int
shown(size_t len)
{
    return len > 64 ? 64 : (int)len;
}

/* ---- escaping ---- */

static const char *
entity(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    case '`':
        return "&#96;";
    case '=':
        return "&#61;";
    case '\0':
        return "\xef\xbf\xbd"; /* U+FFFD: a NUL inside a value must not cut the page short */
    default:
        return NULL;
    }
}

static int
escape_into(struct buf *b, const char *s, size_t len)
{
    size_t run = 0; /* bytes copied through unchanged, flushed in one append */
    for (size_t i = 0; i < len; i++) {
        const char *e = entity((unsigned char)s[i]);
        if (e == NULL)
            continue;
        if (buf_append(b, s + run, i - run) != 0 || buf_puts(b, e) != 0)
            return -1;
        run = i + 1;
    }
    return buf_append(b, s + run, len - run);
}

/* A NULL s escapes to "". NULL only when out of memory. */
char *
tmpl_escape(const char *s)
{
    struct buf b;
    buf_init(&b, SIZE_MAX - 1);
    if (s == NULL)
        s = "";
    if (escape_into(&b, s, strlen(s)) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

/* ---- tokenizing ---- */

static int
push_tok(struct toks *t, enum tok_kind kind, const char *s, size_t len)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct tok *v = realloc(t->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = (struct tok){kind, s, len, 0};
    return 0;
}

static int
name_ok(const char *s, size_t len)
{
    if (len == 0 || len > TMPL_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* Classifies the inside of a tag, in[0..len), trimmed of spaces: its kind and name. */
static int
parse_tag(const char *in, size_t len, int raw, struct toks *t, char *err, size_t errlen)
{
    while (len > 0 && *in == ' ')
        in++, len--;
    while (len > 0 && in[len - 1] == ' ')
        len--;
    enum tok_kind kind = raw ? T_RAW : T_VAR;
    if (!raw && len > 0 && (*in == '#' || *in == '^' || *in == '/')) {
        kind = *in == '#' ? T_SECTION : *in == '^' ? T_INVERTED : T_CLOSE;
        in++, len--;
        while (len > 0 && *in == ' ')
            in++, len--;
    }
    if (!name_ok(in, len))
        return fail(err, errlen, "bad tag name '%.*s'", shown(len), in);
    if (push_tok(t, kind, in, len) != 0)
        return fail(err, errlen, "out of memory");
    return 0;
}

/* Matches a close tag (the last token) against the open sections. */
static int
match_close(struct toks *t, size_t *open, int *depth, char *err, size_t errlen)
{
    struct tok *c = &t->v[t->n - 1];
    if (c->kind == T_SECTION || c->kind == T_INVERTED) {
        if (*depth == TMPL_MAX_DEPTH)
            return fail(err, errlen, "sections nested deeper than 16 at '%.*s'", shown(c->len),
                        c->s);
        open[(*depth)++] = t->n - 1;
        return 0;
    }
    if (c->kind != T_CLOSE)
        return 0;
    if (*depth == 0)
        return fail(err, errlen, "closing tag '%.*s' has no open section", shown(c->len), c->s);
    struct tok *o = &t->v[open[*depth - 1]];
    if (o->len != c->len || memcmp(o->s, c->s, c->len) != 0)
        return fail(err, errlen, "closing tag '%.*s' does not match the open section",
                    shown(c->len), c->s);
    o->end = t->n - 1;
    (*depth)--;
    return 0;
}

static int
tokenize(const char *p, struct toks *t, char *err, size_t errlen)
{
    size_t open[TMPL_MAX_DEPTH];
    int depth = 0;
    for (;;) {
        const char *tag = strstr(p, "{{");
        size_t text = tag ? (size_t)(tag - p) : strlen(p);
        if (text > 0 && push_tok(t, T_TEXT, p, text) != 0)
            return fail(err, errlen, "out of memory");
        if (tag == NULL)
            break;
        int raw = tag[2] == '{';
        const char *in = tag + (raw ? 3 : 2);
        const char *close = strstr(in, raw ? "}}}" : "}}");
        if (close == NULL)
            return fail(err, errlen, "unterminated tag '%.*s'", shown(strlen(tag)), tag);
        if (parse_tag(in, (size_t)(close - in), raw, t, err, errlen) != 0 ||
            match_close(t, open, &depth, err, errlen) != 0)
            return -1;
        p = close + (raw ? 3 : 2);
    }
    if (depth > 0) {
        const struct tok *o = &t->v[open[depth - 1]];
        return fail(err, errlen, "section '%.*s' is never closed", shown(o->len), o->s);
    }
    return 0;
}

/* ---- rendering ---- */

/* Looks name up: its first dotted part in the innermost context that has it, the rest inside that
 * value. "." is the current context. NULL when missing. */
static const json_t *
lookup(const struct render *r, const char *name, size_t len)
{
    if (len == 1 && name[0] == '.')
        return r->stack[r->depth];
    const char *dot = memchr(name, '.', len);
    size_t first = dot ? (size_t)(dot - name) : len;
    const json_t *v = NULL;
    for (int i = r->depth; i >= 0 && v == NULL; i--)
        if (json_is_object(r->stack[i]))
            v = json_object_getn(r->stack[i], name, first);
    while (v != NULL && dot != NULL) {
        const char *part = dot + 1;
        size_t rest = len - (size_t)(part - name);
        dot = memchr(part, '.', rest);
        size_t plen = dot ? (size_t)(dot - part) : rest;
        v = json_is_object(v) ? json_object_getn(v, part, plen) : NULL;
    }
    return v;
}

static int
truthy(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    return 1;
}

static int
out_fail(struct render *r, const char *what)
{
    return fail(r->err, r->errlen, "%s", what);
}

/* Writes a scalar value: strings as they are, numbers in decimal, booleans as words. */
static int
emit_value(struct render *r, const json_t *v, int raw)
{
    char num[64];
    const char *s = "";
    size_t len = 0;
    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        len = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
    } else if (json_is_real(v)) {
        len = (size_t)snprintf(num, sizeof(num), "%.15g", json_real_value(v));
        s = num;
    } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
        len = strlen(s);
    }
    int rc = raw ? buf_append(&r->out, s, len) : escape_into(&r->out, s, len);
    return rc == 0 ? 0 : out_fail(r, "output over 1 MiB");
}

static int render_range(struct render *r, size_t from, size_t to);

/* Renders the body of section i once with v pushed as the innermost context. */
static int
render_with(struct render *r, size_t i, const json_t *v)
{
    r->stack[++r->depth] = v;
    int rc = render_range(r, i + 1, r->t->v[i].end);
    r->depth--;
    return rc;
}

static int
render_section(struct render *r, size_t i)
{
    const struct tok *k = &r->t->v[i];
    const json_t *v = lookup(r, k->s, k->len);
    if (k->kind == T_INVERTED)
        return truthy(v) ? 0 : render_range(r, i + 1, k->end);
    if (!truthy(v))
        return 0;
    if (!json_is_array(v))
        return render_with(r, i, v);
    for (size_t j = 0; j < json_array_size(v); j++)
        if (render_with(r, i, json_array_get(v, j)) != 0)
            return -1;
    return 0;
}

static int
render_range(struct render *r, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const struct tok *k = &r->t->v[i];
        if (++r->steps > TMPL_MAX_STEPS)
            return out_fail(r, "template needs too much work to render");
        int rc = 0;
        switch (k->kind) {
        case T_TEXT:
            rc = buf_append(&r->out, k->s, k->len) == 0 ? 0 : out_fail(r, "output over 1 MiB");
            break;
        case T_VAR:
        case T_RAW:
            rc = emit_value(r, lookup(r, k->s, k->len), k->kind == T_RAW);
            break;
        case T_SECTION:
        case T_INVERTED:
            rc = render_section(r, i);
            i = k->end;
            break;
        case T_CLOSE:
            break;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

char *
tmpl_render(const char *tmpl, const json_t *ctx, char *err, size_t errlen)
{
    if (tmpl == NULL) {
        fail(err, errlen, "no template");
        return NULL;
    }
    struct toks t = {NULL, 0, 0};
    if (tokenize(tmpl, &t, err, errlen) != 0) {
        free(t.v);
        return NULL;
    }
    struct render r = {.t = &t, .depth = 0, .err = err, .errlen = errlen};
    r.stack[0] = ctx;
    buf_init(&r.out, TMPL_MAX_OUT);
    char *res = render_range(&r, 0, t.n) == 0 ? buf_take(&r.out) : NULL;
    buf_free(&r.out);
    free(t.v);
    return res;
}
