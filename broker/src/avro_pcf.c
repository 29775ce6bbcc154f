/*
 * Avro Parsing Canonical Form and CRC-64-AVRO, from the specification.
 * The transformation follows the Java reference (SchemaNormalization):
 * a named type is written in full the first time it appears and as its
 * quoted full name afterwards; "error" records are written as "record".
 */
#include "cishare/avro_pcf.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void)
{
    int i, j;

    for (i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (CISHARE_AVRO_CRC64_EMPTY & (0 - (fp & 1)));
        crc64_table[i] = fp;
    }
}

uint64_t cishare_avro_crc64(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t fp = CISHARE_AVRO_CRC64_EMPTY;
    size_t i;

    pthread_once(&crc64_once, crc64_init);
    for (i = 0; i < len; i++)
        fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
    return fp;
}

/* Growable output string; `failed` latches the first error. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
    char *errstr;
    size_t errstr_size;
    /* Full names already written (the "env" of the reference). */
    char **names;
    size_t name_cnt, name_cap;
} pcf_t;

static void pcf_fail(pcf_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pcf_fail(pcf_t *p, const char *fmt, ...)
{
    va_list ap;

    if (p->failed)
        return;
    p->failed = true;
    if (p->errstr && p->errstr_size) {
        va_start(ap, fmt);
        vsnprintf(p->errstr, p->errstr_size, fmt, ap);
        va_end(ap);
    }
}

static void put(pcf_t *p, const char *s, size_t n)
{
    if (p->failed)
        return;
    if (p->len + n + 1 > p->cap) {
        size_t ncap = p->cap ? p->cap : 256;
        char *nb;
        while (p->len + n + 1 > ncap)
            ncap *= 2;
        nb = realloc(p->buf, ncap);
        if (!nb) {
            pcf_fail(p, "out of memory");
            return;
        }
        p->buf = nb;
        p->cap = ncap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void puts_(pcf_t *p, const char *s)
{
    put(p, s, strlen(s));
}

/* [STRINGS]: raw UTF-8; only what JSON requires is escaped. */
static void put_str(pcf_t *p, const char *s)
{
    char esc[8];

    put(p, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(p, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(p, esc, 6);
        } else {
            put(p, (const char *)&c, 1);
        }
    }
    put(p, "\"", 1);
}

static bool is_primitive(const char *t)
{
    static const char *const prims[] = {"null",  "boolean", "int",
                                        "long",  "float",   "double",
                                        "bytes", "string",  NULL};
    int i;

    for (i = 0; prims[i]; i++)
        if (!strcmp(t, prims[i]))
            return true;
    return false;
}

/* [FULLNAMES]: name with a dot is already full; else namespace + name. */
static char *full_name(const char *name, const char *ns)
{
    char *out;
    size_t n;

    if (strchr(name, '.') || !ns || !*ns)
        return strdup(name);
    n = strlen(ns) + 1 + strlen(name) + 1;
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s.%s", ns, name);
    return out;
}

/* Namespace part of a full name ("" for none), malloc()ed. */
static char *name_space(const char *full)
{
    const char *dot = strrchr(full, '.');

    return dot ? strndup(full, (size_t)(dot - full)) : strdup("");
}

static bool env_has(const pcf_t *p, const char *full)
{
    size_t i;

    for (i = 0; i < p->name_cnt; i++)
        if (!strcmp(p->names[i], full))
            return true;
    return false;
}

static void env_add(pcf_t *p, const char *full)
{
    char *dup;

    if (p->name_cnt == p->name_cap) {
        size_t ncap = p->name_cap ? p->name_cap * 2 : 16;
        char **nn = realloc(p->names, ncap * sizeof(*nn));
        if (!nn) {
            pcf_fail(p, "out of memory");
            return;
        }
        p->names = nn;
        p->name_cap = ncap;
    }
    dup = strdup(full);
    if (!dup) {
        pcf_fail(p, "out of memory");
        return;
    }
    p->names[p->name_cnt++] = dup;
}

static void canon(pcf_t *p, const json_t *s, const char *ns, int depth);

static void canon_named(pcf_t *p, const json_t *s, const char *type,
                        const char *ns, int depth)
{
    const json_t *jname = json_object_get(s, "name");
    const json_t *jns = json_object_get(s, "namespace");
    char *full, *inner_ns = NULL;
    size_t i;

    if (!json_is_string(jname) || !*json_string_value(jname)) {
        pcf_fail(p, "%s without a name", type);
        return;
    }
    if (json_is_string(jns) && !strchr(json_string_value(jname), '.'))
        ns = json_string_value(jns);
    full = full_name(json_string_value(jname), ns);
    if (!full) {
        pcf_fail(p, "out of memory");
        return;
    }
    if (env_has(p, full)) {
        put_str(p, full);
        free(full);
        return;
    }
    env_add(p, full);
    puts_(p, "{\"name\":");
    put_str(p, full);
    puts_(p, ",\"type\":");
    if (!strcmp(type, "enum")) {
        const json_t *syms = json_object_get(s, "symbols");
        puts_(p, "\"enum\",\"symbols\":[");
        if (!json_is_array(syms))
            pcf_fail(p, "enum %s: symbols is not an array", full);
        for (i = 0; json_is_array(syms) && i < json_array_size(syms); i++) {
            const json_t *sym = json_array_get(syms, i);
            if (!json_is_string(sym)) {
                pcf_fail(p, "enum %s: symbol %zu is not a string", full, i);
                break;
            }
            if (i)
                puts_(p, ",");
            put_str(p, json_string_value(sym));
        }
        puts_(p, "]}");
    } else if (!strcmp(type, "fixed")) {
        const json_t *size = json_object_get(s, "size");
        char num[32];
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            pcf_fail(p, "fixed %s: size is not a non-negative integer", full);
        } else {
            /* [INTEGERS]: no leading zeros. */
            snprintf(num, sizeof(num), "%lld",
                     (long long)json_integer_value(size));
            puts_(p, "\"fixed\",\"size\":");
            puts_(p, num);
            puts_(p, "}");
        }
    } else { /* record, error */
        const json_t *fields = json_object_get(s, "fields");
        inner_ns = name_space(full);
        puts_(p, "\"record\",\"fields\":[");
        if (!json_is_array(fields))
            pcf_fail(p, "record %s: fields is not an array", full);
        for (i = 0; json_is_array(fields) && i < json_array_size(fields); i++) {
            const json_t *f = json_array_get(fields, i);
            const json_t *fname = json_object_get(f, "name");
            const json_t *ftype = json_object_get(f, "type");
            if (!json_is_string(fname) || !ftype) {
                pcf_fail(p, "record %s: field %zu needs a name and a type",
                         full, i);
                break;
            }
            if (i)
                puts_(p, ",");
            puts_(p, "{\"name\":");
            put_str(p, json_string_value(fname));
            puts_(p, ",\"type\":");
            canon(p, ftype, inner_ns, depth + 1);
            puts_(p, "}");
        }
        puts_(p, "]}");
        free(inner_ns);
    }
    free(full);
}

static void canon(pcf_t *p, const json_t *s, const char *ns, int depth)
{
    size_t i;

    if (p->failed)
        return;
    if (depth > 256) {
        pcf_fail(p, "schema nested too deeply");
        return;
    }
    if (json_is_string(s)) {
        const char *t = json_string_value(s);
        if (is_primitive(t)) {
            put_str(p, t);
        } else {
            /* A reference to a named type. */
            char *full = full_name(t, ns);
            if (!full) {
                pcf_fail(p, "out of memory");
                return;
            }
            put_str(p, full);
            free(full);
        }
    } else if (json_is_array(s)) { /* union */
        puts_(p, "[");
        for (i = 0; i < json_array_size(s); i++) {
            if (i)
                puts_(p, ",");
            canon(p, json_array_get(s, i), ns, depth + 1);
        }
        puts_(p, "]");
    } else if (json_is_object(s)) {
        const json_t *jt = json_object_get(s, "type");
        const char *t;
        if (json_is_object(jt) || json_is_array(jt)) {
            canon(p, jt, ns, depth + 1);
            return;
        }
        if (!json_is_string(jt)) {
            pcf_fail(p, "schema object without a \"type\"");
            return;
        }
        t = json_string_value(jt);
        if (is_primitive(t)) { /* [PRIMITIVES] */
            put_str(p, t);
        } else if (!strcmp(t, "array")) {
            const json_t *items = json_object_get(s, "items");
            if (!items) {
                pcf_fail(p, "array without \"items\"");
                return;
            }
            puts_(p, "{\"type\":\"array\",\"items\":");
            canon(p, items, ns, depth + 1);
            puts_(p, "}");
        } else if (!strcmp(t, "map")) {
            const json_t *values = json_object_get(s, "values");
            if (!values) {
                pcf_fail(p, "map without \"values\"");
                return;
            }
            puts_(p, "{\"type\":\"map\",\"values\":");
            canon(p, values, ns, depth + 1);
            puts_(p, "}");
        } else if (!strcmp(t, "record") || !strcmp(t, "error") ||
                   !strcmp(t, "enum") || !strcmp(t, "fixed")) {
            canon_named(p, s, t, ns, depth);
        } else {
            canon(p, jt, ns, depth + 1); /* {"type": "SomeName"} */
        }
    } else {
        pcf_fail(p, "not a schema: expected a string, array or object");
    }
}

char *cishare_avro_canonical_form(const char *schema_json, char *errstr,
                                  size_t errstr_size)
{
    pcf_t p = {.errstr = errstr, .errstr_size = errstr_size};
    json_error_t jerr;
    json_t *root;
    size_t i;

    if (!schema_json) {
        pcf_fail(&p, "no schema text");
        return NULL;
    }
    root = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!root) {
        pcf_fail(&p, "schema is not JSON: line %d: %s", jerr.line, jerr.text);
        return NULL;
    }
    canon(&p, root, "", 0);
    json_decref(root);
    for (i = 0; i < p.name_cnt; i++)
        free(p.names[i]);
    free(p.names);
    if (!p.failed && !p.buf)
        pcf_fail(&p, "empty schema");
    if (p.failed) {
        free(p.buf);
        return NULL;
    }
    return p.buf;
}

uint64_t cishare_avro_fingerprint(const char *schema_json, char *errstr,
                                  size_t errstr_size)
{
    char *form = cishare_avro_canonical_form(schema_json, errstr, errstr_size);
    uint64_t fp;

    if (!form)
        return 0;
    fp = cishare_avro_crc64(form, strlen(form));
    free(form);
    return fp;
}
