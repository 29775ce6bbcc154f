/*
 * Directory trust state: rollback, same serial with other content, expiry,
 * unknown root, tampering, root rotation, the state file itself.
 */
#include "cishare/codec.h"
#include "cishare/dirstate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

static char *base_text; /* tests/vectors/directory/valid.yaml */
static size_t base_len;
static cishare_keypair_t root1, root2, other;
static int64_t NOW; /* 2027-01-01T00:00:00Z */

typedef struct fixture_s {
    char dir[256];
    char path[320]; /* the state file */
} fixture_t;

static int64_t T(const char *text)
{
    int64_t ms;

    if (!cishare_time_parse(text, &ms))
        fail_msg("bad test time %s", text);
    return ms;
}

/*
 * valid.yaml with another serial, expiry, optional root-key and name of
 * the first participant, signed by each key of signers (NULL-terminated).
 * Caller frees.
 */
static char *make(unsigned serial, const char *expires,
                  const cishare_keypair_t *newroot, const char *name,
                  const cishare_keypair_t *const *signers, size_t *lenp)
{
    char *text, *out = NULL, *next;
    char b64[CISHARE_PK_B64_SIZE], top[256];
    const char *rest = strstr(base_text, "sectors:");
    size_t i, len, nlen;

    assert_non_null(rest);
    if (newroot)
        cishare_pk_to_base64(newroot->ed25519_pk, b64, sizeof(b64));
    snprintf(top, sizeof(top), "version: 1\nserial: %u\nexpires: %s\n%s%s%s",
             serial, expires, newroot ? "root-key: " : "", newroot ? b64 : "",
             newroot ? "\n" : "");
    assert_true(asprintf(&text, "%s%s", top, rest) > 0);
    if (name) {
        char *p = strstr(text, "name: Test nco");
        assert_non_null(p);
        memcpy(p + 6, name, 4); /* same length: "Test" -> name */
    }
    len = strlen(text);
    for (i = 0; signers[i]; i++) {
        assert_int_equal(i == 0
                             ? cishare_directory_sign_buf(text, len, signers[i],
                                                          &next, &nlen, NULL, 0)
                             : cishare_directory_cosign_buf(
                                   out, len, signers[i], &next, &nlen, NULL, 0),
                         CISHARE_OK);
        free(out);
        out = next;
        len = nlen;
    }
    free(text);
    *lenp = len;
    return out;
}

/* Accept a directory against the fixture's state at NOW. */
static cishare_err_t accept(fixture_t *fx, const char *text, size_t len,
                            char *errstr, size_t errstr_size)
{
    cishare_directory_t *dir = NULL;
    cishare_err_t err;

    err = cishare_dirstate_accept(fx->path, root1.ed25519_pk, "d.yaml", text,
                                  len, NOW, &dir, errstr, errstr_size);
    if (err)
        assert_null(dir);
    else
        assert_non_null(dir);
    cishare_directory_destroy(dir);
    return err;
}

static void expect_refused(fixture_t *fx, const char *text, size_t len,
                           const char *n1, const char *n2, const char *n3)
{
    char errstr[2048] = "";

    assert_int_equal(accept(fx, text, len, errstr, sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    if (!strstr(errstr, n1) || (n2 && !strstr(errstr, n2)) ||
        (n3 && !strstr(errstr, n3)))
        fail_msg("refusal lacks '%s' / '%s' / '%s': %s", n1, n2 ? n2 : "",
                 n3 ? n3 : "", errstr);
}

static void expect_accepted(fixture_t *fx, const char *text, size_t len)
{
    char errstr[2048] = "";

    if (accept(fx, text, len, errstr, sizeof(errstr)))
        fail_msg("refused: %s", errstr);
}

static uint64_t state_serial(fixture_t *fx)
{
    cishare_dirstate_t st;
    char errstr[512];

    if (cishare_dirstate_read(fx->path, &st, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
    return st.serial;
}

static const cishare_keypair_t *const BY_ROOT1[] = {&root1, NULL};
static const cishare_keypair_t *const BY_ROOT2[] = {&root2, NULL};
static const cishare_keypair_t *const BY_BOTH[] = {&root1, &root2, NULL};
static const cishare_keypair_t *const BY_OTHER[] = {&other, NULL};
#define EXP "2030-12-31T00:00:00Z"

static void test_rollback(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l2, l3;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s2 = make(2, EXP, NULL, "Tost", BY_ROOT1, &l2);
    char *s3 = make(3, EXP, NULL, "Tast", BY_ROOT1, &l3);

    assert_int_equal(state_serial(fx), 0); /* no file: empty state */
    expect_accepted(fx, s2, l2);
    assert_int_equal(state_serial(fx), 2);
    /* older: refused, naming both serials and the state file */
    expect_refused(fx, s1, l1, "serial 1 is older than serial 2", fx->path,
                   "rollback");
    assert_int_equal(state_serial(fx), 2);
    expect_accepted(fx, s2, l2); /* the same version again */
    expect_accepted(fx, s3, l3);
    assert_int_equal(state_serial(fx), 3);
    expect_refused(fx, s2, l2, "serial 2 is older than serial 3", NULL, NULL);
    assert_int_equal(state_serial(fx), 3);
    free(s1);
    free(s2);
    free(s3);
}

static void test_same_serial_other_content(void **state)
{
    fixture_t *fx = *state;
    size_t la, lb, lc;
    char *a = make(5, EXP, NULL, NULL, BY_ROOT1, &la);
    char *b = make(5, EXP, NULL, "Tost", BY_ROOT1, &lb);
    char *c = make(5, EXP, NULL, NULL, BY_BOTH, &lc);

    expect_accepted(fx, a, la);
    expect_refused(fx, b, lb, "serial 5 has other content", fx->path,
                   "higher serial");
    /* the same content with one more signature is the same version */
    expect_accepted(fx, c, lc);
    free(a);
    free(b);
    free(c);
}

static void test_expired(void **state)
{
    fixture_t *fx = *state;
    size_t l;
    char *s = make(1, "2026-12-31T23:59:59Z", NULL, NULL, BY_ROOT1, &l);

    expect_refused(fx, s, l, "expired at 2026-12-31T23:59:59Z",
                   "now 2027-01-01T00:00:00Z", NULL);
    assert_int_equal(access(fx->path, F_OK), -1); /* nothing recorded */
    free(s);
}

static void test_unknown_root_and_tampered(void **state)
{
    fixture_t *fx = *state;
    size_t l;
    char *s = make(1, EXP, NULL, NULL, BY_OTHER, &l);

    expect_refused(fx, s, l, other.key_id, root1.key_id, NULL);
    free(s);
    s = make(1, EXP, NULL, NULL, BY_ROOT1, &l);
    s[40] ^= 0x01;
    expect_refused(fx, s, l, "does not verify", NULL, NULL);
    s[40] ^= 0x01;
    /* unsigned */
    expect_refused(fx, s, (size_t)(strstr(s, "# cishare-signature") - s),
                   "not signed", NULL, NULL);
    assert_int_equal(access(fx->path, F_OK), -1);
    expect_accepted(fx, s, l);
    free(s);
}

static void test_root_rotation(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l2o, l2n, l2b, l3o, l3n, l3b;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s2_old = make(2, EXP, &root2, NULL, BY_ROOT1, &l2o);
    char *s2_new = make(2, EXP, &root2, NULL, BY_ROOT2, &l2n);
    char *s2_both = make(2, EXP, &root2, NULL, BY_BOTH, &l2b);
    char *s3_old = make(3, EXP, NULL, "Tost", BY_ROOT1, &l3o);
    char *s3_new = make(3, EXP, &root2, "Tost", BY_ROOT2, &l3n);
    char *s3_back = make(3, EXP, &root1, "Tast", BY_ROOT2, &l3b);
    cishare_dirstate_t st;
    char errstr[512];

    expect_accepted(fx, s1, l1);
    /* a new root signed by the current root only: refused */
    expect_refused(fx, s2_old, l2o, "new root key", root2.key_id,
                   "current root");
    /* ... by the new root only: not signed by the trusted root */
    expect_refused(fx, s2_new, l2n, root1.key_id, NULL, NULL);
    assert_int_equal(state_serial(fx), 1);
    /* by both: accepted, and the new root is trusted from now on */
    expect_accepted(fx, s2_both, l2b);
    assert_int_equal(
        cishare_dirstate_read(fx->path, &st, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_true(st.has_root);
    assert_memory_equal(st.root_pk, root2.ed25519_pk, 32);
    /* signed by the old root only: refused, saying why */
    expect_refused(fx, s3_old, l3o, root2.key_id, "root rotation", NULL);
    expect_accepted(fx, s3_new, l3n);
    assert_int_equal(state_serial(fx), 3);
    /* going back to the old root also needs both roots */
    expect_refused(fx, s3_back, l3b, "new root key", root1.key_id, NULL);
    free(s1);
    free(s2_old);
    free(s2_new);
    free(s2_both);
    free(s3_old);
    free(s3_new);
    free(s3_back);
}

/* The check alone writes nothing, and says what it would record. */
static void test_check_is_pure(void **state)
{
    fixture_t *fx = *state;
    cishare_dirstate_t empty = {0}, next;
    cishare_directory_t *dir = NULL;
    char errstr[512];
    size_t l;
    char *s = make(9, EXP, &root2, NULL, BY_BOTH, &l);

    assert_int_equal(cishare_dirstate_check(&empty, root1.ed25519_pk, "d", s, l,
                                            NOW, fx->path, &dir, &next, errstr,
                                            sizeof(errstr)),
                     CISHARE_OK);
    assert_non_null(dir);
    assert_int_equal(next.serial, 9);
    assert_memory_equal(next.root_pk, root2.ed25519_pk, 32);
    assert_memory_equal(next.hash, cishare_directory_content_hash(dir), 32);
    assert_int_equal(access(fx->path, F_OK), -1);
    cishare_directory_destroy(dir);
    /* against a state that accepted serial 10 */
    next.serial = 10;
    assert_int_equal(cishare_dirstate_check(&next, root1.ed25519_pk, "d", s, l,
                                            NOW, "S", &dir, &next, errstr,
                                            sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_null(dir);
    assert_non_null(strstr(errstr, "serial 9 is older than serial 10"));
    free(s);
}

static void test_state_file(void **state)
{
    fixture_t *fx = *state;
    cishare_dirstate_t st = {.serial = 42, .has_root = true}, back;
    char errstr[512];
    FILE *fp;

    memset(st.hash, 0xab, sizeof(st.hash));
    memcpy(st.root_pk, root2.ed25519_pk, 32);
    assert_int_equal(
        cishare_dirstate_write(fx->path, &st, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_int_equal(
        cishare_dirstate_read(fx->path, &back, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_int_equal(back.serial, 42);
    assert_memory_equal(back.hash, st.hash, sizeof(st.hash));
    assert_memory_equal(back.root_pk, st.root_pk, 32);
    /* damaged: refused, never read as "nothing accepted yet" */
    fp = fopen(fx->path, "w");
    assert_non_null(fp);
    fputs("cishare-directory-state 1\nserial 4x\n", fp);
    fclose(fp);
    assert_int_equal(
        cishare_dirstate_read(fx->path, &back, errstr, sizeof(errstr)),
        CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, "damaged (line 2)"));
    {
        size_t l;
        char *s = make(1, EXP, NULL, NULL, BY_ROOT1, &l);
        expect_refused(fx, s, l, "damaged", NULL, NULL);
        free(s);
    }
}

/* accept_file: root.pub beside the file, state folder created. */
static void test_accept_file(void **state)
{
    fixture_t *fx = *state;
    char dpath[320], rpath[320], spath[360], b64[CISHARE_PK_B64_SIZE];
    char errstr[1024];
    cishare_directory_t *dir = NULL;
    size_t l;
    char *s = make(7, EXP, NULL, NULL, BY_ROOT1, &l);
    FILE *fp;

    snprintf(dpath, sizeof(dpath), "%s/directory.yaml", fx->dir);
    snprintf(rpath, sizeof(rpath), "%s/root.pub", fx->dir);
    snprintf(spath, sizeof(spath), "%s/new/sub/directory.state", fx->dir);
    fp = fopen(dpath, "w");
    assert_non_null(fp);
    fwrite(s, 1, l, fp);
    fclose(fp);
    cishare_pk_to_base64(root1.ed25519_pk, b64, sizeof(b64));
    fp = fopen(rpath, "w");
    assert_non_null(fp);
    fprintf(fp, "%s\n", b64);
    fclose(fp);
    if (cishare_dirstate_accept_file(spath, dpath, NULL, NOW, &dir, errstr,
                                     sizeof(errstr)))
        fail_msg("%s", errstr);
    assert_int_equal(cishare_directory_serial(dir), 7);
    cishare_directory_destroy(dir);
    assert_int_equal(access(spath, F_OK), 0);
    free(s);
}

static int fx_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    assert_int_equal(test_tmpdir_make(fx->dir, sizeof(fx->dir), "dirstate"), 0);
    snprintf(fx->path, sizeof(fx->path), "%s/directory.state", fx->dir);
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture_t *fx = *state;

    test_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rollback, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_same_serial_other_content,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expired, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_root_and_tampered,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_root_rotation, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_check_is_pure, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_state_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_accept_file, fx_setup,
                                        fx_teardown),
    };
    const char *v = getenv("CISHARE_VECTORS");
    char path[1024];
    int rc;

    if (cishare_crypto_init() || cishare_keypair_generate(&root1) ||
        cishare_keypair_generate(&root2) || cishare_keypair_generate(&other))
        return 1;
    snprintf(path, sizeof(path), "%s/directory/valid.yaml",
             v ? v : "tests/vectors");
    base_text = test_slurp_maybe(path, &base_len);
    if (!base_text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    NOW = T("2027-01-01T00:00:00Z");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(base_text);
    return rc;
}
