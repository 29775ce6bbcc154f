/*
 * Helpers shared by the unit tests: a private temporary folder per test,
 * whole files read into memory. Include after <cmocka.h>.
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

/* The whole file at path, NUL-terminated (malloc()ed; *lenp, if given,
 * gets its length without the NUL); NULL when it cannot be opened. */
static __attribute__((unused)) char *test_slurp_maybe(const char *path,
                                                      size_t *lenp)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    if (lenp)
        *lenp = (size_t)n;
    return buf;
}

/* Same, failing the test when the file cannot be opened. */
static __attribute__((unused)) char *test_slurp(const char *path, size_t *lenp)
{
    char *buf = test_slurp_maybe(path, lenp);

    if (!buf)
        fail_msg("cannot open %s", path);
    return buf;
}

#endif
