/*
 * cishare importers - CSV (documented columns, or columns named after
 * observable types such as md5,sha1,sha256) and free text (observables
 * found line by line). See README.md in this folder for the columns.
 */
#include "import_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_MAX_FIELDS 64

/* One parsed CSV row: fields point into `buf` (owned). */
typedef struct csv_row_s {
    char *buf;
    char *f[CSV_MAX_FIELDS];
    size_t n;
    int line;      /* line where the row starts */
    bool too_many; /* more than CSV_MAX_FIELDS fields */
} csv_row_t;

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool only_ws(const char *s, const char *e)
{
    for (; s < e; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* Read one RFC 4180 row from buf[*offp..len). Unquoted fields are trimmed
 * (pymisp's CSVs put a space after each comma). Returns false at the end;
 * *badp is set for an unterminated quote. */
static bool csv_next(const char *buf, size_t len, size_t *offp, int *linep,
                     csv_row_t *row, bool *badp)
{
    size_t off = *offp, o = 0;
    bool quoted = false, was_quoted = false;
    char *start;

    *badp = false;
    if (off >= len)
        return false;
    row->buf = malloc(len - off + 1);
    if (!row->buf)
        return false;
    row->n = 0;
    row->too_many = false;
    row->line = *linep;
    start = row->buf;
    for (; off < len; off++) {
        char c = buf[off];
        if (quoted) {
            if (c == '"' && off + 1 < len && buf[off + 1] == '"') {
                row->buf[o++] = '"';
                off++;
            } else if (c == '"') {
                quoted = false;
            } else {
                if (c == '\n')
                    (*linep)++;
                row->buf[o++] = c;
            }
            continue;
        }
        if (c == '"' && !was_quoted && only_ws(start, row->buf + o)) {
            quoted = was_quoted = true; /* field starts with a quote */
            o = (size_t)(start - row->buf);
            continue;
        }
        if (c == ',' || c == '\n') {
            row->buf[o++] = '\0';
            if (row->n < CSV_MAX_FIELDS)
                row->f[row->n++] = was_quoted ? start : trim(start);
            else
                row->too_many = true;
            start = row->buf + o;
            was_quoted = false;
            if (c == '\n') {
                (*linep)++;
                off++;
                break;
            }
            continue;
        }
        if (c == '\r' && (off + 1 == len || buf[off + 1] == '\n'))
            continue;
        row->buf[o++] = c;
    }
    if (quoted) {
        *badp = true;
        free(row->buf);
        row->buf = NULL;
        return false;
    }
    if (off >= len && (row->n == 0 || start != row->buf + o)) {
        row->buf[o] = '\0';
        if (row->n < CSV_MAX_FIELDS)
            row->f[row->n++] = was_quoted ? start : trim(start);
        else
            row->too_many = true;
    }
    *offp = off;
    return true;
}

static bool row_empty(const csv_row_t *row)
{
    size_t i;

    for (i = 0; i < row->n; i++)
        if (row->f[i][0])
            return false;
    return true;
}

/* Header name normalised: lower case without ' ', '-', '_'. */
static void norm_name(const char *in, char *out, size_t size)
{
    size_t n = 0;

    for (; *in && n + 1 < size; in++)
        if (*in != ' ' && *in != '-' && *in != '_')
            out[n++] = (char)tolower((unsigned char)*in);
    out[n] = '\0';
}

enum col_kind {
    COL_OTHER = 0, /* context: written into the description */
    COL_OBS,       /* a column of observables of one type */
    COL_TYPE,
    COL_VALUE,
    COL_ID,
    COL_TLP,
    COL_CONFIDENCE,
    COL_VALID_FROM,
    COL_VALID_UNTIL,
    COL_FIRST_SEEN,
    COL_LAST_SEEN,
    COL_CREATED,
    COL_LABELS,
    COL_DESCRIPTION,
    COL_NAME,
    COL_KILL_CHAIN,
    COL_PATTERN,
    COL_IGNORED, /* MISP export bookkeeping (event_id, object_uuid, ...) */
};

static const struct {
    const char *name;
    enum col_kind kind;
} named_cols[] = {
    {"type", COL_TYPE},
    {"value", COL_VALUE},
    {"id", COL_ID},
    {"uuid", COL_ID},
    {"tlp", COL_TLP},
    {"confidence", COL_CONFIDENCE},
    {"validfrom", COL_VALID_FROM},
    {"validuntil", COL_VALID_UNTIL},
    {"firstseen", COL_FIRST_SEEN},
    {"lastseen", COL_LAST_SEEN},
    {"created", COL_CREATED},
    {"date", COL_CREATED},
    {"timestamp", COL_CREATED},
    {"labels", COL_LABELS},
    {"tags", COL_LABELS},
    {"description", COL_DESCRIPTION},
    {"comment", COL_DESCRIPTION},
    {"name", COL_NAME},
    {"filename", COL_NAME},
    {"killchainphases", COL_KILL_CHAIN},
    {"pattern", COL_PATTERN},
    {"eventid", COL_IGNORED},
    {"objectuuid", COL_IGNORED},
    {"objectname", COL_IGNORED},
    {"objectmetacategory", COL_IGNORED},
};

/* cishare observable types accepted in a "type" column or as a header */
static const char *const obs_types[] = {
    "ipv4",   "ipv6", "domain", "url", "email", "md5",   "sha1", "sha256",
    "sha512", "cve",  "asn",    "ja3", "yara",  "sigma", "stix", "other"};

/* Observable type of a name (header or type cell): cishare names, MISP
 * attribute types, and a few spellings ("ip", "hostname", "SHA-256"). */
static const char *obs_type_of(const char *text)
{
    char n[64];
    size_t i;
    int part;
    const char *t;

    norm_name(text, n, sizeof(n));
    for (i = 0; i < sizeof(obs_types) / sizeof(obs_types[0]); i++)
        if (!strcmp(n, obs_types[i]))
            return obs_types[i];
    if (!strcmp(n, "ip") || !strcmp(n, "ipaddress") || !strcmp(n, "ipsrc") ||
        !strcmp(n, "ipdst"))
        return "ip";
    if (!strcmp(n, "hostname") || !strcmp(n, "fqdn"))
        return "domain";
    if ((t = import_misp_type(text, &part)) && !strchr(text, '|'))
        return t;
    return NULL;
}

/* Check a value against its type where a syntax exists; returns the
 * final type (ip -> ipv4/ipv6) or NULL when the value does not fit. */
static const char *check_value(const char *type, char *value)
{
    const char *c = import_classify(value);

    if (!strcmp(type, "ip"))
        return c && (!strcmp(c, "ipv4") || !strcmp(c, "ipv6")) ? c : NULL;
    if (!strcmp(type, "ipv4") || !strcmp(type, "ipv6") ||
        !strcmp(type, "md5") || !strcmp(type, "sha1") ||
        !strcmp(type, "sha256") || !strcmp(type, "sha512") ||
        !strcmp(type, "url") || !strcmp(type, "email") ||
        !strcmp(type, "cve") || !strcmp(type, "asn")) {
        if (!c || strcmp(c, type))
            return NULL;
        if (!strcmp(type, "md5") || !strncmp(type, "sha", 3))
            import_lower(value);
        return type;
    }
    if (!strcmp(type, "domain"))
        return c && !strcmp(c, "domain") ? type : NULL;
    return type;
}

typedef struct csv_s {
    import_ctx_t *ctx;
    enum col_kind kind[CSV_MAX_FIELDS];
    const char *obs[CSV_MAX_FIELDS]; /* COL_OBS: its type */
    char *header[CSV_MAX_FIELDS];
    size_t ncols;
    bool typed; /* type,value columns */
} csv_t;

static bool set_time(import_ctx_t *ctx, const char *rec, json_t *payload,
                     const char *field, const char *text)
{
    char out[32];

    if (!*text)
        return true;
    if (strspn(text, "0123456789") == strlen(text) && strlen(text) <= 12) {
        import_time_from_unix(strtoll(text, NULL, 10), out);
    } else if (!import_time_norm(text, out)) {
        import_reject(ctx, rec, "invalid timestamp",
                      "%s is not an RFC 3339 timestamp: %s", field, text);
        return false;
    }
    json_object_set_new(payload, field, json_string(out));
    return true;
}

static json_t *split_list(const char *text)
{
    json_t *arr = json_array();
    char *copy = strdup(text), *tok, *save = NULL;

    for (tok = copy ? strtok_r(copy, ";|", &save) : NULL; tok;
         tok = strtok_r(NULL, ";|", &save)) {
        char *t = trim(tok);
        if (*t)
            json_array_append_new(arr, json_string(t));
    }
    free(copy);
    return arr;
}

/* Build one indicator of a row. */
static void csv_emit(csv_t *cx, csv_row_t *row, const char *rec,
                     const char *type, const char *rawval)
{
    import_ctx_t *ctx = cx->ctx;
    json_t *payload, *msg;
    char *value = strdup(rawval), *ctxt = NULL, now[32], id[128];
    const char *t, *created = NULL;
    cishare_tlp_t tlp;
    bool have_tlp = false;
    size_t i;

    if (!value) {
        ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    if (!(t = check_value(type, value))) {
        import_reject(ctx, rec, "invalid value", "'%s' is not a valid %s",
                      rawval, type);
        free(value);
        return;
    }
    if (!(msg = import_msg_new("indicator", &payload))) {
        free(value);
        ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    import_stable_id("indicator", t, value, id);
    json_object_set_new(payload, "id", json_string(id));
    json_object_set_new(payload, "type", json_string(t));
    json_object_set_new(payload, "value", json_string(value));
    for (i = 0; i < row->n && i < cx->ncols; i++) {
        const char *f = row->f[i];
        if (!*f)
            continue;
        switch (cx->kind[i]) {
        case COL_ID:
            if (strstr(f, "--"))
                json_object_set_new(payload, "id", json_string(f));
            else {
                char b[128];
                snprintf(b, sizeof(b), "indicator--%s", f);
                json_object_set_new(payload, "id", json_string(b));
            }
            break;
        case COL_TLP:
            if (!cishare_tlp_parse(f, &tlp)) {
                import_reject(ctx, rec, "invalid TLP label",
                              "tlp '%s' is not a TLP label", f);
                goto fail;
            }
            have_tlp = true;
            break;
        case COL_CONFIDENCE: {
            char *end;
            long c = strtol(f, &end, 10);
            if (*end || c < 0 || c > 100) {
                import_reject(ctx, rec, "invalid value",
                              "confidence '%s' is not 0-100", f);
                goto fail;
            }
            json_object_set_new(payload, "confidence", json_integer(c));
            break;
        }
        case COL_VALID_FROM:
            if (!set_time(ctx, rec, payload, "valid_from", f))
                goto fail;
            break;
        case COL_VALID_UNTIL:
            if (!set_time(ctx, rec, payload, "valid_until", f))
                goto fail;
            break;
        case COL_FIRST_SEEN:
            if (!set_time(ctx, rec, payload, "first_seen", f))
                goto fail;
            break;
        case COL_LAST_SEEN:
            if (!set_time(ctx, rec, payload, "last_seen", f))
                goto fail;
            break;
        case COL_CREATED:
            if (!set_time(ctx, rec, payload, "created", f))
                goto fail;
            break;
        case COL_LABELS:
            json_object_set_new(payload, "labels", split_list(f));
            break;
        case COL_KILL_CHAIN:
            json_object_set_new(payload, "kill_chain_phases", split_list(f));
            break;
        case COL_DESCRIPTION:
            json_object_set_new(payload, "description", json_string(f));
            break;
        case COL_NAME:
            json_object_set_new(payload, "name", json_string(f));
            break;
        case COL_PATTERN:
            json_object_set_new(payload, "pattern", json_string(f));
            break;
        case COL_OTHER: {
            char *n;
            if (asprintf(&n, "%s%s%s=%s", ctxt ? ctxt : "", ctxt ? ", " : "",
                         cx->header[i], f) >= 0) {
                free(ctxt);
                ctxt = n;
            }
            break;
        }
        default:
            break;
        }
    }
    if (ctxt) {
        const char *d =
            json_string_value(json_object_get(payload, "description"));
        char *n;
        if (asprintf(&n, "%s%s%s", d ? d : "", d ? "; " : "", ctxt) >= 0) {
            json_object_set_new(payload, "description", json_string(n));
            free(n);
        }
    }
    import_time_default(ctx, now);
    created = json_string_value(json_object_get(payload, "created"));
    if (!created)
        json_object_set_new(payload, "created", json_string(now));
    json_object_set_new(
        payload, "modified",
        json_string(json_string_value(json_object_get(payload, "created"))));
    json_object_set_new(payload, "source", json_string(rec));
    if (have_tlp)
        import_msg_set_tlp(msg, tlp);
    import_add(ctx, msg, "%s", rec);
    free(value);
    free(ctxt);
    return;
fail:
    json_decref(msg);
    free(value);
    free(ctxt);
}

cishare_err_t import_csv(import_ctx_t *ctx, const char *buf, size_t len,
                         char *errstr, size_t errstr_size)
{
    csv_t cx;
    csv_row_t hdr = {0}, row = {0};
    size_t off = 0, i;
    int line = 1;
    bool bad = false, have_type = false, have_value = false, have_obs = false;
    cishare_err_t err = CISHARE_OK;

    memset(&cx, 0, sizeof(cx));
    cx.ctx = ctx;
    /* header: the first row that is not empty */
    while (csv_next(buf, len, &off, &line, &hdr, &bad)) {
        if (!row_empty(&hdr))
            break;
        free(hdr.buf);
        hdr.buf = NULL;
    }
    if (bad || !hdr.buf)
        return cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                               bad ? "%s: unterminated quoted field"
                                   : "%s: empty CSV file (no header)",
                               ctx->name);
    if (hdr.too_many) {
        free(hdr.buf);
        return cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                               "%s:%d: more than %d columns", ctx->name,
                               hdr.line, CSV_MAX_FIELDS);
    }
    cx.ncols = hdr.n;
    for (i = 0; i < hdr.n; i++) {
        char n[64];
        size_t k;
        cx.header[i] = hdr.f[i];
        norm_name(hdr.f[i], n, sizeof(n));
        cx.kind[i] = COL_OTHER;
        for (k = 0; k < sizeof(named_cols) / sizeof(named_cols[0]); k++)
            if (!strcmp(n, named_cols[k].name))
                cx.kind[i] = named_cols[k].kind;
        if (cx.kind[i] == COL_OTHER && (cx.obs[i] = obs_type_of(hdr.f[i])))
            cx.kind[i] = COL_OBS;
        have_type |= cx.kind[i] == COL_TYPE;
        have_value |= cx.kind[i] == COL_VALUE;
        have_obs |= cx.kind[i] == COL_OBS;
    }
    cx.typed = have_type && have_value;
    if (!cx.typed && !have_obs) {
        err = cishare_err_set(
            CISHARE_ERR_VALIDATION, errstr, errstr_size,
            "%s:%d: CSV header has neither 'type' and 'value' columns nor a "
            "column named after an observable type (md5, sha1, sha256, "
            "ipv4, domain, url, ...); see producers/importers/README.md",
            ctx->name, hdr.line);
        free(hdr.buf);
        return err;
    }
    if (cx.typed) /* observable-named columns are context then */
        for (i = 0; i < cx.ncols; i++)
            if (cx.kind[i] == COL_OBS)
                cx.kind[i] = COL_OTHER;

    while (csv_next(buf, len, &off, &line, &row, &bad)) {
        char rec[512];

        snprintf(rec, sizeof(rec), "%s:%d", ctx->name, row.line);
        if (row_empty(&row)) {
            free(row.buf);
            continue;
        }
        if (row.too_many || row.n > cx.ncols) {
            import_reject(ctx, rec, "malformed row",
                          "row has more fields than the header (%zu)",
                          cx.ncols);
        } else if (cx.typed) {
            const char *type = NULL, *value = NULL, *t;
            for (i = 0; i < row.n; i++) {
                if (cx.kind[i] == COL_TYPE)
                    type = row.f[i];
                else if (cx.kind[i] == COL_VALUE)
                    value = row.f[i];
            }
            if (!type || !*type || !value || !*value)
                import_reject(ctx, rec, "missing field",
                              "row needs a type and a value");
            else if (!(t = obs_type_of(type)))
                import_reject(ctx, rec, "unknown observable type",
                              "type '%s' is not an observable type", type);
            else
                csv_emit(&cx, &row, rec, t, value);
        } else {
            size_t n = 0;
            for (i = 0; i < row.n; i++) {
                if (cx.kind[i] == COL_OBS && row.f[i][0]) {
                    char r2[600];
                    snprintf(r2, sizeof(r2), "%s %s", rec, cx.header[i]);
                    csv_emit(&cx, &row, r2, cx.obs[i], row.f[i]);
                    n++;
                }
            }
            if (!n)
                import_reject(ctx, rec, "missing field",
                              "row has no value in any observable column");
        }
        free(row.buf);
        row.buf = NULL;
    }
    if (bad)
        err = cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                              "%s:%d: unterminated quoted field", ctx->name,
                              line);
    free(hdr.buf);
    return err ? err : ctx->err;
}

/* ------------------------------------------------------------ free text */

/* "hxxp://a[.]b" -> "http://a.b": defanged indicators as reports write
 * them. In place. */
static void refang(char *s)
{
    char *r = s, *w = s;

    if (!strncasecmp(s, "hxxp", 4)) {
        s[0] = 'h';
        s[1] = s[2] = 't';
    }
    while (*r) {
        if ((r[0] == '[' || r[0] == '(') && r[1] == '.' &&
            (r[2] == ']' || r[2] == ')')) {
            *w++ = '.';
            r += 3;
        } else if (r[0] == '[' && r[1] == '@' && r[2] == ']') {
            *w++ = '@';
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

static void text_emit(import_ctx_t *ctx, const char *rec, const char *type,
                      char *value)
{
    json_t *payload, *msg;
    char now[32], id[128];

    if (!strcmp(type, "md5") || !strncmp(type, "sha", 3))
        import_lower(value);
    if (!(msg = import_msg_new("indicator", &payload))) {
        ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    import_stable_id("indicator", type, value, id);
    import_time_default(ctx, now);
    json_object_set_new(payload, "id", json_string(id));
    json_object_set_new(payload, "created", json_string(now));
    json_object_set_new(payload, "modified", json_string(now));
    json_object_set_new(payload, "type", json_string(type));
    json_object_set_new(payload, "value", json_string(value));
    json_object_set_new(payload, "source", json_string(rec));
    import_add(ctx, msg, "%s", rec);
}

cishare_err_t import_text(import_ctx_t *ctx, const char *buf, size_t len,
                          char *errstr, size_t errstr_size)
{
    size_t off = 0;
    int line = 0;

    (void)errstr;
    (void)errstr_size;
    if (memchr(buf, '\0', len))
        return cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                               "%s: binary data, not a text file", ctx->name);
    while (off < len) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
        char *l = strndup(buf + off, n), *t, *tok, *save = NULL, rec[512];
        const char *type;
        size_t found = 0;

        off += n + 1;
        line++;
        if (!l) {
            ctx->err = CISHARE_ERR_NOMEM;
            break;
        }
        t = trim(l);
        snprintf(rec, sizeof(rec), "%s:%d", ctx->name, line);
        if (!*t || *t == '#') {
            free(l);
            continue;
        }
        refang(t);
        if ((type = import_classify(t))) {
            text_emit(ctx, rec, type, t);
            free(l);
            continue;
        }
        for (tok = strtok_r(t, " \t,;", &save); tok;
             tok = strtok_r(NULL, " \t,;", &save)) {
            char *v = tok, *e;
            while (*v && strchr("<(\"'[", *v))
                v++;
            e = v + strlen(v);
            while (e > v && strchr(">)\"'].:", e[-1]))
                *--e = '\0';
            refang(v);
            if ((type = import_classify(v))) {
                char r2[600];
                snprintf(r2, sizeof(r2), "%s %s", rec, v);
                text_emit(ctx, found ? r2 : rec, type, v);
                found++;
            }
        }
        if (!found)
            import_skip(ctx, rec, "no observable found",
                        "line has no IP, domain, URL, e-mail, hash or CVE");
        free(l);
    }
    return ctx->err;
}
