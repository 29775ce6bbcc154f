/*
 * The store of the dedup tests: a private temporary folder (tmpdir) and
 * the log file in it (logpath), made by the group setup() and removed by
 * teardown(). Define DEDUP_TMPDIR_TAG (the folder's tag), then include
 * after <cmocka.h>; pass setup and teardown to cmocka_run_group_tests().
 */
#ifndef TEST_DEDUP_FIXTURE_H
#define TEST_DEDUP_FIXTURE_H

#include "test_util.h"

#include <stdio.h>

static char tmpdir[256];
static char logpath[300];

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir_make(tmpdir, sizeof(tmpdir), DEDUP_TMPDIR_TAG))
        return -1;
    snprintf(logpath, sizeof(logpath), "%s/seen.log", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

#endif
