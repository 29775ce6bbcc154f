/*
 * cishare importers - MISP events.
 *
 * Shapes: {"Event": {...}}, a bare event, {"response": [{"Event": ...}]},
 * an array of events, and a feed manifest (manifest.json: the events are
 * read from <uuid>.json beside it). Attributes, and the attributes of
 * objects, become indicators; the TLP of each record is the most
 * restrictive of the event tags, the attribute tags and the distribution
 * levels of event, object and attribute.
 */
#include "import_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* MISP attribute type -> observable type. part: which '|' part of a
 * composite value holds the observable. */
static const struct {
    const char *misp, *type;
    int part;
} type_map[] = {
    {"ip-src", "ip", 0},
    {"ip-dst", "ip", 0},
    {"ip-src|port", "ip", 0},
    {"ip-dst|port", "ip", 0},
    {"domain", "domain", 0},
    {"hostname", "domain", 0},
    {"domain|ip", "domain", 0},
    {"hostname|port", "domain", 0},
    {"url", "url", 0},
    {"link", "url", 0},
    {"uri", "url", 0},
    {"email", "email", 0},
    {"email-src", "email", 0},
    {"email-dst", "email", 0},
    {"md5", "md5", 0},
    {"sha1", "sha1", 0},
    {"sha256", "sha256", 0},
    {"sha512", "sha512", 0},
    {"filename|md5", "md5", 1},
    {"filename|sha1", "sha1", 1},
    {"filename|sha256", "sha256", 1},
    {"filename|sha512", "sha512", 1},
    {"malware-sample", "md5", 1}, /* "name|md5" */
    {"vulnerability", "cve", 0},
    {"AS", "asn", 0},
    {"ja3-fingerprint-md5", "ja3", 0},
    {"yara", "yara", 0},
    {"sigma", "sigma", 0},
};

/* Context-only attribute types: not observables, never indicators. */
static const char *const context_types[] = {"comment", "text", "other"};

const char *import_misp_type(const char *misp_type, int *partp)
{
    size_t i;

    for (i = 0; i < sizeof(type_map) / sizeof(type_map[0]); i++) {
        if (!strcmp(misp_type, type_map[i].misp)) {
            *partp = type_map[i].part;
            return type_map[i].type;
        }
    }
    return NULL;
}

static bool is_uuid_key(const char *k)
{
    return strlen(k) == 36 && k[8] == '-' && k[13] == '-' && k[18] == '-' &&
           k[23] == '-';
}

static bool is_bare_event(json_t *v)
{
    return json_is_object(v) && json_is_string(json_object_get(v, "info")) &&
           (json_object_get(v, "Attribute") || json_object_get(v, "uuid") ||
            json_object_get(v, "date"));
}

static bool is_manifest(json_t *root)
{
    const char *k;
    json_t *v;
    size_t n = 0;

    if (!json_is_object(root) || !json_object_size(root))
        return false;
    json_object_foreach(root, k, v)
    {
        if (!is_uuid_key(k) || !json_is_object(v) ||
            !json_object_get(v, "info"))
            return false;
        n++;
    }
    return n > 0;
}

bool import_misp_detect(json_t *root)
{
    if (json_is_array(root))
        return json_array_size(root) &&
               (json_is_object(
                    json_object_get(json_array_get(root, 0), "Event")) ||
                is_bare_event(json_array_get(root, 0)));
    return json_is_object(json_object_get(root, "Event")) ||
           json_is_array(json_object_get(root, "response")) ||
           is_bare_event(root) || is_manifest(root);
}

/* A MISP number that may be a string ("3") or an integer. -1 if absent,
 * -2 if not a number. */
static long misp_num(json_t *v)
{
    char *end;
    long n;

    if (!v || json_is_null(v))
        return -1;
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (!json_is_string(v) || !*json_string_value(v))
        return -2;
    errno = 0;
    n = strtol(json_string_value(v), &end, 10);
    return *end || errno || n < 0 ? -2 : n;
}

/* TLP state of one record: whether any label was found, the most
 * restrictive one, and a failure text when a tag or distribution cannot
 * be read (fail closed: the record is rejected). */
typedef struct tlpacc_s {
    bool found;
    cishare_tlp_t tlp;
    char bad[160];
} tlpacc_t;

static void acc_add(tlpacc_t *a, cishare_tlp_t t)
{
    if (!a->found || t > a->tlp)
        a->tlp = t;
    a->found = true;
}

/* Distribution 0 your organisation only -> AMBER+STRICT; 1 this community
 * only -> AMBER; 2 connected communities, 3 all communities -> GREEN (MISP
 * communities are not public channels); 4 sharing group -> AMBER (a named
 * group of organisations: their clients only, need-to-know); 5 inherit ->
 * the event's. */
static void acc_distribution(tlpacc_t *a, json_t *v, const char *what)
{
    static const cishare_tlp_t map[] = {CISHARE_TLP_AMBER_STRICT,
                                        CISHARE_TLP_AMBER, CISHARE_TLP_GREEN,
                                        CISHARE_TLP_GREEN, CISHARE_TLP_AMBER};
    long d = misp_num(v);

    if (d == -1 || d == 5)
        return;
    if (d < 0 || d > 5) {
        snprintf(a->bad, sizeof(a->bad), "%s distribution is not 0-5", what);
        return;
    }
    acc_add(a, map[d]);
}

/* TLP tags add to the accumulator; other tags go to labels. */
static void acc_tags(tlpacc_t *a, json_t *tags, json_t *labels)
{
    size_t i;
    json_t *t;

    json_array_foreach(tags, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        cishare_tlp_t tlp;

        if (!name)
            continue;
        if (!strncasecmp(name, "tlp:", 4)) {
            if (cishare_tlp_parse(name + 4, &tlp))
                acc_add(a, tlp);
            else
                snprintf(a->bad, sizeof(a->bad), "unknown TLP tag '%s'", name);
        } else if (labels) {
            json_array_append_new(labels, json_string(name));
        }
    }
}

typedef struct event_s {
    import_ctx_t *ctx;
    json_t *ev;
    const char *uuid;
    tlpacc_t tlp;   /* event tags + event distribution */
    json_t *labels; /* event's non-TLP tags */
    char created[32];
    const char *info;
    char *name; /* first line of info */
    char creator[80];
} event_t;

static void time_of(json_t *v, char out[32], bool *okp)
{
    long n = misp_num(v);

    *okp = false;
    if (n >= 0) {
        import_time_from_unix(n, out);
        *okp = true;
    }
}

/* One attribute -> one indicator. obj: the MISP object it belongs to (or
 * NULL); context: text about the object's other attributes (or NULL). */
static void misp_attribute(event_t *e, json_t *a, json_t *obj,
                           const char *context)
{
    import_ctx_t *ctx = e->ctx;
    const char *mtype = json_string_value(json_object_get(a, "type"));
    const char *value = json_string_value(json_object_get(a, "value"));
    const char *uuid = json_string_value(json_object_get(a, "uuid"));
    const char *comment = json_string_value(json_object_get(a, "comment"));
    const char *category = json_string_value(json_object_get(a, "category"));
    const char *ocomment =
        obj ? json_string_value(json_object_get(obj, "comment")) : NULL;
    const char *type;
    json_t *payload, *msg, *labels, *to_ids;
    tlpacc_t acc = e->tlp;
    char id[128], rec[512], created[32], buf[64], *val = NULL, *desc = NULL;
    char *other_part = NULL;
    int part = 0;
    bool ok;

    if (uuid)
        snprintf(id, sizeof(id), "indicator--%s", uuid);
    else
        import_stable_id("indicator", e->uuid ? e->uuid : ctx->name,
                         value ? value : "", id);
    snprintf(rec, sizeof(rec), "%s: %s", ctx->name, id);
    if (!mtype || !value || !*value) {
        import_reject(ctx, rec, "missing field",
                      "MISP attribute needs a \"type\" and a \"value\"");
        return;
    }
    if (json_is_true(json_object_get(a, "deleted"))) {
        import_skip(ctx, rec, "deleted attribute",
                    "MISP attribute marked deleted");
        return;
    }
    for (size_t i = 0; i < sizeof(context_types) / sizeof(context_types[0]);
         i++) {
        if (!strcmp(mtype, context_types[i])) {
            import_skip(ctx, rec, "not an observable",
                        "MISP %s attribute (context, not an indicator)", mtype);
            return;
        }
    }
    /* to_ids false: MISP's own mark of context (a blog post, a VirusTotal
     * link), not something to detect or block on. Not an indicator. */
    to_ids = json_object_get(a, "to_ids");
    if (json_is_false(to_ids) ||
        (json_is_integer(to_ids) && json_integer_value(to_ids) == 0) ||
        (json_is_string(to_ids) &&
         (!strcmp(json_string_value(to_ids), "0") ||
          !strcasecmp(json_string_value(to_ids), "false")))) {
        import_skip(ctx, rec, "not for detection (to_ids false)",
                    "MISP %s attribute with to_ids false", mtype);
        return;
    }
    type = import_misp_type(mtype, &part);
    if (!(val = strdup(value)))
        goto nomem;
    if (type && strchr(mtype, '|')) {
        /* composite: keep the observable part; the other is context */
        char *bar = strchr(val, '|');
        if (!bar) {
            import_reject(ctx, rec, "invalid value",
                          "MISP %s value '%s' has no '|'", mtype, value);
            free(val);
            return;
        }
        *bar = '\0';
        if (part == 1) {
            other_part = strdup(val);
            memmove(val, bar + 1, strlen(bar + 1) + 1);
        } else {
            other_part = strdup(bar + 1);
        }
    }
    if (type && !strcmp(type, "ip")) {
        const char *c = import_classify(val);
        type = c && !strcmp(c, "ipv6") ? "ipv6" : "ipv4";
    } else if (type && (!strcmp(type, "md5") || !strncmp(type, "sha", 3))) {
        import_lower(val);
    } else if (type && !strcmp(type, "asn")) {
        if (isdigit((unsigned char)val[0])) {
            snprintf(buf, sizeof(buf), "AS%s", val);
            free(val);
            val = strdup(buf);
        }
    } else if (type && !strcmp(type, "cve")) {
        for (char *p = val; p && *p; p++)
            *p = (char)toupper((unsigned char)*p);
    } else if (!type) {
        type = "other";
    }
    if (!val || !(msg = import_msg_new("indicator", &payload)))
        goto nomem;

    /* TLP: event (already in acc), object, attribute */
    labels = json_deep_copy(e->labels);
    if (obj)
        acc_distribution(&acc, json_object_get(obj, "distribution"), "object");
    acc_distribution(&acc, json_object_get(a, "distribution"), "attribute");
    acc_tags(&acc, json_object_get(a, "Tag"), labels);
    if (acc.bad[0]) {
        import_reject(ctx, rec, "invalid TLP", "%s", acc.bad);
        json_decref(labels);
        json_decref(msg);
        free(val);
        free(other_part);
        return;
    }

    json_object_set_new(payload, "id", json_string(id));
    time_of(json_object_get(a, "timestamp"), created, &ok);
    if (!ok && obj)
        time_of(json_object_get(obj, "timestamp"), created, &ok);
    json_object_set_new(payload, "created",
                        json_string(ok ? created : e->created));
    json_object_set_new(payload, "modified",
                        json_string(ok ? created : e->created));
    json_object_set_new(payload, "type", json_string(type));
    json_object_set_new(payload, "value", json_string(val));
    if (e->name)
        json_object_set_new(payload, "name", json_string(e->name));
    {
        const char *fs[] = {"first_seen", "last_seen"};
        for (int i = 0; i < 2; i++) {
            const char *s = json_string_value(json_object_get(a, fs[i]));
            char out[32];
            if (!s)
                continue;
            if (!import_time_norm(s, out)) {
                import_reject(ctx, rec, "invalid timestamp",
                              "%s is not an RFC 3339 timestamp: %s", fs[i], s);
                json_decref(labels);
                json_decref(msg);
                free(val);
                free(other_part);
                return;
            }
            json_object_set_new(payload, fs[i], json_string(out));
        }
    }
    /* description: comment, the object's comment, the other part of a
     * composite value, the object's other attributes */
    if (other_part && asprintf(&desc, "%s: %s", mtype, other_part) < 0)
        desc = NULL;
    {
        const char *parts[] = {comment, ocomment, desc, context};
        char *d = NULL;
        for (size_t i = 0; i < 4; i++) {
            char *n;
            if (!parts[i] || !*parts[i])
                continue;
            if (asprintf(&n, "%s%s%s", d ? d : "", d ? "; " : "", parts[i]) < 0)
                continue;
            free(d);
            d = n;
        }
        if (d)
            json_object_set_new(payload, "description", json_string(d));
        free(d);
        free(desc);
    }
    if (strcmp(type, "other") == 0) {
        snprintf(buf, sizeof(buf), "misp-type:%s", mtype);
        json_array_append_new(labels, json_string(buf));
    }
    if (category) {
        char cb[128];
        snprintf(cb, sizeof(cb), "misp-category:%s", category);
        json_array_append_new(labels, json_string(cb));
    }
    if (obj && json_string_value(json_object_get(obj, "name"))) {
        char ob[128];
        snprintf(ob, sizeof(ob), "misp-object:%s",
                 json_string_value(json_object_get(obj, "name")));
        json_array_append_new(labels, json_string(ob));
    }
    json_object_set_new(payload, "labels", labels);
    if (e->creator[0])
        json_object_set_new(payload, "created_by_ref", json_string(e->creator));
    json_object_set_new(payload, "source", json_string(rec));
    if (acc.found)
        import_msg_set_tlp(msg, acc.tlp);
    import_add(ctx, msg, "%s", rec);
    free(val);
    free(other_part);
    return;
nomem:
    free(val);
    free(other_part);
    ctx->err = CISHARE_ERR_NOMEM;
}

/* A MISP object: its observable attributes become indicators; the others
 * (filename, port, size, text, ...) are written into their description. */
static void misp_object(event_t *e, json_t *obj, size_t idx)
{
    json_t *attrs = json_object_get(obj, "Attribute"), *a;
    const char *oname = json_string_value(json_object_get(obj, "name"));
    const char *ouuid = json_string_value(json_object_get(obj, "uuid"));
    char *context = NULL, rec[512];
    size_t i, n_obs = 0;
    int part;

    json_array_foreach(attrs, i, a)
    {
        const char *t = json_string_value(json_object_get(a, "type"));
        const char *v = json_string_value(json_object_get(a, "value"));
        const char *rel =
            json_string_value(json_object_get(a, "object_relation"));
        if (t && import_misp_type(t, &part)) {
            n_obs++;
        } else if (v && (!t || (strcmp(t, "text") && strcmp(t, "comment")))) {
            char *n;
            if (asprintf(&n, "%s%s%s=%s", context ? context : "",
                         context ? ", " : "",
                         rel ? rel
                         : t ? t
                             : "?",
                         v) < 0) {
                e->ctx->err = CISHARE_ERR_NOMEM;
                free(context);
                return;
            }
            free(context);
            context = n;
        }
    }
    if (ouuid)
        snprintf(rec, sizeof(rec), "%s: object %s", e->ctx->name, ouuid);
    else
        snprintf(rec, sizeof(rec), "%s: Object[%zu]", e->ctx->name, idx);
    if (!n_obs) {
        import_skip(e->ctx, rec, "not an observable",
                    "MISP object '%s' has no observable attribute",
                    oname ? oname : "?");
        free(context);
        return;
    }
    json_array_foreach(attrs, i, a)
    {
        const char *t = json_string_value(json_object_get(a, "type"));
        if (t && import_misp_type(t, &part))
            misp_attribute(e, a, obj, context);
    }
    free(context);
}

static void misp_event(import_ctx_t *ctx, json_t *ev)
{
    event_t e;
    json_t *a, *o, *orgc;
    size_t i;
    bool ok;
    char rec[512];

    memset(&e, 0, sizeof(e));
    e.ctx = ctx;
    e.ev = ev;
    e.uuid = json_string_value(json_object_get(ev, "uuid"));
    e.info = json_string_value(json_object_get(ev, "info"));
    snprintf(rec, sizeof(rec), "%s: event %s", ctx->name,
             e.uuid ? e.uuid : "(no uuid)");
    if (!json_is_object(ev)) {
        import_reject(ctx, rec, "malformed MISP event",
                      "an event must be a JSON object");
        return;
    }
    e.labels = json_array();
    acc_tags(&e.tlp, json_object_get(ev, "Tag"), e.labels);
    acc_distribution(&e.tlp, json_object_get(ev, "distribution"), "event");
    time_of(json_object_get(ev, "timestamp"), e.created, &ok);
    if (!ok) {
        const char *d = json_string_value(json_object_get(ev, "date"));
        if (!d || !import_time_norm(d, e.created))
            import_time_default(ctx, e.created);
    }
    if (e.info) {
        size_t n = strcspn(e.info, "\r\n");
        e.name = strndup(e.info, n);
    }
    orgc = json_object_get(ev, "Orgc");
    if (json_is_string(json_object_get(orgc, "uuid")))
        snprintf(e.creator, sizeof(e.creator), "identity--%s",
                 json_string_value(json_object_get(orgc, "uuid")));

    if (!json_array_size(json_object_get(ev, "Attribute")) &&
        !json_array_size(json_object_get(ev, "Object")))
        import_skip(ctx, rec, "event without attributes",
                    "MISP event '%s' has no attributes or objects",
                    e.name ? e.name : "");
    json_array_foreach(json_object_get(ev, "Attribute"), i, a)
        misp_attribute(&e, a, NULL, NULL);
    json_array_foreach(json_object_get(ev, "Object"), i, o)
        misp_object(&e, o, i);
    json_decref(e.labels);
    free(e.name);
}

static cishare_err_t misp_manifest(import_ctx_t *ctx, json_t *root,
                                   const char *dir)
{
    const char *k;
    json_t *v;

    json_object_foreach(root, k, v)
    {
        char path[4096], rec[512], fname[64];
        json_error_t jerr;
        json_t *ev;
        import_ctx_t sub;

        snprintf(rec, sizeof(rec), "%s: event %s", ctx->name, k);
        snprintf(fname, sizeof(fname), "%s.json", k);
        if (!dir) {
            import_reject(ctx, rec, "event file missing",
                          "feed manifest read from stdin: cannot find %s",
                          fname);
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, fname);
        ev = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!ev) {
            if (access(path, F_OK) != 0)
                import_skip(ctx, rec, "event file missing",
                            "listed in the feed manifest but %s is not "
                            "there",
                            fname);
            else
                import_reject(ctx, rec, "invalid JSON",
                              "%s: line %d, column %d: %s", fname, jerr.line,
                              jerr.column, jerr.text);
            continue;
        }
        sub = *ctx;
        sub.name = fname;
        sub.err = CISHARE_OK;
        if (json_is_object(json_object_get(ev, "Event")))
            misp_event(&sub, json_object_get(ev, "Event"));
        else
            misp_event(&sub, ev);
        if (sub.err)
            ctx->err = sub.err;
        json_decref(ev);
    }
    return ctx->err;
}

cishare_err_t import_misp(import_ctx_t *ctx, json_t *root, const char *dir,
                          char *errstr, size_t errstr_size)
{
    json_t *list = NULL, *v;
    size_t i;

    if (json_is_object(json_object_get(root, "Event"))) {
        misp_event(ctx, json_object_get(root, "Event"));
        return ctx->err;
    }
    if (json_is_array(json_object_get(root, "response")))
        list = json_object_get(root, "response");
    else if (json_is_array(root))
        list = root;
    if (list) {
        json_array_foreach(list, i, v)
        {
            json_t *ev = json_object_get(v, "Event");
            misp_event(ctx, json_is_object(ev) ? ev : v);
        }
        return ctx->err;
    }
    if (is_bare_event(root)) {
        misp_event(ctx, root);
        return ctx->err;
    }
    if (is_manifest(root))
        return misp_manifest(ctx, root, dir);
    return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                           "%s: not a MISP event ({\"Event\": ...}, a bare "
                           "event, {\"response\": [...]} or a feed manifest)",
                           ctx->name);
}
