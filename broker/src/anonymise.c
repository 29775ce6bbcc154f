/*
 * cishare - anonymised copies of incident notices, indicators and
 * sightings (cishare/anonymise.h). The per-type field lists here are the
 * contract written in schemas/README.md, "Anonymised copies": change both
 * together.
 */
#include "cishare/anonymise.h"

#include "cishare/codec.h"
#include "cishare/types.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/** What replaces ids, key ids and other references in text and fields. */
#define WITHHELD "[withheld]"
/** Terms shorter than this are not looked for in free text (a one- or
 *  two-letter participant id would replace letters of every word). */
#define TERM_MIN_LEN 3
/** Bound on the terms scrubbed: ids, name, principal, key ids, links. */
#define TERMS_MAX 64

typedef enum { T_FLOOR, T_CEIL } rounding_t;

typedef struct {
    const char *name;
    rounding_t rnd;
} time_field_t;

typedef struct {
    cishare_msgtype_t type;
    const char *const *nulled;  /**< fields set to null */
    const char *const *emptied; /**< array fields set to [] */
    const time_field_t *times;  /**< coarsened */
} type_rules_t;

/* The contract (schemas/README.md, "Anonymised copies"). Besides these,
 * every type gets a fresh "id", "anonymise" false when the field exists,
 * and every remaining string scrubbed. */
static const char *const incident_nulled[] = {"created_by_ref", "source", NULL};
static const char *const incident_emptied[] = {"indicators", NULL};
static const time_field_t incident_times[] = {{"created", T_FLOOR},
                                              {"modified", T_FLOOR},
                                              {"detected_at", T_FLOOR},
                                              {"reported_at", T_FLOOR},
                                              {NULL, T_FLOOR}};
static const char *const indicator_nulled[] = {"created_by_ref", "source",
                                               "related_incident", NULL};
static const char *const none[] = {NULL};
static const time_field_t indicator_times[] = {
    {"created", T_FLOOR},   {"modified", T_FLOOR},   {"first_seen", T_FLOOR},
    {"last_seen", T_FLOOR}, {"valid_from", T_FLOOR}, {"valid_until", T_CEIL},
    {NULL, T_FLOOR}};
static const char *const sighting_nulled[] = {"created_by_ref", "source", NULL};
static const time_field_t sighting_times[] = {{"created", T_FLOOR},
                                              {"first_seen", T_FLOOR},
                                              {"last_seen", T_FLOOR},
                                              {NULL, T_FLOOR}};

static const type_rules_t rules[] = {
    {CISHARE_MSG_INCIDENT, incident_nulled, incident_emptied, incident_times},
    {CISHARE_MSG_INDICATOR, indicator_nulled, none, indicator_times},
    {CISHARE_MSG_SIGHTING, sighting_nulled, none, sighting_times},
};

static int64_t unit_of(const cishare_anonymise_opts_t *o)
{
    return o && o->unit_ms ? o->unit_ms : CISHARE_ANONYMISE_UNIT_MS;
}

static int64_t floor_to(int64_t ms, int64_t unit)
{
    int64_t r = ms % unit;
    return r < 0 ? ms - r - unit : ms - r;
}

static int64_t ceil_to(int64_t ms, int64_t unit)
{
    int64_t f = floor_to(ms, unit);

    /* at the top of the range, down rather than past what RFC 3339 can
     * write */
    if (f == ms || f > CISHARE_TIME_MAX_MS - unit)
        return f;
    return f + unit;
}

int64_t cishare_anonymise_time(int64_t now_ms,
                               const cishare_anonymise_opts_t *o)
{
    int64_t unit = unit_of(o);
    return unit > 0 ? floor_to(now_ms, unit) : now_ms;
}

void cishare_anonymise_pseudonym(const cishare_participant_t *reporter,
                                 const cishare_directory_t *dir,
                                 const char *sector, char *out, size_t out_size)
{
    const char *role = cishare_role_name(reporter->role);
    const char *code = NULL, *art;
    const cishare_sector_t *sec = NULL;

    if (sector && cishare_participant_in_sector(reporter, sector))
        code = sector;
    else if (reporter->sector_cnt)
        code = reporter->sectors[0];
    if (code && dir)
        sec = cishare_directory_sector_find(dir, code);
    art = strchr("aeiou", role[0]) ? "an" : "a";
    if (sec && sec->name_en && sec->name_en[0])
        snprintf(out, out_size, "%s %s in the %s sector", art, role,
                 sec->name_en);
    else if (code)
        snprintf(out, out_size, "%s %s in the %s sector", art, role, code);
    else
        snprintf(out, out_size, "%s %s", art, role);
}

/* ---- scrubbing free text ---------------------------------------------- */

typedef struct {
    const char *text;
    size_t len;
    const char *repl;
} term_t;

typedef struct {
    term_t t[TERMS_MAX];
    size_t n;
} terms_t;

static void term_add(terms_t *ts, const char *text, size_t len,
                     const char *repl)
{
    size_t i;

    if (!text || len < TERM_MIN_LEN || ts->n == TERMS_MAX)
        return;
    for (i = 0; i < ts->n; i++)
        if (ts->t[i].len == len && !strncasecmp(ts->t[i].text, text, len))
            return;
    ts->t[ts->n++] = (term_t){text, len, repl};
}

static void term_add_json(terms_t *ts, const json_t *v, const char *repl)
{
    if (json_is_string(v))
        term_add(ts, json_string_value(v), json_string_length(v), repl);
}

static int term_cmp(const void *a, const void *b)
{
    const term_t *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

/* ASCII case-insensitive comparison of n bytes (a NUL byte compares as
 * itself, unlike strncasecmp). */
static bool same_ci(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* New string with every term replaced, longest term first at each
 * position, in one pass (a replacement is never scanned again). NULL
 * when out of memory. */
static json_t *scrub_string(const terms_t *ts, const char *s, size_t len)
{
    size_t cap = len + 1, n = 0, i = 0, k;
    char *buf = malloc(cap);
    json_t *r;

    if (!buf)
        return NULL;
    while (i < len) {
        const term_t *hit = NULL;
        for (k = 0; k < ts->n && !hit; k++)
            if (ts->t[k].len <= len - i &&
                same_ci(s + i, ts->t[k].text, ts->t[k].len))
                hit = &ts->t[k];
        const char *add = hit ? hit->repl : s + i;
        size_t alen = hit ? strlen(hit->repl) : 1;
        if (n + alen + 1 > cap) {
            char *nb;
            cap = (n + alen + 1) * 2;
            if (!(nb = realloc(buf, cap))) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + n, add, alen);
        n += alen;
        i += hit ? hit->len : 1;
    }
    r = json_stringn(buf, n);
    free(buf);
    return r;
}

/* Scrub every string under v (objects, arrays), in place. */
static bool scrub(const terms_t *ts, json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, m)
        {
            if (json_is_string(m)) {
                json_t *s = scrub_string(ts, json_string_value(m),
                                         json_string_length(m));
                if (!s || json_object_set_new(v, k, s))
                    return false;
            } else if (!scrub(ts, m))
                return false;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            if (json_is_string(m)) {
                json_t *s = scrub_string(ts, json_string_value(m),
                                         json_string_length(m));
                if (!s || json_array_set_new(v, i, s))
                    return false;
            } else if (!scrub(ts, m))
                return false;
        }
    }
    return true;
}

/* ---- times ------------------------------------------------------------ */

static cishare_err_t coarsen(json_t *obj, const char *field, const char *where,
                             rounding_t rnd, int64_t unit, char *errstr,
                             size_t errstr_size)
{
    json_t *v = json_object_get(obj, field);
    int64_t ms;
    char buf[32];

    if (!v || json_is_null(v))
        return CISHARE_OK;
    if (json_is_integer(v))
        ms = (int64_t)json_integer_value(v);
    else if (!json_is_string(v) ||
             !cishare_time_parse(json_string_value(v), &ms))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s%s: expected an RFC 3339 time or integer "
                               "milliseconds",
                               where, field);
    if (!cishare_time_in_range(ms))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s%s: time out of range", where, field);
    if (unit > 1)
        ms = rnd == T_FLOOR ? floor_to(ms, unit) : ceil_to(ms, unit);
    cishare_time_format(ms, buf);
    if (json_object_set_new(obj, field, json_string(buf)))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    return CISHARE_OK;
}

/* ---- the copy --------------------------------------------------------- */

cishare_err_t cishare_anonymise(const json_t *msg,
                                const cishare_participant_t *reporter,
                                const cishare_directory_t *dir,
                                const cishare_anonymise_opts_t *o,
                                json_t **outp, char *errstr, size_t errstr_size)
{
    const type_rules_t *r = NULL;
    const json_t *payload, *jv;
    const char *tname, *sector = NULL;
    cishare_msgtype_t type;
    json_t *out = NULL, *p = NULL;
    terms_t ts = {.n = 0};
    char pseudonym[256], uuid[37], newid[64];
    int64_t unit = unit_of(o);
    cishare_err_t err;
    size_t i;

    if (outp)
        *outp = NULL;
    if (!msg || !reporter || !dir || !outp)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "anonymise: missing argument");
    if (unit < 1)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "anonymise: the time unit must be at least "
                               "1 ms, got %lld",
                               (long long)unit);
    if (!json_is_object(msg))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message: expected a JSON object");
    tname = json_string_value(json_object_get(msg, "type"));
    if (!tname || !cishare_msgtype_parse(tname, &type))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "type: expected a message type");
    for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (rules[i].type == type)
            r = &rules[i];
    if (!r)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "type: '%s' cannot be anonymised (only "
                               "incident, indicator and sighting)",
                               tname);
    payload = json_object_get(msg, "payload");
    if (!json_is_object(payload))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "payload: expected a JSON object");
    jv = json_object_get(msg, "origin");
    if (jv && !json_is_null(jv) &&
        (!json_is_string(jv) || strcmp(json_string_value(jv), reporter->id)))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "origin: the message names another origin "
                               "than the reporter '%s'",
                               reporter->id);
    jv = json_object_get(msg, "sector");
    if (json_is_string(jv))
        sector = json_string_value(jv);
    if (o && o->pseudonym)
        snprintf(pseudonym, sizeof(pseudonym), "%s", o->pseudonym);
    else
        cishare_anonymise_pseudonym(reporter, dir, sector, pseudonym,
                                    sizeof(pseudonym));

    /* What identifies the reporter or the original, wherever it appears
     * in text: the reporter as the pseudonym, references as withheld. */
    term_add(&ts, reporter->id, strlen(reporter->id), pseudonym);
    if (reporter->name)
        term_add(&ts, reporter->name, strlen(reporter->name), pseudonym);
    if (reporter->principal)
        term_add(&ts, reporter->principal, strlen(reporter->principal),
                 pseudonym);
    term_add(&ts, reporter->key_id, strlen(reporter->key_id), WITHHELD);
    for (i = 0; i < reporter->key_cnt; i++)
        term_add(&ts, reporter->keys[i].key_id,
                 strlen(reporter->keys[i].key_id), WITHHELD);
    term_add_json(&ts, json_object_get(msg, "message_id"), WITHHELD);
    term_add_json(&ts, json_object_get(msg, "key_id"), WITHHELD);
    term_add_json(&ts, json_object_get(payload, "id"), WITHHELD);
    for (i = 0; r->nulled[i]; i++)
        term_add_json(&ts, json_object_get(payload, r->nulled[i]), WITHHELD);
    for (i = 0; r->emptied[i]; i++) {
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(payload, r->emptied[i]), j, e)
            term_add_json(&ts, e, WITHHELD);
    }
    if (type == CISHARE_MSG_INCIDENT) {
        term_add_json(&ts, json_object_get(payload, "operator_overview"),
                      pseudonym);
        term_add_json(&ts, json_object_get(payload, "affected_system"),
                      WITHHELD);
    }
    if (ts.n > 1) /* ts.t is NULL without terms: not for qsort */
        qsort(ts.t, ts.n, sizeof(ts.t[0]), term_cmp);

    if (!(out = json_object()) || !(p = json_deep_copy(payload)))
        goto nomem;
    if (!scrub(&ts, p))
        goto nomem;
    cishare_uuid_v4(uuid);
    snprintf(newid, sizeof(newid), "%s--%s", cishare_payload_id_prefix(type),
             uuid);
    if (json_object_set_new(p, "id", json_string(newid)))
        goto nomem;
    for (i = 0; r->nulled[i]; i++)
        if (json_object_get(p, r->nulled[i]) &&
            json_object_set_new(p, r->nulled[i], json_null()))
            goto nomem;
    for (i = 0; r->emptied[i]; i++)
        if (json_object_get(p, r->emptied[i]) &&
            json_object_set_new(p, r->emptied[i], json_array()))
            goto nomem;
    if (json_object_get(p, "anonymise") &&
        json_object_set_new(p, "anonymise", json_false()))
        goto nomem;
    if (type == CISHARE_MSG_INCIDENT &&
        (json_object_set_new(p, "operator_overview", json_string(pseudonym)) ||
         json_object_set_new(p, "affected_system", json_string(WITHHELD))))
        goto nomem;
    for (i = 0; r->times[i].name; i++)
        if ((err = coarsen(p, r->times[i].name, "payload.", r->times[i].rnd,
                           unit, errstr, errstr_size)))
            goto fail;

    if (json_object_set_new(out, "type", json_string(tname)))
        goto nomem;
    jv = json_object_get(msg, "tlp");
    if (jv && !json_is_null(jv) && json_object_set(out, "tlp", (json_t *)jv))
        goto nomem;
    jv = json_object_get(msg, "expires");
    if (jv && !json_is_null(jv)) {
        if (json_object_set(out, "expires", (json_t *)jv))
            goto nomem;
        if ((err = coarsen(out, "expires", "", T_CEIL, unit, errstr,
                           errstr_size)))
            goto fail;
    }
    if (o && o->audience &&
        json_object_set_new(out, "audience", json_string(o->audience)))
        goto nomem;
    if (json_object_set_new(out, "payload", p)) {
        p = NULL;
        goto nomem;
    }
    *outp = out;
    return CISHARE_OK;
nomem:
    err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                          "out of memory");
fail:
    json_decref(p);
    json_decref(out);
    return err;
}
