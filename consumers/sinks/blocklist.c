/*
 * cishare - blocklist sink: one folder of lists per TLP label, for
 * firewalls and DNS resolvers to load as they are.
 *
 *   <out>/blocklist/<label>/<type>.txt   label clear, green, amber,
 *                                        amber-strict, red; type ipv4,
 *                                        ipv6, domain, url, email, md5,
 *                                        sha1, sha256, sha512: one value
 *                                        a line, sorted, unique
 *   <out>/blocklist/<label>/rpz.zone     the domains as a DNS RPZ zone
 *   <out>/blocklist/<label>/cishare.nft  the addresses as nftables sets
 *                                        <label>_v4, <label>_v6 of table
 *                                        inet cishare (label with "_")
 *
 * A list holds only values delivered with its label: nothing is merged
 * across labels, so a firewall is pointed at the folders its owner may
 * use there. Every folder is rewritten on each regen, empty ones too, each
 * file atomically (temporary file, fsync, rename).
 *
 * Sources: indicator messages (payload.type/value) and the inline
 * observables of alerts. State (<out>/.state/blocklist.jsonl, out of the
 * list folders; sink.h) maps "<origin> <subject>" to {"o": origin, "l":
 * label, "e": [[type, value], ...], "x": expiry ms (0: none), "m":
 * modified ms} or to a tombstone {"o": origin, "revoked": true}. Keying by
 * origin means one participant can neither overwrite nor revoke
 * another's subject.
 *
 * Expiry: min(payload.valid_until, envelope expires). Expired entries
 * leave the lists at the next sync after they expire (the feed syncs
 * periodically even when idle) and are forgotten from the state.
 *
 * Every value is judged by the blocklist validator (cishare/indicator.h)
 * before it may reach a list, together with what the record says beyond
 * the value (a label to_ids:false, a to_ids flag): what it refuses is
 * left out of the lists and of the state, counted by reason (blocklist.h)
 * and logged with its origin, subject and message id. It stays in the
 * JSONL and STIX sinks, which carry intelligence rather than enforcement.
 * The state loaded at open is judged again (an older version may have let
 * a value through); a record of an older version without a label is left
 * out (no-label) until the feed reads it again.
 */
#include "sinks/blocklist.h"

#include "cishare/log.h"
#include "cishare/types.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const list_types[] = {
    "ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "sha512",
};
#define N_TYPES  (sizeof(list_types) / sizeof(list_types[0]))
#define T_IPV4   0
#define T_IPV6   1
#define T_DOMAIN 2
#define N_LABELS ((size_t)CISHARE_TLP__CNT)

/* Refusals logged one by one per sink instance; past that, only counted
 * (a hostile participant must not flood the operator's log). */
#define LOG_MAX 100

typedef struct blocklist_s {
    cishare_view_sink_t vs; /* folder, state journal, when to regen */
    uint64_t refused[CISHARE_INDICATOR__CNT]; /* by reason */
    uint64_t logged;                          /* refusals logged */
    bool rechecked;  /* the state loaded at open judged again */
    uint32_t serial; /* of the RPZ zones last written */
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

/* The folder name of label l: its topic-name form, [a-z-] only. */
static const char *label_dir(size_t l)
{
    return cishare_tlp_topic_name((cishare_tlp_t)l);
}

/* The highest SOA serial of the RPZ zones under <out>/blocklist, 0 if
 * none: serials keep increasing across restarts. */
static uint32_t last_serial(const char *out)
{
    uint32_t best = 0;
    size_t l;

    for (l = 0; l < N_LABELS; l++) {
        char *path, line[256];
        FILE *fp;
        if (asprintf(&path, "%s/blocklist/%s/rpz.zone", out, label_dir(l)) < 0)
            continue;
        fp = fopen(path, "r");
        free(path);
        while (fp && fgets(line, sizeof(line), fp)) {
            const char *soa = strstr(line, " SOA ");
            unsigned long v;
            if (soa && sscanf(soa, " SOA %*s %*s %lu", &v) == 1 &&
                v <= UINT32_MAX && v > best)
                best = (uint32_t)v;
        }
        if (fp)
            fclose(fp);
    }
    return best;
}

/* The lists of the older layout, <out>/blocklist/<type>.txt, merged all
 * labels: remove them, or a firewall pointed there would load them
 * forever. Logged. */
static cishare_sink_status_t remove_flat_lists(blocklist_t *b, const char *out,
                                               char *errstr, size_t errstr_size)
{
    size_t t;

    for (t = 0; t < N_TYPES; t++) {
        char *path, line[1100];
        if (asprintf(&path, "%s/blocklist/%s.txt", out, list_types[t]) < 0)
            return CISHARE_SINK_ERROR;
        if (unlink(path) == 0) {
            snprintf(line, sizeof(line),
                     "blocklist: removed %s (a list of an older version, all "
                     "labels merged; the lists are now in %s/blocklist/"
                     "<label>/)",
                     path, out);
            if (b->log)
                b->log(b->log_opaque, line);
        } else if (errno != ENOENT) {
            cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                            "%s: cannot remove a list of the older layout: %s",
                            path, strerror(errno));
            free(path);
            return CISHARE_SINK_ERROR;
        }
        free(path);
    }
    return CISHARE_SINK_OK;
}

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
    b->serial = last_serial(opts->out);
    /* Lists are views of the state: the frame makes them match it now. */
    if ((strcmp(opts->out, "-") &&
         remove_flat_lists(b, opts->out, errstr, errstr_size)) ||
        cishare_view_sink_open(&b->vs, "blocklist", opts, NULL, blocklist_regen,
                               b, errstr, errstr_size)) {
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
    {
        /* JSON logs: the reason of cishare_feed_blocklist_excluded_total */
        cishare_log_fields_t lf = {0};
        lf.level = CISHARE_LOG_WARN;
        lf.reason = cishare_indicator_reason_name(r);
        lf.msg_id = msgid;
        lf.origin = origin;
        cishare_log_with(&lf, b->log, b->log_opaque, line);
    }
}

/* What the record says beyond its values: an indicator's labels and
 * to_ids flag (indicator.h). CISHARE_INDICATOR_OK, or the reason every
 * value of the record stays out, with *detailp. */
static cishare_indicator_reason_t record_reason(const json_t *msg,
                                                const char **detailp)
{
    const json_t *payload = json_object_get(msg, "payload"), *l, *ids;
    cishare_indicator_reason_t r;
    cishare_tlp_t tlp;
    size_t i;

    *detailp = NULL;
    if (!cishare_tlp_parse(json_string_value(json_object_get(msg, "tlp")),
                           &tlp)) {
        *detailp = "the message carries no TLP label";
        return CISHARE_INDICATOR_NO_LABEL;
    }
    json_array_foreach(json_object_get(payload, "labels"), i, l)
    {
        r = cishare_indicator_check_label(json_string_value(l), detailp);
        if (r != CISHARE_INDICATOR_OK)
            return r;
    }
    ids = json_object_get(payload, "to_ids");
    if (json_is_boolean(ids))
        return cishare_indicator_check_to_ids(json_is_true(ids), detailp);
    return CISHARE_INDICATOR_OK;
}

/* Add [type, value] of one observable to entries if the record (rr,
 * rdetail: record_reason) and the validator accept it; refuse it
 * otherwise. */
static void add_entry(blocklist_t *b, json_t *entries, const json_t *msg,
                      const char *subject, const char *type, const char *value,
                      cishare_indicator_reason_t rr, const char *rdetail)
{
    char norm[CISHARE_INDICATOR_VALUE_MAX + 1];
    const char *detail = rdetail;
    cishare_indicator_reason_t r = rr;

    if (!cishare_indicator_listable(type) || !value)
        return; /* not a blocklist type (cve, yara, ...) */
    if (r == CISHARE_INDICATOR_OK)
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
    const char *rdetail;
    cishare_indicator_reason_t rr;
    cishare_tlp_t tlp = CISHARE_TLP_RED;
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
    rr = record_reason(msg, &rdetail);
    if (!cishare_tlp_parse(json_string_value(json_object_get(msg, "tlp")),
                           &tlp))
        tlp = CISHARE_TLP_RED; /* no entries then (no-label): never shown */
    if (!strcmp(type, "indicator")) {
        add_entry(b, entries, msg, subject,
                  json_string_value(json_object_get(payload, "type")),
                  json_string_value(json_object_get(payload, "value")), rr,
                  rdetail);
    } else {
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(payload, "observables"), i, o)
            add_entry(b, entries, msg, subject,
                      json_string_value(json_object_get(o, "type")),
                      json_string_value(json_object_get(o, "value")), rr,
                      rdetail);
    }
    vu = cishare_sink_json_time(json_object_get(payload, "valid_until"));
    if (vu && (!expires || vu < expires))
        expires = vu;
    /* A newer version refused whole still replaces the older one: the
     * older values must leave the lists. */
    rec = json_pack("{s:s,s:s,s:o,s:I,s:I}", "o", origin ? origin : "", "l",
                    cishare_tlp_name(tlp), "e", entries, "x",
                    (json_int_t)expires, "m", (json_int_t)modified);
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

/* Sort vals and leave each value once; *np receives the new count. */
static void sort_unique(const char **vals, size_t *np)
{
    size_t i, o = 0;

    if (*np > 1) /* qsort(NULL, 0) is undefined */
        qsort(vals, *np, sizeof(*vals), cmp_str);
    for (i = 0; i < *np; i++)
        if (o == 0 || strcmp(vals[i], vals[o - 1]))
            vals[o++] = vals[i];
    *np = o;
}

static cishare_sink_status_t io_error(const char *path, char *errstr,
                                      size_t errstr_size)
{
    cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s", path,
                    strerror(errno));
    return CISHARE_SINK_ERROR;
}

/* One value a line. */
static int put_list(FILE *fp, const char **vals, size_t n, const void *arg)
{
    size_t i;

    (void)arg;
    for (i = 0; i < n; i++)
        fprintf(fp, "%s\n", vals[i]);
    return 0;
}

/*
 * A DNS response policy zone (RPZ): each domain rewritten to NXDOMAIN
 * ("CNAME ."), the name and every name under it ("*.name"); a wildcard
 * value "*.name" covers the names under it only, as it says. Names are
 * relative: the zone's origin is the name the resolver gives the zone
 * (BIND response-policy, Unbound rpz:, Knot Resolver, PowerDNS).
 */
typedef struct {
    uint32_t serial;
    char label[16]; /* "AMBER+STRICT" */
} rpz_arg_t;

static int put_rpz(FILE *fp, const char **vals, size_t n, const void *arg)
{
    const rpz_arg_t *a = arg;
    size_t i;

    fprintf(fp,
            "; cishare blocklist, TLP:%s: domains as a response policy zone.\n"
            "; Names are relative to the zone's origin (the name the "
            "resolver gives it).\n"
            "$TTL 300\n"
            "@ IN SOA localhost. hostmaster.localhost. %" PRIu32
            " 3600 600 604800 300\n"
            "@ IN NS localhost.\n",
            a->label, a->serial);
    for (i = 0; i < n; i++) {
        if (strncmp(vals[i], "*.", 2))
            fprintf(fp, "%s CNAME .\n", vals[i]);
        /* "*." + a 253-byte name would pass the DNS bound of 255 */
        if (!strncmp(vals[i], "*.", 2) || strlen(vals[i]) <= 240)
            fprintf(fp, "%s%s CNAME .\n", strncmp(vals[i], "*.", 2) ? "*." : "",
                    vals[i]);
    }
    return 0;
}

/* An address or block as nft takes it: the network of a block (a listed
 * "192.0.2.7/24" is the block 192.0.2.0/24), a whole-length prefix
 * dropped. False for a value that does not parse (never, after the
 * validator). */
static bool nft_element(int af, const char *v, char *out, size_t out_size)
{
    char addr[INET6_ADDRSTRLEN + 1], txt[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v), i;
    int max = af == AF_INET ? 32 : 128, prefix = slash ? atoi(slash + 1) : max;

    if (alen >= sizeof(addr) || prefix < 0 || prefix > max)
        return false;
    memcpy(addr, v, alen);
    addr[alen] = '\0';
    if (inet_pton(af, addr, bin) != 1)
        return false;
    for (i = 0; i < (size_t)max / 8; i++) {
        int keep = prefix - (int)i * 8;
        if (keep <= 0)
            bin[i] = 0;
        else if (keep < 8)
            bin[i] &= (unsigned char)(0xff << (8 - keep));
    }
    if (!inet_ntop(af, bin, txt, sizeof(txt)))
        return false;
    if (prefix == max)
        snprintf(out, out_size, "%s", txt);
    else
        snprintf(out, out_size, "%s/%d", txt, prefix);
    return true;
}

typedef struct {
    const char *label;     /* "amber+strict" */
    const char *set;       /* "amber_strict" */
    const char **v4, **v6; /* sorted, unique */
    size_t n4, n6;
} nft_arg_t;

/* One set's elements, 256 a command. */
static void put_nft_set(FILE *fp, const char *set, const char *fam, int af,
                        const char **vals, size_t n)
{
    char el[INET6_ADDRSTRLEN + 8];
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        if (!nft_element(af, vals[i], el, sizeof(el)))
            continue;
        if (k % 256 == 0)
            fprintf(fp, "add element inet cishare %s_%s { %s", set, fam, el);
        else
            fprintf(fp, ", %s", el);
        if (++k % 256 == 0)
            fprintf(fp, " }\n");
    }
    if (k % 256)
        fprintf(fp, " }\n");
}

/*
 * An nftables script for `nft -f`: table inet cishare, sets <label>_v4
 * and <label>_v6 (interval sets, overlapping blocks merged), emptied and
 * filled, one transaction. A ruleset refers to them, e.g.
 *   ip saddr @amber_v4 drop
 */
static int put_nft(FILE *fp, const char **vals, size_t n, const void *arg)
{
    const nft_arg_t *a = arg;

    (void)vals;
    (void)n;
    fprintf(fp,
            "#!/usr/sbin/nft -f\n"
            "# cishare blocklist, TLP:%s: addresses as nftables sets.\n"
            "add table inet cishare\n"
            "add set inet cishare %s_v4 { type ipv4_addr; flags interval; "
            "auto-merge; }\n"
            "add set inet cishare %s_v6 { type ipv6_addr; flags interval; "
            "auto-merge; }\n"
            "flush set inet cishare %s_v4\n"
            "flush set inet cishare %s_v6\n",
            a->label, a->set, a->set, a->set, a->set);
    put_nft_set(fp, a->set, "v4", AF_INET, a->v4, a->n4);
    put_nft_set(fp, a->set, "v6", AF_INET6, a->v6, a->n6);
    return 0;
}

/* Replace <dir>/<label>/<name> atomically with what put writes. */
static cishare_sink_status_t
write_file(blocklist_t *b, size_t l, const char *name,
           int (*put)(FILE *, const char **, size_t, const void *),
           const char **vals, size_t n, const void *arg, char *errstr,
           size_t errstr_size)
{
    cishare_atomic_t af;
    char *path;
    cishare_sink_status_t st = CISHARE_SINK_OK;

    if (asprintf(&path, "%s/%s/%s", b->vs.dir, label_dir(l), name) < 0)
        return CISHARE_SINK_ERROR;
    if (cishare_atomic_begin(&af, path))
        st = io_error(path, errstr, errstr_size);
    else if (put(af.fp, vals, n, arg) || cishare_atomic_commit(&af))
        st = io_error(path, errstr, errstr_size);
    free(path);
    return st;
}

/* Every file of label l's folder: the lists, the RPZ zone, the nft sets. */
static cishare_sink_status_t write_label(blocklist_t *b, size_t l,
                                         const char **vals[N_TYPES],
                                         size_t cnt[N_TYPES], char *errstr,
                                         size_t errstr_size)
{
    rpz_arg_t rpz;
    char *dir, set[16], *p, fname[16];
    nft_arg_t nft;
    size_t t;
    cishare_sink_status_t st = CISHARE_SINK_OK;

    if (asprintf(&dir, "%s/%s", b->vs.dir, label_dir(l)) < 0)
        return CISHARE_SINK_ERROR;
    if (cishare_mkdirs(dir)) {
        st = io_error(dir, errstr, errstr_size);
        free(dir);
        return st;
    }
    free(dir);
    for (t = 0; t < N_TYPES && st == CISHARE_SINK_OK; t++) {
        sort_unique(vals[t], &cnt[t]);
        snprintf(fname, sizeof(fname), "%s.txt", list_types[t]);
        st = write_file(b, l, fname, put_list, vals[t], cnt[t], NULL, errstr,
                        errstr_size);
    }
    rpz.serial = b->serial;
    snprintf(rpz.label, sizeof(rpz.label), "%s",
             cishare_tlp_name((cishare_tlp_t)l));
    for (p = rpz.label; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (st == CISHARE_SINK_OK)
        st = write_file(b, l, "rpz.zone", put_rpz, vals[T_DOMAIN],
                        cnt[T_DOMAIN], &rpz, errstr, errstr_size);
    snprintf(set, sizeof(set), "%s", label_dir(l));
    for (p = set; *p; p++)
        if (*p == '-')
            *p = '_';
    nft.label = rpz.label;
    nft.set = set;
    nft.v4 = vals[T_IPV4];
    nft.n4 = cnt[T_IPV4];
    nft.v6 = vals[T_IPV6];
    nft.n6 = cnt[T_IPV6];
    if (st == CISHARE_SINK_OK)
        st = write_file(b, l, "cishare.nft", put_nft, NULL, 0, &nft, errstr,
                        errstr_size);
    return st;
}

/* The label of state record v, or -1 when it has none (older version). */
static int record_label(const json_t *v)
{
    cishare_tlp_t tlp;

    if (!cishare_tlp_parse(json_string_value(json_object_get(v, "l")), &tlp))
        return -1;
    return (int)tlp;
}

/*
 * The state loaded at open may hold values that an earlier version let
 * through. Judge every value of record v (key "<origin> <subject>") once
 * more, and a record without a label (no-label: an older version kept
 * none) refuses all of them; when some are refused, *cleanp receives a
 * copy of v without them (the caller records it once the lists are
 * written). Refused values are counted and logged like those of new
 * messages.
 */
static void recheck(blocklist_t *b, const char *key, json_t *v, json_t **cleanp)
{
    char norm[CISHARE_INDICATOR_VALUE_MAX + 1];
    const char *origin = json_string_value(json_object_get(v, "o"));
    const char *subject = strchr(key, ' ');
    json_t *e, *kept, *old = json_object_get(v, "e");
    bool labelled = record_label(v) >= 0, refused = false;
    size_t i;

    *cleanp = NULL;
    subject = subject ? subject + 1 : key;
    kept = json_array();
    json_array_foreach(old, i, e)
    {
        const char *type = json_string_value(json_array_get(e, 0));
        const char *val = json_string_value(json_array_get(e, 1));
        const char *detail = "a state record of an older version, kept "
                             "without its label: read again with "
                             "--from-beginning to list it";
        cishare_indicator_reason_t r = CISHARE_INDICATOR_NO_LABEL;

        if (!cishare_indicator_listable(type) || !val)
            continue; /* regen skips it anyway */
        if (labelled)
            r = cishare_indicator_check(type, val, norm, sizeof(norm), &detail);
        if (r != CISHARE_INDICATOR_OK) {
            refuse(b, origin, subject, NULL, type, val, r, detail);
            refused = true;
        } else {
            json_array_append(kept, e);
        }
    }
    if (refused && (*cleanp = json_copy(v)) != NULL)
        json_object_set(*cleanp, "e", kept);
    json_decref(kept);
}

static cishare_sink_status_t blocklist_regen(void *ctx, int64_t now_ms,
                                             char *errstr, size_t errstr_size)
{
    blocklist_t *b = ctx;
    json_t *all = cishare_sink_state_all(b->vs.state), *v, *e, *expired;
    json_t *cleaned, *clean;
    const char *key, **vals[N_LABELS][N_TYPES] = {{0}};
    size_t cnt[N_LABELS][N_TYPES] = {{0}}, cap[N_LABELS][N_TYPES] = {{0}};
    size_t t, i, l;
    uint32_t now_s = (uint32_t)(now_ms / 1000);
    cishare_sink_status_t st = CISHARE_SINK_OK;

    expired = json_array();
    cleaned = json_object();
    json_object_foreach(all, key, v)
    {
        int64_t x = json_integer_value(json_object_get(v, "x"));
        int li = record_label(v);
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
        if (li < 0)
            continue; /* no label: in no folder (refused by recheck) */
        json_array_foreach(ents, i, e)
        {
            int ti = type_index(json_string_value(json_array_get(e, 0)));
            const char *val = json_string_value(json_array_get(e, 1));
            if (ti < 0 || !val)
                continue;
            if (cnt[li][ti] == cap[li][ti]) {
                size_t nc = cap[li][ti] ? cap[li][ti] * 2 : 64;
                const char **np = realloc(vals[li][ti], nc * sizeof(*np));
                if (!np) {
                    st = CISHARE_SINK_ERROR;
                    goto out;
                }
                vals[li][ti] = np;
                cap[li][ti] = nc;
            }
            vals[li][ti][cnt[li][ti]++] = val;
        }
    }
    /* The zones' serial increases on each rewrite, and follows the clock
     * when it can (operators read it as a time). */
    b->serial = now_s > b->serial ? now_s : b->serial + 1;
    for (l = 0; l < N_LABELS && st == CISHARE_SINK_OK; l++)
        st = write_label(b, l, vals[l], cnt[l], errstr, errstr_size);
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
    for (l = 0; l < N_LABELS; l++)
        for (t = 0; t < N_TYPES; t++)
            free(vals[l][t]);
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
    .description = "blocklists per TLP label: lists per indicator type, an "
                   "RPZ zone, nftables sets (blocklist/<label>/)",
    .open = blocklist_open,
    .write = blocklist_write,
    .revoke = blocklist_revoke,
    .sync = blocklist_sync,
    .close = blocklist_close,
};
