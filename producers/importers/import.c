/*
 * cishare importers - result lists, format detection, native JSON, and the
 * helpers the format importers share (timestamps, stable ids, observable
 * classification).
 */
#include "import_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

/* ---------------------------------------------------------------- result */

void cishare_import_result_init(cishare_import_result_t *res)
{
    memset(res, 0, sizeof(*res));
}

static void issues_free(cishare_import_issue_t *v, size_t cnt)
{
    size_t i;

    for (i = 0; i < cnt; i++) {
        free(v[i].record);
        free(v[i].reason);
        free(v[i].detail);
    }
    free(v);
}

void cishare_import_result_clear(cishare_import_result_t *res)
{
    size_t i;

    if (!res)
        return;
    for (i = 0; i < res->cnt; i++) {
        json_decref(res->recs[i].msg);
        free(res->recs[i].record);
    }
    free(res->recs);
    issues_free(res->rejected, res->rejected_cnt);
    issues_free(res->skipped, res->skipped_cnt);
    memset(res, 0, sizeof(*res));
}

void cishare_import_result_drop_handled(cishare_import_result_t *res)
{
    size_t i;

    for (i = 0; i < res->cnt; i++) {
        json_decref(res->recs[i].msg);
        free(res->recs[i].record);
    }
    res->cnt = 0;
    for (i = 0; i < res->rejected_cnt; i++) {
        free(res->rejected[i].record);
        free(res->rejected[i].reason);
        free(res->rejected[i].detail);
    }
    res->rejected_cnt = 0;
}

/* Grow *vp (elements of `elem` bytes) to hold cnt+1. */
static bool grow(void **vp, size_t *sizep, size_t cnt, size_t elem)
{
    void *n;
    size_t ns;

    if (cnt < *sizep)
        return true;
    ns = *sizep ? *sizep * 2 : 16;
    n = realloc(*vp, ns * elem);
    if (!n)
        return false;
    *vp = n;
    *sizep = ns;
    return true;
}

void import_add(import_ctx_t *ctx, json_t *msg, const char *fmt, ...)
{
    cishare_import_result_t *res = ctx->res;
    char *rec = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&rec, fmt, ap) < 0)
        rec = NULL;
    va_end(ap);
    if (!msg || !rec ||
        !grow((void **)&res->recs, &res->recs_size_, res->cnt,
              sizeof(*res->recs))) {
        json_decref(msg);
        free(rec);
        ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    res->recs[res->cnt].msg = msg;
    res->recs[res->cnt].record = rec;
    res->cnt++;
}

static void add_issue(import_ctx_t *ctx, bool rejected, const char *record,
                      const char *reason, const char *fmt, va_list ap)
{
    cishare_import_result_t *res = ctx->res;
    cishare_import_issue_t **vp = rejected ? &res->rejected : &res->skipped;
    size_t *cntp = rejected ? &res->rejected_cnt : &res->skipped_cnt;
    size_t *sizep = rejected ? &res->rejected_size_ : &res->skipped_size_;
    cishare_import_issue_t is;

    is.record = strdup(record);
    is.reason = strdup(reason);
    if (vasprintf(&is.detail, fmt, ap) < 0)
        is.detail = NULL;
    if (!is.record || !is.reason || !is.detail ||
        !grow((void **)vp, sizep, *cntp, sizeof(**vp))) {
        free(is.record);
        free(is.reason);
        free(is.detail);
        ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    (*vp)[(*cntp)++] = is;
}

void import_reject(import_ctx_t *ctx, const char *record, const char *reason,
                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add_issue(ctx, true, record, reason, fmt, ap);
    va_end(ap);
}

void import_skip(import_ctx_t *ctx, const char *record, const char *reason,
                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add_issue(ctx, false, record, reason, fmt, ap);
    va_end(ap);
}

void cishare_import_count_reasons(
    const cishare_import_issue_t *issues, size_t cnt,
    void (*fn)(const char *reason, size_t count, void *opaque), void *opaque)
{
    size_t i, j, n;

    for (i = 0; i < cnt; i++) {
        for (j = 0; j < i; j++)
            if (!strcmp(issues[j].reason, issues[i].reason))
                break;
        if (j < i)
            continue; /* counted at its first appearance */
        for (n = 0, j = i; j < cnt; j++)
            if (!strcmp(issues[j].reason, issues[i].reason))
                n++;
        fn(issues[i].reason, n, opaque);
    }
}

/* --------------------------------------------------------------- helpers */

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int read_digits(const char **pp, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*pp)[i]))
            return -1;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    return v;
}

/* "YYYY-MM-DDTHH:MM:SS.sssZ" (24 chars); years beyond 9999 are clamped
 * by the modulo, which only hostile input reaches. */
static void fmt_tm(const struct tm *tm, int ms, char out[32])
{
    char tmp[96];

    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (tm->tm_year + 1900) % 10000, tm->tm_mon + 1, tm->tm_mday,
             tm->tm_hour, tm->tm_min, tm->tm_sec, ms % 1000);
    memcpy(out, tmp, 25);
    out[24] = '\0';
}

bool import_time_norm(const char *text, char out[32])
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    int y, mo, d, h = 0, mi = 0, s = 0, ms = 0, off = 0;
    struct tm tm;
    time_t t;

    if (!text)
        return false;
    if ((y = read_digits(&p, 4)) < 0 || *p++ != '-' ||
        (mo = read_digits(&p, 2)) < 0 || *p++ != '-' ||
        (d = read_digits(&p, 2)) < 0)
        return false;
    if (mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
        return false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if ((h = read_digits(&p, 2)) < 0 || *p++ != ':' ||
            (mi = read_digits(&p, 2)) < 0)
            return false;
        if (*p == ':') {
            p++;
            if ((s = read_digits(&p, 2)) < 0)
                return false;
            if (*p == '.') {
                int scale = 100;
                p++;
                if (!isdigit((unsigned char)*p))
                    return false;
                for (; isdigit((unsigned char)*p); p++, scale /= 10)
                    ms += (*p - '0') * scale; /* truncate beyond millis */
            }
        }
        if (h > 23 || mi > 59 || s > 60)
            return false;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if ((oh = read_digits(&p, 2)) < 0)
                return false;
            if (*p == ':')
                p++;
            if ((om = read_digits(&p, 2)) < 0 || oh > 23 || om > 59)
                return false;
            off = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p)
        return false;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    t = timegm(&tm) - off;
    if (!gmtime_r(&t, &tm))
        return false;
    fmt_tm(&tm, ms, out);
    return true;
}

void import_time_from_unix(int64_t secs, char out[32])
{
    time_t t = (time_t)secs;
    struct tm tm;

    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof(tm));
    fmt_tm(&tm, 0, out);
}

void import_time_default(const import_ctx_t *ctx, char out[32])
{
    import_time_from_unix(
        ctx->default_time > 0 ? ctx->default_time : (int64_t)time(NULL), out);
}

void import_stable_id(const char *prefix, const char *part1, const char *part2,
                      char out[64])
{
    crypto_generichash_state st;
    unsigned char h[16];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)part1, strlen(part1));
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    crypto_generichash_update(&st, (const unsigned char *)part2, strlen(part2));
    crypto_generichash_final(&st, h, sizeof(h));
    h[6] = (h[6] & 0x0f) | 0x80; /* RFC 9562 version 8: custom */
    h[8] = (h[8] & 0x3f) | 0x80; /* variant */
    snprintf(out, 64,
             "%s--%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x"
             "%02x%02x",
             prefix, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9],
             h[10], h[11], h[12], h[13], h[14], h[15]);
}

void import_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static bool all_hex(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return s[n] == '\0';
}

static bool is_ipv4(const char *v)
{
    char buf[64];
    const char *slash = strchr(v, '/');
    struct in_addr a;
    size_t n = slash ? (size_t)(slash - v) : strlen(v);

    if (n >= sizeof(buf))
        return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return false;
    if (slash) {
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        return *end == '\0' && end != slash + 1 && bits >= 0 && bits <= 32;
    }
    return true;
}

static bool is_ipv6(const char *v)
{
    char buf[64];
    const char *slash = strchr(v, '/');
    struct in6_addr a;
    size_t n = slash ? (size_t)(slash - v) : strlen(v);

    if (n >= sizeof(buf))
        return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, &a) != 1)
        return false;
    if (slash) {
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        return *end == '\0' && end != slash + 1 && bits >= 0 && bits <= 128;
    }
    return true;
}

static bool is_domain(const char *v)
{
    size_t len = strlen(v), label = 0, dots = 0;
    const char *p, *last;

    if (len < 3 || len > 253 || v[0] == '.' || v[len - 1] == '.')
        return false;
    for (p = v; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return false;
            label = 0;
            dots++;
        } else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    last = strrchr(v, '.');
    if (!dots || strlen(last + 1) < 2)
        return false;
    for (p = last + 1; *p; p++) /* TLD: letters (or xn-- punycode) */
        if (!isalpha((unsigned char)*p) && strncasecmp(last + 1, "xn--", 4))
            return false;
    return true;
}

const char *import_classify(const char *v)
{
    size_t n = strlen(v);
    const char *at;

    if (!n || strpbrk(v, " \t\r\n"))
        return NULL; /* an observable is one token */
    if (is_ipv4(v))
        return "ipv4";
    if (strchr(v, ':') && is_ipv6(v))
        return "ipv6";
    if ((at = strstr(v, "://")) && at > v && at[3] &&
        strspn(v,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
               "+.-") == (size_t)(at - v))
        return "url";
    if (n == 32 && all_hex(v, 32))
        return "md5";
    if (n == 40 && all_hex(v, 40))
        return "sha1";
    if (n == 64 && all_hex(v, 64))
        return "sha256";
    if (n == 128 && all_hex(v, 128))
        return "sha512";
    if (!strncasecmp(v, "CVE-", 4) && isdigit((unsigned char)v[4]))
        return "cve";
    if ((!strncasecmp(v, "AS", 2) && n > 2 &&
         strspn(v + 2, "0123456789") == n - 2))
        return "asn";
    if ((at = strchr(v, '@')) && at != v && !strchr(at + 1, '@') &&
        is_domain(at + 1))
        return "email";
    if (is_domain(v))
        return "domain";
    return NULL;
}

json_t *import_msg_new(const char *type, json_t **payloadp)
{
    json_t *msg = json_object(), *payload = json_object();

    if (!msg || !payload ||
        json_object_set_new(msg, "type", json_string(type)) ||
        json_object_set(msg, "payload", payload)) {
        json_decref(msg);
        json_decref(payload);
        return NULL;
    }
    json_decref(payload); /* msg holds it */
    *payloadp = payload;
    return msg;
}

void import_msg_set_tlp(json_t *msg, cishare_tlp_t tlp)
{
    json_object_set_new(msg, "tlp", json_string(cishare_tlp_name(tlp)));
}

/* ------------------------------------------------------------ native JSON */

/* Subject id of a native message, for naming the record. */
static const char *native_subject(json_t *msg)
{
    json_t *payload = json_object_get(msg, "payload");
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *key = "id";

    if (type && !strcmp(type, "sighting"))
        key = "sighting_of";
    else if (type && !strcmp(type, "revocation"))
        key = "revokes";
    return json_string_value(json_object_get(payload, key));
}

static bool native_shape(json_t *v)
{
    return json_is_object(v) && json_is_string(json_object_get(v, "type")) &&
           json_is_object(json_object_get(v, "payload"));
}

/* One native message: checked for shape here; the codec checks the payload
 * against its schema when the message is built. */
static void native_one(import_ctx_t *ctx, json_t *v, const char *where)
{
    const char *type, *subj, *tlps, *pid;
    cishare_msgtype_t mt;
    cishare_tlp_t tlp;
    char rec[512];

    subj = json_is_object(v) ? native_subject(v) : NULL;
    /* named by the payload's own id (a sighting's subject is the
     * indicator it sights), with the line or index when there is one */
    pid =
        json_string_value(json_object_get(json_object_get(v, "payload"), "id"));
    if (pid || subj)
        snprintf(rec, sizeof(rec), "%s%s: %s", ctx->name, where,
                 pid ? pid : subj);
    else
        snprintf(rec, sizeof(rec), "%s%s", ctx->name, where);
    if (!native_shape(v)) {
        import_reject(ctx, rec, "not a cishare message",
                      "expected an object with \"type\" and \"payload\"");
        return;
    }
    type = json_string_value(json_object_get(v, "type"));
    if (!cishare_msgtype_parse(type, &mt)) {
        import_reject(ctx, rec, "unknown message type",
                      "unknown message type '%s'", type);
        return;
    }
    tlps = json_string_value(json_object_get(v, "tlp"));
    if (json_object_get(v, "tlp") && !json_is_null(json_object_get(v, "tlp")) &&
        (!tlps || !cishare_tlp_parse(tlps, &tlp))) {
        import_reject(ctx, rec, "invalid TLP label",
                      "\"tlp\" is not a TLP label");
        return;
    }
    if (!subj) {
        import_reject(ctx, rec, "missing field",
                      "payload has no subject id (%s)",
                      mt == CISHARE_MSG_SIGHTING     ? "sighting_of"
                      : mt == CISHARE_MSG_REVOCATION ? "revokes"
                                                     : "id");
        return;
    }
    /* A reference, not a copy: v was parsed for this import and its
     * parent (an array, or nothing) is dropped once the file is read, so
     * the record is its only owner (a deep copy cost a tenth of `cishare
     * publish`). */
    if (tlps)
        import_msg_set_tlp(v, tlp); /* canonical spelling */
    import_add(ctx, json_incref(v), "%s", rec);
}

static void native_root(import_ctx_t *ctx, json_t *root)
{
    size_t i;
    json_t *v;
    char where[32];

    if (json_is_array(root)) {
        json_array_foreach(root, i, v)
        {
            snprintf(where, sizeof(where), "[%zu]", i);
            native_one(ctx, v, where);
        }
    } else {
        native_one(ctx, root, "");
    }
}

/* -------------------------------------------------------------- detection */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

static bool has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);

    return n > e && !strcasecmp(name + n - e, ext);
}

static const char *skip_ws(const char *p, const char *end)
{
    /* UTF-8 byte order mark, then white space */
    if (end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

bool cishare_import_format_parse(const char *text,
                                 cishare_import_format_t *fmtp)
{
    static const char *const names[] = {"auto", "json", "stix",
                                        "misp", "csv",  "text"};
    size_t i;

    for (i = 0; text && i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcasecmp(text, names[i])) {
            *fmtp = (cishare_import_format_t)i;
            return true;
        }
    }
    return false;
}

const char *cishare_import_format_name(cishare_import_format_t fmt)
{
    switch (fmt) {
    case CISHARE_IMPORT_AUTO:
        return "auto";
    case CISHARE_IMPORT_JSON:
        return "json";
    case CISHARE_IMPORT_STIX:
        return "stix";
    case CISHARE_IMPORT_MISP:
        return "misp";
    case CISHARE_IMPORT_CSV:
        return "csv";
    case CISHARE_IMPORT_TEXT:
        return "text";
    }
    return "?";
}

/* Read a stream of JSON values (JSON Lines or concatenated values) as
 * native messages, from *offp (at line *linep) until `max` more records
 * were added or the end; *offp is len at the end (an invalid value ends
 * the stream too). */
static cishare_err_t native_stream(import_ctx_t *ctx, const char *buf,
                                   size_t len, size_t *offp, int *linep,
                                   size_t max)
{
    size_t off = *offp, stop = max > SIZE_MAX - ctx->res->cnt
                                   ? SIZE_MAX
                                   : ctx->res->cnt + max;
    int line = *linep;

    while (ctx->res->cnt < stop && !ctx->err) {
        json_error_t jerr;
        json_t *v;
        const char *p = buf + off, *q = skip_ws(p, buf + len);
        char where[48];
        size_t used;

        for (; p < q; p++)
            if (*p == '\n')
                line++;
        off = (size_t)(q - buf);
        if (off >= len)
            break;
        /* the common record fast; anything else, and errors, jansson's */
        if ((v = import_json_fast(buf + off, len - off, &used)))
            jerr.position = (int)used;
        else
            v = json_loadb(buf + off, len - off, JSON_DISABLE_EOF_CHECK, &jerr);
        snprintf(where, sizeof(where), ":%d", line);
        if (!v) {
            /* Cannot resynchronise inside a broken value: the rest of the
             * file is one rejected record. */
            char rec[512];
            snprintf(rec, sizeof(rec), "%s:%d", ctx->name, line);
            import_reject(ctx, rec, "invalid JSON",
                          "line %d, column %d: %s (the rest of the file is "
                          "not read)",
                          line + jerr.line - 1, jerr.column, jerr.text);
            off = len;
            break;
        }
        native_one(ctx, v, where);
        /* lines inside the value (none in JSON Lines) */
        for (p = buf + off;
             (p = memchr(p, '\n', (size_t)(buf + off + jerr.position - p)));
             p++)
            line++;
        off += jerr.position;
        json_decref(v);
    }
    *offp = off;
    *linep = line;
    return ctx->err;
}

/* Import buf whole into res; but when streamp is not NULL and buf is a
 * stream of native messages (JSON Lines), set *streamp and leave it to
 * native_stream(). */
static cishare_err_t import_buf_at(const char *name, const char *buf,
                                   size_t len, cishare_import_format_t fmt,
                                   int64_t default_time,
                                   cishare_import_result_t *res, char *errstr,
                                   size_t errstr_size, bool *streamp)
{
    import_ctx_t ctx = {base_name(name), NULL, CISHARE_OK, default_time};
    cishare_import_result_t tmp;
    const char *p = skip_ws(buf, buf + len);
    json_error_t jerr;
    json_t *root = NULL;
    cishare_err_t err = CISHARE_OK;
    char *dir = NULL;
    const char *slash;

    cishare_import_result_init(&tmp);
    ctx.res = &tmp;
    if (fmt == CISHARE_IMPORT_AUTO) {
        if (has_ext(name, ".csv"))
            fmt = CISHARE_IMPORT_CSV;
        else if (has_ext(name, ".txt"))
            fmt = CISHARE_IMPORT_TEXT;
        else if (has_ext(name, ".json") || has_ext(name, ".jsonl") ||
                 has_ext(name, ".ndjson") ||
                 (p < buf + len && (*p == '{' || *p == '[')))
            fmt = CISHARE_IMPORT_JSON; /* refined below by content */
        else
            fmt = CISHARE_IMPORT_TEXT;
        if (fmt == CISHARE_IMPORT_TEXT && p < buf + len) {
            /* A header line with commas reads as CSV. */
            const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
            if (memchr(p, ',', (size_t)((nl ? nl : buf + len) - p)))
                fmt = CISHARE_IMPORT_CSV;
        }
        if (fmt == CISHARE_IMPORT_JSON)
            fmt = CISHARE_IMPORT_AUTO; /* JSON, shape not known yet */
    }

    if (fmt == CISHARE_IMPORT_CSV) {
        err = import_csv(&ctx, buf, len, errstr, errstr_size);
        goto done;
    }
    if (fmt == CISHARE_IMPORT_TEXT) {
        err = import_text(&ctx, buf, len, errstr, errstr_size);
        goto done;
    }

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        json_error_t jerr1;
        json_t *first = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr1);
        if (first &&
            (fmt == CISHARE_IMPORT_AUTO || fmt == CISHARE_IMPORT_JSON)) {
            size_t off = 0;
            int line = 1;
            json_decref(first); /* JSON Lines / a stream of values */
            if (streamp)
                *streamp = true;
            else
                err = native_stream(&ctx, buf, len, &off, &line, SIZE_MAX);
            goto done;
        }
        json_decref(first);
        err = cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                              "%s: not valid JSON: line %d, column %d: %s",
                              ctx.name, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    if ((slash = strrchr(name, '/')))
        dir = strndup(name, (size_t)(slash - name));
    else if (strcmp(name, "(stdin)"))
        dir = strdup(".");

    if (fmt == CISHARE_IMPORT_AUTO) {
        if (json_is_object(root) && json_object_get(root, "$schema") &&
            !json_object_get(root, "payload")) {
            /* A JSON Schema document (e.g. tlp2.0 marking-definition
             * schema): nothing to share in it. */
            import_skip(&ctx, ctx.name, "not a shareable object",
                        "JSON Schema document");
            err = ctx.err;
            goto done;
        }
        if (native_shape(root) ||
            (json_is_array(root) && json_array_size(root) &&
             native_shape(json_array_get(root, 0))))
            fmt = CISHARE_IMPORT_JSON;
        else if (import_stix_detect(root))
            fmt = CISHARE_IMPORT_STIX;
        else if (import_misp_detect(root))
            fmt = CISHARE_IMPORT_MISP;
        else if (json_is_array(root) && json_array_size(root) == 0)
            fmt = CISHARE_IMPORT_JSON;
        else {
            err = cishare_err_set(
                CISHARE_ERR_VALIDATION, errstr, errstr_size,
                "%s: unrecognised JSON: not a STIX 2.1 bundle, a MISP event "
                "or a cishare message (use --format to say which)",
                ctx.name);
            goto done;
        }
    }
    switch (fmt) {
    case CISHARE_IMPORT_JSON:
        native_root(&ctx, root);
        err = ctx.err;
        break;
    case CISHARE_IMPORT_STIX:
        err = import_stix(&ctx, root, errstr, errstr_size);
        break;
    case CISHARE_IMPORT_MISP:
        err = import_misp(&ctx, root, dir, errstr, errstr_size);
        break;
    default:
        err = CISHARE_ERR_INVALID_ARG;
        break;
    }

done:
    if (!err && ctx.err)
        err = ctx.err;
    if (err == CISHARE_ERR_NOMEM)
        cishare_err_set(err, errstr, errstr_size, "%s: out of memory",
                        ctx.name);
    json_decref(root);
    free(dir);
    if (!err) {
        /* Append tmp to res: move the arrays' elements. */
        size_t i;
        import_ctx_t out = {ctx.name, res, CISHARE_OK, ctx.default_time};
        for (i = 0; i < tmp.cnt; i++) {
            import_add(&out, tmp.recs[i].msg, "%s", tmp.recs[i].record);
            tmp.recs[i].msg = NULL;
        }
        for (i = 0; i < tmp.rejected_cnt; i++)
            import_reject(&out, tmp.rejected[i].record, tmp.rejected[i].reason,
                          "%s", tmp.rejected[i].detail);
        for (i = 0; i < tmp.skipped_cnt; i++)
            import_skip(&out, tmp.skipped[i].record, tmp.skipped[i].reason,
                        "%s", tmp.skipped[i].detail);
        if (out.err)
            err = cishare_err_set(out.err, errstr, errstr_size,
                                  "%s: out of memory", ctx.name);
    }
    cishare_import_result_clear(&tmp);
    return err;
}

cishare_err_t cishare_import_buf(const char *name, const char *buf, size_t len,
                                 cishare_import_format_t fmt,
                                 cishare_import_result_t *res, char *errstr,
                                 size_t errstr_size)
{
    return import_buf_at(name, buf, len, fmt, 0, res, errstr, errstr_size,
                         NULL);
}

/* Read path ("-" = stdin) whole into *bufp (NUL-terminated, owned). */
static cishare_err_t read_all(const char *path, char **bufp, size_t *lenp,
                              int64_t *mtimep, char *errstr, size_t errstr_size)
{
    FILE *fp;
    struct stat st;
    char *buf = NULL;
    size_t len = 0, size = 0;
    cishare_err_t err = CISHARE_OK;

    *bufp = NULL;
    *mtimep = 0;
    if (!strcmp(path, "-"))
        fp = stdin;
    else if (!(fp = fopen(path, "rb")))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot open: %s", path, strerror(errno));
    while (1) {
        size_t n;
        if (len + 1 >= size) {
            char *nb;
            size = size ? size * 2 : 65536;
            if (size > CISHARE_IMPORT_MAX_SIZE + 2)
                size = CISHARE_IMPORT_MAX_SIZE + 2;
            if (!(nb = realloc(buf, size))) {
                err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                      "%s: out of memory", path);
                goto out;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, size - len - 1, fp);
        len += n;
        if (len > CISHARE_IMPORT_MAX_SIZE) {
            err = cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                                  "%s: larger than %u bytes", path,
                                  CISHARE_IMPORT_MAX_SIZE);
            goto out;
        }
        if (n == 0)
            break;
    }
    if (ferror(fp)) {
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    buf[len] = '\0';
    if (fp != stdin && !fstat(fileno(fp), &st) && S_ISREG(st.st_mode))
        *mtimep = (int64_t)st.st_mtime;
out:
    if (fp != stdin)
        fclose(fp);
    if (err)
        free(buf);
    else {
        *bufp = buf;
        *lenp = len;
    }
    return err;
}

cishare_err_t cishare_import_file(const char *path, cishare_import_format_t fmt,
                                  cishare_import_result_t *res, char *errstr,
                                  size_t errstr_size)
{
    char *buf;
    size_t len;
    int64_t mtime;
    cishare_err_t err;

    if ((err = read_all(path, &buf, &len, &mtime, errstr, errstr_size)))
        return err;
    err = import_buf_at(strcmp(path, "-") ? path : "(stdin)", buf, len, fmt,
                        mtime, res, errstr, errstr_size, NULL);
    free(buf);
    return err;
}

/* ------------------------------------------------------- chunked import */

struct cishare_import_src_s {
    char *name; /* the path, "(stdin)" for "-" */
    char *buf;  /* a stream's text; NULL once imported whole */
    size_t len; /* of buf */
    size_t off; /* next unread byte of a stream */
    int line;   /* of off */
    int64_t mtime;
    bool done;
    cishare_import_result_t all; /* a whole import, until handed out */
    char where[600];
};

cishare_err_t cishare_import_open(const char *path, cishare_import_format_t fmt,
                                  cishare_import_src_t **srcp, char *errstr,
                                  size_t errstr_size)
{
    cishare_import_src_t *src = calloc(1, sizeof(*src));
    bool stream = false;
    cishare_err_t err;

    *srcp = NULL;
    if (!src || !(src->name = strdup(strcmp(path, "-") ? path : "(stdin)"))) {
        free(src);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "%s: out of memory", path);
    }
    cishare_import_result_init(&src->all);
    src->line = 1;
    if ((err = read_all(path, &src->buf, &src->len, &src->mtime, errstr,
                        errstr_size)) ||
        (err = import_buf_at(src->name, src->buf, src->len, fmt, src->mtime,
                             &src->all, errstr, errstr_size, &stream))) {
        cishare_import_close(src);
        return err;
    }
    if (!stream) { /* imported whole: the text is no longer needed */
        free(src->buf);
        src->buf = NULL;
        src->len = 0;
    }
    *srcp = src;
    return CISHARE_OK;
}

/* Values a stream can still yield: one a line, plus one for each further
 * value on a line, which follows a closing } or ] with only blanks
 * between (a } or ] in a string counts too: an upper bound). */
size_t cishare_import_bound(const cishare_import_src_t *src)
{
    const char *p, *q, *start, *end;
    size_t n = 1; /* the last line may have no newline */
    int k;

    if (src->done)
        return 0;
    if (!src->buf)
        return src->all.cnt + src->all.rejected_cnt;
    start = src->buf + src->off;
    end = src->buf + src->len;
    for (p = start; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        n++;
    for (k = 0; k < 2; k++) {
        for (p = start; (p = memchr(p, k ? ']' : '}', (size_t)(end - p)));
             p++) {
            for (q = p + 1; q < end && (*q == ' ' || *q == '\t' || *q == '\r');
                 q++)
                ;
            if (q < end && (*q == '{' || *q == '['))
                n++;
        }
    }
    return n;
}

cishare_err_t cishare_import_next(cishare_import_src_t *src, size_t max,
                                  cishare_import_result_t *res, bool *donep,
                                  char *errstr, size_t errstr_size)
{
    import_ctx_t ctx = {base_name(src->name), res, CISHARE_OK, src->mtime};

    *donep = true;
    if (src->done)
        return CISHARE_OK;
    if (!src->buf) {
        size_t i;
        if (!res->cnt && !res->rejected_cnt && !res->skipped_cnt &&
            !res->recs_size_ && !res->rejected_size_ && !res->skipped_size_) {
            *res = src->all; /* the usual case: hand the lists over */
            cishare_import_result_init(&src->all);
        } else {
            for (i = 0; i < src->all.cnt; i++) {
                import_add(&ctx, src->all.recs[i].msg, "%s",
                           src->all.recs[i].record);
                src->all.recs[i].msg = NULL;
            }
            for (i = 0; i < src->all.rejected_cnt; i++)
                import_reject(&ctx, src->all.rejected[i].record,
                              src->all.rejected[i].reason, "%s",
                              src->all.rejected[i].detail);
            for (i = 0; i < src->all.skipped_cnt; i++)
                import_skip(&ctx, src->all.skipped[i].record,
                            src->all.skipped[i].reason, "%s",
                            src->all.skipped[i].detail);
            cishare_import_result_clear(&src->all);
        }
        src->done = true;
    } else {
        native_stream(&ctx, src->buf, src->len, &src->off, &src->line,
                      max ? max : 1);
        if (src->off >= src->len) {
            src->done = true;
            free(src->buf); /* everything read: give the memory back */
            src->buf = NULL;
            src->len = 0;
        }
    }
    *donep = src->done;
    if (ctx.err)
        return cishare_err_set(ctx.err, errstr, errstr_size,
                               "%s: out of memory", src->name);
    return CISHARE_OK;
}

const char *cishare_import_where(cishare_import_src_t *src)
{
    if (src->buf)
        snprintf(src->where, sizeof(src->where), "%s:%d", base_name(src->name),
                 src->line);
    else
        snprintf(src->where, sizeof(src->where), "%s", base_name(src->name));
    return src->where;
}

void cishare_import_close(cishare_import_src_t *src)
{
    if (!src)
        return;
    cishare_import_result_clear(&src->all);
    free(src->buf);
    free(src->name);
    free(src);
}
