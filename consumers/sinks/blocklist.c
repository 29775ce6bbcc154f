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
 * Values are checked against their type before they may reach a list: a
 * value with whitespace, control bytes or the wrong alphabet is skipped
 * (counted), never written, so no message can inject lines.
 */
#include "sinks/sink.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const list_types[] = {
    "ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "sha512",
};
#define N_TYPES   (sizeof(list_types) / sizeof(list_types[0]))
#define VALUE_MAX 2048

typedef struct blocklist_s {
    cishare_view_sink_t vs; /* folder, state journal, when to regen */
    uint64_t skipped;
} blocklist_t;

static int type_index(const char *t)
{
    size_t i;

    for (i = 0; t && i < N_TYPES; i++)
        if (!strcmp(list_types[i], t))
            return (int)i;
    return -1;
}

/* Widest CIDR blocks a blocklist takes: an indicator such as 0.0.0.0/0
 * would otherwise make every firewall that loads the list block all
 * traffic. Wider ranges stay in the JSONL and STIX sinks. */
#define BLOCK_MIN_PREFIX_V4 12
#define BLOCK_MIN_PREFIX_V6 32

/* An address, or a CIDR block no wider than min_prefix, of family af. */
static bool address_ok(int af, const char *v, int min_prefix)
{
    char addr[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v);
    int max = af == AF_INET ? 32 : 128;

    if (alen == 0 || alen >= sizeof(addr))
        return false;
    memcpy(addr, v, alen);
    addr[alen] = '\0';
    if (inet_pton(af, addr, bin) != 1)
        return false;
    if (slash) {
        char *end;
        long prefix = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || prefix < min_prefix || prefix > max)
            return false;
    }
    return true;
}

/* Normalise value for list type t into out; false if it does not fit. */
static bool normalise(int t, const char *v, char *out, size_t out_size)
{
    size_t len = strlen(v), i, hexlen = 0;
    const char *type = list_types[t];

    if (len == 0 || len >= out_size || len > VALUE_MAX)
        return false;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
        out[i] = (char)c;
    }
    out[len] = '\0';
    if (!strcmp(type, "ipv4"))
        return address_ok(AF_INET, out, BLOCK_MIN_PREFIX_V4);
    if (!strcmp(type, "ipv6")) {
        for (i = 0; i < len; i++)
            out[i] = (char)tolower((unsigned char)out[i]);
        return address_ok(AF_INET6, out, BLOCK_MIN_PREFIX_V6);
    }
    if (!strcmp(type, "domain")) {
        const char *name = out;
        for (i = 0; i < len; i++)
            out[i] = (char)tolower((unsigned char)out[i]);
        if (out[len - 1] == '.')
            out[--len] = '\0';
        /* "*.example.com" blocks subdomains; "*", "com" or "*.com" would
         * block far more than one indicator should */
        if (!strncmp(name, "*.", 2))
            name += 2;
        return *name && *name != '.' && strchr(name, '.') &&
               !strstr(name, "..") &&
               strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789.-_") ==
                   strlen(name);
    }
    if (!strcmp(type, "url"))
        return true;
    if (!strcmp(type, "email"))
        return strchr(out, '@') != NULL;
    /* Hashes: exact hex length, lower case. */
    hexlen = !strcmp(type, "md5")      ? 32
             : !strcmp(type, "sha1")   ? 40
             : !strcmp(type, "sha256") ? 64
                                       : 128;
    for (i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return len == hexlen && strspn(out, "0123456789abcdef") == len;
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
    /* Lists are views of the state: the frame makes them match it now. */
    if (cishare_view_sink_open(&b->vs, "blocklist", opts, blocklist_regen, b,
                               errstr, errstr_size)) {
        blocklist_close(b);
        return CISHARE_SINK_ERROR;
    }
    *ctxp = b;
    return CISHARE_SINK_OK;
}

/* Add [type, value] pairs of one observable to entries, if it fits. */
static void add_entry(blocklist_t *b, json_t *entries, const char *type,
                      const char *value)
{
    char norm[VALUE_MAX + 1];
    int t = type_index(type);

    if (t < 0 || !value)
        return; /* not a blocklist type (cve, yara, ...) */
    if (!normalise(t, value, norm, sizeof(norm))) {
        b->skipped++;
        return;
    }
    json_array_append_new(entries, json_pack("[s,s]", list_types[t], norm));
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
        add_entry(b, entries,
                  json_string_value(json_object_get(payload, "type")),
                  json_string_value(json_object_get(payload, "value")));
    } else {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(payload, "observables"), i, o)
            add_entry(b, entries, json_string_value(json_object_get(o, "type")),
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

static cishare_sink_status_t blocklist_regen(void *ctx, int64_t now_ms,
                                             char *errstr, size_t errstr_size)
{
    blocklist_t *b = ctx;
    json_t *all = cishare_sink_state_all(b->vs.state), *v, *e, *expired;
    const char *key, **vals[N_TYPES] = {0};
    size_t cnt[N_TYPES] = {0}, cap[N_TYPES] = {0}, t, i;
    cishare_sink_status_t st = CISHARE_SINK_OK;

    expired = json_array();
    json_object_foreach(all, key, v)
    {
        int64_t x = json_integer_value(json_object_get(v, "x"));
        if (json_is_true(json_object_get(v, "revoked")))
            continue;
        if (x && x <= now_ms) {
            json_array_append_new(expired, json_string(key));
            continue;
        }
        if (x && x < b->vs.next_expiry_ms)
            b->vs.next_expiry_ms = x;
        json_array_foreach(json_object_get(v, "e"), i, e)
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
        /* Lists no longer hold them: forget expired entries. */
        json_array_foreach(expired, i, e)
            cishare_sink_state_put(b->vs.state, json_string_value(e), NULL);
    }
out:
    for (t = 0; t < N_TYPES; t++)
        free(vals[t]);
    json_decref(expired);
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
