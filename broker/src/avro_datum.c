/*
 * Schema-driven Avro binary <-> JSON (see avro_datum.h). Untrusted bytes
 * are only ever read through the rd_* functions below, which check every
 * length against the bytes left before touching them.
 */
#include "cishare/avro_datum.h"
#include "cishare/codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    AV_NULL,
    AV_BOOLEAN,
    AV_INT,
    AV_LONG,
    AV_FLOAT,
    AV_DOUBLE,
    AV_BYTES,
    AV_STRING,
    AV_RECORD,
    AV_ENUM,
    AV_ARRAY,
    AV_MAP,
    AV_UNION,
    AV_FIXED,
} av_kind_t;

static const char *const kind_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed"};

typedef struct av_node_s av_node_t;

typedef struct {
    char *name;
    av_node_t *type;
    json_t *deflt;   /* NULL: required */
    json_t *aliases; /* array of strings or NULL (schema resolution) */
} av_field_t;

struct av_node_s {
    av_kind_t kind;
    bool ts_millis; /* long with logicalType timestamp-millis */
    char *name;     /* full name of named types */
    av_field_t *fields;
    size_t field_cnt;
    char **symbols;
    size_t symbol_cnt;
    av_node_t **branches;
    size_t branch_cnt;
    av_node_t *items;   /* array items, map values */
    size_t size;        /* fixed */
    json_t *aliases;    /* named types: array of strings or NULL */
    char *enum_default; /* enum: symbol for unknown writer symbols */
    /* records, for the text decoder: field indices in key order (what
     * jansson's JSON_SORT_KEYS gives) and each field's "name": text */
    size_t *sorted;
    char **qkeys;
    size_t *qkey_lens;
    av_node_t *next; /* every node of a schema, for freeing */
};

struct cishare_avro_schema_s {
    av_node_t *root;
    av_node_t *all;
};

/* ---------------------------------------------------------------------
 * Error paths: a stack of frames on the C stack, rendered only on error.
 */
typedef struct path_s {
    const struct path_s *up;
    const char *field; /* ".field" */
    long index;        /* "[i]" when field is NULL and index >= 0 */
    const char *key;   /* "[\"key\"]" for map entries */
} path_t;

static size_t path_render(const path_t *p, char *out, size_t size)
{
    size_t n = 0;
    int w;

    if (!p)
        return 0;
    n = path_render(p->up, out, size);
    if (n >= size)
        return n;
    if (p->field)
        w = snprintf(out + n, size - n, "%s%s", p->up ? "." : "", p->field);
    else if (p->key)
        w = snprintf(out + n, size - n, "[\"%s\"]", p->key);
    else
        w = snprintf(out + n, size - n, "[%ld]", p->index);
    return n + (w > 0 ? (size_t)w : 0);
}

static cishare_err_t path_err(cishare_err_t err, const path_t *p, char *errstr,
                              size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static cishare_err_t path_err(cishare_err_t err, const path_t *p, char *errstr,
                              size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (!errstr || !errstr_size)
        return err;
    errstr[0] = '\0';
    n = path_render(p, errstr, errstr_size);
    if (n + 2 < errstr_size) {
        if (n) {
            errstr[n++] = ':';
            errstr[n++] = ' ';
        }
        va_start(ap, fmt);
        vsnprintf(errstr + n, errstr_size - n, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* ---------------------------------------------------------------------
 * Schema compilation.
 */
typedef struct {
    cishare_avro_schema_t *s;
    char *errstr;
    size_t errstr_size;
} compile_t;

static av_node_t *node_new(compile_t *c, av_kind_t kind)
{
    av_node_t *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->kind = kind;
    n->next = c->s->all;
    c->s->all = n;
    return n;
}

static bool primitive_kind(const char *t, av_kind_t *kp)
{
    int i;

    for (i = AV_NULL; i <= AV_STRING; i++)
        if (!strcmp(t, kind_names[i])) {
            *kp = (av_kind_t)i;
            return true;
        }
    return false;
}

static char *make_full_name(const char *name, const char *ns)
{
    char *out;
    size_t n;

    if (strchr(name, '.') || !ns || !*ns)
        return strdup(name);
    n = strlen(ns) + strlen(name) + 2;
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s.%s", ns, name);
    return out;
}

static av_node_t *find_named(compile_t *c, const char *full)
{
    av_node_t *n;

    for (n = c->s->all; n; n = n->next)
        if (n->name && !strcmp(n->name, full))
            return n;
    return NULL;
}

static av_node_t *compile(compile_t *c, const json_t *j, const char *ns,
                          int depth);

static cishare_err_t check_default(const av_node_t *type, const json_t *d,
                                   const char *rec, const char *field,
                                   char *errstr, size_t errstr_size);

static bool compile_fail(compile_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool compile_fail(compile_t *c, const char *fmt, ...)
{
    va_list ap;

    if (c->errstr && c->errstr_size) {
        va_start(ap, fmt);
        vsnprintf(c->errstr, c->errstr_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

static av_node_t *compile_named(compile_t *c, const json_t *j, const char *t,
                                const char *ns, int depth)
{
    const json_t *jname = json_object_get(j, "name");
    const json_t *jns = json_object_get(j, "namespace");
    av_node_t *n;
    char *full, *inner_ns;
    const char *dot;
    size_t i;

    if (!json_is_string(jname) || !*json_string_value(jname)) {
        compile_fail(c, "%s without a name", t);
        return NULL;
    }
    if (json_is_string(jns) && !strchr(json_string_value(jname), '.'))
        ns = json_string_value(jns);
    full = make_full_name(json_string_value(jname), ns);
    if (!full)
        return NULL;
    if (find_named(c, full)) {
        compile_fail(c, "type %s defined twice", full);
        free(full);
        return NULL;
    }
    n = node_new(c, !strcmp(t, "enum")    ? AV_ENUM
                    : !strcmp(t, "fixed") ? AV_FIXED
                                          : AV_RECORD);
    if (!n) {
        free(full);
        return NULL;
    }
    n->name = full;
    if (json_is_array(json_object_get(j, "aliases")))
        n->aliases = json_incref(json_object_get(j, "aliases"));
    if (n->kind == AV_ENUM) {
        const json_t *syms = json_object_get(j, "symbols");
        if (!json_is_array(syms) || !json_array_size(syms)) {
            compile_fail(c, "enum %s: symbols must be a non-empty array", full);
            return NULL;
        }
        n->symbols = calloc(json_array_size(syms), sizeof(char *));
        if (!n->symbols)
            return NULL;
        for (i = 0; i < json_array_size(syms); i++) {
            const json_t *s = json_array_get(syms, i);
            if (!json_is_string(s)) {
                compile_fail(c, "enum %s: symbol %zu is not a string", full, i);
                return NULL;
            }
            n->symbols[i] = strdup(json_string_value(s));
            if (!n->symbols[i])
                return NULL;
            n->symbol_cnt++;
        }
        if (json_is_string(json_object_get(j, "default"))) {
            const char *dflt = json_string_value(json_object_get(j, "default"));
            for (i = 0; i < n->symbol_cnt; i++)
                if (!strcmp(n->symbols[i], dflt))
                    break;
            if (i == n->symbol_cnt) {
                compile_fail(c, "enum %s: default '%s' is not a symbol", full,
                             dflt);
                return NULL;
            }
            if (!(n->enum_default = strdup(dflt)))
                return NULL;
        }
        return n;
    }
    if (n->kind == AV_FIXED) {
        const json_t *size = json_object_get(j, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > (json_int_t)CISHARE_CODEC_MAX_MSG_SIZE) {
            compile_fail(c, "fixed %s: bad size", full);
            return NULL;
        }
        n->size = (size_t)json_integer_value(size);
        return n;
    }
    /* record */
    {
        const json_t *fields = json_object_get(j, "fields");
        if (!json_is_array(fields)) {
            compile_fail(c, "record %s: fields must be an array", full);
            return NULL;
        }
        dot = strrchr(full, '.');
        inner_ns = dot ? strndup(full, (size_t)(dot - full)) : strdup("");
        if (!inner_ns)
            return NULL;
        n->fields = calloc(json_array_size(fields) + 1, sizeof(av_field_t));
        if (!n->fields) {
            free(inner_ns);
            return NULL;
        }
        for (i = 0; i < json_array_size(fields); i++) {
            const json_t *f = json_array_get(fields, i);
            const json_t *fname = json_object_get(f, "name");
            const json_t *ftype = json_object_get(f, "type");
            av_field_t *af = &n->fields[i];
            size_t k;
            if (!json_is_string(fname) || !ftype) {
                compile_fail(c, "record %s: field %zu needs a name and a type",
                             full, i);
                break;
            }
            for (k = 0; k < i; k++)
                if (!strcmp(n->fields[k].name, json_string_value(fname)))
                    break;
            if (k < i) {
                compile_fail(c, "record %s: field %s defined twice", full,
                             json_string_value(fname));
                break;
            }
            af->name = strdup(json_string_value(fname));
            if (!af->name)
                break;
            n->field_cnt++;
            if (json_is_array(json_object_get(f, "aliases")))
                af->aliases = json_incref(json_object_get(f, "aliases"));
            af->type = compile(c, ftype, inner_ns, depth + 1);
            if (!af->type)
                break;
            if (json_object_get(f, "default")) {
                af->deflt = json_deep_copy(json_object_get(f, "default"));
                if (!af->deflt)
                    break;
                if (check_default(af->type, af->deflt, full, af->name,
                                  c->errstr, c->errstr_size))
                    break;
            }
        }
        free(inner_ns);
        return i == json_array_size(fields) ? n : NULL;
    }
}

static av_node_t *compile(compile_t *c, const json_t *j, const char *ns,
                          int depth)
{
    av_node_t *n;
    av_kind_t k;
    size_t i;

    if (depth > 64) {
        compile_fail(c, "schema nested too deeply");
        return NULL;
    }
    if (json_is_string(j)) {
        const char *t = json_string_value(j);
        char *full;
        if (primitive_kind(t, &k))
            return node_new(c, k);
        full = make_full_name(t, ns);
        if (!full)
            return NULL;
        n = find_named(c, full);
        if (!n)
            compile_fail(c, "unknown type name '%s'", full);
        free(full);
        return n;
    }
    if (json_is_array(j)) {
        n = node_new(c, AV_UNION);
        if (!n)
            return NULL;
        if (!json_array_size(j)) {
            compile_fail(c, "empty union");
            return NULL;
        }
        n->branches = calloc(json_array_size(j), sizeof(av_node_t *));
        if (!n->branches)
            return NULL;
        for (i = 0; i < json_array_size(j); i++) {
            n->branches[i] = compile(c, json_array_get(j, i), ns, depth + 1);
            if (!n->branches[i])
                return NULL;
            if (n->branches[i]->kind == AV_UNION) {
                compile_fail(c, "union directly inside a union");
                return NULL;
            }
            n->branch_cnt++;
        }
        return n;
    }
    if (json_is_object(j)) {
        const json_t *jt = json_object_get(j, "type");
        const char *t;
        if (json_is_object(jt) || json_is_array(jt))
            return compile(c, jt, ns, depth + 1);
        if (!json_is_string(jt)) {
            compile_fail(c, "schema object without a \"type\"");
            return NULL;
        }
        t = json_string_value(jt);
        if (primitive_kind(t, &k)) {
            const json_t *lt = json_object_get(j, "logicalType");
            n = node_new(c, k);
            if (n && k == AV_LONG && json_is_string(lt) &&
                !strcmp(json_string_value(lt), "timestamp-millis"))
                n->ts_millis = true;
            return n;
        }
        if (!strcmp(t, "array") || !strcmp(t, "map")) {
            const json_t *sub =
                json_object_get(j, t[0] == 'a' ? "items" : "values");
            n = node_new(c, t[0] == 'a' ? AV_ARRAY : AV_MAP);
            if (!n)
                return NULL;
            if (!sub) {
                compile_fail(c, "%s without %s", t,
                             t[0] == 'a' ? "items" : "values");
                return NULL;
            }
            n->items = compile(c, sub, ns, depth + 1);
            return n->items ? n : NULL;
        }
        if (!strcmp(t, "record") || !strcmp(t, "error") || !strcmp(t, "enum") ||
            !strcmp(t, "fixed"))
            return compile_named(c, j, t, ns, depth);
        return compile(c, jt, ns, depth + 1);
    }
    compile_fail(c, "not a schema");
    return NULL;
}

void cishare_avro_schema_destroy(cishare_avro_schema_t *s)
{
    av_node_t *n, *next;
    size_t i;

    if (!s)
        return;
    for (n = s->all; n; n = next) {
        next = n->next;
        free(n->name);
        json_decref(n->aliases);
        free(n->enum_default);
        for (i = 0; i < n->field_cnt; i++) {
            free(n->fields[i].name);
            json_decref(n->fields[i].deflt);
            json_decref(n->fields[i].aliases);
        }
        free(n->fields);
        for (i = 0; n->qkeys && i < n->field_cnt; i++)
            free(n->qkeys[i]);
        free(n->qkeys);
        free(n->qkey_lens);
        free(n->sorted);
        for (i = 0; i < n->symbol_cnt; i++)
            free(n->symbols[i]);
        free(n->symbols);
        free(n->branches);
        free(n);
    }
    free(s);
}

static int text_prepare(cishare_avro_schema_t *s);

cishare_err_t cishare_avro_schema_new(const char *schema_json,
                                      cishare_avro_schema_t **schemap,
                                      char *errstr, size_t errstr_size)
{
    compile_t c = {.errstr = errstr, .errstr_size = errstr_size};
    json_error_t jerr;
    json_t *j;

    *schemap = NULL;
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "out of memory");
    j = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!j)
        return cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                               "schema is not JSON: line %d: %s", jerr.line,
                               jerr.text);
    c.s = calloc(1, sizeof(*c.s));
    if (!c.s) {
        json_decref(j);
        return CISHARE_ERR_NOMEM;
    }
    c.s->root = compile(&c, j, "", 0);
    json_decref(j);
    if (c.s->root && text_prepare(c.s)) {
        cishare_avro_schema_destroy(c.s);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if (!c.s->root) {
        cishare_avro_schema_destroy(c.s);
        return CISHARE_ERR_VALIDATION;
    }
    *schemap = c.s;
    return CISHARE_OK;
}

const char *cishare_avro_schema_name(const cishare_avro_schema_t *s)
{
    return s->root->name ? s->root->name : kind_names[s->root->kind];
}

/* ---------------------------------------------------------------------
 * Encoding.
 */
typedef struct {
    cishare_avro_buf_t *out;
    char *errstr;
    size_t errstr_size;
    const json_t *extra; /* top-level fields the value lacks or has null */
} enc_t;

static cishare_err_t enc_reserve(enc_t *e, size_t n, const path_t *p)
{
    cishare_avro_buf_t *o = e->out;

    if (o->max && (n > o->max || o->len > o->max - n))
        return path_err(CISHARE_ERR_TOO_LARGE, p, e->errstr, e->errstr_size,
                        "encoding larger than the limit of %zu bytes", o->max);
    if (o->len + n > o->cap) {
        size_t ncap = o->cap ? o->cap : 256;
        uint8_t *nb;
        while (o->len + n > ncap)
            ncap *= 2;
        nb = realloc(o->buf, ncap);
        if (!nb)
            return cishare_err_set(CISHARE_ERR_NOMEM, e->errstr, e->errstr_size,
                                   "out of memory");
        o->buf = nb;
        o->cap = ncap;
    }
    return CISHARE_OK;
}

static cishare_err_t enc_bytes(enc_t *e, const void *b, size_t n,
                               const path_t *p)
{
    cishare_err_t err = enc_reserve(e, n, p);

    if (err)
        return err;
    if (n)
        memcpy(e->out->buf + e->out->len, b, n);
    e->out->len += n;
    return CISHARE_OK;
}

size_t cishare_avro_zigzag(int64_t v, uint8_t out[10])
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;

    while (z >= 0x80) {
        out[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    out[n++] = (uint8_t)z;
    return n;
}

static cishare_err_t enc_long(enc_t *e, int64_t v, const path_t *p)
{
    uint8_t tmp[10];

    return enc_bytes(e, tmp, cishare_avro_zigzag(v, tmp), p);
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

/* What a node expects, for messages: "int", "RFC 3339 time string",
 * "one of ObservableType", "jp.cishare.v1.Observable object". */
static void expect_name(const av_node_t *n, char *out, size_t size)
{
    if (n->kind == AV_LONG && n->ts_millis)
        snprintf(out, size, "RFC 3339 time string");
    else if (n->kind == AV_RECORD)
        snprintf(out, size, "object");
    else if (n->kind == AV_ENUM)
        snprintf(out, size, "%s symbol", n->name);
    else
        snprintf(out, size, "%s", kind_names[n->kind]);
}

/* Latin-1 code point string (bytes/fixed JSON form) -> raw bytes, in
 * place into a malloc()ed buffer. */
static cishare_err_t latin1_decode(enc_t *e, const json_t *v, uint8_t **outp,
                                   size_t *lenp, const path_t *p)
{
    const unsigned char *s = (const unsigned char *)json_string_value(v);
    size_t n = json_string_length(v), i, o = 0;
    uint8_t *out = malloc(n + 1);

    if (!out)
        return cishare_err_set(CISHARE_ERR_NOMEM, e->errstr, e->errstr_size,
                               "out of memory");
    for (i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            out[o++] = s[i];
        } else if ((s[i] == 0xC2 || s[i] == 0xC3) && i + 1 < n) {
            out[o++] = (uint8_t)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3F));
            i++;
        } else {
            free(out);
            return path_err(CISHARE_ERR_VALIDATION, p, e->errstr,
                            e->errstr_size,
                            "bytes must be a string of code points "
                            "U+0000-U+00FF");
        }
    }
    *outp = out;
    *lenp = o;
    return CISHARE_OK;
}

static cishare_err_t encode(enc_t *e, const av_node_t *n, const json_t *v,
                            const path_t *p);

static bool union_accepts(const av_node_t *b, const json_t *v)
{
    switch (b->kind) {
    case AV_NULL:
        return json_is_null(v);
    case AV_BOOLEAN:
        return json_is_boolean(v);
    case AV_INT:
        return json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
               json_integer_value(v) <= INT32_MAX;
    case AV_LONG:
        return json_is_integer(v) || (b->ts_millis && json_is_string(v));
    case AV_FLOAT:
    case AV_DOUBLE:
        return json_is_number(v);
    case AV_BYTES:
    case AV_STRING:
    case AV_FIXED:
        return json_is_string(v);
    case AV_ENUM: {
        size_t i;
        for (i = 0; json_is_string(v) && i < b->symbol_cnt; i++)
            if (!strcmp(b->symbols[i], json_string_value(v)))
                return true;
        return false;
    }
    case AV_ARRAY:
        return json_is_array(v);
    case AV_RECORD:
    case AV_MAP:
        return json_is_object(v);
    default:
        return false;
    }
}

static cishare_err_t encode_record(enc_t *e, const av_node_t *n,
                                   const json_t *v, const path_t *p)
{
    size_t i, present = 0;
    cishare_err_t err;

    if (!json_is_object(v))
        return path_err(CISHARE_ERR_VALIDATION, p, e->errstr, e->errstr_size,
                        "expected object, got %s", json_type_name(v));
    for (i = 0; i < n->field_cnt; i++) {
        const av_field_t *f = &n->fields[i];
        const json_t *fv = json_object_get(v, f->name), *x;
        path_t fp = {.up = p, .field = f->name, .index = -1};
        if (fv)
            present++;
        /* the root's extra members stand in for its missing or null ones */
        if (e->extra && !p->up && (!fv || json_is_null(fv)) &&
            (x = json_object_get(e->extra, f->name)))
            fv = x;
        if (fv) {
            /* as given */
        } else if (f->deflt) {
            fv = f->deflt;
        } else if (f->type->kind == AV_UNION &&
                   f->type->branches[0]->kind == AV_NULL) {
            fv = json_null(); /* nullable without default: omitted = null */
        } else {
            return path_err(CISHARE_ERR_VALIDATION, &fp, e->errstr,
                            e->errstr_size, "missing required field");
        }
        if ((err = encode(e, f->type, fv, &fp)))
            return err;
    }
    if (present != json_object_size(v)) {
        const char *key;
        json_t *unused;
        json_object_foreach((json_t *)v, key, unused)
        {
            for (i = 0; i < n->field_cnt; i++)
                if (!strcmp(n->fields[i].name, key))
                    break;
            if (i == n->field_cnt) {
                path_t fp = {.up = p, .field = key, .index = -1};
                return path_err(CISHARE_ERR_VALIDATION, &fp, e->errstr,
                                e->errstr_size, "unknown field (not in %s)",
                                n->name);
            }
        }
    }
    return CISHARE_OK;
}

static cishare_err_t encode(enc_t *e, const av_node_t *n, const json_t *v,
                            const path_t *p)
{
    char want[160];
    cishare_err_t err;
    size_t i;

    switch (n->kind) {
    case AV_NULL:
        if (!json_is_null(v))
            goto mismatch;
        return CISHARE_OK;
    case AV_BOOLEAN: {
        uint8_t b = json_is_true(v);
        if (!json_is_boolean(v))
            goto mismatch;
        return enc_bytes(e, &b, 1, p);
    }
    case AV_INT:
        if (!json_is_integer(v))
            goto mismatch;
        if (json_integer_value(v) < INT32_MIN ||
            json_integer_value(v) > INT32_MAX)
            return path_err(CISHARE_ERR_VALIDATION, p, e->errstr,
                            e->errstr_size, "%lld is out of the int range",
                            (long long)json_integer_value(v));
        return enc_long(e, json_integer_value(v), p);
    case AV_LONG:
        if (n->ts_millis && json_is_string(v)) {
            int64_t ms;
            if (!cishare_time_parse(json_string_value(v), &ms))
                return path_err(CISHARE_ERR_VALIDATION, p, e->errstr,
                                e->errstr_size,
                                "'%.64s' is not an RFC 3339 time "
                                "(e.g. 2026-11-26T07:00:00Z)",
                                json_string_value(v));
            return enc_long(e, ms, p);
        }
        if (!json_is_integer(v))
            goto mismatch;
        return enc_long(e, json_integer_value(v), p);
    case AV_FLOAT: {
        float f = (float)json_number_value(v);
        uint8_t b[4];
        uint32_t u;
        if (!json_is_number(v))
            goto mismatch;
        memcpy(&u, &f, 4);
        for (i = 0; i < 4; i++)
            b[i] = (uint8_t)(u >> (8 * i));
        return enc_bytes(e, b, 4, p);
    }
    case AV_DOUBLE: {
        double d = json_number_value(v);
        uint8_t b[8];
        uint64_t u;
        if (!json_is_number(v))
            goto mismatch;
        memcpy(&u, &d, 8);
        for (i = 0; i < 8; i++)
            b[i] = (uint8_t)(u >> (8 * i));
        return enc_bytes(e, b, 8, p);
    }
    case AV_STRING:
        if (!json_is_string(v))
            goto mismatch;
        if ((err = enc_long(e, (int64_t)json_string_length(v), p)))
            return err;
        return enc_bytes(e, json_string_value(v), json_string_length(v), p);
    case AV_BYTES:
    case AV_FIXED: {
        uint8_t *raw = NULL;
        size_t len = 0;
        if (!json_is_string(v))
            goto mismatch;
        if ((err = latin1_decode(e, v, &raw, &len, p)))
            return err;
        if (n->kind == AV_FIXED && len != n->size) {
            free(raw);
            return path_err(CISHARE_ERR_VALIDATION, p, e->errstr,
                            e->errstr_size, "expected %zu bytes, got %zu",
                            n->size, len);
        }
        err = n->kind == AV_BYTES ? enc_long(e, (int64_t)len, p) : 0;
        if (!err)
            err = enc_bytes(e, raw, len, p);
        free(raw);
        return err;
    }
    case AV_ENUM: {
        char list[256];
        size_t o = 0;
        if (!json_is_string(v))
            goto mismatch;
        for (i = 0; i < n->symbol_cnt; i++)
            if (!strcmp(n->symbols[i], json_string_value(v)))
                return enc_long(e, (int64_t)i, p);
        list[0] = '\0';
        for (i = 0; i < n->symbol_cnt && o < sizeof(list); i++) {
            int w = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
                             n->symbols[i]);
            o += w > 0 ? (size_t)w : 0;
        }
        return path_err(CISHARE_ERR_VALIDATION, p, e->errstr, e->errstr_size,
                        "'%.64s' is not one of %s", json_string_value(v), list);
    }
    case AV_ARRAY:
        if (!json_is_array(v))
            goto mismatch;
        if (json_array_size(v)) {
            if ((err = enc_long(e, (int64_t)json_array_size(v), p)))
                return err;
            for (i = 0; i < json_array_size(v); i++) {
                path_t ip = {.up = p, .index = (long)i};
                if ((err = encode(e, n->items, json_array_get(v, i), &ip)))
                    return err;
            }
        }
        return enc_long(e, 0, p);
    case AV_MAP: {
        const char *key;
        json_t *mv;
        if (!json_is_object(v))
            goto mismatch;
        if (json_object_size(v)) {
            if ((err = enc_long(e, (int64_t)json_object_size(v), p)))
                return err;
            json_object_foreach((json_t *)v, key, mv)
            {
                path_t kp = {.up = p, .key = key, .index = -1};
                size_t kl = strlen(key);
                if ((err = enc_long(e, (int64_t)kl, &kp)) ||
                    (err = enc_bytes(e, key, kl, &kp)) ||
                    (err = encode(e, n->items, mv, &kp)))
                    return err;
            }
        }
        return enc_long(e, 0, p);
    }
    case AV_RECORD:
        return encode_record(e, n, v, p);
    case AV_UNION: {
        size_t o = 0;
        for (i = 0; i < n->branch_cnt; i++)
            if (union_accepts(n->branches[i], v)) {
                if ((err = enc_long(e, (int64_t)i, p)))
                    return err;
                return encode(e, n->branches[i], v, p);
            }
        /* No branch takes it: say what would have been accepted; an enum
         * string gets the enum's own message. */
        for (i = 0; i < n->branch_cnt; i++)
            if (n->branches[i]->kind == AV_ENUM && json_is_string(v))
                return encode(e, n->branches[i], v, p);
        want[0] = '\0';
        for (i = 0; i < n->branch_cnt && o < sizeof(want); i++) {
            char one[96];
            int w;
            expect_name(n->branches[i], one, sizeof(one));
            w = snprintf(want + o, sizeof(want) - o, "%s%s", i ? " or " : "",
                         one);
            o += w > 0 ? (size_t)w : 0;
        }
        return path_err(CISHARE_ERR_VALIDATION, p, e->errstr, e->errstr_size,
                        "expected %s, got %s", want, json_type_name(v));
    }
    }
mismatch:
    expect_name(n, want, sizeof(want));
    return path_err(CISHARE_ERR_VALIDATION, p, e->errstr, e->errstr_size,
                    "expected %s, got %s", want, json_type_name(v));
}

cishare_err_t cishare_avro_encode(const cishare_avro_schema_t *schema,
                                  const json_t *value, const char *label,
                                  cishare_avro_buf_t *out, char *errstr,
                                  size_t errstr_size)
{
    return cishare_avro_encode_with(schema, value, NULL, label, out, errstr,
                                    errstr_size);
}

cishare_err_t cishare_avro_encode_with(const cishare_avro_schema_t *schema,
                                       const json_t *value, const json_t *extra,
                                       const char *label,
                                       cishare_avro_buf_t *out, char *errstr,
                                       size_t errstr_size)
{
    enc_t e = {.out = out,
               .errstr = errstr,
               .errstr_size = errstr_size,
               .extra = json_is_object(extra) ? extra : NULL};
    path_t root = {.field = label ? label : "value", .index = -1};

    if (!value)
        return path_err(CISHARE_ERR_VALIDATION, &root, errstr, errstr_size,
                        "no value");
    return encode(&e, schema->root, value, &root);
}

static cishare_err_t check_default(const av_node_t *type, const json_t *d,
                                   const char *rec, const char *field,
                                   char *errstr, size_t errstr_size)
{
    cishare_avro_buf_t tmp = {0};
    enc_t e = {.out = &tmp, .errstr = errstr, .errstr_size = errstr_size};
    path_t r = {.field = rec, .index = -1};
    path_t f = {.up = &r, .field = field, .index = -1};
    const av_node_t *t = type;
    cishare_err_t err;

    /* A union's default is a value of its first branch. */
    if (t->kind == AV_UNION)
        t = t->branches[0];
    err = encode(&e, t, d, &f);
    free(tmp.buf);
    return err;
}

/* ---------------------------------------------------------------------
 * Decoding of untrusted bytes.
 */
typedef struct {
    const uint8_t *p, *end;
    size_t items_left;
    int depth_left;
    char *errstr;
    size_t errstr_size;
} dec_t;

static cishare_err_t rd_long(dec_t *d, int64_t *vp, const path_t *p)
{
    uint64_t z = 0;
    int shift = 0;

    for (;;) {
        uint8_t b;
        if (d->p >= d->end)
            return path_err(CISHARE_ERR_TRUNCATED, p, d->errstr, d->errstr_size,
                            "input ends inside a number");
        b = *d->p++;
        if (shift == 63 && (b & 0x7E))
            return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                            "varint longer than 64 bits");
        z |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
        if (shift > 63)
            return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                            "varint longer than 10 bytes");
    }
    *vp = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    return CISHARE_OK;
}

/* A length: non-negative and not more than the bytes left. */
static cishare_err_t rd_len(dec_t *d, size_t *lenp, const char *what,
                            const path_t *p)
{
    int64_t v;
    cishare_err_t err = rd_long(d, &v, p);

    if (err)
        return err;
    if (v < 0)
        return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                        "negative %s length %lld", what, (long long)v);
    if ((uint64_t)v > (uint64_t)(d->end - d->p))
        return path_err(v > (int64_t)CISHARE_CODEC_MAX_MSG_SIZE
                            ? CISHARE_ERR_TOO_LARGE
                            : CISHARE_ERR_TRUNCATED,
                        p, d->errstr, d->errstr_size,
                        "%s length %lld exceeds the %zu bytes left", what,
                        (long long)v, (size_t)(d->end - d->p));
    *lenp = (size_t)v;
    return CISHARE_OK;
}

static cishare_err_t nomem(dec_t *d)
{
    return cishare_err_set(CISHARE_ERR_NOMEM, d->errstr, d->errstr_size,
                           "out of memory");
}

/* Minimum encoded size of a value of n (0 for null, empty records...). */
static bool min_size_positive(const av_node_t *n)
{
    switch (n->kind) {
    case AV_NULL:
        return false;
    case AV_FIXED:
        return n->size > 0;
    case AV_RECORD: {
        size_t i;
        for (i = 0; i < n->field_cnt; i++)
            if (min_size_positive(n->fields[i].type))
                return true;
        return false;
    }
    default:
        return true;
    }
}

static cishare_err_t decode(dec_t *d, const av_node_t *n, json_t **out,
                            const path_t *p);

/* Reads one block header of an array or map: *cntp items (0 = end). */
static cishare_err_t rd_block(dec_t *d, const av_node_t *item, size_t *cntp,
                              const path_t *p)
{
    int64_t cnt, bytes;
    cishare_err_t err = rd_long(d, &cnt, p);

    if (err)
        return err;
    if (cnt < 0) {
        if (cnt == INT64_MIN)
            return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                            "bad block count");
        cnt = -cnt;
        if ((err = rd_long(d, &bytes, p)))
            return err;
        if (bytes < 0 || (uint64_t)bytes > (uint64_t)(d->end - d->p))
            return path_err(CISHARE_ERR_TRUNCATED, p, d->errstr, d->errstr_size,
                            "bad block size %lld", (long long)bytes);
    }
    if ((uint64_t)cnt > d->items_left)
        return path_err(CISHARE_ERR_TOO_LARGE, p, d->errstr, d->errstr_size,
                        "%lld items exceed the limit of %zu", (long long)cnt,
                        d->items_left);
    if (min_size_positive(item) && (uint64_t)cnt > (uint64_t)(d->end - d->p))
        return path_err(CISHARE_ERR_TRUNCATED, p, d->errstr, d->errstr_size,
                        "%lld items cannot fit in the %zu bytes left",
                        (long long)cnt, (size_t)(d->end - d->p));
    d->items_left -= (size_t)cnt;
    *cntp = (size_t)cnt;
    return CISHARE_OK;
}

/* Scalar readers shared by decode() (JSON trees) and decode_text() (JSON
 * text): each checks the bytes left and the value's range and names the
 * field in its error. */
static cishare_err_t rd_boolean(dec_t *d, const path_t *p, bool *bp)
{
    if (d->p >= d->end)
        return path_err(CISHARE_ERR_TRUNCATED, p, d->errstr, d->errstr_size,
                        "input ends inside a boolean");
    if (*d->p > 1)
        return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                        "bad boolean byte 0x%02x", *d->p);
    *bp = *d->p++ != 0;
    return CISHARE_OK;
}

/* An int or long node's value (ints range-checked). */
static cishare_err_t rd_integer(dec_t *d, const av_node_t *n, const path_t *p,
                                int64_t *vp)
{
    cishare_err_t err = rd_long(d, vp, p);

    if (!err && n->kind == AV_INT && (*vp < INT32_MIN || *vp > INT32_MAX))
        return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                        "int out of range");
    return err;
}

/* A float or double node's value, finite only. */
static cishare_err_t rd_real(dec_t *d, const av_node_t *n, const path_t *p,
                             double *dvp)
{
    size_t w = n->kind == AV_FLOAT ? 4 : 8, i;
    uint64_t u = 0;

    if ((size_t)(d->end - d->p) < w)
        return path_err(CISHARE_ERR_TRUNCATED, p, d->errstr, d->errstr_size,
                        "input ends inside a number");
    for (i = 0; i < w; i++)
        u |= (uint64_t)d->p[i] << (8 * i);
    d->p += w;
    if (w == 4) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        *dvp = f;
    } else {
        memcpy(dvp, &u, 8);
    }
    if (!isfinite(*dvp))
        return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                        "not a finite number");
    return CISHARE_OK;
}

/* Length of a bytes or fixed node's value, within the input. */
static cishare_err_t rd_bytes_len(dec_t *d, const av_node_t *n, const path_t *p,
                                  size_t *lenp)
{
    if (n->kind == AV_BYTES)
        return rd_len(d, lenp, "bytes", p);
    *lenp = n->size;
    if ((size_t)(d->end - d->p) < *lenp)
        return path_err(CISHARE_ERR_TRUNCATED, p, d->errstr, d->errstr_size,
                        "input ends inside fixed");
    return CISHARE_OK;
}

/* An enum symbol or union branch index below cnt. */
static cishare_err_t rd_index(dec_t *d, const av_node_t *n, const path_t *p,
                              int64_t *vp)
{
    bool is_enum = n->kind == AV_ENUM;
    size_t cnt = is_enum ? n->symbol_cnt : n->branch_cnt;
    cishare_err_t err = rd_long(d, vp, p);

    if (!err && (*vp < 0 || (uint64_t)*vp >= cnt))
        return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                        "%s %lld out of range (%zu %s)",
                        is_enum ? "enum index" : "union branch", (long long)*vp,
                        cnt, is_enum ? "symbols" : "branches");
    return err;
}

static cishare_err_t decode(dec_t *d, const av_node_t *n, json_t **out,
                            const path_t *p)
{
    cishare_err_t err;
    int64_t v;
    size_t len, i;
    json_t *j = NULL;

    *out = NULL;
    switch (n->kind) {
    case AV_NULL:
        *out = json_null();
        return CISHARE_OK;
    case AV_BOOLEAN: {
        bool b;
        if ((err = rd_boolean(d, p, &b)))
            return err;
        *out = json_boolean(b);
        return CISHARE_OK;
    }
    case AV_INT:
    case AV_LONG:
        if ((err = rd_integer(d, n, p, &v)))
            return err;
        if (n->ts_millis && cishare_time_in_range(v)) {
            char ts[32];
            cishare_time_format(v, ts);
            *out = json_string_nocheck(ts);
        } else {
            *out = json_integer(v);
        }
        return *out ? CISHARE_OK : nomem(d);
    case AV_FLOAT:
    case AV_DOUBLE: {
        double dv;
        if ((err = rd_real(d, n, p, &dv)))
            return err;
        *out = json_real(dv);
        return *out ? CISHARE_OK : nomem(d);
    }
    case AV_STRING:
        if ((err = rd_len(d, &len, "string", p)))
            return err;
        *out = json_stringn((const char *)d->p, len);
        if (!*out)
            return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                            "string is not valid UTF-8");
        d->p += len;
        return CISHARE_OK;
    case AV_BYTES:
    case AV_FIXED: {
        char *s;
        size_t o = 0;
        if ((err = rd_bytes_len(d, n, p, &len)))
            return err;
        s = malloc(2 * len + 1);
        if (!s)
            return nomem(d);
        for (i = 0; i < len; i++) {
            uint8_t b = d->p[i];
            if (b < 0x80) {
                s[o++] = (char)b;
            } else {
                s[o++] = (char)(0xC0 | (b >> 6));
                s[o++] = (char)(0x80 | (b & 0x3F));
            }
        }
        d->p += len;
        *out = json_stringn_nocheck(s, o);
        free(s);
        return *out ? CISHARE_OK : nomem(d);
    }
    case AV_ENUM:
        if ((err = rd_index(d, n, p, &v)))
            return err;
        *out = json_string_nocheck(n->symbols[v]);
        return *out ? CISHARE_OK : nomem(d);
    default:
        break;
    }

    /* Containers: bounded nesting. */
    if (d->depth_left-- <= 0)
        return path_err(CISHARE_ERR_TOO_LARGE, p, d->errstr, d->errstr_size,
                        "nested too deeply");
    err = CISHARE_OK;
    switch (n->kind) {
    case AV_RECORD:
        if (!(j = json_object()))
            err = nomem(d);
        for (i = 0; !err && i < n->field_cnt; i++) {
            path_t fp = {.up = p, .field = n->fields[i].name, .index = -1};
            json_t *fv;
            if ((err = decode(d, n->fields[i].type, &fv, &fp)))
                break;
            if (json_object_set_new_nocheck(j, n->fields[i].name, fv))
                err = nomem(d);
        }
        break;
    case AV_ARRAY:
    case AV_MAP: {
        size_t cnt = 0, idx = 0;
        j = n->kind == AV_ARRAY ? json_array() : json_object();
        if (!j)
            err = nomem(d);
        while (!err) {
            path_t bp = {.up = p, .index = (long)idx};
            if ((err = rd_block(d, n->items, &cnt, &bp)) || !cnt)
                break;
            for (i = 0; !err && i < cnt; i++, idx++) {
                path_t ip = {.up = p, .index = (long)idx};
                json_t *iv;
                char *key = NULL;
                if (n->kind == AV_MAP) {
                    if ((err = rd_len(d, &len, "map key", &ip)))
                        break;
                    key = strndup((const char *)d->p, len);
                    if (!key) {
                        err = nomem(d);
                        break;
                    }
                    d->p += len;
                }
                if ((err = decode(d, n->items, &iv, &ip))) {
                    free(key);
                    break;
                }
                if (n->kind == AV_ARRAY) {
                    if (json_array_append_new(j, iv))
                        err = nomem(d);
                } else {
                    /* json_object_set_new checks the key's UTF-8. */
                    if (json_object_set_new(j, key, iv))
                        err = path_err(CISHARE_ERR_PARSE, &ip, d->errstr,
                                       d->errstr_size,
                                       "map key is not valid UTF-8 or "
                                       "contains NUL");
                    free(key);
                }
            }
        }
        break;
    }
    case AV_UNION:
        if ((err = rd_index(d, n, p, &v)))
            break;
        err = decode(d, n->branches[v], &j, p);
        break;
    default:
        err = path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                       "bad schema node");
        break;
    }
    d->depth_left++;
    if (err) {
        json_decref(j);
        return err;
    }
    *out = j;
    return CISHARE_OK;
}

cishare_err_t cishare_avro_decode(const cishare_avro_schema_t *schema,
                                  const uint8_t *buf, size_t len,
                                  const cishare_avro_limits_t *limits,
                                  const char *label, json_t **valuep,
                                  char *errstr, size_t errstr_size)
{
    dec_t d = {
        .p = buf,
        .end = buf + len,
        .items_left = limits ? limits->max_items : CISHARE_CODEC_MAX_ITEMS,
        .depth_left = limits ? limits->max_depth : CISHARE_CODEC_MAX_DEPTH,
        .errstr = errstr,
        .errstr_size = errstr_size};
    path_t root = {.field = label ? label : "value", .index = -1};
    cishare_err_t err;
    json_t *v;

    *valuep = NULL;
    if (!buf && len)
        return CISHARE_ERR_INVALID_ARG;
    if (!buf)
        d.p = d.end = (const uint8_t *)"";
    if ((err = decode(&d, schema->root, &v, &root)))
        return err;
    if (d.p != d.end) {
        json_decref(v);
        return path_err(CISHARE_ERR_TRAILING, &root, errstr, errstr_size,
                        "%zu trailing bytes after the datum",
                        (size_t)(d.end - d.p));
    }
    *valuep = v;
    return CISHARE_OK;
}

/* ---------------------------------------------------------------------
 * Decoding of untrusted bytes straight to JSON text: the same checks and
 * errors as decode(), and exactly the bytes json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) writes for the tree decode() builds (jansson 2.x:
 * strings escape '"', '\\' and control characters, \u%04X otherwise;
 * reals "%.17g" with ".0" added when integral; object keys sorted
 * bytewise), without building the tree.
 */
static int tb_reserve(cishare_avro_buf_t *o, size_t n)
{
    size_t ncap;
    uint8_t *nb;

    if (o->max && (n > o->max || o->len > o->max - n))
        return -1;
    if (o->len + n <= o->cap)
        return 0;
    ncap = o->cap ? o->cap : 512;
    while (o->len + n > ncap)
        ncap *= 2;
    if (!(nb = realloc(o->buf, ncap)))
        return -1;
    o->buf = nb;
    o->cap = ncap;
    return 0;
}

static int tb_put(cishare_avro_buf_t *o, const void *p, size_t n)
{
    if (tb_reserve(o, n))
        return -1;
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

int cishare_avro_buf_put(cishare_avro_buf_t *o, const void *p, size_t n)
{
    return tb_put(o, p, n);
}

static int tb_putc(cishare_avro_buf_t *o, char c)
{
    if (o->len >= o->cap && tb_reserve(o, 1))
        return -1;
    o->buf[o->len++] = (uint8_t)c;
    return 0;
}

/* Bytes of one UTF-8 sequence starting at s (n bytes left), as jansson's
 * utf8_check_string accepts them (no overlongs, surrogates or code points
 * past U+10FFFF); 0 when invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t cnt, i;
    uint32_t v;

    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        cnt = 2, v = c & 0x1F;
    else if (c < 0xF0)
        cnt = 3, v = c & 0x0F;
    else if (c < 0xF5)
        cnt = 4, v = c & 0x07;
    else
        return 0;
    if (cnt > n)
        return 0;
    for (i = 1; i < cnt; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((cnt == 3 && v < 0x800) || (cnt == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return cnt;
}

bool cishare_avro_utf8_valid(const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i = 0, k;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (!(k = utf8_seq(s + i, n - i)))
            return false;
        i += k;
    }
    return true;
}

/* The JSON escape of one byte below 0x80 that needs one; NULL if none. */
static const char *json_esc(uint8_t c, char tmp[8])
{
    static const char hex[] = "0123456789ABCDEF";

    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        if (c >= 0x20)
            return NULL;
        memcpy(tmp, "\\u00", 4);
        tmp[4] = hex[c >> 4];
        tmp[5] = hex[c & 15];
        tmp[6] = '\0';
        return tmp;
    }
}

int cishare_avro_json_string(cishare_avro_buf_t *o, const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i, run = 0;
    char tmp[8];

    /* worst case: every byte escaped as \u00XX */
    if (tb_reserve(o, 2 + n * 6))
        return -1;
    o->buf[o->len++] = '"';
    for (i = 0; i < n; i++) {
        const char *e;
        if (s[i] >= 0x20 && s[i] != '"' && s[i] != '\\') {
            run++;
            continue;
        }
        memcpy(o->buf + o->len, s + i - run, run);
        o->len += run;
        run = 0;
        e = json_esc(s[i], tmp);
        memcpy(o->buf + o->len, e, strlen(e));
        o->len += strlen(e);
    }
    memcpy(o->buf + o->len, s + n - run, run);
    o->len += run;
    o->buf[o->len++] = '"';
    return 0;
}

/* Bytes and fixed: each byte a code point U+0000-U+00FF. */
static int json_latin1(cishare_avro_buf_t *o, const uint8_t *s, size_t n)
{
    size_t i;
    char tmp[8];

    if (tb_reserve(o, 2 + n * 6))
        return -1;
    o->buf[o->len++] = '"';
    for (i = 0; i < n; i++) {
        uint8_t b = s[i];
        const char *e;
        if (b >= 0x80) {
            o->buf[o->len++] = (uint8_t)(0xC0 | (b >> 6));
            o->buf[o->len++] = (uint8_t)(0x80 | (b & 0x3F));
        } else if ((e = json_esc(b, tmp))) {
            memcpy(o->buf + o->len, e, strlen(e));
            o->len += strlen(e);
        } else {
            o->buf[o->len++] = b;
        }
    }
    o->buf[o->len++] = '"';
    return 0;
}

/* jansson's jsonp_dtostr with its default precision 17. */
static int json_real_text(cishare_avro_buf_t *o, double v)
{
    char b[64], *start, *end;
    int r = snprintf(b, sizeof(b), "%.17g", v);
    size_t len;

    if (r < 0 || (size_t)r >= sizeof(b) - 3)
        return -1;
    len = (size_t)r;
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        b[len++] = '.';
        b[len++] = '0';
        b[len] = '\0';
    }
    if ((start = strchr(b, 'e'))) {
        start++;
        end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - b) + 1);
            len -= (size_t)(end - start);
        }
    }
    return tb_put(o, b, len);
}

static int json_int_text(cishare_avro_buf_t *o, int64_t v)
{
    char b[24];
    size_t i = sizeof(b);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        b[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        b[--i] = '-';
    return tb_put(o, b + i, sizeof(b) - i);
}

/* Sorted field order and "name": texts of every record node. */
static int text_prepare(cishare_avro_schema_t *s)
{
    av_node_t *n;
    size_t i, j;

    for (n = s ? s->all : NULL; n; n = n->next) {
        if (n->kind != AV_RECORD || !n->field_cnt)
            continue;
        n->sorted = calloc(n->field_cnt, sizeof(*n->sorted));
        n->qkeys = calloc(n->field_cnt, sizeof(*n->qkeys));
        n->qkey_lens = calloc(n->field_cnt, sizeof(*n->qkey_lens));
        if (!n->sorted || !n->qkeys || !n->qkey_lens)
            return -1;
        for (i = 0; i < n->field_cnt; i++) {
            cishare_avro_buf_t q = {0};
            if (cishare_avro_json_string(&q, n->fields[i].name,
                                         strlen(n->fields[i].name)) ||
                tb_putc(&q, ':') || tb_putc(&q, '\0')) {
                free(q.buf);
                return -1;
            }
            n->qkeys[i] = (char *)q.buf;
            n->qkey_lens[i] = q.len - 1;
            /* insertion sort: records are small, this runs once */
            for (j = i; j > 0 && strcmp(n->fields[n->sorted[j - 1]].name,
                                        n->fields[i].name) > 0;
                 j--)
                n->sorted[j] = n->sorted[j - 1];
            n->sorted[j] = i;
        }
    }
    return 0;
}

typedef struct {
    const uint8_t *key; /* in the input: stable */
    size_t key_len;
    size_t val, val_len; /* offsets into the output buffer */
    size_t seq;          /* order read: the last of equal keys wins */
} map_ent_t;

static int map_ent_cmp(const void *a, const void *b)
{
    const map_ent_t *x = a, *y = b;
    size_t m = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = memcmp(x->key, y->key, m);

    if (r)
        return r;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct {
    dec_t d;
    cishare_avro_buf_t *out;
} tdec_t;

static cishare_err_t tnomem(tdec_t *t, const path_t *p)
{
    if (t->out->max && t->out->len + 1 > t->out->max)
        return path_err(CISHARE_ERR_TOO_LARGE, p, t->d.errstr, t->d.errstr_size,
                        "JSON text larger than the limit of %zu bytes",
                        t->out->max);
    return nomem(&t->d);
}

/* v: where a scalar reports itself (a field of the root record); views:
 * the root record's fields (root only). */
static cishare_err_t decode_text(tdec_t *t, const av_node_t *n, const path_t *p,
                                 cishare_avro_view_t *v,
                                 cishare_avro_view_t *views, size_t view_cnt);

/* Move the text of a container assembled at out[from..] back to start. */
static void tb_move_back(cishare_avro_buf_t *o, size_t start, size_t from)
{
    size_t len = o->len - from;

    memmove(o->buf + start, o->buf + from, len);
    o->len = start + len;
}

static cishare_err_t text_record(tdec_t *t, const av_node_t *n, const path_t *p,
                                 cishare_avro_view_t *views, size_t view_cnt)
{
    cishare_avro_buf_t *o = t->out;
    size_t stack[2 * 32], *span = stack, start = o->len, from, i, k;
    cishare_err_t err = CISHARE_OK;

    if (n->field_cnt > 32 && !(span = malloc(2 * n->field_cnt * sizeof(*span))))
        return nomem(&t->d);
    /* values in schema (wire) order, then the object in key order */
    for (i = 0; i < n->field_cnt; i++) {
        path_t fp = {.up = p, .field = n->fields[i].name, .index = -1};
        cishare_avro_view_t *v = views && i < view_cnt ? &views[i] : NULL;
        span[2 * i] = o->len;
        if ((err = decode_text(t, n->fields[i].type, &fp, v, NULL, 0)))
            goto out;
        span[2 * i + 1] = o->len - span[2 * i];
    }
    from = o->len;
    if (tb_putc(o, '{')) {
        err = tnomem(t, p);
        goto out;
    }
    for (k = 0; k < n->field_cnt; k++) {
        i = n->sorted[k];
        if ((k && tb_putc(o, ',')) || tb_put(o, n->qkeys[i], n->qkey_lens[i]) ||
            tb_reserve(o, span[2 * i + 1])) {
            err = tnomem(t, p);
            goto out;
        }
        memcpy(o->buf + o->len, o->buf + span[2 * i], span[2 * i + 1]);
        o->len += span[2 * i + 1];
    }
    if (tb_putc(o, '}')) {
        err = tnomem(t, p);
        goto out;
    }
    tb_move_back(o, start, from);
out:
    if (span != stack)
        free(span);
    return err;
}

static cishare_err_t text_map(tdec_t *t, const av_node_t *n, const path_t *p)
{
    cishare_avro_buf_t *o = t->out;
    dec_t *d = &t->d;
    map_ent_t *ents = NULL;
    size_t cnt = 0, idx = 0, i, k, cap = 0, start = o->len, from, need = 2;
    cishare_err_t err = CISHARE_OK;

    for (;;) {
        path_t bp = {.up = p, .index = (long)idx};
        if ((err = rd_block(d, n->items, &cnt, &bp)) || !cnt)
            break;
        if (idx + cnt > cap) {
            map_ent_t *ne;
            cap = idx + cnt;
            if (!(ne = realloc(ents, cap * sizeof(*ents)))) {
                err = nomem(d);
                break;
            }
            ents = ne;
        }
        for (i = 0; !err && i < cnt; i++, idx++) {
            path_t ip = {.up = p, .index = (long)idx};
            map_ent_t *e = &ents[idx];
            size_t len;
            if ((err = rd_len(d, &len, "map key", &ip)))
                break;
            /* as decode(): the key ends at a NUL (strndup), and must be
             * valid UTF-8 (json_object_set_new) */
            e->key = d->p;
            e->key_len = strnlen((const char *)d->p, len);
            e->seq = idx;
            d->p += len;
            e->val = o->len;
            if ((err = decode_text(t, n->items, &ip, NULL, NULL, 0)))
                break;
            e->val_len = o->len - e->val;
            if (!cishare_avro_utf8_valid(e->key, e->key_len))
                err =
                    path_err(CISHARE_ERR_PARSE, &ip, d->errstr, d->errstr_size,
                             "map key is not valid UTF-8 or contains NUL");
            need += 2 + 6 * e->key_len + 2 + e->val_len;
        }
        if (err)
            break;
    }
    if (!err) {
        from = o->len;
        if (idx)
            qsort(ents, idx, sizeof(*ents), map_ent_cmp);
        if (tb_reserve(o, need) || tb_putc(o, '{'))
            err = tnomem(t, p);
        for (i = 0, k = 0; !err && i < idx; i++) {
            const map_ent_t *e = &ents[i];
            /* equal keys: only the last read is kept */
            if (i + 1 < idx && e->key_len == ents[i + 1].key_len &&
                !memcmp(e->key, ents[i + 1].key, e->key_len))
                continue;
            if ((k++ && tb_putc(o, ',')) ||
                cishare_avro_json_string(o, e->key, e->key_len) ||
                tb_putc(o, ':') || tb_reserve(o, e->val_len)) {
                err = tnomem(t, p);
                break;
            }
            memcpy(o->buf + o->len, o->buf + e->val, e->val_len);
            o->len += e->val_len;
        }
        if (!err && tb_putc(o, '}'))
            err = tnomem(t, p);
        if (!err)
            tb_move_back(o, start, from);
    }
    free(ents);
    return err;
}

static cishare_err_t decode_text(tdec_t *t, const av_node_t *n, const path_t *p,
                                 cishare_avro_view_t *v,
                                 cishare_avro_view_t *views, size_t view_cnt)
{
    cishare_avro_buf_t *o = t->out;
    dec_t *d = &t->d;
    cishare_err_t err;
    int64_t l;
    size_t len, i;
    int r = 0;

    switch (n->kind) {
    case AV_NULL:
        if (v)
            v->kind = CISHARE_AVRO_VIEW_NULL;
        return tb_put(o, "null", 4) ? tnomem(t, p) : CISHARE_OK;
    case AV_BOOLEAN: {
        bool b;
        if ((err = rd_boolean(d, p, &b)))
            return err;
        r = b ? tb_put(o, "true", 4) : tb_put(o, "false", 5);
        return r ? tnomem(t, p) : CISHARE_OK;
    }
    case AV_INT:
    case AV_LONG:
        if ((err = rd_integer(d, n, p, &l)))
            return err;
        if (v) {
            v->kind = CISHARE_AVRO_VIEW_LONG;
            v->l = l;
        }
        if (n->ts_millis && cishare_time_in_range(l)) {
            char ts[32];
            size_t tl;
            cishare_time_format(l, ts);
            tl = strlen(ts);
            if (tb_reserve(o, tl + 2))
                return tnomem(t, p);
            o->buf[o->len++] = '"';
            memcpy(o->buf + o->len, ts, tl);
            o->len += tl;
            o->buf[o->len++] = '"';
            return CISHARE_OK;
        }
        return json_int_text(o, l) ? tnomem(t, p) : CISHARE_OK;
    case AV_FLOAT:
    case AV_DOUBLE: {
        double dv;
        if ((err = rd_real(d, n, p, &dv)))
            return err;
        return json_real_text(o, dv) ? tnomem(t, p) : CISHARE_OK;
    }
    case AV_STRING:
        if ((err = rd_len(d, &len, "string", p)))
            return err;
        if (!cishare_avro_utf8_valid(d->p, len))
            return path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                            "string is not valid UTF-8");
        if (v) {
            v->kind = CISHARE_AVRO_VIEW_STRING;
            v->s = (const char *)d->p;
            v->len = len;
        }
        if (cishare_avro_json_string(o, d->p, len))
            return tnomem(t, p);
        d->p += len;
        return CISHARE_OK;
    case AV_BYTES:
    case AV_FIXED:
        if ((err = rd_bytes_len(d, n, p, &len)))
            return err;
        if (json_latin1(o, d->p, len))
            return tnomem(t, p);
        d->p += len;
        return CISHARE_OK;
    case AV_ENUM:
        if ((err = rd_index(d, n, p, &l)))
            return err;
        return cishare_avro_json_string(o, n->symbols[l], strlen(n->symbols[l]))
                   ? tnomem(t, p)
                   : CISHARE_OK;
    default:
        break;
    }

    /* Containers: bounded nesting, as decode(). */
    if (d->depth_left-- <= 0)
        return path_err(CISHARE_ERR_TOO_LARGE, p, d->errstr, d->errstr_size,
                        "nested too deeply");
    err = CISHARE_OK;
    switch (n->kind) {
    case AV_RECORD:
        err = text_record(t, n, p, views, view_cnt);
        break;
    case AV_ARRAY: {
        size_t cnt = 0, idx = 0;
        if (tb_putc(o, '[')) {
            err = tnomem(t, p);
            break;
        }
        while (!err) {
            path_t bp = {.up = p, .index = (long)idx};
            if ((err = rd_block(d, n->items, &cnt, &bp)) || !cnt)
                break;
            for (i = 0; !err && i < cnt; i++, idx++) {
                path_t ip = {.up = p, .index = (long)idx};
                if (idx && tb_putc(o, ','))
                    err = tnomem(t, p);
                else
                    err = decode_text(t, n->items, &ip, NULL, NULL, 0);
            }
        }
        if (!err && tb_putc(o, ']'))
            err = tnomem(t, p);
        break;
    }
    case AV_MAP:
        err = text_map(t, n, p);
        break;
    case AV_UNION:
        if ((err = rd_index(d, n, p, &l)))
            break;
        /* a union field's view is its branch's value */
        err = decode_text(t, n->branches[l], p, v, NULL, 0);
        break;
    default:
        err = path_err(CISHARE_ERR_PARSE, p, d->errstr, d->errstr_size,
                       "bad schema node");
        break;
    }
    d->depth_left++;
    return err;
}

size_t cishare_avro_schema_field_cnt(const cishare_avro_schema_t *s)
{
    return s->root->kind == AV_RECORD ? s->root->field_cnt : 0;
}

int cishare_avro_schema_field_index(const cishare_avro_schema_t *s,
                                    const char *name)
{
    size_t i;

    for (i = 0; i < cishare_avro_schema_field_cnt(s); i++)
        if (!strcmp(s->root->fields[i].name, name))
            return (int)i;
    return -1;
}

cishare_err_t
cishare_avro_decode_text(const cishare_avro_schema_t *schema,
                         const uint8_t *buf, size_t len,
                         const cishare_avro_limits_t *limits, const char *label,
                         cishare_avro_buf_t *out, cishare_avro_view_t *views,
                         size_t view_cnt, char *errstr, size_t errstr_size)
{
    tdec_t t = {.d = {.p = buf,
                      .end = buf + len,
                      .items_left =
                          limits ? limits->max_items : CISHARE_CODEC_MAX_ITEMS,
                      .depth_left =
                          limits ? limits->max_depth : CISHARE_CODEC_MAX_DEPTH,
                      .errstr = errstr,
                      .errstr_size = errstr_size},
                .out = out};
    path_t root = {.field = label ? label : "value", .index = -1};
    size_t start = out->len;
    cishare_err_t err;

    if (!buf && len)
        return CISHARE_ERR_INVALID_ARG;
    if (!buf)
        t.d.p = t.d.end = (const uint8_t *)"";
    if (views && view_cnt)
        memset(views, 0, view_cnt * sizeof(*views));
    err =
        decode_text(&t, schema->root, &root, NULL, views, views ? view_cnt : 0);
    if (!err && t.d.p != t.d.end)
        err = path_err(CISHARE_ERR_TRAILING, &root, errstr, errstr_size,
                       "%zu trailing bytes after the datum",
                       (size_t)(t.d.end - t.d.p));
    if (err)
        out->len = start;
    return err;
}

/* ---------------------------------------------------------------------
 * Schema resolution (Avro specification, "Schema Resolution"): a value
 * decoded with the writer's schema, rewritten into the reader's shape.
 * The same walk without a value (v == NULL) checks two schemas.
 */
typedef struct res_pair_s {
    const struct res_pair_s *up;
    const av_node_t *w, *r;
} res_pair_t;

typedef struct {
    char *errstr;
    size_t errstr_size;
} res_t;

static const char *unqualified(const char *name)
{
    const char *dot = strrchr(name, '.');

    return dot ? dot + 1 : name;
}

/* Named types match by full or unqualified name, or a reader alias. */
static bool names_match(const av_node_t *w, const av_node_t *r)
{
    size_t i;

    if (!strcmp(w->name, r->name) ||
        !strcmp(unqualified(w->name), unqualified(r->name)))
        return true;
    for (i = 0; r->aliases && i < json_array_size(r->aliases); i++) {
        const char *a = json_string_value(json_array_get(r->aliases, i));
        if (a && (!strcmp(a, w->name) || !strcmp(a, unqualified(w->name))))
            return true;
    }
    return false;
}

/* Kinds a writer's kind may be read as (same kind, or a promotion). */
static bool kinds_match(const av_node_t *w, const av_node_t *r)
{
    if (w->kind == r->kind)
        return (w->kind != AV_RECORD && w->kind != AV_ENUM &&
                w->kind != AV_FIXED) ||
               names_match(w, r);
    switch (w->kind) {
    case AV_INT:
        return r->kind == AV_LONG || r->kind == AV_FLOAT ||
               r->kind == AV_DOUBLE;
    case AV_LONG:
        return r->kind == AV_FLOAT || r->kind == AV_DOUBLE;
    case AV_FLOAT:
        return r->kind == AV_DOUBLE;
    case AV_STRING:
        return r->kind == AV_BYTES;
    case AV_BYTES:
        return r->kind == AV_STRING;
    default:
        return false;
    }
}

static const av_field_t *writer_field(const av_node_t *w, const av_field_t *rf)
{
    size_t i, k;

    for (i = 0; i < w->field_cnt; i++)
        if (!strcmp(w->fields[i].name, rf->name))
            return &w->fields[i];
    for (k = 0; rf->aliases && k < json_array_size(rf->aliases); k++) {
        const char *a = json_string_value(json_array_get(rf->aliases, k));
        for (i = 0; a && i < w->field_cnt; i++)
            if (!strcmp(w->fields[i].name, a))
                return &w->fields[i];
    }
    return NULL;
}

/* A default in native form: encoded with the field's type, decoded back
 * (a timestamp default 0 becomes "1970-01-01T00:00:00Z", as decode
 * would give it). */
static cishare_err_t default_value(res_t *rs, const av_node_t *type,
                                   const json_t *d, const path_t *p,
                                   json_t **outp)
{
    cishare_avro_buf_t tmp = {0};
    enc_t e = {
        .out = &tmp, .errstr = rs->errstr, .errstr_size = rs->errstr_size};
    dec_t dd = {.items_left = CISHARE_CODEC_MAX_ITEMS,
                .depth_left = CISHARE_CODEC_MAX_DEPTH,
                .errstr = rs->errstr,
                .errstr_size = rs->errstr_size};
    const av_node_t *t = type->kind == AV_UNION ? type->branches[0] : type;
    cishare_err_t err;

    if ((err = encode(&e, t, d, p))) {
        free(tmp.buf);
        return err;
    }
    dd.p = tmp.buf ? tmp.buf : (const uint8_t *)"";
    dd.end = dd.p + tmp.len;
    err = decode(&dd, t, outp, p);
    free(tmp.buf);
    return err;
}

/* bytes (code points U+0000-U+00FF) <-> string (UTF-8), one byte per
 * code point either way. */
static cishare_err_t promote_text(res_t *rs, const json_t *v, bool to_bytes,
                                  const path_t *p, json_t **outp)
{
    const uint8_t *s = (const uint8_t *)json_string_value(v);
    size_t n = json_string_length(v), i, o = 0;
    char *buf = malloc(2 * n + 1);

    if (!buf)
        return cishare_err_set(CISHARE_ERR_NOMEM, rs->errstr, rs->errstr_size,
                               "out of memory");
    for (i = 0; i < n; i++) {
        if (to_bytes && s[i] >= 0x80) {
            buf[o++] = (char)(0xC0 | (s[i] >> 6));
            buf[o++] = (char)(0x80 | (s[i] & 0x3F));
        } else if (!to_bytes && s[i] >= 0x80) {
            /* only U+0080-U+00FF occur in a bytes value */
            if (i + 1 >= n || (s[i] != 0xC2 && s[i] != 0xC3)) {
                free(buf);
                return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr,
                                rs->errstr_size,
                                "bytes value is not code points "
                                "U+0000-U+00FF");
            }
            buf[o++] = (char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3F));
            i++;
        } else {
            buf[o++] = (char)s[i];
        }
    }
    if (!to_bytes && !cishare_avro_utf8_valid(buf, o)) {
        free(buf);
        return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr, rs->errstr_size,
                        "bytes value is not valid UTF-8 for a string");
    }
    *outp = json_stringn_nocheck(buf, o);
    free(buf);
    return *outp ? CISHARE_OK
                 : cishare_err_set(CISHARE_ERR_NOMEM, rs->errstr,
                                   rs->errstr_size, "out of memory");
}

static cishare_err_t resolve(res_t *rs, const av_node_t *w, const av_node_t *r,
                             const json_t *v, const path_t *p,
                             const res_pair_t *up, json_t **outp);

static cishare_err_t resolve_record(res_t *rs, const av_node_t *w,
                                    const av_node_t *r, const json_t *v,
                                    const path_t *p, const res_pair_t *up,
                                    json_t **outp)
{
    json_t *o = v ? json_object() : NULL;
    cishare_err_t err = CISHARE_OK;
    size_t i;

    if (v && !o)
        return cishare_err_set(CISHARE_ERR_NOMEM, rs->errstr, rs->errstr_size,
                               "out of memory");
    /* writer fields the reader lacks are skipped: only reader fields are
     * written */
    for (i = 0; i < r->field_cnt && !err; i++) {
        const av_field_t *rf = &r->fields[i];
        const av_field_t *wf = writer_field(w, rf);
        path_t fp = {.up = p, .field = rf->name, .index = -1};
        json_t *fv = NULL;
        if (wf)
            err = resolve(rs, wf->type, rf->type,
                          v ? json_object_get(v, wf->name) : NULL, &fp, up,
                          v ? &fv : NULL);
        else if (!rf->deflt)
            err = path_err(CISHARE_ERR_VALIDATION, &fp, rs->errstr,
                           rs->errstr_size,
                           "not in the writer's %s and no default", w->name);
        else if (v)
            err = default_value(rs, rf->type, rf->deflt, &fp, &fv);
        if (!err && fv && json_object_set_new_nocheck(o, rf->name, fv))
            err = cishare_err_set(CISHARE_ERR_NOMEM, rs->errstr,
                                  rs->errstr_size, "out of memory");
    }
    if (err) {
        json_decref(o);
        return err;
    }
    if (outp)
        *outp = o;
    return CISHARE_OK;
}

static cishare_err_t resolve(res_t *rs, const av_node_t *w, const av_node_t *r,
                             const json_t *v, const path_t *p,
                             const res_pair_t *up, json_t **outp)
{
    const res_pair_t *q;
    res_pair_t here = {.up = up, .w = w, .r = r};
    cishare_err_t err;
    size_t i;

    /* a recursive type meeting itself again: that pair is being checked */
    for (q = up; !v && q; q = q->up)
        if (q->w == w && q->r == r)
            return CISHARE_OK;
    if (w->kind == AV_UNION) {
        if (!v) { /* every branch the writer may write must resolve */
            for (i = 0; i < w->branch_cnt; i++)
                if ((err =
                         resolve(rs, w->branches[i], r, NULL, p, &here, NULL)))
                    return err;
            return CISHARE_OK;
        }
        /* the branch the value came from: the first that accepts it, as
         * encode chooses */
        for (i = 0; i < w->branch_cnt; i++)
            if (union_accepts(w->branches[i], v))
                return resolve(rs, w->branches[i], r, v, p, &here, outp);
        return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr, rs->errstr_size,
                        "value fits no branch of the writer's union");
    }
    if (r->kind == AV_UNION) {
        /* the first reader branch of the same type, else the first that
         * the writer's type promotes to */
        for (i = 0; i < r->branch_cnt; i++)
            if (r->branches[i]->kind == w->kind &&
                kinds_match(w, r->branches[i]))
                return resolve(rs, w, r->branches[i], v, p, &here, outp);
        for (i = 0; i < r->branch_cnt; i++)
            if (kinds_match(w, r->branches[i]))
                return resolve(rs, w, r->branches[i], v, p, &here, outp);
        return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr, rs->errstr_size,
                        "the writer's %s fits no branch of the reader's "
                        "union",
                        w->name ? w->name : kind_names[w->kind]);
    }
    if (!kinds_match(w, r))
        return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr, rs->errstr_size,
                        "the writer's %s cannot be read as %s",
                        w->name ? w->name : kind_names[w->kind],
                        r->name ? r->name : kind_names[r->kind]);
    switch (r->kind) {
    case AV_RECORD:
        return resolve_record(rs, w, r, v, p, &here, outp);
    case AV_ENUM:
        for (i = 0; i < w->symbol_cnt && !r->enum_default; i++) {
            size_t k;
            for (k = 0; k < r->symbol_cnt; k++)
                if (!strcmp(w->symbols[i], r->symbols[k]))
                    break;
            if (k == r->symbol_cnt && !v)
                return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr,
                                rs->errstr_size,
                                "symbol '%s' of the writer's %s is not in "
                                "the reader's and it has no default",
                                w->symbols[i], w->name);
        }
        if (!v)
            return CISHARE_OK;
        for (i = 0; i < r->symbol_cnt; i++)
            if (!strcmp(r->symbols[i], json_string_value(v)))
                break;
        if (i < r->symbol_cnt)
            *outp = json_incref((json_t *)v);
        else if (r->enum_default)
            *outp = json_string(r->enum_default);
        else
            return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr,
                            rs->errstr_size,
                            "'%s' is not a symbol of the reader's %s",
                            json_string_value(v), r->name);
        break;
    case AV_FIXED:
        if (w->size != r->size)
            return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr,
                            rs->errstr_size,
                            "fixed %s: size %zu, the reader's %zu", w->name,
                            w->size, r->size);
        if (v)
            *outp = json_incref((json_t *)v);
        break;
    case AV_ARRAY:
    case AV_MAP:
        if (!v)
            return resolve(rs, w->items, r->items, NULL, p, &here, NULL);
        {
            json_t *o = r->kind == AV_ARRAY ? json_array() : json_object();
            const char *key;
            json_t *item;
            size_t idx;
            err = o ? CISHARE_OK : CISHARE_ERR_NOMEM;
            if (r->kind == AV_ARRAY) {
                json_array_foreach((json_t *)v, idx, item)
                {
                    path_t ip = {.up = p, .index = (long)idx};
                    json_t *ov = NULL;
                    if (err || (err = resolve(rs, w->items, r->items, item, &ip,
                                              &here, &ov)))
                        break;
                    if (json_array_append_new(o, ov))
                        err = CISHARE_ERR_NOMEM;
                }
            } else {
                json_object_foreach((json_t *)v, key, item)
                {
                    path_t ip = {.up = p, .index = -1, .key = key};
                    json_t *ov = NULL;
                    if (err || (err = resolve(rs, w->items, r->items, item, &ip,
                                              &here, &ov)))
                        break;
                    if (json_object_set_new_nocheck(o, key, ov))
                        err = CISHARE_ERR_NOMEM;
                }
            }
            if (err == CISHARE_ERR_NOMEM)
                cishare_err_set(err, rs->errstr, rs->errstr_size,
                                "out of memory");
            if (err) {
                json_decref(o);
                return err;
            }
            *outp = o;
        }
        break;
    default: /* primitives, promotions */
        if (!v)
            return CISHARE_OK;
        if ((w->kind == AV_STRING && r->kind == AV_BYTES) ||
            (w->kind == AV_BYTES && r->kind == AV_STRING))
            return promote_text(rs, v, r->kind == AV_BYTES, p, outp);
        if ((r->kind == AV_FLOAT || r->kind == AV_DOUBLE) && json_is_integer(v))
            *outp = json_real((double)json_integer_value(v));
        else if (r->kind == AV_LONG && json_is_string(v) && !r->ts_millis) {
            /* a timestamp read as a plain long: its milliseconds */
            int64_t ms;
            if (!cishare_time_parse(json_string_value(v), &ms))
                return path_err(CISHARE_ERR_VALIDATION, p, rs->errstr,
                                rs->errstr_size, "not a time");
            *outp = json_integer(ms);
        } else if (r->kind == AV_LONG && r->ts_millis && json_is_integer(v) &&
                   cishare_time_in_range(json_integer_value(v))) {
            char ts[32];
            cishare_time_format(json_integer_value(v), ts);
            *outp = json_string(ts);
        } else {
            *outp = json_incref((json_t *)v);
        }
        break;
    }
    if (!v)
        return CISHARE_OK;
    return *outp ? CISHARE_OK
                 : cishare_err_set(CISHARE_ERR_NOMEM, rs->errstr,
                                   rs->errstr_size, "out of memory");
}

cishare_err_t cishare_avro_resolve(const cishare_avro_schema_t *writer,
                                   const cishare_avro_schema_t *reader,
                                   const json_t *value, const char *label,
                                   json_t **valuep, char *errstr,
                                   size_t errstr_size)
{
    res_t rs = {.errstr = errstr, .errstr_size = errstr_size};
    path_t root = {.field = label ? label : "value", .index = -1};

    *valuep = NULL;
    if (!value)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "no value");
    return resolve(&rs, writer->root, reader->root, value, &root, NULL, valuep);
}

cishare_err_t cishare_avro_compatible(const cishare_avro_schema_t *writer,
                                      const cishare_avro_schema_t *reader,
                                      char *errstr, size_t errstr_size)
{
    res_t rs = {.errstr = errstr, .errstr_size = errstr_size};
    path_t root = {.field = cishare_avro_schema_name(reader), .index = -1};

    return resolve(&rs, writer->root, reader->root, NULL, &root, NULL, NULL);
}
