/*
 * Helpers shared by the importer tests (test_import_*.c): load a sample
 * from CISHARE_SAMPLES and look records up by subject id.
 */
#ifndef IMPORT_TEST_UTIL_H
#define IMPORT_TEST_UTIL_H

#include "cishare/importer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static __attribute__((unused)) const char *samples_dir(void)
{
    const char *d = getenv("CISHARE_SAMPLES");

    return d ? d : "../shared/data/samples";
}

/* Import samples/<rel> into a fresh result; the import must succeed. */
static __attribute__((unused)) void load_sample(const char *rel,
                                                cishare_import_result_t *res)
{
    char path[4096], err[1024] = "";
    cishare_err_t e;

    snprintf(path, sizeof(path), "%s/%s", samples_dir(), rel);
    cishare_import_result_init(res);
    e = cishare_import_file(path, CISHARE_IMPORT_AUTO, res, err, sizeof(err));
    if (e)
        fprintf(stderr, "import %s: %s\n", rel, err);
    assert_int_equal(e, CISHARE_OK);
}

static __attribute__((unused)) cishare_err_t
load_text(const char *name, const char *text, cishare_import_result_t *res,
          char *err, size_t err_size)
{
    cishare_import_result_init(res);
    return cishare_import_buf(name, text, strlen(text), CISHARE_IMPORT_AUTO,
                              res, err, err_size);
}

static __attribute__((unused)) json_t *payload_of(json_t *msg)
{
    return json_object_get(msg, "payload");
}

/* The message whose payload "id" is id; fails the test when absent. */
static __attribute__((unused)) json_t *
find_msg(const cishare_import_result_t *res, const char *id)
{
    size_t i;

    for (i = 0; i < res->cnt; i++) {
        const char *pid = json_string_value(
            json_object_get(payload_of(res->recs[i].msg), "id"));
        if (pid && !strcmp(pid, id))
            return res->recs[i].msg;
    }
    fail_msg("no record with id %s", id);
    return NULL;
}

/* The first message whose payload "value" is value. */
static __attribute__((unused)) json_t *
find_value(const cishare_import_result_t *res, const char *value)
{
    size_t i;

    for (i = 0; i < res->cnt; i++) {
        const char *v = json_string_value(
            json_object_get(payload_of(res->recs[i].msg), "value"));
        if (v && !strcmp(v, value))
            return res->recs[i].msg;
    }
    fail_msg("no record with value %s", value);
    return NULL;
}

static __attribute__((unused)) const char *pstr(json_t *msg, const char *field)
{
    const char *s = json_string_value(json_object_get(payload_of(msg), field));

    return s ? s : "(absent)";
}

static __attribute__((unused)) const char *tlp_of(json_t *msg)
{
    const char *s = json_string_value(json_object_get(msg, "tlp"));

    return s ? s : "(none)";
}

static __attribute__((unused)) size_t
count_type(const cishare_import_result_t *res, const char *msgtype,
           const char *obstype)
{
    size_t i, n = 0;

    for (i = 0; i < res->cnt; i++) {
        json_t *m = res->recs[i].msg;
        if (strcmp(json_string_value(json_object_get(m, "type")), msgtype))
            continue;
        if (obstype && strcmp(pstr(m, "type"), obstype))
            continue;
        n++;
    }
    return n;
}

static __attribute__((unused)) size_t
count_reason(const cishare_import_issue_t *v, size_t cnt, const char *reason)
{
    size_t i, n = 0;

    for (i = 0; i < cnt; i++)
        if (!strcmp(v[i].reason, reason))
            n++;
    return n;
}

static __attribute__((unused)) bool has_label(json_t *msg, const char *label)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(payload_of(msg), "labels"), i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), label))
            return true;
    }
    return false;
}

#endif
