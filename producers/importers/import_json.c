/*
 * cishare importers - a fast reader of the usual JSON Lines record.
 *
 * jansson reads a byte at a time through a stream with a UTF-8 decoder and
 * a growing buffer per token: about 180 instructions a byte, a third of
 * `cishare publish` of a JSON Lines file. This reader builds the same
 * json_t from the common case (objects, arrays, strings with the simple
 * escapes, valid UTF-8, integers, true/false/null) and gives up on
 * anything else (\u escapes, real numbers, huge integers, deep nesting,
 * invalid text), so that jansson reads that value: its result and its
 * error messages stay the reference.
 */
#include "import_int.h"

#include <stdint.h>
#include <string.h>

#define FAST_MAX_DEPTH 64   /* deeper: jansson (which allows 2048) */
#define FAST_MAX_KEY   256  /* longer keys: jansson */
#define FAST_MAX_STR   4096 /* longer escaped strings: jansson */

typedef struct fast_s {
    const unsigned char *p, *end;
} fast_t;

static void skip_ws(fast_t *f)
{
    while (f->p < f->end &&
           (*f->p == ' ' || *f->p == '\n' || *f->p == '\t' || *f->p == '\r'))
        f->p++;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), as
 * jansson's utf8_check_full accepts it; 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], v;
    size_t n, i;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0; /* overlong, out of range, a surrogate */
    return n;
}

/* 1: a byte that stands for itself in a JSON string (0x20-0x7f but the
 * quote and the backslash) */
/* clang-format off */
static const unsigned char plain_ascii[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* f0 */
};
/* clang-format on */

/* The string after the opening quote: its text, unescaped into tmp when
 * it has escapes. NULL: leave it to jansson. */
static const char *fast_string(fast_t *f, char *tmp, size_t tmp_size,
                               size_t *lenp)
{
    const unsigned char *s = f->p;
    size_t n = 0, u;
    bool esc = false;

    while (f->p < f->end) {
        unsigned c;
        if (!esc) { /* the common run of plain ASCII, a lookup a byte */
            while (f->p < f->end && plain_ascii[*f->p])
                f->p++;
            if (f->p == f->end)
                break;
        }
        c = *f->p;
        if (c == '"') {
            if (!esc) {
                *lenp = (size_t)(f->p - s);
                f->p++;
                return (const char *)s;
            }
            f->p++;
            *lenp = n;
            return tmp;
        }
        if (c < 0x20)
            return NULL; /* a control character: jansson's error */
        if (c == '\\') {
            if (!esc) { /* copy what came before */
                n = (size_t)(f->p - s);
                if (n >= tmp_size)
                    return NULL;
                memcpy(tmp, s, n);
                esc = true;
            }
            if (f->end - f->p < 2 || n + 1 >= tmp_size)
                return NULL;
            switch (f->p[1]) {
            case '"':
            case '\\':
            case '/':
                c = f->p[1];
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            default:
                return NULL; /* \u and invalid escapes */
            }
            tmp[n++] = (char)c;
            f->p += 2;
            continue;
        }
        u = c < 0x80 ? 1 : utf8_len(f->p, f->end);
        if (!u)
            return NULL;
        if (esc) {
            if (n + u >= tmp_size)
                return NULL;
            memcpy(tmp + n, f->p, u);
            n += u;
        }
        f->p += u;
    }
    return NULL; /* unterminated */
}

static bool delim(const fast_t *f)
{
    unsigned c;

    if (f->p >= f->end)
        return true;
    c = *f->p;
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-' ||
             c >= 0x80);
}

static json_t *fast_value(fast_t *f, int depth);

static json_t *fast_object(fast_t *f, int depth)
{
    json_t *o = json_object(), *v;
    char key[FAST_MAX_KEY];
    const char *k;
    size_t kl;

    if (!o)
        return NULL;
    skip_ws(f);
    if (f->p < f->end && *f->p == '}') {
        f->p++;
        return o;
    }
    while (1) {
        skip_ws(f);
        if (f->p >= f->end || *f->p != '"')
            goto fail;
        f->p++;
        if (!(k = fast_string(f, key, sizeof(key), &kl)) || kl >= sizeof(key) ||
            memchr(k, '\0', kl))
            goto fail;
        if (k != key) {
            memcpy(key, k, kl);
        }
        key[kl] = '\0';
        skip_ws(f);
        if (f->p >= f->end || *f->p != ':')
            goto fail;
        f->p++;
        /* as jansson without JSON_REJECT_DUPLICATES: the last one wins */
        if (!(v = fast_value(f, depth + 1)) ||
            json_object_set_new_nocheck(o, key, v))
            goto fail;
        skip_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            continue;
        }
        if (f->p < f->end && *f->p == '}') {
            f->p++;
            return o;
        }
        goto fail;
    }
fail:
    json_decref(o);
    return NULL;
}

static json_t *fast_array(fast_t *f, int depth)
{
    json_t *a = json_array(), *v;

    if (!a)
        return NULL;
    skip_ws(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
        return a;
    }
    while (1) {
        if (!(v = fast_value(f, depth + 1)) || json_array_append_new(a, v))
            goto fail;
        skip_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            continue;
        }
        if (f->p < f->end && *f->p == ']') {
            f->p++;
            return a;
        }
        goto fail;
    }
fail:
    json_decref(a);
    return NULL;
}

static json_t *fast_value(fast_t *f, int depth)
{
    char tmp[FAST_MAX_STR];
    const char *s;
    size_t n;

    if (depth > FAST_MAX_DEPTH)
        return NULL;
    skip_ws(f);
    if (f->p >= f->end)
        return NULL;
    switch (*f->p) {
    case '{':
        f->p++;
        return fast_object(f, depth);
    case '[':
        f->p++;
        return fast_array(f, depth);
    case '"':
        f->p++;
        if (!(s = fast_string(f, tmp, sizeof(tmp), &n)) || memchr(s, '\0', n))
            return NULL; /* a NUL needs \u0000: jansson's */
        return json_stringn_nocheck(s, n);
    case 't':
    case 'f':
    case 'n': {
        static const char *const lit[] = {"true", "false", "null"};
        int i = *f->p == 't' ? 0 : *f->p == 'f' ? 1 : 2;
        n = strlen(lit[i]);
        if ((size_t)(f->end - f->p) < n || memcmp(f->p, lit[i], n))
            return NULL;
        f->p += n;
        if (!delim(f))
            return NULL;
        return i == 0 ? json_true() : i == 1 ? json_false() : json_null();
    }
    default: {
        /* an integer of at most 18 digits; anything else: jansson */
        bool neg = false;
        int64_t v = 0;
        int digits = 0;
        if (*f->p == '-') {
            neg = true;
            f->p++;
        }
        if (f->p >= f->end || *f->p < '0' || *f->p > '9')
            return NULL;
        if (*f->p == '0' && f->end - f->p > 1 && f->p[1] >= '0' &&
            f->p[1] <= '9')
            return NULL; /* a leading zero */
        while (f->p < f->end && *f->p >= '0' && *f->p <= '9') {
            if (++digits > 18)
                return NULL;
            v = v * 10 + (*f->p++ - '0');
        }
        if (!delim(f))
            return NULL; /* a real number, or junk after the digits */
        return json_integer(neg ? -v : v);
    }
    }
}

json_t *import_json_fast(const char *buf, size_t len, size_t *usedp)
{
    fast_t f = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    json_t *v;

    skip_ws(&f);
    /* jansson's top level without JSON_DECODE_ANY: an object or array */
    if (f.p >= f.end || (*f.p != '{' && *f.p != '['))
        return NULL;
    if (!(v = fast_value(&f, 0)))
        return NULL;
    *usedp = (size_t)(f.p - (const unsigned char *)buf);
    return v;
}
