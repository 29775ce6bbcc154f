/*
 * cishare - checks and builds the sighting message of `cishare sighting`
 * (see sighting.h for the addressing rules).
 */
#include "sighting.h"

#include "cishare/codec.h"
#include "cishare/envelope.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cishare_err_t cishare_subject_check(const char *what, const char *subject,
                                    char *errstr, size_t errstr_size)
{
    static const char *const prefixes[] = {"indicator--", "incident--",
                                           "alert--"};
    const char *p = NULL;
    size_t i, len;

    if (!subject || !*subject)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s: a subject id is required, e.g. "
                               "indicator--<uuid>",
                               what);
    len = strlen(subject);
    if (len > CISHARE_SUBJECT_MAX_LEN)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s: subject id of %zu bytes, more than %d",
                               what, len, CISHARE_SUBJECT_MAX_LEN);
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (!strncmp(subject, prefixes[i], strlen(prefixes[i])))
            p = subject + strlen(prefixes[i]);
    if (!p || !*p)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s '%.80s': not a subject id (indicator--..., "
                               "incident--... or alert--...)",
                               what, subject);
    for (; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ',')
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "%s '%.80s': a subject id holds printable "
                                   "ASCII only (no spaces, commas or "
                                   "control characters)",
                                   what, subject);
    return CISHARE_OK;
}

/* An RFC 3339 time of option `what` into *msp, not later than the clock
 * allows. */
static cishare_err_t check_time(const char *what, const char *text,
                                int64_t now_ms, int64_t *msp, char *errstr,
                                size_t errstr_size)
{
    if (!cishare_time_parse(text, msp))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s '%.80s': not an RFC 3339 time (e.g. "
                               "2026-11-26T07:00:00Z)",
                               what, text);
    if (*msp > now_ms + CISHARE_SIGHTING_SKEW_MS)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s '%.80s': in the future", what, text);
    if (*msp <= 0)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s '%.80s': before 1970", what, text);
    return CISHARE_OK;
}

/* The checks of cishare_sighting_check(), with the parsed values. */
static cishare_err_t check(const cishare_sighting_opts_t *o, int64_t now_ms,
                           long *countp, int64_t *fsp, int64_t *lsp,
                           char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    *countp = 1;
    *fsp = *lsp = 0;
    if ((err = cishare_subject_check("--subject", o->subject, errstr,
                                     errstr_size)))
        return err;
    if (!o->origin || !*o->origin)
        return cishare_err_set(
            CISHARE_ERR_VALIDATION, errstr, errstr_size,
            "--origin: the participant that published the subject is "
            "required (the sighting goes back to it)");
    if (o->count) {
        char *end;
        const char *c = o->count;
        errno = 0;
        *countp = strtol(c, &end, 10);
        if (c[0] < '0' || c[0] > '9' || *end || errno || *countp < 1 ||
            *countp > INT32_MAX)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "--count '%.40s': a whole number from 1 to "
                                   "%d",
                                   c, INT32_MAX);
    }
    if (o->first_seen && (err = check_time("--first-seen", o->first_seen,
                                           now_ms, fsp, errstr, errstr_size)))
        return err;
    if (o->last_seen && (err = check_time("--last-seen", o->last_seen, now_ms,
                                          lsp, errstr, errstr_size)))
        return err;
    if (*fsp && *lsp && *lsp < *fsp)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "--last-seen %s is before --first-seen %s",
                               o->last_seen, o->first_seen);
    if (o->note && strlen(o->note) > CISHARE_SIGHTING_NOTE_MAX)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "--note: %zu bytes, more than %d",
                               strlen(o->note), CISHARE_SIGHTING_NOTE_MAX);
    if (o->note) {
        json_t *j = json_string(o->note); /* NULL: not UTF-8 */
        if (!j)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "--note: not valid UTF-8");
        json_decref(j);
    }
    return CISHARE_OK;
}

cishare_err_t cishare_sighting_check(const cishare_sighting_opts_t *o,
                                     int64_t now_ms, char *errstr,
                                     size_t errstr_size)
{
    long count;
    int64_t fs, ls;

    return check(o, now_ms, &count, &fs, &ls, errstr, errstr_size);
}

cishare_err_t cishare_sighting_build(const cishare_directory_t *dir,
                                     const cishare_participant_t *me,
                                     const cishare_sighting_opts_t *o,
                                     int64_t now_ms, json_t **msgp,
                                     char *errstr, size_t errstr_size)
{
    const cishare_participant_t *origin;
    json_t *msg = NULL, *p = NULL;
    char uuid[37], id[64], t[32], aud[CISHARE_ID_MAX_LEN + 16];
    long count;
    int64_t fs, ls;
    cishare_err_t err;

    *msgp = NULL;
    if ((err = check(o, now_ms, &count, &fs, &ls, errstr, errstr_size)))
        return err;
    if (!(origin = cishare_directory_find(dir, o->origin)))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "--origin '%.80s': no such participant in the "
                               "directory",
                               o->origin);
    if (origin == me || !strcmp(origin->id, me->id))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "--origin %s: that is %s itself; a sighting "
                               "goes back to the participant that published "
                               "the subject",
                               origin->id, me->id);
    if (o->anonymise) {
        if (!me->ceptoar || !cishare_directory_find(dir, me->ceptoar))
            return cishare_err_set(
                CISHARE_ERR_VALIDATION, errstr, errstr_size,
                "--anonymise: %s has no CEPTOAR in the directory to "
                "anonymise the sighting",
                me->id);
        snprintf(aud, sizeof(aud), "participant:%s", me->ceptoar);
    } else {
        snprintf(aud, sizeof(aud), "participant:%s", origin->id);
    }

    cishare_uuid_v4(uuid);
    snprintf(id, sizeof(id), "sighting--%s", uuid);
    cishare_time_format(now_ms, t);
    if (!(p = json_object()) || json_object_set_new(p, "id", json_string(id)) ||
        json_object_set_new(p, "created", json_string(t)) ||
        json_object_set_new(p, "sighting_of", json_string(o->subject)) ||
        json_object_set_new(p, "sighting_of_origin", json_string(origin->id)) ||
        json_object_set_new(p, "count", json_integer(count)) ||
        json_object_set_new(p, "false_positive",
                            json_boolean(o->false_positive)) ||
        json_object_set_new(p, "anonymise", json_boolean(o->anonymise)))
        goto nomem;
    if (fs) {
        cishare_time_format(fs, t);
        if (json_object_set_new(p, "first_seen", json_string(t)))
            goto nomem;
    }
    if (ls) {
        cishare_time_format(ls, t);
        if (json_object_set_new(p, "last_seen", json_string(t)))
            goto nomem;
    }
    if (o->note && *o->note &&
        json_object_set_new(p, "description", json_string(o->note)))
        goto nomem;
    if (!(msg = json_pack("{s:s,s:s,s:[s],s:o}", "type", "sighting", "tlp",
                          "amber", "audience", aud, "payload", p)))
        goto nomem; /* json_pack took p, even on failure */
    *msgp = msg;
    return CISHARE_OK;
nomem:
    json_decref(p);
    return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                           "out of memory");
}
