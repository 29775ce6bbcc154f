/*
 * The example-directory fixture of the message tests: the directory of
 * deploy/examples (under $CISHARE_SRC, else ".") and a codec, loaded by
 * the group setup() and freed by teardown(), a fixed NOW, a participant by
 * id (P) and an example participant's key pair (load_kp). Include after
 * <cmocka.h>; pass setup and teardown to cmocka_run_group_tests().
 */
#ifndef TEST_FIXTURES_H
#define TEST_FIXTURES_H

#include "cishare/message.h"

#include <stdio.h>
#include <stdlib.h>

#define FIXTURE_UNUSED __attribute__((unused))

static cishare_codec_t *codec;
static cishare_directory_t *dir;
static FIXTURE_UNUSED const int64_t NOW =
    1795676400000LL; /* 2026-11-26T07:00:00Z */

static const char *src(void)
{
    const char *s = getenv("CISHARE_SRC");
    return s ? s : ".";
}

/* The key pair of example participant id (deploy/examples/keys). */
static FIXTURE_UNUSED void load_kp(const char *id, cishare_keypair_t *kp)
{
    char path[1024], err[512] = "";

    snprintf(path, sizeof(path), "%s/deploy/examples/keys/%s.key", src(), id);
    if (cishare_keypair_load(kp, path, err, sizeof(err)) != CISHARE_OK)
        fail_msg("%s", err);
}

/* Participant id of the example directory; fails the test if absent. */
static FIXTURE_UNUSED const cishare_participant_t *P(const char *id)
{
    const cishare_participant_t *p = cishare_directory_find(dir, id);
    assert_non_null(p);
    return p;
}

static int setup(void **state)
{
    char path[1024], err[1024] = "";

    (void)state;
    assert_int_equal(cishare_crypto_init(), CISHARE_OK);
    snprintf(path, sizeof(path), "%s/deploy/examples/directory.yaml", src());
    if (cishare_directory_load(path, NULL, &dir, err, sizeof(err)))
        fail_msg("%s", err);
    if (cishare_codec_new(&codec, err, sizeof(err)))
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_codec_destroy(codec);
    cishare_directory_destroy(dir);
    return 0;
}

#endif
