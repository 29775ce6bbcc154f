/*
 * cishare - STIX 2.1 sink: <out>/stix/bundle.json holds the current state
 * of the feed as one bundle, rewritten atomically from the state journal
 * (<out>/stix/state.jsonl, keyed "<origin> <subject>").
 *
 * Mapping (every object carries created_by_ref = the origin's identity and
 * object_marking_refs = its TLP 2.0 marking-definition); the per-message
 * part is cishare_stix_map() (stix.h), which cishare serve uses too:
 *   indicator   indicator with a STIX pattern (payload.pattern, else one
 *               made from type/value: [ipv4-addr:value = '...'],
 *               [file:hashes.'SHA-256' = '...'], ...); yara and sigma keep
 *               their pattern_type; cve -> vulnerability; ja3 and other
 *               -> note
 *   incident    incident + report (report_types threat-report) that
 *               refers to it and to its linked indicators
 *   alert       report (labels alert, severity-<s>) with a vulnerability
 *               per CVE and an indicator per inline observable
 *   sighting    sighting of the indicator, only while that indicator is
 *               in the bundle (a dangling sighting_of_ref is invalid)
 *   origin      identity (identity_class organization) named after the
 *               origin id, or its pseudonym as the message carries it
 *   markings    the five TLP 2.0 marking-definitions (DOMAIN.md ids) with
 *               the TLP 2.0 extension-definition, as OASIS publishes them
 * Ids: always derived from (type, origin, subject), never the subject
 * itself, even one shaped "<type>--<uuid>": one origin cannot take
 * another's id (see stix_id()). References between objects of one origin
 * (report object_refs, incident indicators) use the same derivation; a
 * sighting refers to the indicator of the origin it names
 * (sighting_of_origin), or, naming none, to the subject's indicator when
 * one origin alone holds it (sightings_of()).
 * Revoked subjects and messages past their envelope expiry leave the
 * bundle, and the state forgets them (a revocation's tombstone stays
 * until the revoked message's own expiry, to keep late copies out).
 * Each origin's state is bounded (cishare.stix.max-state-bytes-per-origin,
 * default 32 MiB): what would go past it is left out, counted
 * (cishare_sink_over_bound, the feed's stats) and logged.
 */
#include "sinks/stix.h"
#include "sinks/sink.h"

#include <sodium.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TLP2_EXT   "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define TLP2_EPOCH "2022-10-01T00:00:00.000Z"
#define ID_EPOCH   "2020-01-01T00:00:00.000Z"

/* Bound on the state journal bytes of each origin (config.c registers
 * the key with this default). */
#define STIX_BOUND_KEY "cishare.stix.max-state-bytes-per-origin"

static const struct {
    const char *tlp, *id, *name;
} tlp2[] = {
    {"clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
     "TLP:CLEAR"},
    {"green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
     "TLP:GREEN"},
    {"amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
     "TLP:AMBER"},
    {"amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
     "TLP:AMBER+STRICT"},
    {"red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
     "TLP:RED"},
};
#define N_TLP (sizeof(tlp2) / sizeof(tlp2[0]))

typedef struct stix_s {
    cishare_view_sink_t vs; /* folder, state journal, when to regen */
    char *bundle_path;
} stix_t;

/* ---- ids and small helpers ---- */

/*
 * "<type>--<uuid>" for (type, origin, subject), out >= 100 bytes. Always
 * derived, never the subject itself: a subject is whatever its origin
 * chose, so another origin could name one of ours. Name-based (stable
 * across restarts and feeds): BLAKE2b-128 of a fixed prefix and the three
 * names, each NUL-terminated (none can hold NUL: they are C strings),
 * with the version 4 and RFC 4122 variant bits set, since the OASIS
 * validator wants UUIDv4 ids on SDOs (a version-5 id fails its
 * uuid-check in strict mode).
 */
static void stix_id(const char *type, const char *origin, const char *subject,
                    char *out, size_t out_size)
{
    size_t tl = strlen(type);
    uint8_t h[16];
    crypto_generichash_state st;
    char hex[33];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)"cishare-stix\0", 13);
    crypto_generichash_update(&st, (const uint8_t *)type, tl + 1);
    crypto_generichash_update(&st, (const uint8_t *)origin, strlen(origin) + 1);
    crypto_generichash_update(&st, (const uint8_t *)subject, strlen(subject));
    crypto_generichash_final(&st, h, sizeof(h));
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x40); /* version 4 */
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
    snprintf(out, out_size, "%s--%.8s-%.4s-%.4s-%.4s-%.12s", type, hex, hex + 8,
             hex + 12, hex + 16, hex + 20);
}

static void identity_id(const char *origin, char *out, size_t out_size)
{
    stix_id("identity", "", origin, out, out_size);
}

static const char *marking_for(const char *tlp)
{
    size_t i;

    for (i = 0; tlp && i < N_TLP; i++)
        if (!strcmp(tlp2[i].tlp, tlp))
            return tlp2[i].id;
    return NULL;
}

/* STIX wants created/modified to the millisecond: always ".sssZ". */
static json_t *time_str(int64_t ms)
{
    char buf[40];
    size_t len;

    cishare_time_format(ms, buf);
    len = strlen(buf);
    if (len == 20 && buf[19] == 'Z')
        memcpy(buf + 19, ".000Z", 6);
    return json_string(buf);
}

/* STIX pattern string literal: quote and escape ' and \. */
static char *pattern_quote(const char *v)
{
    size_t len = strlen(v), i, o = 0;
    char *out = malloc(len * 2 + 3);

    if (!out)
        return NULL;
    out[o++] = '\'';
    for (i = 0; i < len; i++) {
        if (v[i] == '\'' || v[i] == '\\')
            out[o++] = '\\';
        out[o++] = v[i];
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

/*
 * A STIX pattern for an observable, into *patternp (malloc()ed), and its
 * pattern_type. NULL when the observable has no pattern form.
 */
static char *make_pattern(const char *type, const char *value,
                          const char **ptypep)
{
    static const struct {
        const char *type, *path;
    } map[] = {
        {"ipv4", "ipv4-addr:value"},
        {"ipv6", "ipv6-addr:value"},
        {"domain", "domain-name:value"},
        {"url", "url:value"},
        {"email", "email-addr:value"},
        {"md5", "file:hashes.MD5"},
        {"sha1", "file:hashes.'SHA-1'"},
        {"sha256", "file:hashes.'SHA-256'"},
        {"sha512", "file:hashes.'SHA-512'"},
    };
    size_t i;
    char *q, *out = NULL;

    *ptypep = "stix";
    if (!type || !value || !*value)
        return NULL;
    if (!strcmp(type, "stix"))
        return strdup(value);
    if (!strcmp(type, "yara") || !strcmp(type, "sigma")) {
        *ptypep = type;
        return strdup(value);
    }
    if (!strcmp(type, "asn")) {
        const char *p = value;
        if (!strncasecmp(p, "AS", 2))
            p += 2;
        if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 10)
            return NULL;
        if (asprintf(&out, "[autonomous-system:number = %s]", p) < 0)
            return NULL;
        return out;
    }
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].type, type))
            continue;
        if (!(q = pattern_quote(value)))
            return NULL;
        if (asprintf(&out, "[%s = %s]", map[i].path, q) < 0)
            out = NULL;
        free(q);
        return out;
    }
    return NULL;
}

/* ---- building objects ---- */

typedef struct gen_s {
    json_t *objects; /* the bundle's array */
    json_t *ids;     /* set of emitted ids */
    json_t *idents;  /* origin -> identity id, emitted */
    bool used_tlp[N_TLP];
} gen_t;

static void emit(gen_t *g, json_t *obj)
{
    const char *id = json_string_value(json_object_get(obj, "id"));

    if (!id || json_object_get(g->ids, id)) {
        json_decref(obj); /* one object per id */
        return;
    }
    json_object_set_new(g->ids, id, json_true());
    json_array_append_new(g->objects, obj);
}

/* Common properties: type, spec_version, id, created, modified, refs. */
static json_t *sdo(gen_t *g, const char *type, const char *id,
                   const json_t *msg, int64_t created, int64_t modified)
{
    const char *origin = json_string_value(json_object_get(msg, "origin"));
    const char *tlp = json_string_value(json_object_get(msg, "tlp"));
    const char *mid = marking_for(tlp);
    char ident[100];
    json_t *o = json_object();
    size_t i;

    if (!origin)
        origin = "unknown";
    identity_id(origin, ident, sizeof(ident));
    if (!json_object_get(g->idents, origin)) {
        json_t *idobj = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "identity",
            "spec_version", "2.1", "id", ident, "created", ID_EPOCH, "modified",
            ID_EPOCH, "name", origin, "identity_class", "organization",
            "description", "cishare participant (or its pseudonym)");
        json_object_set_new(g->idents, origin, json_string(ident));
        emit(g, idobj);
    }
    if (modified < created)
        modified = created;
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "spec_version", json_string("2.1"));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "created", time_str(created));
    json_object_set_new(o, "modified", time_str(modified));
    json_object_set_new(o, "created_by_ref", json_string(ident));
    if (mid) {
        json_object_set_new(o, "object_marking_refs", json_pack("[s]", mid));
        for (i = 0; i < N_TLP; i++)
            if (!strcmp(tlp2[i].id, mid))
                g->used_tlp[i] = true;
    }
    return o;
}

static void set_str(json_t *o, const char *key, const json_t *v)
{
    const char *s = json_string_value(v);

    if (s && *s)
        json_object_set_new(o, key, json_string(s));
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
    if (!*modp)
        *modp = c;
}

static bool kill_chain_ok(const char *s)
{
    return *s &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(s);
}

/* Indicator (or vulnerability / note) for one observable; returns its id
 * in idout. */
static bool emit_observable(gen_t *g, const json_t *msg, const char *origin,
                            const char *subject, const char *otype,
                            const char *value, const json_t *payload,
                            char *idout, size_t idsize)
{
    int64_t created, modified, vf, vu;
    const char *ptype = "stix";
    char *pattern = NULL;
    json_t *o, *v;
    size_t i;

    msg_times(msg, &created, &modified);
    if (otype && !strcmp(otype, "cve")) {
        stix_id("vulnerability", origin, subject, idout, idsize);
        o = sdo(g, "vulnerability", idout, msg, created, modified);
        json_object_set_new(o, "name", json_string(value));
        json_object_set_new(o, "external_references",
                            json_pack("[{s:s,s:s}]", "source_name", "cve",
                                      "external_id", value));
        if (payload)
            set_str(o, "description", json_object_get(payload, "description"));
        emit(g, o);
        return true;
    }
    pattern =
        payload && json_string_value(json_object_get(payload, "pattern"))
            ? strdup(json_string_value(json_object_get(payload, "pattern")))
            : make_pattern(otype, value, &ptype);
    if (payload && json_string_value(json_object_get(payload, "pattern")))
        ptype = "stix";
    if (!pattern) {
        /* No pattern form (ja3, other, ...): keep it as a note. */
        char *content = NULL;
        stix_id("note", origin, subject, idout, idsize);
        o = sdo(g, "note", idout, msg, created, modified);
        if (asprintf(&content, "%s: %s", otype ? otype : "observable",
                     value ? value : "") < 0)
            content = NULL;
        json_object_set_new(o, "content", json_string(content ? content : ""));
        free(content);
        json_object_set_new(
            o, "object_refs",
            json_pack("[O]", json_object_get(o, "created_by_ref")));
        emit(g, o);
        return true;
    }
    stix_id("indicator", origin, subject, idout, idsize);
    o = sdo(g, "indicator", idout, msg, created, modified);
    if (payload && json_string_value(json_object_get(payload, "name")))
        set_str(o, "name", json_object_get(payload, "name"));
    else if (value)
        json_object_set_new(o, "name", json_string(value));
    if (payload)
        set_str(o, "description", json_object_get(payload, "description"));
    if (!json_object_get(o, "description")) {
        /* The validator wants both name and description. */
        char *d = NULL;
        if (asprintf(&d, "%s indicator shared through cishare",
                     otype ? otype : "stix") < 0)
            d = NULL;
        json_object_set_new(o, "description", json_string(d ? d : ""));
        free(d);
    }
    json_object_set_new(o, "pattern", json_string(pattern));
    json_object_set_new(o, "pattern_type", json_string(ptype));
    free(pattern);
    vf = payload
             ? cishare_sink_json_time(json_object_get(payload, "valid_from"))
             : 0;
    if (!vf)
        vf = created;
    json_object_set_new(o, "valid_from", time_str(vf));
    vu = payload
             ? cishare_sink_json_time(json_object_get(payload, "valid_until"))
             : 0;
    if (vu > vf)
        json_object_set_new(o, "valid_until", time_str(vu));
    if (payload) {
        v = json_object_get(payload, "confidence");
        if (json_is_integer(v) && json_integer_value(v) >= 0 &&
            json_integer_value(v) <= 100)
            json_object_set(o, "confidence", v);
        v = json_object_get(payload, "labels");
        if (json_is_array(v) && json_array_size(v))
            json_object_set_new(o, "labels", json_deep_copy(v));
        v = json_object_get(payload, "kill_chain_phases");
        if (json_is_array(v) && json_array_size(v)) {
            json_t *kc = json_array(), *e;
            json_array_foreach(v, i, e)
            {
                const char *s = json_string_value(e), *colon;
                char name[128];
                if (!s || !(colon = strchr(s, ':')) ||
                    (size_t)(colon - s) >= sizeof(name))
                    continue;
                memcpy(name, s, (size_t)(colon - s));
                name[colon - s] = '\0';
                if (!kill_chain_ok(name) || !kill_chain_ok(colon + 1))
                    continue;
                json_array_append_new(kc,
                                      json_pack("{s:s,s:s}", "kill_chain_name",
                                                name, "phase_name", colon + 1));
            }
            if (json_array_size(kc))
                json_object_set_new(o, "kill_chain_phases", kc);
            else
                json_decref(kc);
        }
    }
    emit(g, o);
    return true;
}

static void gen_indicator(gen_t *g, const json_t *msg, const char *origin,
                          const char *subject)
{
    const json_t *p = json_object_get(msg, "payload");
    char id[100];

    emit_observable(
        g, msg, origin, subject, json_string_value(json_object_get(p, "type")),
        json_string_value(json_object_get(p, "value")), p, id, sizeof(id));
}

static void append_text(char **buf, const char *label, const json_t *v)
{
    const char *s = json_string_value(v);
    char *n;

    if (!s || !*s)
        return;
    if (asprintf(&n, "%s%s%s: %s", *buf ? *buf : "", *buf ? "\n\n" : "", label,
                 s) < 0)
        return;
    free(*buf);
    *buf = n;
}

static void gen_incident(gen_t *g, const json_t *msg, const char *origin,
                         const char *subject)
{
    const json_t *p = json_object_get(msg, "payload");
    int64_t created, modified, published;
    char incid[100], repid[100], indid[100], *desc = NULL;
    json_t *inc, *rep, *refs, *e;
    size_t i;

    msg_times(msg, &created, &modified);
    stix_id("incident", origin, subject, incid, sizeof(incid));
    inc = sdo(g, "incident", incid, msg, created, modified);
    set_str(inc, "name", json_object_get(p, "title"));
    if (!json_object_get(inc, "name"))
        json_object_set_new(inc, "name", json_string(subject));
    set_str(inc, "description", json_object_get(p, "summary"));
    emit(g, inc);

    stix_id("report", origin, subject, repid, sizeof(repid));
    rep = sdo(g, "report", repid, msg, created, modified);
    json_object_set(rep, "name", json_object_get(inc, "name"));
    append_text(&desc, "Summary", json_object_get(p, "summary"));
    append_text(&desc, "Stage", json_object_get(p, "stage"));
    append_text(&desc, "Category", json_object_get(p, "category"));
    append_text(&desc, "Operator", json_object_get(p, "operator_overview"));
    append_text(&desc, "Affected service",
                json_object_get(p, "affected_service"));
    append_text(&desc, "Affected system",
                json_object_get(p, "affected_system"));
    append_text(&desc, "Impact", json_object_get(p, "impact"));
    append_text(&desc, "Technical details",
                json_object_get(p, "technical_details"));
    append_text(&desc, "Response taken", json_object_get(p, "response_taken"));
    append_text(&desc, "Remarks", json_object_get(p, "remarks"));
    if (desc)
        json_object_set_new(rep, "description", json_string(desc));
    free(desc);
    json_object_set_new(rep, "report_types", json_pack("[s]", "threat-report"));
    published = cishare_sink_json_time(json_object_get(p, "reported_at"));
    json_object_set_new(rep, "published",
                        time_str(published ? published : created));
    refs = json_pack("[s]", incid);
    json_array_foreach(json_object_get(p, "indicators"), i, e)
    {
        if (!json_string_value(e))
            continue;
        stix_id("indicator", origin, json_string_value(e), indid,
                sizeof(indid));
        json_array_append_new(refs, json_string(indid));
    }
    json_object_set_new(rep, "object_refs", refs);
    emit(g, rep);
}

static void gen_alert(gen_t *g, const json_t *msg, const char *origin,
                      const char *subject)
{
    const json_t *p = json_object_get(msg, "payload");
    int64_t created, modified;
    char repid[100], oid[100], *sub = NULL, *desc = NULL, *sev = NULL;
    json_t *rep, *refs, *e;
    size_t i;

    msg_times(msg, &created, &modified);
    refs = json_array();
    json_array_foreach(json_object_get(p, "cves"), i, e)
    {
        const char *cve = json_string_value(e);
        if (!cve || asprintf(&sub, "%s|cve|%s", subject, cve) < 0)
            continue;
        emit_observable(g, msg, origin, sub, "cve", cve, NULL, oid,
                        sizeof(oid));
        json_array_append_new(refs, json_string(oid));
        free(sub);
    }
    json_array_foreach(json_object_get(p, "observables"), i, e)
    {
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *v = json_string_value(json_object_get(e, "value"));
        if (!v || asprintf(&sub, "%s|obs|%zu", subject, i) < 0)
            continue;
        emit_observable(g, msg, origin, sub, t, v, NULL, oid, sizeof(oid));
        json_array_append_new(refs, json_string(oid));
        free(sub);
    }
    stix_id("report", origin, subject, repid, sizeof(repid));
    rep = sdo(g, "report", repid, msg, created, modified);
    set_str(rep, "name", json_object_get(p, "title"));
    if (!json_object_get(rep, "name"))
        json_object_set_new(rep, "name", json_string(subject));
    append_text(&desc, "Alert", json_object_get(p, "body"));
    json_array_foreach(json_object_get(p, "recommended_actions"), i, e)
        append_text(&desc, "Recommended action", e);
    if (desc)
        json_object_set_new(rep, "description", json_string(desc));
    free(desc);
    json_object_set_new(rep, "report_types", json_pack("[s]", "threat-report"));
    json_object_set_new(rep, "published", time_str(created));
    if (json_string_value(json_object_get(p, "severity")) &&
        asprintf(&sev, "severity-%s",
                 json_string_value(json_object_get(p, "severity"))) >= 0) {
        json_object_set_new(rep, "labels", json_pack("[s,s]", "alert", sev));
        free(sev);
    } else {
        json_object_set_new(rep, "labels", json_pack("[s]", "alert"));
    }
    if (!json_array_size(refs))
        json_array_append(refs, json_object_get(rep, "created_by_ref"));
    json_object_set_new(rep, "object_refs", refs);
    emit(g, rep);
}

static void gen_sighting(gen_t *g, const json_t *msg, const char *origin,
                         const char *target_id)
{
    const json_t *p = json_object_get(msg, "payload");
    int64_t created, modified, fs, ls;
    char sid[100], *name = NULL;
    const char *pid = json_string_value(json_object_get(p, "id"));
    json_t *o, *v;

    msg_times(msg, &created, &modified);
    /* one sighting object per (sighting, indicator sighted) */
    if (asprintf(&name, "%s|%s", pid ? pid : "", target_id) < 0)
        return;
    stix_id("sighting", origin, name, sid, sizeof(sid));
    free(name);
    o = sdo(g, "sighting", sid, msg, created, modified);
    json_object_set_new(o, "sighting_of_ref", json_string(target_id));
    json_object_set_new(o, "where_sighted_refs",
                        json_pack("[O]", json_object_get(o, "created_by_ref")));
    v = json_object_get(p, "count");
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= 999999999)
        json_object_set(o, "count", v);
    fs = cishare_sink_json_time(json_object_get(p, "first_seen"));
    ls = cishare_sink_json_time(json_object_get(p, "last_seen"));
    if (fs)
        json_object_set_new(o, "first_seen", time_str(fs));
    if (ls && ls >= fs)
        json_object_set_new(o, "last_seen", time_str(ls));
    set_str(o, "description", json_object_get(p, "description"));
    if (json_is_true(json_object_get(p, "false_positive")))
        json_object_set_new(o, "labels", json_pack("[s]", "false-positive"));
    emit(g, o);
}

static json_t *marking_obj(size_t i)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:{s:s,s:s}}}", "type",
                     "marking-definition", "spec_version", "2.1", "id",
                     tlp2[i].id, "created", TLP2_EPOCH, "name", tlp2[i].name,
                     "extensions", TLP2_EXT, "extension_type",
                     "property-extension", "tlp_2_0", tlp2[i].tlp);
}

void cishare_stix_tlp_extension(json_t *out)
{
    json_array_append_new(
        out,
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s]}", "id",
                  TLP2_EXT, "type", "extension-definition", "spec_version",
                  "2.1", "name", "TLP 2.0", "description",
                  "This defines TLP 2.0 as a STIX extension", "created",
                  TLP2_EPOCH, "modified", TLP2_EPOCH, "created_by_ref",
                  "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01", "schema",
                  "https://github.com/oasis-open/cti-stix-common-objects/"
                  "tree/master/extension-definition-specifications/"
                  "tlp-2.0",
                  "version", "1.0.0", "extension_types", "property-extension"));
}

bool cishare_stix_marking(const char *tlp, json_t *out)
{
    size_t i;

    for (i = 0; tlp && i < N_TLP; i++)
        if (!strcmp(tlp2[i].tlp, tlp)) {
            json_array_append_new(out, marking_obj(i));
            return true;
        }
    return false;
}

static void emit_markings(gen_t *g)
{
    size_t i;
    bool any = false;

    for (i = 0; i < N_TLP; i++) {
        if (!g->used_tlp[i])
            continue;
        any = true;
        json_array_append_new(g->objects, marking_obj(i));
    }
    if (any)
        cishare_stix_tlp_extension(g->objects);
}

/* The objects of one message but a sighting (regen pass 1, and
 * cishare_stix_map()). */
static void gen_message(gen_t *g, const json_t *msg, const char *type,
                        const char *origin, const char *subject)
{
    if (!strcmp(type, "indicator"))
        gen_indicator(g, msg, origin, subject);
    else if (!strcmp(type, "incident"))
        gen_incident(g, msg, origin, subject);
    else if (!strcmp(type, "alert"))
        gen_alert(g, msg, origin, subject);
}

void cishare_stix_id(const char *type, const char *origin, const char *subject,
                     char *out, size_t out_size)
{
    stix_id(type, origin, subject, out, out_size);
}

const char *cishare_stix_marking_id(const char *tlp)
{
    return marking_for(tlp);
}

size_t cishare_stix_map(const json_t *msg, const char *subject,
                        const char *sighting_target, json_t *out)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *origin = json_string_value(json_object_get(msg, "origin"));
    gen_t g = {0};
    size_t n;

    if (!type || !origin || !subject ||
        !json_is_object(json_object_get(msg, "payload")))
        return 0;
    g.objects = json_array();
    g.ids = json_object();
    g.idents = json_object();
    if (!strcmp(type, "sighting")) {
        if (sighting_target)
            gen_sighting(&g, msg, origin, sighting_target);
    } else
        gen_message(&g, msg, type, origin, subject);
    /* an identity alone: nothing of this message mapped */
    n = json_array_size(g.objects) > 1 ? json_array_size(g.objects) : 0;
    if (n)
        json_array_extend(out, g.objects);
    json_decref(g.objects);
    json_decref(g.ids);
    json_decref(g.idents);
    return n;
}

static bool msg_live(const json_t *msg, int64_t now_ms, int64_t *next_expiry)
{
    int64_t x = cishare_sink_json_time(json_object_get(msg, "expires"));

    if (!x)
        return true;
    if (x <= now_ms)
        return false;
    if (x < *next_expiry)
        *next_expiry = x;
    return true;
}

/* Sighting of origin at `of`: the one indicator it refers to, from
 * targets (subject -> {origin: indicator id}). A subject is chosen by its
 * origin, so only the pair (payload.sighting_of_origin, subject) names
 * one indicator: the named origin's, or none when that origin holds no
 * indicator of the subject. A sighting that names no origin (imported
 * data, older messages) refers to the subject's indicator only when one
 * origin alone holds it: a copy under another origin's subject must not
 * gather the genuine indicator's sightings ("C sighted the attacker's
 * indicator"), nor the genuine one the copy's. */
static void sightings_of(gen_t *g, const json_t *msg, const char *origin,
                         const json_t *targets, const char *of)
{
    const json_t *byorigin = json_object_get(targets, of), *id = NULL;
    const char *named = json_string_value(
        json_object_get(json_object_get(msg, "payload"), "sighting_of_origin"));

    if (named)
        id = json_object_get(byorigin, named);
    else if (json_object_size(byorigin) == 1)
        id = json_object_iter_value(json_object_iter((json_t *)byorigin));
    if (json_string_value(id))
        gen_sighting(g, msg, origin, json_string_value(id));
}

static cishare_sink_status_t stix_regen(void *ctx, int64_t now_ms, char *errstr,
                                        size_t errstr_size)
{
    stix_t *s = ctx;
    json_t *all = cishare_sink_state_all(s->vs.state), *v, *bundle, *targets;
    json_t *forget;
    const char *key;
    gen_t g = {0};
    cishare_atomic_t af;
    uint8_t rnd[16];
    char bid[100], hex[33];
    size_t i;

    g.objects = json_array();
    g.ids = json_object();
    g.idents = json_object();
    targets = json_object(); /* subject -> {origin: indicator id} */
    forget = json_array();   /* keys of expired entries */
    /* Pass 1: everything but sightings. */
    json_object_foreach(all, key, v)
    {
        const json_t *msg = json_object_get(v, "m");
        const char *type = json_string_value(json_object_get(msg, "type"));
        const char *origin = json_string_value(json_object_get(msg, "origin"));
        const char *subject = json_string_value(json_object_get(v, "s"));
        int64_t x = json_integer_value(json_object_get(v, "x"));
        char id[100];

        if (json_is_true(json_object_get(v, "revoked"))) {
            /* A tombstone stays while a copy of what it revoked could
             * still be delivered: until that message's expiry. */
            if (x && x <= now_ms)
                json_array_append_new(forget, json_string(key));
            else if (x && x < s->vs.next_expiry_ms)
                s->vs.next_expiry_ms = x;
            continue;
        }
        if (msg && !msg_live(msg, now_ms, &s->vs.next_expiry_ms)) {
            json_array_append_new(forget, json_string(key));
            continue;
        }
        if (!msg || !type || !subject || !origin)
            continue;
        gen_message(&g, msg, type, origin, subject);
        if (!strcmp(type, "indicator")) {
            stix_id("indicator", origin, subject, id, sizeof(id));
            if (json_object_get(g.ids, id)) {
                if (!json_object_get(targets, subject))
                    json_object_set_new(targets, subject, json_object());
                json_object_set_new(json_object_get(targets, subject), origin,
                                    json_string(id));
            }
        }
    }
    /* Pass 2: sightings of indicators present in the bundle. */
    json_object_foreach(all, key, v)
    {
        const json_t *msg = json_object_get(v, "m");
        const char *type = json_string_value(json_object_get(msg, "type"));
        const char *origin = json_string_value(json_object_get(msg, "origin"));
        const char *of = json_string_value(
            json_object_get(json_object_get(msg, "payload"), "sighting_of"));
        int64_t ignore = INT64_MAX;

        if (type && origin && of && !strcmp(type, "sighting") &&
            msg_live(msg, now_ms, &ignore))
            sightings_of(&g, msg, origin, targets, of);
    }
    emit_markings(&g);
    randombytes_buf(rnd, sizeof(rnd));
    rnd[6] = (uint8_t)((rnd[6] & 0x0f) | 0x40);
    rnd[8] = (uint8_t)((rnd[8] & 0x3f) | 0x80);
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    snprintf(bid, sizeof(bid), "bundle--%.8s-%.4s-%.4s-%.4s-%.12s", hex,
             hex + 8, hex + 12, hex + 16, hex + 20);
    bundle = json_pack("{s:s,s:s,s:o}", "type", "bundle", "id", bid, "objects",
                       g.objects);
    json_decref(g.ids);
    json_decref(g.idents);
    json_decref(targets);
    if (!bundle || cishare_atomic_begin(&af, s->bundle_path)) {
        json_decref(bundle);
        json_decref(forget);
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                        s->bundle_path, strerror(errno));
        return CISHARE_SINK_ERROR;
    }
    if (json_dumpf(bundle, af.fp, JSON_INDENT(1)) ||
        fputc('\n', af.fp) == EOF || cishare_atomic_commit(&af)) {
        cishare_atomic_abort(&af);
        json_decref(bundle);
        json_decref(forget);
        cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                        "%s: cannot write: %s", s->bundle_path,
                        strerror(errno));
        return CISHARE_SINK_ERROR;
    }
    json_decref(bundle);
    /* The bundle no longer holds them: forget expired entries (and
     * tombstones past the expiry of what they revoked). */
    json_array_foreach(forget, i, v)
        cishare_sink_state_put(s->vs.state, json_string_value(v), NULL);
    json_decref(forget);
    return CISHARE_SINK_OK;
}

static void stix_close(void *ctx)
{
    stix_t *s = ctx;

    if (!s)
        return;
    cishare_view_sink_close(&s->vs);
    free(s->bundle_path);
    free(s);
}

static cishare_sink_status_t stix_open(const cishare_sink_opts_t *opts,
                                       void **ctxp, char *errstr,
                                       size_t errstr_size)
{
    stix_t *s = calloc(1, sizeof(*s));

    if (!s || sodium_init() < 0) {
        free(s);
        return CISHARE_SINK_ERROR;
    }
    /* The frame checks opts->out first; this is only a name until then. */
    if (asprintf(&s->bundle_path, "%s/stix/bundle.json", opts->out) < 0) {
        free(s);
        return CISHARE_SINK_ERROR;
    }
    if (cishare_view_sink_open(&s->vs, "stix", opts, STIX_BOUND_KEY, stix_regen,
                               s, errstr, errstr_size)) {
        stix_close(s);
        return CISHARE_SINK_ERROR;
    }
    *ctxp = s;
    return CISHARE_SINK_OK;
}

static cishare_sink_status_t stix_write(void *ctx, const json_t *msg,
                                        const char *subject, char *errstr,
                                        size_t errstr_size)
{
    stix_t *s = ctx;
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *origin = json_string_value(json_object_get(msg, "origin"));
    const json_t *p = json_object_get(msg, "payload");
    char *key = NULL;
    cishare_sink_status_t st;

    if (!type || !origin || !subject || !json_is_object(p) ||
        !strcmp(type, "revocation"))
        return CISHARE_SINK_OK;
    /* Sightings share their target's subject: key them by their own id. */
    if (!strcmp(type, "sighting")) {
        const char *pid = json_string_value(json_object_get(p, "id"));
        if (asprintf(&key, "%s sighting %s", origin, pid ? pid : subject) < 0)
            key = NULL;
    } else
        key = cishare_view_sink_key(origin, subject);
    if (!key)
        return CISHARE_SINK_ERROR;
    st = cishare_view_sink_put_latest(&s->vs, key, subject, msg, errstr,
                                      errstr_size);
    free(key);
    return st;
}

static cishare_sink_status_t stix_revoke(void *ctx, const char *subject,
                                         const json_t *rev, char *errstr,
                                         size_t errstr_size)
{
    stix_t *s = ctx;

    /* Until the envelope's expiry: the bundle shows no valid_until. */
    return cishare_view_sink_tombstone(
        &s->vs, json_string_value(json_object_get(rev, "origin")), subject,
        NULL, errstr, errstr_size);
}

static uint64_t stix_over_bound(void *ctx)
{
    return ((const stix_t *)ctx)->vs.over_bound;
}

static cishare_sink_status_t stix_sync(void *ctx, int64_t now_ms,
                                       uint64_t *markp, char *errstr,
                                       size_t errstr_size)
{
    stix_t *s = ctx;

    return cishare_view_sink_sync(&s->vs, now_ms, markp, errstr, errstr_size);
}

const cishare_sink_plugin_t cishare_sink_stix = {
    .name = "stix",
    .description = "STIX 2.1 bundle of the current state (stix/bundle.json)",
    .open = stix_open,
    .write = stix_write,
    .revoke = stix_revoke,
    .sync = stix_sync,
    .close = stix_close,
    .over_bound = stix_over_bound,
};
