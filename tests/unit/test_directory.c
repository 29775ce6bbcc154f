/*
 * Directory tests: validation vectors (tests/vectors/directory/NAME.yaml, each
 * with "# expect: <text>" lines that must all appear in the error report
 * and "# not: <text>" lines that must not), signatures (tampered, wrongly
 * signed, unsigned), the example directory.
 */
#include "cishare/codec.h"
#include "cishare/directory.h"
#include "cishare/keys.h"

#include <dirent.h>
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

#define ERRSZ 65536

static void spit(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

static const char *vectors_dir(void)
{
    const char *v = getenv("CISHARE_VECTORS");
    return v ? v : "tests/vectors";
}

static char *vector_path(const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/directory/%s", vectors_dir(), name) > 0);
    return p;
}

static void test_validation_vectors(void **state)
{
    DIR *d;
    struct dirent *de;
    char *errstr = malloc(ERRSZ);
    int files = 0, invalid = 0;

    (void)state;
    {
        char *dirpath;
        assert_true(asprintf(&dirpath, "%s/directory", vectors_dir()) > 0);
        d = opendir(dirpath);
        if (!d)
            fail_msg("cannot open %s", dirpath);
        free(dirpath);
    }
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name), len;
        char *path, *text, *line, *save = NULL;
        cishare_directory_t *dir = NULL;
        cishare_err_t err;
        int expects = 0;

        if (nl < 6 || strcmp(de->d_name + nl - 5, ".yaml"))
            continue;
        files++;
        path = vector_path(de->d_name);
        text = test_slurp(path, &len);
        errstr[0] = '\0';
        err = cishare_directory_load_unsigned(path, &dir, errstr, ERRSZ);
        for (line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            if (!strncmp(line, "# not: ", 7)) {
                if (strstr(errstr, line + 7))
                    fail_msg("%s: error report has '%s' (a follow-on "
                             "error); got:\n%s",
                             de->d_name, line + 7, errstr);
                continue;
            }
            if (strncmp(line, "# expect: ", 10))
                continue;
            expects++;
            if (!err)
                fail_msg("%s: accepted, expected error '%s'", de->d_name,
                         line + 10);
            if (!strstr(errstr, line + 10))
                fail_msg("%s: error report lacks '%s'; got:\n%s", de->d_name,
                         line + 10, errstr);
        }
        if (!expects && err)
            fail_msg("%s: refused: %s", de->d_name, errstr);
        if (expects) {
            invalid++;
            assert_null(dir);
            /* every error line names the file */
            assert_int_equal(strncmp(errstr, path, strlen(path)), 0);
        }
        cishare_directory_destroy(dir);
        free(text);
        free(path);
    }
    closedir(d);
    free(errstr);
    assert_true(files >= 20);
    assert_true(invalid >= 19);
}

/* All errors are reported, one per line, not just the first. */
static void test_all_errors_reported(void **state)
{
    char *path = vector_path("many-errors.yaml"), *errstr = malloc(ERRSZ), *p;
    cishare_directory_t *dir = NULL;
    int lines = 1;

    (void)state;
    assert_int_equal(cishare_directory_load_unsigned(path, &dir, errstr, ERRSZ),
                     CISHARE_ERR_VALIDATION);
    for (p = errstr; *p; p++)
        lines += *p == '\n';
    assert_true(lines >= 4);
    /* a tiny buffer keeps whole lines and says how many were dropped */
    assert_int_equal(cishare_directory_load_unsigned(path, &dir, errstr, 200),
                     CISHARE_ERR_VALIDATION);
    assert_true(strlen(errstr) < 200);
    assert_non_null(strstr(errstr, "more"));
    free(errstr);
    free(path);
}

static void test_example_directory(void **state)
{
    const char *src = getenv("CISHARE_SRC");
    char *path, errstr[4096];
    cishare_directory_t *dir = NULL;
    const cishare_participant_t *p, *q;
    const cishare_sector_t *s;

    (void)state;
    assert_true(asprintf(&path, "%s/deploy/examples/directory.yaml",
                         src ? src : ".") > 0);
    if (cishare_directory_load(path, NULL, &dir, errstr, sizeof(errstr)))
        fail_msg("example directory refused: %s", errstr);
    assert_int_equal(cishare_directory_participant_cnt(dir), 12);
    assert_int_equal(cishare_directory_sector_cnt(dir), 15);
    s = cishare_directory_sector_find(dir, "electricity");
    assert_non_null(s);
    assert_string_equal(s->name_ja, "電力");
    assert_null(cishare_directory_sector_find(dir, "space"));
    p = cishare_directory_find(dir, "op-power-a");
    assert_non_null(p);
    assert_int_equal(p->role, CISHARE_ROLE_OPERATOR);
    assert_string_equal(p->ceptoar, "ceptoar-electricity");
    assert_true(p->core_infrastructure);
    assert_string_equal(p->principal, "User:op-power-a");
    assert_true(cishare_participant_in_sector(p, "electricity"));
    assert_false(cishare_participant_in_sector(p, "gas"));
    q = cishare_directory_find_key(dir, p->key_id);
    assert_ptr_equal(p, q);
    assert_false(
        cishare_directory_find(dir, "op-power-b")->core_infrastructure);
    assert_int_equal(cishare_directory_find(dir, "min-meti")->sector_cnt, 5);
    /* the Action Plan: credit cards are METI's, not the FSA's */
    assert_true(cishare_participant_in_sector(
        cishare_directory_find(dir, "min-meti"), "credit"));
    assert_false(cishare_participant_in_sector(
        cishare_directory_find(dir, "min-fsa"), "credit"));
    assert_int_equal(cishare_directory_find(dir, "ceptoar-council")->role,
                     CISHARE_ROLE_CEPTOAR_COUNCIL);
    assert_int_equal(cishare_directory_find(dir, "nco")->role,
                     CISHARE_ROLE_COORDINATION_OFFICE);
    assert_null(cishare_directory_find(dir, "nobody"));
    assert_null(cishare_directory_find_key(dir, "0000000000000000"));
    assert_int_equal(strlen(cishare_directory_signer_key_id(dir)), 16);
    cishare_directory_destroy(dir);
    cishare_directory_destroy(NULL);
    free(path);
}

static int count_sig_lines(const char *text)
{
    int n = 0;
    const char *p = text;

    while ((p = strstr(p, CISHARE_DIRECTORY_SIG_PREFIX))) {
        n++;
        p++;
    }
    return n;
}

static void test_signatures(void **state)
{
    char *path = vector_path("valid.yaml"), *text, *signed_, *resigned, *forged,
         errstr[1024];
    size_t len, slen, rlen, i;
    cishare_keypair_t root, other;
    cishare_directory_t *dir = NULL;
    char *line;

    (void)state;
    text = test_slurp(path, &len);
    assert_int_equal(cishare_keypair_generate(&root), CISHARE_OK);
    assert_int_equal(cishare_keypair_generate(&other), CISHARE_OK);

    /* unsigned: refused */
    assert_int_equal(cishare_directory_load_buf("d", text, len, root.ed25519_pk,
                                                &dir, errstr, sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_null(dir);
    assert_non_null(strstr(errstr, "not signed"));

    /* signed: accepted */
    assert_int_equal(cishare_directory_sign_buf(text, len, &root, &signed_,
                                                &slen, errstr, sizeof(errstr)),
                     CISHARE_OK);
    if (cishare_directory_load_buf("d", signed_, slen, root.ed25519_pk, &dir,
                                   errstr, sizeof(errstr)))
        fail_msg("signed directory refused: %s", errstr);
    assert_string_equal(cishare_directory_signer_key_id(dir), root.key_id);
    cishare_directory_destroy(dir);
    dir = NULL;
    assert_int_equal(count_sig_lines(signed_), 1);
    assert_int_equal(memcmp(signed_, text, len), 0);

    /* re-signing replaces the line (same key: same bytes, Ed25519 is
     * deterministic) */
    assert_int_equal(cishare_directory_sign_buf(signed_, slen, &root, &resigned,
                                                &rlen, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(rlen, slen);
    assert_memory_equal(resigned, signed_, slen);
    free(resigned);

    /* one byte changed anywhere before the signature: refused */
    for (i = 0; i < len; i += len / 7) {
        char *t = malloc(slen + 1);
        memcpy(t, signed_, slen + 1);
        t[i] ^= 0x01;
        assert_int_equal(cishare_directory_load_buf("d", t, slen,
                                                    root.ed25519_pk, &dir,
                                                    errstr, sizeof(errstr)),
                         CISHARE_ERR_DIRECTORY);
        assert_null(dir);
        assert_non_null(strstr(errstr, "does not verify"));
        free(t);
    }
    /* the last byte of content, just before the signature line */
    {
        char *t = malloc(slen + 1);
        memcpy(t, signed_, slen + 1);
        t[len - 2] = t[len - 2] == 'x' ? 'y' : 'x';
        assert_int_equal(cishare_directory_load_buf("d", t, slen,
                                                    root.ed25519_pk, &dir,
                                                    errstr, sizeof(errstr)),
                         CISHARE_ERR_DIRECTORY);
        free(t);
    }
    /* content appended after the signature line: no longer signed */
    {
        char *t = malloc(slen + 64);
        memcpy(t, signed_, slen);
        memcpy(t + slen, "# extra\n", 9);
        assert_int_equal(cishare_directory_load_buf("d", t, slen + 8,
                                                    root.ed25519_pk, &dir,
                                                    errstr, sizeof(errstr)),
                         CISHARE_ERR_DIRECTORY);
        free(t);
    }
    free(signed_);

    /* signed by another key: refused, and the error names both keys */
    assert_int_equal(
        cishare_directory_sign_buf(text, len, &other, &signed_, &slen, NULL, 0),
        CISHARE_OK);
    assert_int_equal(cishare_directory_load_buf("d", signed_, slen,
                                                root.ed25519_pk, &dir, errstr,
                                                sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, other.key_id));
    assert_non_null(strstr(errstr, root.key_id));
    /* ... even when the line claims the root key id */
    forged = strdup(signed_);
    line = strstr(forged, CISHARE_DIRECTORY_SIG_PREFIX "ed25519 ");
    assert_non_null(line);
    memcpy(line + strlen(CISHARE_DIRECTORY_SIG_PREFIX "ed25519 "), root.key_id,
           CISHARE_KEY_ID_LEN);
    assert_int_equal(cishare_directory_load_buf("d", forged, slen,
                                                root.ed25519_pk, &dir, errstr,
                                                sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, "does not verify"));
    /* a malformed signature line */
    line[strlen(CISHARE_DIRECTORY_SIG_PREFIX) + 2] = 'X';
    assert_int_equal(cishare_directory_load_buf("d", forged, slen,
                                                root.ed25519_pk, &dir, errstr,
                                                sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, "malformed"));
    free(forged);
    free(signed_);

    /* content without a final newline gets one before the signature */
    assert_int_equal(cishare_directory_sign_buf(text, len - 1, &root, &signed_,
                                                &slen, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(cishare_directory_load_buf("d", signed_, slen,
                                                root.ed25519_pk, &dir, errstr,
                                                sizeof(errstr)),
                     CISHARE_OK);
    cishare_directory_destroy(dir);
    free(signed_);

    cishare_keypair_wipe(&root);
    cishare_keypair_wipe(&other);
    free(text);
    free(path);
}

/* cishare_directory_load(): root.pub beside the file, or --root-key. */
static void test_load_files(void **state)
{
    char tmpl[] = "/tmp/cishare-dir-test-XXXXXX", *dpath, *rpath, *opath;
    char *vpath = vector_path("valid.yaml"), *text, *signed_, errstr[1024];
    char b64[CISHARE_PK_B64_SIZE];
    size_t len, slen;
    cishare_keypair_t root, other;
    cishare_directory_t *dir = NULL;

    (void)state;
    assert_non_null(mkdtemp(tmpl));
    assert_true(asprintf(&dpath, "%s/directory.yaml", tmpl) > 0);
    assert_true(asprintf(&rpath, "%s/root.pub", tmpl) > 0);
    assert_true(asprintf(&opath, "%s/other.pub", tmpl) > 0);
    text = test_slurp(vpath, &len);
    assert_int_equal(cishare_keypair_generate(&root), CISHARE_OK);
    assert_int_equal(cishare_keypair_generate(&other), CISHARE_OK);
    assert_int_equal(
        cishare_directory_sign_buf(text, len, &root, &signed_, &slen, NULL, 0),
        CISHARE_OK);
    spit(dpath, signed_, slen);

    /* no root.pub: refused */
    assert_int_equal(
        cishare_directory_load(dpath, NULL, &dir, errstr, sizeof(errstr)),
        CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, "root.pub"));

    cishare_pk_to_base64(root.ed25519_pk, b64, sizeof(b64));
    {
        char *t;
        assert_true(asprintf(&t, "# root key\n%s\n", b64) > 0);
        spit(rpath, t, strlen(t));
        free(t);
    }
    cishare_pk_to_base64(other.ed25519_pk, b64, sizeof(b64));
    spit(opath, b64, strlen(b64));

    assert_int_equal(
        cishare_directory_load(dpath, NULL, &dir, errstr, sizeof(errstr)),
        CISHARE_OK);
    cishare_directory_destroy(dir);
    /* --root-key pointing to another key: refused */
    assert_int_equal(
        cishare_directory_load(dpath, opath, &dir, errstr, sizeof(errstr)),
        CISHARE_ERR_DIRECTORY);
    assert_null(dir);
    /* load_unsigned ignores the signature */
    assert_int_equal(
        cishare_directory_load_unsigned(dpath, &dir, errstr, sizeof(errstr)),
        CISHARE_OK);
    assert_string_equal(cishare_directory_signer_key_id(dir), "");
    cishare_directory_destroy(dir);

    unlink(dpath);
    unlink(rpath);
    unlink(opath);
    rmdir(tmpl);
    cishare_keypair_wipe(&root);
    cishare_keypair_wipe(&other);
    free(signed_);
    free(text);
    free(vpath);
    free(dpath);
    free(rpath);
    free(opath);
}

static void test_too_large(void **state)
{
    size_t len = CISHARE_DIRECTORY_MAX_SIZE + 1;
    char *buf = malloc(len), errstr[256];
    cishare_directory_t *dir = NULL;

    (void)state;
    memset(buf, '#', len);
    assert_int_equal(cishare_directory_load_buf("big", buf, len, NULL, &dir,
                                                errstr, sizeof(errstr)),
                     CISHARE_ERR_TOO_LARGE);
    assert_null(dir);
    free(buf);
}

static int64_t T(const char *text)
{
    int64_t ms;

    if (!cishare_time_parse(text, &ms))
        fail_msg("bad test time %s", text);
    return ms;
}

/* Expect cishare_key_check() to refuse, with every needle in the reason. */
static void check_refused(const cishare_signing_key_t *k, const char *created,
                          const char *now, const char *n1, const char *n2)
{
    char why[512] = "";

    assert_int_equal(cishare_key_check(k, T(created), T(now), why, sizeof(why)),
                     CISHARE_ERR_UNKNOWN_KEY);
    if (!strstr(why, n1) || (n2 && !strstr(why, n2)) ||
        !strstr(why, k->key_id) || !strstr(why, "'op-power-a'"))
        fail_msg("reason lacks '%s'/'%s'/key/participant: %s", n1, n2 ? n2 : "",
                 why);
}

static void check_ok(const cishare_signing_key_t *k, const char *created,
                     const char *now)
{
    char why[512] = "";

    if (cishare_key_check(k, T(created), T(now), why, sizeof(why)))
        fail_msg("refused (created %s, now %s): %s", created, now, why);
}

/* Signing-key validity: rotation overlap, after it, revocation, not yet
 * valid (tests/vectors/directory/valid-rotation.yaml). */
static void test_key_validity(void **state)
{
    char *path = vector_path("valid-rotation.yaml"), errstr[4096];
    cishare_directory_t *dir = NULL;
    const cishare_participant_t *p;
    const cishare_signing_key_t *cur, *old, *rev;

    (void)state;
    if (cishare_directory_load_unsigned(path, &dir, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
    p = cishare_directory_find(dir, "op-power-a");
    assert_non_null(p);
    assert_int_equal(p->key_cnt, 3);
    cur = cishare_directory_signing_key(dir, p->key_id);
    old = cishare_directory_signing_key(dir, "476c68bcc6fdee53");
    rev = cishare_directory_signing_key(dir, "23705c98f99bdead");
    assert_non_null(cur);
    assert_non_null(old);
    assert_non_null(rev);
    assert_ptr_equal(cur, &p->keys[0]);
    assert_true(cur->current);
    assert_false(old->current);
    assert_ptr_equal(old->owner, p);
    assert_ptr_equal(rev->owner, p);
    assert_ptr_equal(cishare_directory_find_key(dir, "476c68bcc6fdee53"), p);
    assert_null(cishare_directory_signing_key(dir, "0000000000000000"));
    /* other participants' keys have no bounds */
    assert_int_equal(cishare_directory_signing_key(
                         dir, cishare_directory_find(dir, "nco")->key_id)
                         ->valid_until_ms,
                     CISHARE_KEY_NO_END);

    /* overlap: the old key still signs until valid-until (inclusive) */
    check_ok(old, "2026-12-10T00:00:00Z", "2026-12-14T00:00:00Z");
    check_ok(old, "2026-12-14T23:00:00Z", "2026-12-15T00:00:00Z");
    /* after the overlap: nothing, whatever created time it claims */
    check_refused(old, "2026-12-10T00:00:00Z", "2026-12-15T00:00:01Z",
                  "expired at 2026-12-15T00:00:00Z", "rotation overlap ended");
    /* not yet valid */
    check_refused(old, "2024-12-31T23:59:59Z", "2026-12-01T00:00:00Z",
                  "valid only from 2025-01-01T00:00:00Z",
                  "message created 2024-12-31T23:59:59Z");
    check_refused(cur, "2026-11-30T23:00:00Z", "2026-12-01T00:00:00Z",
                  "valid only from 2026-12-01T00:00:00Z", NULL);
    check_ok(cur, "2026-12-01T00:00:00Z", "2030-01-01T00:00:00Z");
    /* revoked at T: created up to T passes, after T is refused */
    check_ok(rev, "2026-05-01T09:00:00Z", "2026-05-15T00:00:00Z");
    check_ok(rev, "2026-05-01T10:00:00Z", "2026-05-15T00:00:00Z");
    check_refused(rev, "2026-05-01T11:00:00Z", "2026-05-15T00:00:00Z",
                  "was revoked (compromised) at 2026-05-01T10:00:00Z",
                  "message created 2026-05-01T11:00:00Z");
    /* ... and after its overlap, even created before T */
    check_refused(rev, "2026-05-01T09:00:00Z", "2026-06-02T00:00:00Z",
                  "expired at 2026-06-01T00:00:00Z", NULL);

    assert_int_equal(cishare_directory_serial(dir), 1);
    assert_int_equal(cishare_directory_expires_ms(dir),
                     T("2030-12-31T00:00:00Z"));
    assert_null(cishare_directory_root_key(dir));
    /* expiry: refused from the expiry on, naming it and now */
    assert_int_equal(cishare_directory_check_expiry(dir, "d",
                                                    T("2030-12-30T23:59:59Z"),
                                                    errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_directory_check_expiry(dir, "d",
                                                    T("2031-01-02T00:00:00Z"),
                                                    errstr, sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, "expired at 2030-12-31T00:00:00Z"));
    assert_non_null(strstr(errstr, "now 2031-01-02T00:00:00Z"));
    cishare_directory_destroy(dir);
    free(path);
}

/* Several signature lines: each over the content before the first. */
static void test_cosign(void **state)
{
    char *path = vector_path("valid.yaml"), *text, *a, *b, *c, *d, errstr[1024];
    size_t len, alen, blen, clen, dlen;
    cishare_keypair_t k1, k2, k3;
    cishare_directory_t *d1 = NULL, *d2 = NULL;

    (void)state;
    text = test_slurp(path, &len);
    assert_int_equal(cishare_keypair_generate(&k1), CISHARE_OK);
    assert_int_equal(cishare_keypair_generate(&k2), CISHARE_OK);
    assert_int_equal(cishare_keypair_generate(&k3), CISHARE_OK);
    assert_int_equal(
        cishare_directory_sign_buf(text, len, &k1, &a, &alen, NULL, 0),
        CISHARE_OK);
    assert_int_equal(
        cishare_directory_cosign_buf(a, alen, &k2, &b, &blen, NULL, 0),
        CISHARE_OK);
    assert_int_equal(count_sig_lines(b), 2);
    assert_int_equal(cishare_directory_verify_buf("d", b, blen, k1.ed25519_pk,
                                                  errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_directory_verify_buf("d", b, blen, k2.ed25519_pk,
                                                  errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_directory_verify_buf("d", b, blen, k3.ed25519_pk,
                                                  errstr, sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, k1.key_id));
    assert_non_null(strstr(errstr, k2.key_id));
    assert_non_null(strstr(errstr, k3.key_id));
    /* co-signing again with a key replaces its line */
    assert_int_equal(
        cishare_directory_cosign_buf(b, blen, &k1, &c, &clen, NULL, 0),
        CISHARE_OK);
    assert_int_equal(count_sig_lines(c), 2);
    assert_int_equal(cishare_directory_verify_buf("d", c, clen, k1.ed25519_pk,
                                                  errstr, sizeof(errstr)),
                     CISHARE_OK);
    /* sign (not co-sign) replaces every line */
    assert_int_equal(
        cishare_directory_sign_buf(b, blen, &k3, &d, &dlen, NULL, 0),
        CISHARE_OK);
    assert_int_equal(count_sig_lines(d), 1);
    /* the version hash ignores signatures */
    assert_int_equal(cishare_directory_load_buf("d", a, alen, k1.ed25519_pk,
                                                &d1, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_directory_load_buf("d", b, blen, k2.ed25519_pk,
                                                &d2, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_memory_equal(cishare_directory_content_hash(d1),
                        cishare_directory_content_hash(d2),
                        CISHARE_DIRECTORY_HASH_BYTES);
    cishare_directory_destroy(d1);
    cishare_directory_destroy(d2);
    /* one altered content byte breaks both signatures */
    b[10] ^= 1;
    assert_int_equal(cishare_directory_verify_buf("d", b, blen, k2.ed25519_pk,
                                                  errstr, sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, "does not verify"));
    b[10] ^= 1;
    /* a malformed line in the block: refused, even beside a good one */
    b[blen - 5] = '*';
    assert_int_equal(cishare_directory_verify_buf("d", b, blen, k1.ed25519_pk,
                                                  errstr, sizeof(errstr)),
                     CISHARE_ERR_DIRECTORY);
    assert_non_null(strstr(errstr, "malformed signature line 2"));
    free(a);
    free(b);
    free(c);
    free(d);
    free(text);
    free(path);
    cishare_keypair_wipe(&k1);
    cishare_keypair_wipe(&k2);
    cishare_keypair_wipe(&k3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation_vectors),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_example_directory),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_load_files),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_key_validity),
        cmocka_unit_test(test_cosign),
    };
    if (cishare_crypto_init())
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
