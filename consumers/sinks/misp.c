/*
 * cishare - MISP feed sink: <out>/misp/ is a folder a MISP instance adds
 * as a feed (locally, or over HTTP through cishare serve):
 *   manifest.json    event uuid -> {info, date, analysis, threat_level_id,
 *                    timestamp, Orgc, Tag}, as MISP's feed fetcher reads it
 *   hashes.csv       "<md5 of attribute value>,<event uuid>", one a line,
 *                    sorted (MISP's feed cache and overlap analysis)
 *   <uuid>.json      one event, {"Event": {..., "Attribute": [...],
 *                    "Tag": [...]}}
 * Every file is replaced atomically; only the events whose content changed
 * are rewritten, manifest.json and hashes.csv only when they change. The
 * state journal (the view-sink frame's, keyed "<origin> <subject>") holds
 * the messages; the folder is a view of it.
 *
 * Events (uuids name-based from the keys below: stable across restarts):
 *   incident   one event per (origin, incident id), the latest notice
 *              version; its fields are text attributes (to_ids false),
 *              its linked indicators attributes (below) when the feed
 *              holds them and their label is not stricter than the
 *              notice's, else a text attribute naming the indicator id
 *   alert      one event per (origin, alert id): inline observables as
 *              attributes, CVEs as vulnerability, body and recommended
 *              actions as text
 *   indicator  grouped by origin, UTC day of payload.created and TLP
 *              label: one event each, so that every event carries exactly
 *              one tlp: tag
 * Orgc = the origin as the message carries it (an anonymised copy's is
 * its relay). Every event and attribute carries the tag tlp:<label>
 * (MISP's tlp taxonomy); an indicator's attribute also carries the
 * indicator's labels as tags, but to_ids:false (which sets to_ids) and
 * tlp:* (the envelope's label is the one that holds).
 *
 * Attributes (the inverse of the MISP importer's mapping):
 *   ipv4, ipv6 -> ip-dst (CIDR kept); domain; url; email -> email-src;
 *   md5, sha1, sha256, sha512; cve -> vulnerability; asn -> AS;
 *   ja3 -> ja3-fingerprint-md5; yara; sigma; stix -> stix2-pattern;
 *   other -> text. Category and to_ids follow MISP's defaults for the
 *   type (detection types true, vulnerability/AS/text false); a label
 *   to_ids:false makes it false. uuid name-based from (origin, subject),
 *   timestamp = payload.modified, comment = payload.description.
 *
 * An event's timestamp is the latest of its attributes'; when its
 * content changed without a later one (an attribute revoked or expired)
 * it is moved past the previous one, so MISP fetches the event again.
 * Revoked subjects and expired messages (envelope expires, payload
 * valid_until) leave; an event left without attributes leaves the
 * manifest and its file is deleted.
 */
#include "sinks/sink.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MISP_BOUND_KEY "cishare.misp.max-state-bytes-per-origin"

typedef struct misp_s {
    cishare_view_sink_t vs; /* folder, state journal, when to regen */
    /* What is on disk: event uuid -> {"d": digest of the event without
     * its timestamps, "t": its timestamp}, and file name -> digest for
     * manifest.json and hashes.csv. Read from the folder on the first
     * regen (loaded). */
    json_t *events, *files;
    bool loaded;
} misp_t;

static const struct {
    const char *ctype, *mtype, *category;
    bool detect;
} type_map[] = {
    {"ipv4", "ip-dst", "Network activity", true},
    {"ipv6", "ip-dst", "Network activity", true},
    {"domain", "domain", "Network activity", true},
    {"url", "url", "Network activity", true},
    {"email", "email-src", "Payload delivery", true},
    {"md5", "md5", "Payload delivery", true},
    {"sha1", "sha1", "Payload delivery", true},
    {"sha256", "sha256", "Payload delivery", true},
    {"sha512", "sha512", "Payload delivery", true},
    {"cve", "vulnerability", "External analysis", false},
    {"asn", "AS", "Network activity", false},
    {"ja3", "ja3-fingerprint-md5", "Network activity", true},
    {"yara", "yara", "Payload installation", true},
    {"sigma", "sigma", "Payload installation", true},
    {"stix", "stix2-pattern", "Payload installation", true},
};

static const struct {
    const char *tlp, *colour;
    int rank;
} tlps[] = {
    {"clear", "#ffffff", 0}, {"green", "#339900", 1},
    {"amber", "#ffc000", 2}, {"amber+strict", "#ffc000", 3},
    {"red", "#cc0033", 4},
};

static int tlp_rank(const char *tlp)
{
    size_t i;

    for (i = 0; tlp && i < sizeof(tlps) / sizeof(tlps[0]); i++)
        if (!strcmp(tlps[i].tlp, tlp))
            return tlps[i].rank;
    return -1;
}

/*
 * A name-based uuid for (kind, origin, name), out >= 37 bytes:
 * BLAKE2b-128 of a fixed prefix and the three names (NUL-separated), with
 * the version 4 and RFC 4122 variant bits set, as the STIX sink's ids.
 */
static void misp_uuid(const char *kind, const char *origin, const char *name,
                      char *out)
{
    crypto_generichash_state st;
    uint8_t h[16];
    char hex[33];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)"cishare-misp\0", 13);
    crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
    crypto_generichash_update(&st, (const uint8_t *)origin, strlen(origin) + 1);
    crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&st, h, sizeof(h));
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x40);
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
}

static bool is_uuid_file(const char *name)
{
    size_t i;

    if (strlen(name) != 41 || strcmp(name + 36, ".json"))
        return false;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (name[i] != '-')
                return false;
        } else if (!strchr("0123456789abcdef", name[i]))
            return false;
    }
    return true;
}

static json_t *tag(const char *name, const char *colour)
{
    json_t *t = json_pack("{s:s,s:b}", "name", name, "exportable", 1);

    if (t && colour)
        json_object_set_new(t, "colour", json_string(colour));
    return t;
}

static json_t *tlp_tag(const char *tlp)
{
    char name[32];
    size_t i;

    for (i = 0; i < sizeof(tlps) / sizeof(tlps[0]); i++)
        if (!strcmp(tlps[i].tlp, tlp)) {
            snprintf(name, sizeof(name), "tlp:%s", tlp);
            return tag(name, tlps[i].colour);
        }
    return NULL;
}

static json_t *str_int(int64_t v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return json_string(buf);
}

/* "YYYY-MM-DD" (UTC) of ms. */
static void day_of(int64_t ms, char out[11])
{
    char buf[40];

    cishare_time_format(ms, buf);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

/* Message times: payload created/modified, else the envelope's. */
static void msg_times(const json_t *msg, int64_t *createdp, int64_t *modp)
{
    const json_t *p = json_object_get(msg, "payload");
    int64_t c = cishare_sink_json_time(json_object_get(p, "created"));

    if (!c)
        c = cishare_sink_json_time(json_object_get(msg, "created"));
    *createdp = c;
    *modp = cishare_sink_json_time(json_object_get(p, "modified"));
    if (*modp < c)
        *modp = c;
}

/* Expiry of a message: the earlier of envelope expires and, for
 * indicators and alerts, payload.valid_until; 0 = none. */
static int64_t msg_expiry(const json_t *msg)
{
    int64_t x = cishare_sink_json_time(json_object_get(msg, "expires"));
    int64_t vu = cishare_sink_json_time(
        json_object_get(json_object_get(msg, "payload"), "valid_until"));

    if (vu && (!x || vu < x))
        x = vu;
    return x;
}

/* ---- building events ---- */

typedef struct gen_s {
    json_t *events; /* uuid -> {"e": Event, "t": latest attribute ms} */
    json_t *attrs;  /* set of attribute uuids emitted */
    json_t *all;    /* the state */
    int64_t now_ms;
} gen_t;

static json_t *new_event(gen_t *g, const char *uuid, const char *info,
                         const char *date, const char *analysis,
                         const char *threat, const char *origin,
                         const char *tlp)
{
    json_t *ent = json_object_get(g->events, uuid), *ev;
    char orguuid[37];

    if (ent)
        return ent;
    misp_uuid("org", "", origin, orguuid);
    ev =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:{s:s,s:s},s:[],s:[]}", "uuid",
                  uuid, "info", info, "date", date, "analysis", analysis,
                  "threat_level_id", threat, "published", 1, "extends_uuid", "",
                  "Orgc", "name", origin, "uuid", orguuid, "Tag", "Attribute");
    if (!ev)
        return NULL;
    json_array_append_new(json_object_get(ev, "Tag"), tlp_tag(tlp));
    ent = json_pack("{s:o,s:I}", "e", ev, "t", (json_int_t)0);
    json_object_set_new(g->events, uuid, ent);
    return ent;
}

/* Append an attribute to event entry ent (tags taken). One attribute per
 * uuid in the whole feed: MISP keeps attribute uuids unique. */
static void add_attr(gen_t *g, json_t *ent, const char *uuid, const char *type,
                     const char *category, const char *value, bool to_ids,
                     const char *comment, int64_t ts_ms, json_t *tags)
{
    json_t *a;

    if (!ent || !value || json_object_get(g->attrs, uuid)) {
        json_decref(tags);
        return;
    }
    a = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:o,s:b,s:b,s:o}", "uuid", uuid,
                  "type", type, "category", category, "value", value, "to_ids",
                  to_ids, "comment", comment ? comment : "", "timestamp",
                  str_int(ts_ms / 1000), "disable_correlation", 0, "deleted", 0,
                  "Tag", tags ? tags : json_array());
    if (!a)
        return;
    json_object_set_new(g->attrs, uuid, json_true());
    json_array_append_new(
        json_object_get(json_object_get(ent, "e"), "Attribute"), a);
    if (ts_ms > json_integer_value(json_object_get(ent, "t")))
        json_object_set_new(ent, "t", json_integer((json_int_t)ts_ms));
}

static void add_text(gen_t *g, json_t *ent, const char *origin,
                     const char *subject, const char *field, const char *value,
                     const char *category, int64_t ts_ms, const char *tlp)
{
    char uuid[37], *name = NULL;
    json_t *tags;

    if (!value || !*value)
        return;
    if (asprintf(&name, "%s|%s|%s", subject, field, value) < 0)
        return;
    misp_uuid("text", origin, name, uuid);
    free(name);
    tags = json_array();
    json_array_append_new(tags, tlp_tag(tlp));
    add_attr(g, ent, uuid, "text", category, value, false, field, ts_ms, tags);
}

static int map_index(const char *ctype)
{
    size_t i;

    for (i = 0; ctype && i < sizeof(type_map) / sizeof(type_map[0]); i++)
        if (!strcmp(type_map[i].ctype, ctype))
            return (int)i;
    return -1;
}

/* The attribute of an observable (type, value) with uuid. */
static void add_observable(gen_t *g, json_t *ent, const char *uuid,
                           const char *ctype, const char *value,
                           bool not_to_ids, const char *comment, int64_t ts_ms,
                           json_t *tags)
{
    int i = map_index(ctype);

    if (i < 0)
        add_attr(g, ent, uuid, "text", "Other", value, false, comment, ts_ms,
                 tags);
    else
        add_attr(g, ent, uuid, type_map[i].mtype, type_map[i].category, value,
                 type_map[i].detect && !not_to_ids, comment, ts_ms, tags);
}

/* The attribute of indicator msg (origin, subject) into ent, uuid made
 * from (kind, origin, name). */
static void add_indicator(gen_t *g, json_t *ent, const json_t *msg,
                          const char *kind, const char *origin,
                          const char *name)
{
    const json_t *p = json_object_get(msg, "payload"), *e;
    const char *tlp = json_string_value(json_object_get(msg, "tlp"));
    const char *desc = json_string_value(json_object_get(p, "description"));
    json_t *tags = json_array(), *a;
    int64_t created, modified;
    bool not_to_ids = false;
    char uuid[37];
    size_t i;

    msg_times(msg, &created, &modified);
    json_array_append_new(tags, tlp_tag(tlp));
    json_array_foreach(json_object_get(p, "labels"), i, e)
    {
        const char *l = json_string_value(e);
        if (!l || !*l)
            continue;
        if (!strcmp(l, "to_ids:false"))
            not_to_ids = true;
        else if (strncasecmp(l, "tlp:", 4))
            json_array_append_new(tags, tag(l, NULL));
    }
    misp_uuid(kind, origin, name, uuid);
    add_observable(g, ent, uuid, json_string_value(json_object_get(p, "type")),
                   json_string_value(json_object_get(p, "value")), not_to_ids,
                   desc, modified, tags);
    /* first_seen / last_seen when the indicator has them */
    a = json_array_get(json_object_get(json_object_get(ent, "e"), "Attribute"),
                       json_array_size(json_object_get(
                           json_object_get(ent, "e"), "Attribute")) -
                           1);
    if (a && !strcmp(json_string_value(json_object_get(a, "uuid")), uuid)) {
        int64_t fs = cishare_sink_json_time(json_object_get(p, "first_seen"));
        int64_t ls = cishare_sink_json_time(json_object_get(p, "last_seen"));
        if (fs)
            json_object_set(a, "first_seen", json_object_get(p, "first_seen"));
        if (ls && ls >= fs)
            json_object_set(a, "last_seen", json_object_get(p, "last_seen"));
    }
}

static void gen_indicator(gen_t *g, const json_t *msg, const char *origin,
                          const char *subject)
{
    const char *tlp = json_string_value(json_object_get(msg, "tlp"));
    int64_t created, modified;
    char day[11], uuid[37], *name = NULL, *info = NULL, up[16];
    json_t *ent;
    size_t i;

    msg_times(msg, &created, &modified);
    day_of(created, day);
    if (asprintf(&name, "%s %s", day, tlp) < 0)
        return;
    misp_uuid("indicators", origin, name, uuid);
    free(name);
    for (i = 0; tlp[i] && i < sizeof(up) - 1; i++)
        up[i] = (char)(tlp[i] >= 'a' && tlp[i] <= 'z' ? tlp[i] - 32 : tlp[i]);
    up[i] = '\0';
    if (asprintf(&info, "cishare indicators of %s, %s, TLP:%s", origin, day,
                 up) < 0)
        return;
    ent = new_event(g, uuid, info, day, "2", "4", origin, tlp);
    free(info);
    add_indicator(g, ent, msg, "indicator", origin, subject);
}

/* The live message of key in the state, or NULL. */
static const json_t *live_msg(gen_t *g, const char *key)
{
    const json_t *v = json_object_get(g->all, key), *msg;
    int64_t x;

    if (!v || json_is_true(json_object_get(v, "revoked")))
        return NULL;
    msg = json_object_get(v, "m");
    x = msg_expiry(msg);
    if (x && x <= g->now_ms)
        return NULL;
    return msg;
}

static void gen_incident(gen_t *g, const json_t *msg, const char *origin,
                         const char *subject)
{
    static const char *const fields[] = {
        "stage",
        "category",
        "summary",
        "operator_overview",
        "affected_service",
        "affected_system",
        "impact",
        "operating_mode",
        "technical_details",
        "response_taken",
        "remarks",
        "legal_basis",
    };
    const json_t *p = json_object_get(msg, "payload"), *e;
    const char *tlp = json_string_value(json_object_get(msg, "tlp"));
    const char *title = json_string_value(json_object_get(p, "title"));
    const char *stage = json_string_value(json_object_get(p, "stage"));
    const char *impact = json_string_value(json_object_get(p, "impact"));
    int64_t created, modified, detected;
    char uuid[37], day[11];
    json_t *ent;
    size_t i;

    msg_times(msg, &created, &modified);
    detected = cishare_sink_json_time(json_object_get(p, "detected_at"));
    day_of(detected ? detected : created, day);
    misp_uuid("incident", origin, subject, uuid);
    /* analysis: 0 initial, 1 ongoing, 2 completed; threat level: 1 high,
     * 2 medium, 3 low (by impact) */
    ent = new_event(g, uuid, title && *title ? title : subject, day,
                    !stage || !strcmp(stage, "preliminary") ? "0"
                    : !strcmp(stage, "closed")              ? "2"
                                                            : "1",
                    !impact                       ? "4"
                    : !strcmp(impact, "outage")   ? "1"
                    : !strcmp(impact, "degraded") ? "2"
                                                  : "3",
                    origin, tlp);
    add_text(g, ent, origin, subject, "incident id", subject,
             "Internal reference", modified, tlp);
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        add_text(g, ent, origin, subject, fields[i],
                 json_string_value(json_object_get(p, fields[i])), "Other",
                 modified, tlp);
    json_array_foreach(json_object_get(p, "mitre_techniques"), i, e)
        add_text(g, ent, origin, subject, "mitre technique",
                 json_string_value(e), "External analysis", modified, tlp);
    json_array_foreach(json_object_get(p, "indicators"), i, e)
    {
        const char *ind = json_string_value(e);
        const json_t *im;
        char *key, *name;

        if (!ind || !(key = cishare_view_sink_key(origin, ind)))
            continue;
        im = live_msg(g, key);
        free(key);
        /* A copy of the indicator, unless its label is stricter than the
         * notice's (the event must not carry it under a looser one). */
        if (im && json_string_value(json_object_get(im, "type")) &&
            !strcmp(json_string_value(json_object_get(im, "type")),
                    "indicator") &&
            tlp_rank(json_string_value(json_object_get(im, "tlp"))) <=
                tlp_rank(tlp) &&
            asprintf(&name, "%s|%s", subject, ind) >= 0) {
            add_indicator(g, ent, im, "incident-indicator", origin, name);
            free(name);
        } else
            add_text(g, ent, origin, subject, "linked indicator", ind,
                     "Internal reference", modified, tlp);
    }
}

static void gen_alert(gen_t *g, const json_t *msg, const char *origin,
                      const char *subject)
{
    const json_t *p = json_object_get(msg, "payload"), *e;
    const char *tlp = json_string_value(json_object_get(msg, "tlp"));
    const char *title = json_string_value(json_object_get(p, "title"));
    const char *sev = json_string_value(json_object_get(p, "severity"));
    int64_t created, modified;
    char uuid[37], day[11], *name;
    json_t *ent;
    size_t i;

    msg_times(msg, &created, &modified);
    day_of(created, day);
    misp_uuid("alert", origin, subject, uuid);
    ent = new_event(g, uuid, title && *title ? title : subject, day, "2",
                    !sev                                               ? "4"
                    : !strcmp(sev, "critical") || !strcmp(sev, "high") ? "1"
                    : !strcmp(sev, "medium")                           ? "2"
                                                                       : "3",
                    origin, tlp);
    add_text(g, ent, origin, subject, "alert id", subject, "Internal reference",
             modified, tlp);
    add_text(g, ent, origin, subject, "severity", sev, "Other", modified, tlp);
    add_text(g, ent, origin, subject, "body",
             json_string_value(json_object_get(p, "body")), "Other", modified,
             tlp);
    json_array_foreach(json_object_get(p, "recommended_actions"), i, e)
        add_text(g, ent, origin, subject, "recommended action",
                 json_string_value(e), "Other", modified, tlp);
    json_array_foreach(json_object_get(p, "cves"), i, e)
    {
        const char *cve = json_string_value(e);
        json_t *tags;
        if (!cve || asprintf(&name, "%s|cve|%s", subject, cve) < 0)
            continue;
        misp_uuid("alert-attribute", origin, name, uuid);
        free(name);
        tags = json_array();
        json_array_append_new(tags, tlp_tag(tlp));
        add_observable(g, ent, uuid, "cve", cve, false, NULL, modified, tags);
    }
    json_array_foreach(json_object_get(p, "observables"), i, e)
    {
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *v = json_string_value(json_object_get(e, "value"));
        json_t *tags;
        if (!t || !v || asprintf(&name, "%s|obs|%s|%s", subject, t, v) < 0)
            continue;
        misp_uuid("alert-attribute", origin, name, uuid);
        free(name);
        tags = json_array();
        json_array_append_new(tags, tlp_tag(tlp));
        add_observable(g, ent, uuid, t, v, false, NULL, modified, tags);
    }
}

/* ---- writing the folder ---- */

static int cmp_attr(const void *a, const void *b)
{
    return strcmp(
        json_string_value(json_object_get(*(json_t *const *)a, "uuid")),
        json_string_value(json_object_get(*(json_t *const *)b, "uuid")));
}

/* Sort ev's attributes by uuid: the file must not depend on the order
 * the state happens to be in. */
static void sort_attrs(json_t *ev)
{
    json_t *arr = json_object_get(ev, "Attribute"), **v;
    size_t n = json_array_size(arr), i;

    if (n < 2 || !(v = malloc(n * sizeof(*v))))
        return;
    for (i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_attr);
    json_array_clear(arr);
    for (i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

static void digest_hex(const char *buf, size_t len, char out[65])
{
    uint8_t h[32];

    crypto_generichash(h, sizeof(h), (const uint8_t *)buf, len, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

/* Digest of an Event object without its timestamps (what decides whether
 * an event changed). */
static bool event_digest(json_t *ev, char out[65])
{
    json_t *c = json_copy(ev);
    char *s;

    if (!c)
        return false;
    json_object_del(c, "timestamp");
    json_object_del(c, "publish_timestamp");
    s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(c);
    if (!s)
        return false;
    digest_hex(s, strlen(s), out);
    free(s);
    return true;
}

static cishare_sink_status_t io_error(const char *path, const char *what,
                                      char *errstr, size_t errstr_size)
{
    cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s: %s", path,
                    what, strerror(errno));
    return CISHARE_SINK_ERROR;
}

/* Replace dir/name with buf atomically. */
static cishare_sink_status_t write_file(misp_t *m, const char *name,
                                        const char *buf, size_t len,
                                        char *errstr, size_t errstr_size)
{
    cishare_atomic_t af;
    char *path;
    cishare_sink_status_t st = CISHARE_SINK_OK;

    if (asprintf(&path, "%s/%s", m->vs.dir, name) < 0)
        return CISHARE_SINK_ERROR;
    if (cishare_atomic_begin(&af, path))
        st = io_error(path, "cannot write", errstr, errstr_size);
    else if (fwrite(buf, 1, len, af.fp) != len || cishare_atomic_commit(&af)) {
        cishare_atomic_abort(&af);
        st = io_error(path, "cannot write", errstr, errstr_size);
    }
    free(path);
    return st;
}

/* Write dir/name when buf differs from what it holds (m->files, or on
 * the first regen the file itself). */
static cishare_sink_status_t write_if_changed(misp_t *m, const char *name,
                                              const char *buf, size_t len,
                                              char *errstr, size_t errstr_size)
{
    char d[65];
    const char *old = json_string_value(json_object_get(m->files, name));

    digest_hex(buf, len, d);
    if (old && !strcmp(old, d))
        return CISHARE_SINK_OK;
    if (write_file(m, name, buf, len, errstr, errstr_size))
        return CISHARE_SINK_ERROR;
    json_object_set_new(m->files, name, json_string(d));
    return CISHARE_SINK_OK;
}

static json_t *load_json(const char *dir, const char *name)
{
    char *path;
    json_t *j;

    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    j = json_load_file(path, JSON_ALLOW_NUL, NULL);
    free(path);
    return j;
}

static void digest_file(misp_t *m, const char *name)
{
    char *path, *buf = NULL, d[65];
    size_t len = 0;
    FILE *fp;

    if (asprintf(&path, "%s/%s", m->vs.dir, name) < 0)
        return;
    fp = fopen(path, "r");
    free(path);
    if (!fp)
        return;
    {
        FILE *mem = open_memstream(&buf, &len);
        char chunk[8192];
        size_t n;
        while (mem && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            fwrite(chunk, 1, n, mem);
        if (mem)
            fclose(mem);
    }
    fclose(fp);
    if (buf) {
        digest_hex(buf, len, d);
        json_object_set_new(m->files, name, json_string(d));
    }
    free(buf);
}

/* First regen: what the folder holds from an earlier run, so that only
 * what changed is written again. An event file that does not load is
 * simply written again. */
static void load_folder(misp_t *m)
{
    json_t *man = load_json(m->vs.dir, "manifest.json"), *v;
    const char *uuid;

    digest_file(m, "manifest.json");
    digest_file(m, "hashes.csv");
    json_object_foreach(man, uuid, v)
    {
        char name[64], d[65];
        const char *ts;
        json_t *f, *ev;
        snprintf(name, sizeof(name), "%s.json", uuid);
        if (!is_uuid_file(name) || !(f = load_json(m->vs.dir, name)))
            continue;
        ev = json_object_get(f, "Event");
        ts = json_string_value(json_object_get(ev, "timestamp"));
        if (json_is_object(ev) && event_digest(ev, d))
            json_object_set_new(
                m->events, uuid,
                json_pack("{s:s,s:I}", "d", d, "t",
                          (json_int_t)strtoll(ts ? ts : "0", NULL, 10)));
        json_decref(f);
    }
    json_decref(man);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* hashes.csv: "<md5 of value>,<event uuid>" for every attribute, sorted
 * (as MISP's own feed export: one line per value). */
static char *render_hashes(json_t *events, size_t *lenp)
{
    json_t *ent, *a;
    const char *uuid;
    char **lines = NULL, *buf = NULL;
    size_t n = 0, cap = 0, i;
    FILE *mem = open_memstream(&buf, lenp);

    if (!mem)
        return NULL;
    json_object_foreach(events, uuid, ent)
    {
        json_array_foreach(
            json_object_get(json_object_get(ent, "e"), "Attribute"), i, a)
        {
            const char *v = json_string_value(json_object_get(a, "value"));
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned int mdlen = 0;
            char hex[2 * EVP_MAX_MD_SIZE + 1], *line;
            if (!v || !EVP_Digest(v, strlen(v), md, &mdlen, EVP_md5(), NULL))
                continue;
            sodium_bin2hex(hex, sizeof(hex), md, mdlen);
            if (asprintf(&line, "%s,%s", hex, uuid) < 0)
                continue;
            if (n == cap) {
                char **nl = realloc(lines, (cap ? cap * 2 : 256) * sizeof(*nl));
                if (!nl) {
                    free(line);
                    continue;
                }
                lines = nl;
                cap = cap ? cap * 2 : 256;
            }
            lines[n++] = line;
        }
    }
    if (n > 1)
        qsort(lines, n, sizeof(*lines), cmp_str);
    for (i = 0; i < n; i++) {
        fprintf(mem, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    fclose(mem);
    return buf;
}

/* Remove event files of the folder that are not in events: those the
 * cache names, and on the first regen any uuid-named file (left by a
 * run that stopped between an event file and the manifest). */
static cishare_sink_status_t remove_stale(misp_t *m, json_t *events, bool scan,
                                          char *errstr, size_t errstr_size)
{
    json_t *gone = json_array(), *v;
    const char *uuid;
    bool removed = false;
    size_t i;

    json_object_foreach(m->events, uuid, v) if (!json_object_get(events, uuid))
        json_array_append_new(gone, json_string(uuid));
    if (scan) {
        DIR *d = opendir(m->vs.dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char u[37];
            if (!is_uuid_file(de->d_name))
                continue;
            memcpy(u, de->d_name, 36);
            u[36] = '\0';
            if (!json_object_get(events, u) && !json_object_get(m->events, u))
                json_array_append_new(gone, json_string(u));
        }
        if (d)
            closedir(d);
    }
    json_array_foreach(gone, i, v)
    {
        char *path;
        if (asprintf(&path, "%s/%s.json", m->vs.dir, json_string_value(v)) < 0)
            continue;
        if (unlink(path) && errno != ENOENT) {
            io_error(path, "cannot remove", errstr, errstr_size);
            free(path);
            json_decref(gone);
            return CISHARE_SINK_ERROR;
        }
        free(path);
        json_object_del(m->events, json_string_value(v));
        removed = true;
    }
    json_decref(gone);
    if (removed) {
        char *path;
        if (asprintf(&path, "%s/manifest.json", m->vs.dir) >= 0) {
            cishare_fsync_parent(path);
            free(path);
        }
    }
    return CISHARE_SINK_OK;
}

/*
 * Write the changed events, then manifest.json and hashes.csv, then
 * remove the files of events that left. A MISP instance reading the
 * folder meanwhile sees a manifest whose files all exist, or (for a
 * moment) an event file not yet listed.
 */
static cishare_sink_status_t write_folder(misp_t *m, json_t *events,
                                          int64_t now_ms, char *errstr,
                                          size_t errstr_size)
{
    json_t *manifest = json_object(), *ent;
    const char *uuid;
    char *buf;
    size_t len;
    cishare_sink_status_t st = CISHARE_SINK_OK;
    bool first = !m->loaded;

    json_object_foreach(events, uuid, ent)
    {
        json_t *ev = json_object_get(ent, "e"), *prev, *file;
        int64_t ts = json_integer_value(json_object_get(ent, "t")) / 1000;
        char d[65], name[64];

        sort_attrs(ev);
        if (!event_digest(ev, d)) {
            st = CISHARE_SINK_ERROR;
            break;
        }
        prev = json_object_get(m->events, uuid);
        if (prev && !strcmp(json_string_value(json_object_get(prev, "d")), d)) {
            ts = json_integer_value(json_object_get(prev, "t"));
        } else {
            if (prev) {
                /* Changed: MISP fetches an event again only when its
                 * timestamp moved forward. */
                int64_t pt = json_integer_value(json_object_get(prev, "t"));
                if (ts <= pt)
                    ts = pt + 1 > now_ms / 1000 ? pt + 1 : now_ms / 1000;
            }
            json_object_set_new(ev, "timestamp", str_int(ts));
            json_object_set_new(ev, "publish_timestamp", str_int(ts));
            file = json_pack("{s:O}", "Event", ev);
            buf = json_dumps(file, JSON_INDENT(1) | JSON_SORT_KEYS |
                                       JSON_ENSURE_ASCII);
            json_decref(file);
            snprintf(name, sizeof(name), "%s.json", uuid);
            if (!buf) {
                st = CISHARE_SINK_ERROR;
                break;
            }
            len = strlen(buf);
            st = write_file(m, name, buf, len, errstr, errstr_size);
            free(buf);
            if (st)
                break;
            json_object_set_new(
                m->events, uuid,
                json_pack("{s:s,s:I}", "d", d, "t", (json_int_t)ts));
        }
        json_object_set_new(
            manifest, uuid,
            json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:o}", "info",
                      json_object_get(ev, "info"), "date",
                      json_object_get(ev, "date"), "analysis",
                      json_object_get(ev, "analysis"), "threat_level_id",
                      json_object_get(ev, "threat_level_id"), "Orgc",
                      json_object_get(ev, "Orgc"), "Tag",
                      json_object_get(ev, "Tag"), "timestamp", str_int(ts)));
    }
    if (st == CISHARE_SINK_OK) {
        buf = json_dumps(manifest,
                         JSON_INDENT(1) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        st = buf ? write_if_changed(m, "manifest.json", buf, strlen(buf),
                                    errstr, errstr_size)
                 : CISHARE_SINK_ERROR;
        free(buf);
    }
    if (st == CISHARE_SINK_OK) {
        buf = render_hashes(events, &len);
        st = buf ? write_if_changed(m, "hashes.csv", buf, len, errstr,
                                    errstr_size)
                 : CISHARE_SINK_ERROR;
        free(buf);
    }
    if (st == CISHARE_SINK_OK)
        st = remove_stale(m, events, first, errstr, errstr_size);
    json_decref(manifest);
    return st;
}

static cishare_sink_status_t misp_regen(void *ctx, int64_t now_ms, char *errstr,
                                        size_t errstr_size)
{
    misp_t *m = ctx;
    json_t *v, *forget, *empty;
    const char *key;
    gen_t g = {0};
    cishare_sink_status_t st;
    size_t i;

    if (!m->loaded) {
        load_folder(m);
    }
    g.events = json_object();
    g.attrs = json_object();
    g.all = cishare_sink_state_all(m->vs.state);
    g.now_ms = now_ms;
    forget = json_array();
    json_object_foreach(g.all, key, v)
    {
        const json_t *msg = json_object_get(v, "m");
        const char *type = json_string_value(json_object_get(msg, "type"));
        const char *origin = json_string_value(json_object_get(msg, "origin"));
        const char *subject = json_string_value(json_object_get(v, "s"));
        const char *tlp = json_string_value(json_object_get(msg, "tlp"));
        int64_t x;

        if (json_is_true(json_object_get(v, "revoked"))) {
            /* The tombstone keeps late copies out until the revoked
             * message's own expiry. */
            x = json_integer_value(json_object_get(v, "x"));
            if (x && x <= now_ms)
                json_array_append_new(forget, json_string(key));
            else if (x && x < m->vs.next_expiry_ms)
                m->vs.next_expiry_ms = x;
            continue;
        }
        x = msg_expiry(msg);
        if (x && x <= now_ms) {
            json_array_append_new(forget, json_string(key));
            continue;
        }
        if (x && x < m->vs.next_expiry_ms)
            m->vs.next_expiry_ms = x;
        if (!type || !origin || !subject || tlp_rank(tlp) < 0)
            continue;
        if (!strcmp(type, "indicator"))
            gen_indicator(&g, msg, origin, subject);
        else if (!strcmp(type, "incident"))
            gen_incident(&g, msg, origin, subject);
        else if (!strcmp(type, "alert"))
            gen_alert(&g, msg, origin, subject);
    }
    /* An event without attributes is no event. */
    empty = json_array();
    json_object_foreach(g.events, key, v) if (!json_array_size(json_object_get(
                                                  json_object_get(v, "e"),
                                                  "Attribute")))
        json_array_append_new(empty, json_string(key));
    json_array_foreach(empty, i, v)
        json_object_del(g.events, json_string_value(v));
    json_decref(empty);
    st = write_folder(m, g.events, now_ms, errstr, errstr_size);
    if (st == CISHARE_SINK_OK) {
        m->loaded = true;
        /* The folder no longer holds them: forget expired entries. */
        json_array_foreach(forget, i, v)
            cishare_sink_state_put(m->vs.state, json_string_value(v), NULL);
    }
    json_decref(forget);
    json_decref(g.events);
    json_decref(g.attrs);
    return st;
}

/* ---- the plugin ---- */

static void misp_close(void *ctx)
{
    misp_t *m = ctx;

    if (!m)
        return;
    cishare_view_sink_close(&m->vs);
    json_decref(m->events);
    json_decref(m->files);
    free(m);
}

static cishare_sink_status_t misp_open(const cishare_sink_opts_t *opts,
                                       void **ctxp, char *errstr,
                                       size_t errstr_size)
{
    misp_t *m = calloc(1, sizeof(*m));

    if (!m || sodium_init() < 0 || !(m->events = json_object()) ||
        !(m->files = json_object())) {
        if (m) {
            json_decref(m->events);
            free(m);
        }
        return CISHARE_SINK_ERROR;
    }
    if (cishare_view_sink_open(&m->vs, "misp", opts, MISP_BOUND_KEY, misp_regen,
                               m, errstr, errstr_size)) {
        misp_close(m);
        return CISHARE_SINK_ERROR;
    }
    *ctxp = m;
    return CISHARE_SINK_OK;
}

static cishare_sink_status_t misp_write(void *ctx, const json_t *msg,
                                        const char *subject, char *errstr,
                                        size_t errstr_size)
{
    misp_t *m = ctx;
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *origin = json_string_value(json_object_get(msg, "origin"));
    const json_t *p = json_object_get(msg, "payload");
    char *key;
    cishare_sink_status_t st;

    if (!type || !origin || !subject || !json_is_object(p) ||
        (strcmp(type, "indicator") && strcmp(type, "incident") &&
         strcmp(type, "alert")))
        return CISHARE_SINK_OK; /* sightings, receipts: not in the feed */
    if (!(key = cishare_view_sink_key(origin, subject)))
        return CISHARE_SINK_ERROR;
    st = cishare_view_sink_put_latest(&m->vs, key, subject, msg, errstr,
                                      errstr_size);
    free(key);
    return st;
}

static cishare_sink_status_t misp_revoke(void *ctx, const char *subject,
                                         const json_t *rev, char *errstr,
                                         size_t errstr_size)
{
    misp_t *m = ctx;

    /* Until the message's expiry, valid_until included: it leaves the
     * feed then (msg_expiry). */
    return cishare_view_sink_tombstone(
        &m->vs, json_string_value(json_object_get(rev, "origin")), subject,
        msg_expiry, errstr, errstr_size);
}

static cishare_sink_status_t misp_sync(void *ctx, int64_t now_ms,
                                       uint64_t *markp, char *errstr,
                                       size_t errstr_size)
{
    misp_t *m = ctx;

    return cishare_view_sink_sync(&m->vs, now_ms, markp, errstr, errstr_size);
}

static uint64_t misp_over_bound(void *ctx)
{
    return ((const misp_t *)ctx)->vs.over_bound;
}

const cishare_sink_plugin_t cishare_sink_misp = {
    .name = "misp",
    .description = "MISP feed: manifest.json, hashes.csv, <uuid>.json (misp/)",
    .open = misp_open,
    .write = misp_write,
    .revoke = misp_revoke,
    .sync = misp_sync,
    .close = misp_close,
    .over_bound = misp_over_bound,
};
