/*
 * cishare - blocklist sink: <out>/blocklist/<type>.txt, one value a line,
 * sorted and unique, for firewalls and DNS resolvers.
 *
 * Sources: indicator messages (payload.type/value) and the inline
 * observables of alerts. State (<out>/blocklist/state.jsonl) maps
 * "<origin> <subject>" to {"o": origin, "e": [[type, value], ...],
 * "x": expiry ms (0: none), "m": modified ms} or to a tombstone
 * {"o": origin, "revoked": true}. Keying by origin means one participant
 * can neither overwrite nor revoke another's subject.
 *
 * Expiry: min(payload.valid_until, envelope expires). Expired entries
 * leave the lists at the next sync after they expire (the feed syncs
 * periodically even when idle) and are forgotten from the state.
 *
 * Values are judged by the blocklist validator (cishare/indicator.h)
 * before they may reach a list: a malformed value (white space, control
 * bytes, wrong alphabet: no message can inject lines) or one that would
 * block far more than one indicator (a public suffix, a wildcard over
 * one, IPv4-mapped IPv6, a special-purpose range, a URL without host) is
 * left out of the lists, counted by reason (blocklist.h) and logged with
 * its origin, subject and message id. It stays in the JSONL and STIX
 * sinks, which carry intelligence rather than enforcement.
 */
#include "sinks/blocklist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const list_types[] = {
    "ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "sha512",
};
#define N_TYPES (sizeof(list_types) / sizeof(list_types[0]))

/* Refusals logged one by one per sink instance; past that, only counted
 * (a hostile participant must not flood the operator's log). */
#define LOG_MAX 100

typedef struct blocklist_s {
    cishare_view_sink_t vs; /* folder, state journal, when to regen */
    uint64_t refused[CISHARE_INDICATOR__CNT]; /* by reason */
    uint64_t logged;                          /* refusals logged */
    bool rechecked; /* the state loaded at open judged again */
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
} blocklist_t;

static int type_index(const char *t)
{
    size_t i;

    for (i = 0; t && i < N_TYPES; i++)
        if (!strcmp(list_types[i], t))
            return (int)i;
    return -1;
}

static void blocklist_close(void *ctx);

static cishare_sink_status_t blocklist_regen(void *ctx, int64_t now_ms,
                                             char *errstr, size_t errstr_size);

static cishare_sink_status_t blocklist_open(const cishare_sink_opts_t *opts,
                                            void **ctxp, char *errstr,
                                            size_t errstr_size)
{
    blocklist_t *b = calloc(1, sizeof(*b));

    if (!b)
        return CISHARE_SINK_ERROR;
    b->log = opts->log;
    b->log_opaque = opts->log_opaque;
    /* Lists are views of the state: the frame makes them match it now. */
    if (cishare_view_sink_open(&b->vs, "blocklist", opts, blocklist_regen, b,
                               errstr, errstr_size)) {
        blocklist_close(b);
        return CISHARE_SINK_ERROR;
    }
    *ctxp = b;
    return CISHARE_SINK_OK;
}

/* text for a log line: printable ASCII but '"' and '\' as is, every
 * other byte as \xNN (no escape sequence reaches a terminal), cut to
 * fit out with "..." */
static void escape(const char *in, char *out, size_t out_size)
{
    size_t o = 0;

    for (; in && *in; in++) {
        unsigned char c = (unsigned char)*in;
        size_t need = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? 1 : 4;
        if (o + need + 4 > out_size) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (need == 1)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

/* Count a refusal of one value, and log it while under LOG_MAX: origin
 * and subject of the record it came in, and message id (NULL: a record
 * of the state, kept from before this check). */
static void refuse(blocklist_t *b, const char *origin, const char *subject,
                   const char *msgid, const char *type, const char *value,
                   cishare_indicator_reason_t r, const char *detail)
{
    char line[1024], v[256], s[192], o[96], id[96];

    b->refused[r]++;
    if (!b->log || b->logged > LOG_MAX)
        return;
    if (b->logged++ == LOG_MAX) {
        b->log(b->log_opaque, "blocklist: more values refused; counted, "
                              "not logged");
        return;
    }
    escape(value, v, sizeof(v));
    escape(subject, s, sizeof(s));
    escape(origin, o, sizeof(o));
    escape(msgid, id, sizeof(id));
    snprintf(line, sizeof(line),
             "blocklist: refused %s \"%s\" of %s %s (%s%s): %s%s%s", type, v, o,
             s, msgid ? "message " : "kept state", id,
             cishare_indicator_reason_name(r), detail ? ", " : "",
             detail ? detail : "");
    b->log(b->log_opaque, line);
}

/* Add [type, value] of one observable to entries if the validator
 * accepts it; refuse it otherwise. */
static void add_entry(blocklist_t *b, json_t *entries, const json_t *msg,
                      const char *subject, const char *type, const char *value)
{
    char norm[CISHARE_INDICATOR_VALUE_MAX + 1];
    const char *detail;
    cishare_indicator_reason_t r;

    if (!cishare_indicator_listable(type) || !value)
        return; /* not a blocklist type (cve, yara, ...) */
    r = cishare_indicator_check(type, value, norm, sizeof(norm), &detail);
    if (r != CISHARE_INDICATOR_OK) {
        refuse(b, json_string_value(json_object_get(msg, "origin")), subject,
               json_string_value(json_object_get(msg, "message_id")), type,
               value, r, detail);
        return;
    }
    json_array_append_new(entries, json_pack("[s,s]", type, norm));
}

uint64_t
cishare_sink_blocklist_refused(const cishare_sink_t *sink,
                               uint64_t by_reason[CISHARE_INDICATOR__CNT])
{
    const blocklist_t *b;
    uint64_t total = 0;
    size_t r;

    if (by_reason)
        memset(by_reason, 0, CISHARE_INDICATOR__CNT * sizeof(*by_reason));
    if (!sink || sink->plugin != &cishare_sink_blocklist || !sink->ctx)
        return 0;
    b = sink->ctx;
    for (r = 0; r < CISHARE_INDICATOR__CNT; r++) {
        total += b->refused[r];
        if (by_reason)
            by_reason[r] = b->refused[r];
    }
    return total;
}

static cishare_sink_status_t blocklist_write(void *ctx, const json_t *msg,
                                             const char *subject, char *errstr,
                                             size_t errstr_size)
{
    blocklist_t *b = ctx;
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *origin = json_string_value(json_object_get(msg, "origin"));
    json_t *payload = json_object_get(msg, "payload"), *entries, *old, *rec;
    int64_t expires = cishare_sink_json_time(json_object_get(msg, "expires")),
            vu,
            modified =
                cishare_sink_json_time(json_object_get(payload, "modified"));
    char *key;
    cishare_sink_status_t st = CISHARE_SINK_OK;

    if (!type || !json_is_object(payload) || !subject)
        return CISHARE_SINK_OK;
    if (strcmp(type, "indicator") && strcmp(type, "alert"))
        return CISHARE_SINK_OK;
    key = cishare_view_sink_key(origin, subject);
    if (!key)
        return CISHARE_SINK_ERROR;
    old = cishare_sink_state_get(b->vs.state, key);
    if (old && (json_is_true(json_object_get(old, "revoked")) ||
                json_integer_value(json_object_get(old, "m")) > modified))
        goto out; /* revoked for good, or we hold a newer version */
    entries = json_array();
    if (!strcmp(type, "indicator")) {
        add_entry(b, entries, msg, subject,
                  json_string_value(json_object_get(payload, "type")),
                  json_string_value(json_object_get(payload, "value")));
    } else {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(payload, "observables"), i, o)
            add_entry(b, entries, msg, subject,
                      json_string_value(json_object_get(o, "type")),
                      json_string_value(json_object_get(o, "value")));
    }
    vu = cishare_sink_json_time(json_object_get(payload, "valid_until"));
    if (vu && (!expires || vu < expires))
        expires = vu;
    rec =
        json_pack("{s:s,s:o,s:I,s:I}", "o", origin ? origin : "", "e", entries,
                  "x", (json_int_t)expires, "m", (json_int_t)modified);
    st = cishare_view_sink_record(&b->vs, key, rec, "", subject, errstr,
                                  errstr_size);
out:
    free(key);
    return st;
}

static cishare_sink_status_t blocklist_revoke(void *ctx, const char *subject,
                                              const json_t *rev, char *errstr,
                                              size_t errstr_size)
{
    blocklist_t *b = ctx;
    const char *origin = json_string_value(json_object_get(rev, "origin"));
    char *key;
    cishare_sink_status_t st;

    key = cishare_view_sink_key(origin, subject);
    st = cishare_view_sink_record(
        &b->vs, key,
        json_pack("{s:s,s:b}", "o", origin ? origin : "", "revoked", 1),
        "revocation of ", subject, errstr, errstr_size);
    free(key);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cishare_sink_status_t write_list(blocklist_t *b, size_t t,
                                        const char **vals, size_t n,
                                        char *errstr, size_t errstr_size)
{
    cishare_atomic_t af;
    char *path;
    size_t i;

    if (asprintf(&path, "%s/%s.txt", b->vs.dir, list_types[t]) < 0)
        return CISHARE_SINK_ERROR;
    if (n > 1) /* qsort(NULL, 0) is undefined */
        qsort(vals, n, sizeof(*vals), cmp_str);
    if (cishare_atomic_begin(&af, path))
        goto fail;
    for (i = 0; i < n; i++)
        if (i == 0 || strcmp(vals[i], vals[i - 1]))
            fprintf(af.fp, "%s\n", vals[i]);
    if (cishare_atomic_commit(&af))
        goto fail;
    free(path);
    return CISHARE_SINK_OK;
fail:
    cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s", path,
                    strerror(errno));
    free(path);
    return CISHARE_SINK_ERROR;
}

/*
 * The state loaded at open may hold values that an earlier version let
 * through. Judge every value of record v (key "<origin> <subject>") once
 * more; when some are refused, *cleanp receives a copy of v without them
 * (the caller records it once the lists are written). Refused values are
 * counted and logged like those of new messages.
 */
static void recheck(blocklist_t *b, const char *key, json_t *v, json_t **cleanp)
{
    char norm[CISHARE_INDICATOR_VALUE_MAX + 1];
    const char *origin = json_string_value(json_object_get(v, "o"));
    const char *subject = strchr(key, ' ');
    json_t *e, *kept, *old = json_object_get(v, "e");
    size_t i;

    bool refused = false;

    *cleanp = NULL;
    subject = subject ? subject + 1 : key;
    json_array_foreach(old, i, e)
    {
        const char *type = json_string_value(json_array_get(e, 0));
        const char *val = json_string_value(json_array_get(e, 1));
        const char *detail;
        cishare_indicator_reason_t r;

        if (!cishare_indicator_listable(type) || !val)
            continue; /* regen skips it anyway */
        r = cishare_indicator_check(type, val, norm, sizeof(norm), &detail);
        if (r != CISHARE_INDICATOR_OK) {
            refuse(b, origin, subject, NULL, type, val, r, detail);
            refused = true;
        }
    }
    if (!refused)
        return;
    kept = json_array();
    json_array_foreach(old, i, e)
    {
        const char *type = json_string_value(json_array_get(e, 0));
        const char *val = json_string_value(json_array_get(e, 1));
        if (cishare_indicator_listable(type) && val &&
            cishare_indicator_check(type, val, norm, sizeof(norm), NULL) ==
                CISHARE_INDICATOR_OK)
            json_array_append(kept, e);
    }
    *cleanp = json_copy(v);
    if (*cleanp)
        json_object_set(*cleanp, "e", kept);
    json_decref(kept);
}

static cishare_sink_status_t blocklist_regen(void *ctx, int64_t now_ms,
                                             char *errstr, size_t errstr_size)
{
    blocklist_t *b = ctx;
    json_t *all = cishare_sink_state_all(b->vs.state), *v, *e, *expired;
    json_t *cleaned, *clean;
    const char *key, **vals[N_TYPES] = {0};
    size_t cnt[N_TYPES] = {0}, cap[N_TYPES] = {0}, t, i;
    cishare_sink_status_t st = CISHARE_SINK_OK;

    expired = json_array();
    cleaned = json_object();
    json_object_foreach(all, key, v)
    {
        int64_t x = json_integer_value(json_object_get(v, "x"));
        json_t *ents;
        if (json_is_true(json_object_get(v, "revoked")))
            continue;
        if (x && x <= now_ms) {
            json_array_append_new(expired, json_string(key));
            continue;
        }
        if (x && x < b->vs.next_expiry_ms)
            b->vs.next_expiry_ms = x;
        ents = json_object_get(v, "e");
        if (!b->rechecked) {
            recheck(b, key, v, &clean);
            if (clean) {
                json_object_set_new(cleaned, key, clean);
                ents = json_object_get(clean, "e");
            }
        }
        json_array_foreach(ents, i, e)
        {
            int ti = type_index(json_string_value(json_array_get(e, 0)));
            const char *val = json_string_value(json_array_get(e, 1));
            if (ti < 0 || !val)
                continue;
            if (cnt[ti] == cap[ti]) {
                size_t nc = cap[ti] ? cap[ti] * 2 : 64;
                const char **np = realloc(vals[ti], nc * sizeof(*np));
                if (!np) {
                    st = CISHARE_SINK_ERROR;
                    goto out;
                }
                vals[ti] = np;
                cap[ti] = nc;
            }
            vals[ti][cnt[ti]++] = val;
        }
    }
    for (t = 0; t < N_TYPES && st == CISHARE_SINK_OK; t++)
        st = write_list(b, t, vals[t], cnt[t], errstr, errstr_size);
    if (st == CISHARE_SINK_OK) {
        /* Lists no longer hold them: forget expired entries, and the
         * refused values of records kept from before. */
        json_array_foreach(expired, i, e)
            cishare_sink_state_put(b->vs.state, json_string_value(e), NULL);
        json_object_foreach(cleaned, key, v)
            cishare_sink_state_put(b->vs.state, key, v);
        b->rechecked = true;
    }
out:
    for (t = 0; t < N_TYPES; t++)
        free(vals[t]);
    json_decref(expired);
    json_decref(cleaned);
    return st;
}

static cishare_sink_status_t blocklist_sync(void *ctx, int64_t now_ms,
                                            uint64_t *markp, char *errstr,
                                            size_t errstr_size)
{
    blocklist_t *b = ctx;

    return cishare_view_sink_sync(&b->vs, now_ms, markp, errstr, errstr_size);
}

static void blocklist_close(void *ctx)
{
    blocklist_t *b = ctx;

    if (!b)
        return;
    cishare_view_sink_close(&b->vs);
    free(b);
}

const cishare_sink_plugin_t cishare_sink_blocklist = {
    .name = "blocklist",
    .description = "plain-text blocklists per indicator type (blocklist/)",
    .open = blocklist_open,
    .write = blocklist_write,
    .revoke = blocklist_revoke,
    .sync = blocklist_sync,
    .close = blocklist_close,
};
