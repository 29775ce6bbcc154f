/*
 * Helpers shared by the unit tests: a private temporary folder per test.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* mkdtemp("/tmp/cishare-test-<tag>-XXXXXX") into dir. 0 or -1. */
static __attribute__((unused)) int test_tmpdir_make(char *dir, size_t size,
                                                    const char *tag)
{
    if ((size_t)snprintf(dir, size, "/tmp/cishare-test-%s-XXXXXX", tag) >= size)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

/* rm -rf dir (made by test_tmpdir_make). 0 or -1. */
static __attribute__((unused)) int test_tmpdir_remove(const char *dir)
{
    char cmd[320];

    if ((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= sizeof(cmd))
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

#endif
