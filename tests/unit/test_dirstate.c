/*
 * Directory trust state: rollback, same serial with other content, expiry,
 * unknown root, tampering, root rotation, the state file itself, the kept
 * copy of the accepted version (a restart after a version applied from the
 * directory topic) and the expiry of a directory in use.
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
    if (cishare_dirstate_accept_file(spath, dpath, NULL, NOW, true, &dir, NULL,
                                     0, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
    assert_int_equal(cishare_directory_serial(dir), 7);
    cishare_directory_destroy(dir);
    assert_int_equal(access(spath, F_OK), 0);
    free(s);
}

/* ---- the kept copy ---- */

static void write_file(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* The configured file: fx->dir/directory.yaml, root.pub (root1) beside. */
static void put_file(fixture_t *fx, const char *text, size_t len)
{
    char path[400], b64[CISHARE_PK_B64_SIZE + 1];
    size_t n;

    snprintf(path, sizeof(path), "%s/directory.yaml", fx->dir);
    write_file(path, text, len);
    snprintf(path, sizeof(path), "%s/root.pub", fx->dir);
    cishare_pk_to_base64(root1.ed25519_pk, b64, sizeof(b64) - 1);
    n = strlen(b64);
    b64[n] = '\n';
    write_file(path, b64, n + 1);
}

static const char *kept_path(fixture_t *fx)
{
    static char path[400];

    snprintf(path, sizeof(path), "%s/%s", fx->dir, CISHARE_DIRSTATE_KEPT_FILE);
    return path;
}

/* Load the configured file at `now` against the fixture's state, as a
 * client starts: the serial in use (0: refused, errstr says why). */
static uint64_t load_at(fixture_t *fx, int64_t now, char *note,
                        size_t note_size, char *errstr, size_t errstr_size)
{
    char dpath[400];
    cishare_directory_t *dir = NULL;
    uint64_t serial = 0;

    snprintf(dpath, sizeof(dpath), "%s/directory.yaml", fx->dir);
    if (!cishare_dirstate_accept_file(fx->path, dpath, NULL, now, true, &dir,
                                      note, note_size, errstr, errstr_size)) {
        assert_non_null(dir);
        serial = cishare_directory_serial(dir);
    } else {
        assert_null(dir);
    }
    cishare_directory_destroy(dir);
    return serial;
}

static uint64_t load(fixture_t *fx, char *note, size_t note_size, char *errstr,
                     size_t errstr_size)
{
    return load_at(fx, NOW, note, note_size, errstr, errstr_size);
}

/* Every accept keeps the exact bytes of the accepted version. */
static void test_kept_copy_written(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l2, kl;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s2 = make(2, EXP, NULL, "Tost", BY_ROOT1, &l2);
    char *k;

    expect_accepted(fx, s1, l1);
    k = test_slurp(kept_path(fx), &kl);
    assert_int_equal(kl, l1);
    assert_memory_equal(k, s1, l1);
    free(k);
    expect_accepted(fx, s2, l2);
    k = test_slurp(kept_path(fx), &kl);
    assert_int_equal(kl, l2);
    assert_memory_equal(k, s2, l2);
    free(k);
    /* refused: the copy stays */
    expect_refused(fx, s1, l1, "older", NULL, NULL);
    k = test_slurp(kept_path(fx), &kl);
    assert_memory_equal(k, s2, l2);
    free(k);
    /* the same version again, copy lost: written again */
    assert_int_equal(unlink(kept_path(fx)), 0);
    expect_accepted(fx, s2, l2);
    assert_int_equal(access(kept_path(fx), F_OK), 0);
    free(s1);
    free(s2);
}

/* A version applied from the topic (serial 2) is still in use at the
 * next start, although the configured file holds serial 1. */
static void test_kept_copy_restart(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l2, l3;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s2 = make(2, EXP, NULL, "Tost", BY_ROOT1, &l2);
    char *s3 = make(3, EXP, NULL, "Tast", BY_ROOT1, &l3);
    char note[1024], errstr[2048] = "";
    uint64_t serial;

    put_file(fx, s1, l1);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 1);
    assert_string_equal(note, "");
    expect_accepted(fx, s2, l2); /* from the directory topic */
    /* restart on the serial 1 file: serial 2, and said so */
    serial = load(fx, note, sizeof(note), errstr, sizeof(errstr));
    if (serial != 2)
        fail_msg("restart after serial 2 was applied: %s", errstr);
    if (!strstr(note, "using directory serial 2") ||
        !strstr(note, kept_path(fx)) || !strstr(note, "holds serial 1"))
        fail_msg("note: %s", note);
    /* and again (nothing changed on disk) */
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 2);
    assert_int_equal(state_serial(fx), 2);
    /* a newer file is used as before, and kept */
    put_file(fx, s3, l3);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 3);
    assert_string_equal(note, "");
    assert_int_equal(state_serial(fx), 3);
    put_file(fx, s1, l1);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 3);
    free(s1);
    free(s2);
    free(s3);
}

/* Without use_kept (provision: the admin's own file), an older file is
 * refused as a rollback although a newer copy is kept. */
static void test_kept_copy_not_for_admin_file(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l2;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s2 = make(2, EXP, NULL, "Tost", BY_ROOT1, &l2);
    char dpath[400], errstr[2048] = "";
    cishare_directory_t *dir = NULL;

    put_file(fx, s1, l1);
    expect_accepted(fx, s2, l2);
    snprintf(dpath, sizeof(dpath), "%s/directory.yaml", fx->dir);
    assert_int_equal(cishare_dirstate_accept_file(fx->path, dpath, NULL, NOW,
                                                  false, &dir, NULL, 0, errstr,
                                                  sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_null(dir);
    assert_non_null(strstr(errstr, "serial 1 is older than serial 2"));
    free(s1);
    free(s2);
}

/* After a root rotation from the topic, the file (signed by the old root
 * only, which the pinned root.pub still names) is older: the kept copy. */
static void test_kept_copy_root_rotation(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l2;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s2 = make(2, EXP, &root2, NULL, BY_BOTH, &l2);
    char note[1024], errstr[2048] = "";
    uint64_t serial;

    put_file(fx, s1, l1);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 1);
    expect_accepted(fx, s2, l2);
    serial = load(fx, note, sizeof(note), errstr, sizeof(errstr));
    if (serial != 2)
        fail_msg("restart after a root rotation: %s", errstr);
    assert_non_null(strstr(note, "holds serial 1"));
    free(s1);
    free(s2);
}

/* The kept copy replaces only a genuine older file: a tampered file, one
 * by an unknown root, the same serial with other content or a newer but
 * expired one get their verdict of today. */
static void test_kept_copy_not_for_bad_files(void **state)
{
    fixture_t *fx = *state;
    size_t l2, lo, lx, lu;
    char *s2 = make(2, EXP, NULL, "Tost", BY_ROOT1, &l2);
    char *other2 = make(2, EXP, NULL, "Tast", BY_ROOT1, &lo);
    char *exp3 = make(3, "2026-12-31T23:59:59Z", NULL, NULL, BY_ROOT1, &lx);
    char *unk1 = make(1, EXP, NULL, NULL, BY_OTHER, &lu);
    char note[1024], errstr[2048];

    expect_accepted(fx, s2, l2);
    s2[40] ^= 0x01; /* tampered */
    put_file(fx, s2, l2);
    s2[40] ^= 0x01;
    errstr[0] = '\0';
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 0);
    assert_non_null(strstr(errstr, "does not verify"));
    put_file(fx, unk1, lu);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 0);
    assert_non_null(strstr(errstr, other.key_id));
    put_file(fx, other2, lo);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 0);
    assert_non_null(strstr(errstr, "other content"));
    put_file(fx, exp3, lx);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 0);
    assert_non_null(strstr(errstr, "expired"));
    assert_int_equal(state_serial(fx), 2);
    free(s2);
    free(other2);
    free(exp3);
    free(unk1);
}

/* The kept copy is checked like any candidate: tampered on disk, or
 * expired, it is refused, and the refusal says so. */
static void test_kept_copy_checked(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l2, kl;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s2 = make(2, "2027-01-01T01:00:00Z", NULL, "Tost", BY_ROOT1, &l2);
    char note[1024], errstr[2048];
    char *k;

    put_file(fx, s1, l1);
    expect_accepted(fx, s2, l2);
    /* expired meanwhile: no fallback to the older file either */
    errstr[0] = '\0';
    assert_int_equal(load_at(fx, T("2027-01-01T02:00:00Z"), note, sizeof(note),
                             errstr, sizeof(errstr)),
                     0);
    if (!strstr(errstr, "kept copy is refused too") ||
        !strstr(errstr, "serial 2 expired at 2027-01-01T01:00:00Z"))
        fail_msg("refusal: %s", errstr);
    /* tampered on disk */
    k = test_slurp(kept_path(fx), &kl);
    k[40] ^= 0x01;
    write_file(kept_path(fx), k, kl);
    free(k);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 0);
    if (!strstr(errstr, "serial 1 is older than serial 2") ||
        !strstr(errstr, "does not verify"))
        fail_msg("refusal: %s", errstr);
    free(s1);
    free(s2);
}

/* A crash between the kept copy and the state leaves a copy newer than
 * the state: the next start uses it and records it. */
static void test_kept_copy_newer_than_state(void **state)
{
    fixture_t *fx = *state;
    size_t l1, l3;
    char *s1 = make(1, EXP, NULL, NULL, BY_ROOT1, &l1);
    char *s3 = make(3, EXP, NULL, "Tast", BY_ROOT1, &l3);
    char note[1024], errstr[2048] = "";

    put_file(fx, s1, l1);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 1);
    write_file(kept_path(fx), s3, l3);
    assert_int_equal(load(fx, note, sizeof(note), errstr, sizeof(errstr)), 3);
    assert_int_equal(state_serial(fx), 3);
    free(s1);
    free(s3);
}

/* A running client's directory: in force until its expiry, then refused
 * with its serial, its expiry and now. */
static void test_check_in_force(void **state)
{
    size_t l;
    char *s = make(4, "2027-01-01T00:00:10Z", NULL, NULL, BY_ROOT1, &l);
    cishare_directory_t *dir = NULL;
    char errstr[1024] = "";

    (void)state;
    assert_int_equal(cishare_directory_load_buf("d", s, l, root1.ed25519_pk,
                                                &dir, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(
        cishare_dirstate_check_in_force(dir, NOW, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_int_equal(cishare_dirstate_check_in_force(dir,
                                                     T("2027-01-01T00:00:09Z"),
                                                     errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_dirstate_check_in_force(dir,
                                                     T("2027-01-01T00:00:10Z"),
                                                     errstr, sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    if (!strstr(errstr, "serial 4") ||
        !strstr(errstr, "expired at 2027-01-01T00:00:10Z") ||
        !strstr(errstr, "now 2027-01-01T00:00:10Z"))
        fail_msg("reason: %s", errstr);
    cishare_directory_destroy(dir);
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
        cmocka_unit_test_setup_teardown(test_kept_copy_written, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_kept_copy_restart, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_kept_copy_not_for_admin_file,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kept_copy_root_rotation, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_kept_copy_not_for_bad_files,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kept_copy_checked, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_kept_copy_newer_than_state,
                                        fx_setup, fx_teardown),
        cmocka_unit_test(test_check_in_force),
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
