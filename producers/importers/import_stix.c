/*
 * cishare importers - STIX 2.1 bundles.
 *
 * indicator -> Indicator (single-comparison patterns mapped to a typed
 * observable, everything else kept whole as type "stix"); sighting ->
 * Sighting; incident, and report whose report_types/labels say
 * "incident" -> IncidentNotice; every other object is skipped and counted
 * ("not a shareable object"). TLP comes from object_marking_refs (and
 * granular markings: the most restrictive TLP marking anywhere on the
 * object wins, failing closed).
 */
#include "import_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The predefined TLP marking ids (DOMAIN.md): known whether or not the
 * bundle carries their definitions. */
static const struct {
    const char *id;
    cishare_tlp_t tlp;
} known_markings[] = {
    /* TLP 2.0 */
    {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
     CISHARE_TLP_CLEAR},
    {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
     CISHARE_TLP_GREEN},
    {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
     CISHARE_TLP_AMBER},
    {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
     CISHARE_TLP_AMBER_STRICT},
    {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
     CISHARE_TLP_RED},
    /* TLP 1.0 (STIX 2.1 specification) */
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
     CISHARE_TLP_CLEAR},
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
     CISHARE_TLP_GREEN},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
     CISHARE_TLP_AMBER},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
     CISHARE_TLP_RED},
    /* OpenCTI's AMBER+STRICT */
    {"marking-definition--826578e1-40ad-459f-bc73-ede076f81f37",
     CISHARE_TLP_AMBER_STRICT},
};

typedef struct stix_s {
    import_ctx_t *ctx;
    json_t *objects; /* array */
    json_t *by_id;   /* id -> object (borrowed references) */
} stix_t;

bool import_stix_detect(json_t *root)
{
    const char *type, *id;

    if (!json_is_object(root))
        return false;
    type = json_string_value(json_object_get(root, "type"));
    if (type && !strcmp(type, "bundle"))
        return true;
    if (json_is_array(json_object_get(root, "objects")))
        return true; /* a bundle missing its "type" */
    id = json_string_value(json_object_get(root, "id"));
    return type && id && strstr(id, "--") &&
           (json_object_get(root, "spec_version") ||
            json_object_get(root, "created"));
}

/* TLP of one marking-definition object defined in the bundle. */
static bool marking_def_tlp(json_t *md, cishare_tlp_t *tlpp)
{
    const char *dt = json_string_value(json_object_get(md, "definition_type"));
    const char *name = json_string_value(json_object_get(md, "name"));
    json_t *ext = json_object_get(md, "extensions"), *v;
    const char *k;

    if (dt && !strcasecmp(dt, "tlp")) {
        const char *t = json_string_value(
            json_object_get(json_object_get(md, "definition"), "tlp"));
        if (t && cishare_tlp_parse(t, tlpp))
            return true;
    }
    json_object_foreach(ext, k, v)
    {
        const char *t = json_string_value(json_object_get(v, "tlp_2_0"));
        if (t && cishare_tlp_parse(t, tlpp))
            return true;
    }
    return name && !strncasecmp(name, "TLP:", 4) &&
           cishare_tlp_parse(name, tlpp);
}

static bool marking_tlp(stix_t *sx, const char *ref, cishare_tlp_t *tlpp)
{
    size_t i;
    json_t *md;

    for (i = 0; i < sizeof(known_markings) / sizeof(known_markings[0]); i++) {
        if (!strcmp(ref, known_markings[i].id)) {
            *tlpp = known_markings[i].tlp;
            return true;
        }
    }
    md = json_object_get(sx->by_id, ref);
    return md && marking_def_tlp(md, tlpp);
}

/* Most restrictive TLP marking on obj; false when it has none. */
static bool object_tlp(stix_t *sx, json_t *obj, cishare_tlp_t *tlpp)
{
    json_t *refs = json_object_get(obj, "object_marking_refs"), *v;
    json_t *gm = json_object_get(obj, "granular_markings");
    bool found = false;
    cishare_tlp_t t, best = CISHARE_TLP_CLEAR;
    size_t i;

    json_array_foreach(refs, i, v)
    {
        if (json_is_string(v) && marking_tlp(sx, json_string_value(v), &t)) {
            if (!found || t > best)
                best = t;
            found = true;
        }
    }
    json_array_foreach(gm, i, v)
    {
        const char *r = json_string_value(json_object_get(v, "marking_ref"));
        if (r && marking_tlp(sx, r, &t)) {
            if (!found || t > best)
                best = t;
            found = true;
        }
    }
    *tlpp = best;
    return found;
}

/* Copy a timestamp property, normalised. Returns false (and rejects the
 * record) when present but invalid. */
static bool copy_time(stix_t *sx, const char *rec, json_t *obj,
                      const char *prop, json_t *payload, const char *field,
                      const char *fallback)
{
    json_t *v = json_object_get(obj, prop);
    const char *s = json_string_value(v);
    char out[32];

    if (!v || json_is_null(v)) {
        if (fallback)
            json_object_set_new(payload, field, json_string(fallback));
        return true;
    }
    if (!s || !import_time_norm(s, out)) {
        import_reject(sx->ctx, rec, "invalid timestamp",
                      "%s is not an RFC 3339 timestamp: %s", prop,
                      s ? s : "(not a string)");
        return false;
    }
    json_object_set_new(payload, field, json_string(out));
    return true;
}

static void copy_str(json_t *obj, const char *prop, json_t *payload,
                     const char *field)
{
    json_t *v = json_object_get(obj, prop);

    if (json_is_string(v))
        json_object_set_new(payload, field, json_string(json_string_value(v)));
}

/* created/modified for every message type: created required. */
static bool copy_created_modified(stix_t *sx, const char *rec, json_t *obj,
                                  json_t *payload, bool with_modified)
{
    const char *created;

    if (!json_object_get(obj, "created")) {
        import_reject(sx->ctx, rec, "missing field",
                      "required property 'created' is missing");
        return false;
    }
    if (!copy_time(sx, rec, obj, "created", payload, "created", NULL))
        return false;
    created = json_string_value(json_object_get(payload, "created"));
    return !with_modified ||
           copy_time(sx, rec, obj, "modified", payload, "modified", created);
}

/* Parse a single-comparison pattern "[path = 'value']". Returns the path
 * (malloc) and the value in *valp (malloc), or NULL when the pattern is
 * anything else (compound, other operator, qualifiers). */
static char *pattern_simple(const char *pat, char **valp)
{
    const char *p = pat, *ps;
    char *path = NULL, *val = NULL;
    size_t vl = 0;

    while (isspace((unsigned char)*p))
        p++;
    if (*p++ != '[')
        return NULL;
    while (isspace((unsigned char)*p))
        p++;
    ps = p;
    while (*p && !isspace((unsigned char)*p) && *p != '=' && *p != '!' &&
           *p != '<' && *p != '>' && *p != ']')
        p++;
    if (p == ps)
        return NULL;
    path = strndup(ps, (size_t)(p - ps));
    while (isspace((unsigned char)*p))
        p++;
    if (*p++ != '=' || *p == '=')
        goto fail;
    while (isspace((unsigned char)*p))
        p++;
    val = malloc(strlen(p) + 1);
    if (!path || !val)
        goto fail;
    if (*p == '\'') {
        for (p++; *p && *p != '\''; p++) {
            if (*p == '\\' && (p[1] == '\'' || p[1] == '\\'))
                p++;
            val[vl++] = *p;
        }
        if (*p++ != '\'')
            goto fail;
    } else if (isdigit((unsigned char)*p)) {
        while (isdigit((unsigned char)*p))
            val[vl++] = *p++;
    } else {
        goto fail;
    }
    val[vl] = '\0';
    while (isspace((unsigned char)*p))
        p++;
    if (*p++ != ']')
        goto fail;
    while (isspace((unsigned char)*p))
        p++;
    if (*p || !vl)
        goto fail;
    *valp = val;
    return path;
fail:
    free(path);
    free(val);
    return NULL;
}

/* Observable type of a pattern path, or NULL. */
static const char *path_type(const char *path)
{
    static const struct {
        const char *path, *type;
    } paths[] = {
        {"ipv4-addr:value", "ipv4"},
        {"ipv6-addr:value", "ipv6"},
        {"domain-name:value", "domain"},
        {"url:value", "url"},
        {"email-addr:value", "email"},
        {"email-message:from_ref.value", "email"},
        {"email-message:sender_ref.value", "email"},
        {"autonomous-system:number", "asn"},
    };
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (!strcasecmp(path, paths[i].path))
            return paths[i].type;
    if (!strncasecmp(path, "file:hashes.", 12)) {
        /* 'SHA-256', "SHA-256", SHA256, md5 (apt1 spells it lower-case) */
        char h[16];
        size_t n = 0;
        const char *q;
        for (q = path + 12; *q && n < sizeof(h) - 1; q++)
            if (*q != '\'' && *q != '"' && *q != '-')
                h[n++] = (char)tolower((unsigned char)*q);
        h[n] = '\0';
        if (!strcmp(h, "md5"))
            return "md5";
        if (!strcmp(h, "sha1"))
            return "sha1";
        if (!strcmp(h, "sha256"))
            return "sha256";
        if (!strcmp(h, "sha512"))
            return "sha512";
    }
    return NULL;
}

static void append_strings(json_t *dst, json_t *src)
{
    size_t i;
    json_t *v;

    json_array_foreach(src, i, v)
    {
        if (json_is_string(v))
            json_array_append(dst, v);
    }
}

/* labels := labels + indicator_types (both free tags for us). */
static void copy_labels(json_t *obj, json_t *payload)
{
    json_t *labels = json_array();

    append_strings(labels, json_object_get(obj, "labels"));
    append_strings(labels, json_object_get(obj, "indicator_types"));
    json_object_set_new(payload, "labels", labels);
}

static void stix_indicator(stix_t *sx, json_t *obj, const char *id,
                           const char *rec)
{
    const char *pat = json_string_value(json_object_get(obj, "pattern"));
    const char *ptype = json_string_value(json_object_get(obj, "pattern_type"));
    json_t *payload, *msg, *kc, *v, *conf;
    cishare_tlp_t tlp;
    char *path, *val = NULL;
    size_t i;

    if (!pat) {
        import_reject(sx->ctx, rec, "missing field",
                      "indicator has no pattern");
        return;
    }
    if (!(msg = import_msg_new("indicator", &payload))) {
        sx->ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    json_object_set_new(payload, "id", json_string(id));
    if (!copy_created_modified(sx, rec, obj, payload, true) ||
        !copy_time(sx, rec, obj, "valid_from", payload, "valid_from", NULL) ||
        !copy_time(sx, rec, obj, "valid_until", payload, "valid_until", NULL)) {
        json_decref(msg);
        return;
    }
    if (!ptype || !strcasecmp(ptype, "stix")) {
        const char *t = NULL;
        if ((path = pattern_simple(pat, &val)))
            t = path_type(path);
        if (t) {
            if (!strcmp(t, "asn")) {
                char asn[32];
                snprintf(asn, sizeof(asn), "AS%s", val);
                json_object_set_new(payload, "value", json_string(asn));
            } else {
                if (!strncmp(t, "md5", 3) || !strncmp(t, "sha", 3))
                    import_lower(val);
                json_object_set_new(payload, "value", json_string(val));
            }
            json_object_set_new(payload, "type", json_string(t));
        } else {
            /* compound or not a shareable single observable: kept whole */
            json_object_set_new(payload, "type", json_string("stix"));
            json_object_set_new(payload, "value", json_string(pat));
        }
        json_object_set_new(payload, "pattern", json_string(pat));
        free(path);
        free(val);
    } else if (!strcasecmp(ptype, "yara") || !strcasecmp(ptype, "sigma")) {
        char t[8];
        snprintf(t, sizeof(t), "%s", ptype);
        import_lower(t);
        json_object_set_new(payload, "type", json_string(t));
        json_object_set_new(payload, "value", json_string(pat));
    } else {
        char lab[96];
        json_object_set_new(payload, "type", json_string("other"));
        json_object_set_new(payload, "value", json_string(pat));
        snprintf(lab, sizeof(lab), "pattern-type:%s", ptype);
        copy_labels(obj, payload);
        json_array_append_new(json_object_get(payload, "labels"),
                              json_string(lab));
    }
    if (!json_object_get(payload, "labels"))
        copy_labels(obj, payload);
    copy_str(obj, "name", payload, "name");
    copy_str(obj, "description", payload, "description");
    conf = json_object_get(obj, "confidence");
    if (json_is_integer(conf) && json_integer_value(conf) >= 0 &&
        json_integer_value(conf) <= 100)
        json_object_set_new(payload, "confidence",
                            json_integer(json_integer_value(conf)));
    kc = json_array();
    json_array_foreach(json_object_get(obj, "kill_chain_phases"), i, v)
    {
        const char *kn =
            json_string_value(json_object_get(v, "kill_chain_name"));
        const char *pn = json_string_value(json_object_get(v, "phase_name"));
        if (kn && pn) {
            char buf[256];
            snprintf(buf, sizeof(buf), "%s:%s", kn, pn);
            json_array_append_new(kc, json_string(buf));
        }
    }
    json_object_set_new(payload, "kill_chain_phases", kc);
    copy_str(obj, "created_by_ref", payload, "created_by_ref");
    json_object_set_new(payload, "source", json_string(rec));
    if (object_tlp(sx, obj, &tlp))
        import_msg_set_tlp(msg, tlp);
    import_add(sx->ctx, msg, "%s", rec);
}

static void stix_sighting(stix_t *sx, json_t *obj, const char *id,
                          const char *rec)
{
    const char *of = json_string_value(json_object_get(obj, "sighting_of_ref"));
    json_t *payload, *msg, *count, *v;
    cishare_tlp_t tlp;
    size_t i;

    if (!of) {
        import_reject(sx->ctx, rec, "missing field",
                      "sighting has no sighting_of_ref");
        return;
    }
    if (!(msg = import_msg_new("sighting", &payload))) {
        sx->ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    json_object_set_new(payload, "id", json_string(id));
    json_object_set_new(payload, "sighting_of", json_string(of));
    if (!copy_created_modified(sx, rec, obj, payload, false) ||
        !copy_time(sx, rec, obj, "first_seen", payload, "first_seen", NULL) ||
        !copy_time(sx, rec, obj, "last_seen", payload, "last_seen", NULL)) {
        json_decref(msg);
        return;
    }
    count = json_object_get(obj, "count");
    json_object_set_new(
        payload, "count",
        json_integer(json_is_integer(count) && json_integer_value(count) >= 0 &&
                             json_integer_value(count) <= 999999999
                         ? json_integer_value(count)
                         : 1));
    json_array_foreach(json_object_get(obj, "labels"), i, v)
    {
        const char *l = json_string_value(v);
        if (l && (!strcasecmp(l, "false-positive") ||
                  !strcasecmp(l, "false_positive")))
            json_object_set_new(payload, "false_positive", json_true());
    }
    copy_str(obj, "description", payload, "description");
    copy_str(obj, "created_by_ref", payload, "created_by_ref");
    json_object_set_new(payload, "source", json_string(rec));
    if (object_tlp(sx, obj, &tlp))
        import_msg_set_tlp(msg, tlp);
    import_add(sx->ctx, msg, "%s", rec);
}

/* Category of an incident from words in its name, description, labels. */
static const char *guess_category(json_t *obj)
{
    static const struct {
        const char *word, *cat;
    } words[] = {
        {"ransom", "ransomware"},
        {"ddos", "ddos"},
        {"denial of service", "ddos"},
        {"denial-of-service", "ddos"},
        {"breach", "data_breach"},
        {"leak", "data_breach"},
        {"exfiltrat", "data_breach"},
        {"outage", "service_outage"},
        {"near miss", "near_miss"},
        {"near-miss", "near_miss"},
        {"unauthori", "unauthorised_access"},
        {"intrusion", "unauthorised_access"},
        {"malware", "malware"},
    };
    const char *props[] = {"labels", "incident_types", "name", "description"};
    size_t i, j, k;
    json_t *v, *e;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        for (j = 0; j < sizeof(props) / sizeof(props[0]); j++) {
            v = json_object_get(obj, props[j]);
            if (json_is_string(v) &&
                strcasestr(json_string_value(v), words[i].word))
                return words[i].cat;
            json_array_foreach(v, k, e)
            {
                if (json_is_string(e) &&
                    strcasestr(json_string_value(e), words[i].word))
                    return words[i].cat;
            }
        }
    }
    return "other";
}

static bool list_has(json_t *arr, const char *word)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && !strcasecmp(json_string_value(v), word))
            return true;
    }
    return false;
}

static void stix_incident(stix_t *sx, json_t *obj, const char *id,
                          const char *rec, bool is_report)
{
    json_t *payload, *msg, *inds = json_array(), *techs = json_array(), *v, *o;
    const char *name = json_string_value(json_object_get(obj, "name"));
    const char *desc = json_string_value(json_object_get(obj, "description"));
    const char *by = json_string_value(json_object_get(obj, "created_by_ref"));
    const char *created, *overview = "";
    cishare_tlp_t tlp;
    size_t i, j;
    char inc_id[128];

    if (!(msg = import_msg_new("incident", &payload))) {
        json_decref(inds);
        json_decref(techs);
        sx->ctx->err = CISHARE_ERR_NOMEM;
        return;
    }
    /* The subject id is an incident id; a report keeps its uuid. */
    snprintf(inc_id, sizeof(inc_id), "incident--%s",
             strstr(id, "--") ? strstr(id, "--") + 2 : id);
    json_object_set_new(payload, "id", json_string(inc_id));
    if (!copy_created_modified(sx, rec, obj, payload, true) ||
        !copy_time(sx, rec, obj, is_report ? "published" : "modified", payload,
                   "reported_at",
                   json_string_value(json_object_get(payload, "modified")))) {
        json_decref(msg);
        json_decref(inds);
        json_decref(techs);
        return;
    }
    created = json_string_value(json_object_get(payload, "created"));
    json_object_set_new(payload, "detected_at", json_string(created));
    json_object_set_new(payload, "title",
                        json_string(name ? name : "(untitled incident)"));
    json_object_set_new(payload, "stage",
                        json_string(is_report ? "detailed" : "preliminary"));
    json_object_set_new(payload, "category", json_string(guess_category(obj)));
    if (by && (o = json_object_get(sx->by_id, by)) &&
        json_is_string(json_object_get(o, "name")))
        overview = json_string_value(json_object_get(o, "name"));
    json_object_set_new(payload, "operator_overview", json_string(overview));
    json_object_set_new(payload, "summary",
                        json_string(desc   ? desc
                                    : name ? name
                                           : ""));
    json_object_set_new(payload, "affected_service", json_string("unknown"));
    json_object_set_new(payload, "affected_system", json_string("unknown"));
    json_object_set_new(payload, "impact", json_string("none"));
    json_object_set_new(payload, "operating_mode", json_string("normal"));
    json_object_set_new(payload, "legal_basis", json_string("voluntary"));
    /* indicators: the report's object_refs; for an incident, indicators
     * that a relationship links to it. attack-patterns give techniques. */
    json_array_foreach(json_object_get(obj, "object_refs"), i, v)
    {
        const char *r = json_string_value(v);
        if (r && !strncmp(r, "indicator--", 11))
            json_array_append(inds, v);
    }
    json_array_foreach(sx->objects, i, o)
    {
        const char *t = json_string_value(json_object_get(o, "type"));
        const char *src = json_string_value(json_object_get(o, "source_ref"));
        const char *dst = json_string_value(json_object_get(o, "target_ref"));
        if (t && !strcmp(t, "relationship") && src && dst) {
            const char *other = !strcmp(dst, id)   ? src
                                : !strcmp(src, id) ? dst
                                                   : NULL;
            if (other && !strncmp(other, "indicator--", 11))
                json_array_append_new(inds, json_string(other));
        }
    }
    json_array_foreach(json_object_get(obj, "object_refs"), i, v)
    {
        json_t *ap = json_object_get(sx->by_id, json_string_value(v) ?: "");
        const char *t = json_string_value(json_object_get(ap, "type"));
        json_t *er;
        if (!t || strcmp(t, "attack-pattern"))
            continue;
        json_array_foreach(json_object_get(ap, "external_references"), j, er)
        {
            const char *sn =
                json_string_value(json_object_get(er, "source_name"));
            const char *eid =
                json_string_value(json_object_get(er, "external_id"));
            if (sn && eid && !strcmp(sn, "mitre-attack") && eid[0] == 'T')
                json_array_append_new(techs, json_string(eid));
        }
    }
    json_object_set_new(payload, "indicators", inds);
    json_object_set_new(payload, "mitre_techniques", techs);
    copy_str(obj, "created_by_ref", payload, "created_by_ref");
    json_object_set_new(payload, "source", json_string(rec));
    if (object_tlp(sx, obj, &tlp))
        import_msg_set_tlp(msg, tlp);
    import_add(sx->ctx, msg, "%s", rec);
}

cishare_err_t import_stix(import_ctx_t *ctx, json_t *root, char *errstr,
                          size_t errstr_size)
{
    stix_t sx = {ctx, NULL, json_object()};
    json_t *objs = json_object_get(root, "objects"), *o;
    size_t i;

    if (!sx.by_id)
        return CISHARE_ERR_NOMEM;
    if (!json_is_object(root))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s: a STIX bundle must be a JSON object",
                               ctx->name);
    if (objs && !json_is_array(objs)) {
        json_decref(sx.by_id);
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s: bundle \"objects\" is not an array",
                               ctx->name);
    }
    if (!objs) { /* a single STIX object */
        sx.objects = json_array();
        json_array_append(sx.objects, root);
    } else {
        sx.objects = json_incref(objs);
    }
    json_array_foreach(sx.objects, i, o)
    {
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id)
            json_object_set(sx.by_id, id, o);
    }
    json_array_foreach(sx.objects, i, o)
    {
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *id = json_string_value(json_object_get(o, "id"));
        char rec[512];

        if (id)
            snprintf(rec, sizeof(rec), "%s: %s", ctx->name, id);
        else
            snprintf(rec, sizeof(rec), "%s: objects[%zu]", ctx->name, i);
        if (!json_is_object(o) || !type || !id || !strstr(id, "--") ||
            strncmp(id, type, strlen(type))) {
            import_reject(ctx, rec, "malformed STIX object",
                          "object needs a \"type\" and an id "
                          "\"<type>--<uuid>\"");
        } else if (!strcmp(type, "indicator")) {
            stix_indicator(&sx, o, id, rec);
        } else if (!strcmp(type, "sighting")) {
            stix_sighting(&sx, o, id, rec);
        } else if (!strcmp(type, "incident")) {
            stix_incident(&sx, o, id, rec, false);
        } else if (!strcmp(type, "report")) {
            if (list_has(json_object_get(o, "report_types"), "incident") ||
                list_has(json_object_get(o, "labels"), "incident"))
                stix_incident(&sx, o, id, rec, true);
            else
                import_skip(ctx, rec, "report is not an incident report",
                            "report_types do not include \"incident\"; its "
                            "indicators are imported on their own");
        } else {
            import_skip(ctx, rec, "not a shareable object", "STIX %s", type);
        }
    }
    json_decref(sx.objects);
    json_decref(sx.by_id);
    return ctx->err;
}
