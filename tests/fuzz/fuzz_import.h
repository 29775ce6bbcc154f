/*
 * Shared body of the importer fuzz targets (fuzz_import_<format>.c): one
 * input is one file's content through cishare_import_buf() in a fixed
 * format. Named "(stdin)" so that a MISP feed manifest reads no event
 * files: the targets touch no file.
 *
 * Properties: no crash, leak or UB; OK or an error with a message; every
 * imported record is a native message ({"type", "payload"} object) that
 * names its input record, and every issue has a reason.
 */
#ifndef CISHARE_FUZZ_IMPORT_H
#define CISHARE_FUZZ_IMPORT_H

#include "cishare/importer.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_issues(const cishare_import_issue_t *v, size_t cnt)
{
    size_t i;

    for (i = 0; i < cnt; i++)
        if (!v[i].record || !v[i].reason || !v[i].reason[0] || !v[i].detail)
            abort();
}

static int fuzz_import(cishare_import_format_t fmt, const uint8_t *data,
                       size_t size)
{
    cishare_import_result_t res;
    cishare_err_t err;
    char errstr[1024];
    size_t i;

    cishare_import_result_init(&res);
    errstr[0] = '\0';
    err = cishare_import_buf("(stdin)", (const char *)data, size, fmt, &res,
                             errstr, sizeof(errstr));
    if (err) {
        /* an error appends nothing and says why */
        if (!errstr[0] || res.cnt || res.rejected_cnt || res.skipped_cnt)
            abort();
    }
    for (i = 0; i < res.cnt; i++) {
        json_t *m = res.recs[i].msg;
        char *text;
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "type")) ||
            !json_is_object(json_object_get(m, "payload")) ||
            !res.recs[i].record)
            abort();
        /* what publish does next with it */
        if (!(text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS)))
            abort();
        free(text);
    }
    fuzz_check_issues(res.rejected, res.rejected_cnt);
    fuzz_check_issues(res.skipped, res.skipped_cnt);
    cishare_import_result_clear(&res);
    return 0;
}

#endif
