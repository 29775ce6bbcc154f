/*
 * Unit tests of the de-duplication store (consumers/dedup.c): lookups,
 * persistence across reopen, torn tails, sink marks, compaction, memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "dedup.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEDUP_TMPDIR_TAG "dedup"
#include "dedup_fixture.h"

static void make_id(uint32_t i, uint8_t id[16])
{
    char text[64];
    /* UUID-shaped ids, as the envelope carries. */
    snprintf(text, sizeof(text), "%08x-1234-4abc-8def-%012x", i * 2654435761u,
             i);
    cishare_dedup_id_from_text(text, id);
}

static cishare_dedup_t *open_ok(void)
{
    cishare_dedup_t *d = NULL;
    char errstr[256] = "";
    cishare_err_t err = cishare_dedup_open(logpath, &d, errstr, sizeof(errstr));
    if (err)
        fail_msg("open: %s", errstr);
    return d;
}

static void commit_ok(cishare_dedup_t *d)
{
    char errstr[256] = "";
    if (cishare_dedup_commit(d, errstr, sizeof(errstr)))
        fail_msg("commit: %s", errstr);
}

static void test_id_from_text(void **state)
{
    uint8_t a[16], b[16], c[16];
    (void)state;
    cishare_dedup_id_from_text("0123abcd-0000-4000-8000-00000000ffee", a);
    assert_int_equal(a[0], 0x01);
    assert_int_equal(a[3], 0xcd);
    assert_int_equal(a[15], 0xee);
    cishare_dedup_id_from_text("0123ABCD00004000800000000000FFEE", b);
    assert_memory_equal(a, b, 16);
    /* Anything else is hashed, deterministically, and differs. */
    cishare_dedup_id_from_text("msg-1", b);
    cishare_dedup_id_from_text("msg-1", c);
    assert_memory_equal(b, c, 16);
    cishare_dedup_id_from_text("msg-2", c);
    assert_memory_not_equal(b, c, 16);
}

/* The feed's key: another origin's message under the same id is not a
 * duplicate; the same origin's is. Origin and id cannot run together. */
static void test_key_by_origin(void **state)
{
    static const char id[] = "0123abcd-0000-4000-8000-00000000ffee";
    uint8_t a[16], b[16], c[16];
    (void)state;
    cishare_dedup_key("op-power-a", id, a);
    cishare_dedup_key("op-power-a", id, b);
    assert_memory_equal(a, b, 16);
    cishare_dedup_key("op-bank-a", id, c);
    assert_memory_not_equal(a, c, 16);
    cishare_dedup_key("op-power-a0", "123abcd", b);
    cishare_dedup_key("op-power-a", "0123abcd", c);
    assert_memory_not_equal(b, c, 16);
}

static void test_insert_lookup(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16], zero[16] = {0};
    uint32_t i;
    (void)state;

    for (i = 0; i < 5000; i++) {
        make_id(i, id);
        assert_false(cishare_dedup_seen(d, id));
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
        assert_true(cishare_dedup_seen(d, id));
    }
    assert_int_equal(cishare_dedup_count(d), 5000);
    make_id(0, id);
    assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK); /* again */
    assert_int_equal(cishare_dedup_count(d), 5000);
    make_id(5000, id);
    assert_false(cishare_dedup_seen(d, id));
    /* The all-zero id is a valid id too. */
    assert_false(cishare_dedup_seen(d, zero));
    assert_int_equal(cishare_dedup_add(d, zero), CISHARE_OK);
    assert_true(cishare_dedup_seen(d, zero));
    cishare_dedup_close(d);
}

static void test_persist_reopen(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16];
    uint64_t v = 0;
    uint32_t i;
    (void)state;

    for (i = 0; i < 3000; i++) {
        make_id(i, id);
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
        if (i % 100 == 99) {
            assert_int_equal(cishare_dedup_set_mark(d, "jsonl", i), 0);
            commit_ok(d);
        }
    }
    /* Pending, never committed: must be forgotten. */
    make_id(99999, id);
    assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    cishare_dedup_close(d);

    d = open_ok();
    assert_int_equal(cishare_dedup_count(d), 3000);
    for (i = 0; i < 3000; i++) {
        make_id(i, id);
        assert_true(cishare_dedup_seen(d, id));
    }
    make_id(99999, id);
    assert_false(cishare_dedup_seen(d, id));
    assert_true(cishare_dedup_get_mark(d, "jsonl", &v));
    assert_int_equal(v, 2999);
    assert_false(cishare_dedup_get_mark(d, "other", &v));
    assert_int_equal(cishare_dedup_torn_bytes(d), 0);
    cishare_dedup_close(d);
}

/* A commit with no new id and marks set to the values they have writes
 * nothing (an idle feed commits every second); a changed mark is written
 * and survives a reopen. */
static void test_idle_commit(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16];
    uint64_t v = 0;
    struct stat st0, st1;
    (void)state;

    make_id(1, id);
    assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    assert_int_equal(cishare_dedup_set_mark(d, "jsonl", 40), 0);
    commit_ok(d);
    assert_int_equal(stat(logpath, &st0), 0);
    assert_int_equal(cishare_dedup_set_mark(d, "jsonl", 40), 0);
    commit_ok(d);
    assert_int_equal(stat(logpath, &st1), 0);
    assert_int_equal(st1.st_size, st0.st_size);
    assert_int_equal(cishare_dedup_set_mark(d, "jsonl", 41), 0);
    commit_ok(d);
    assert_int_equal(stat(logpath, &st1), 0);
    assert_true(st1.st_size > st0.st_size);
    cishare_dedup_close(d);
    d = open_ok();
    assert_true(cishare_dedup_get_mark(d, "jsonl", &v));
    assert_int_equal(v, 41);
    cishare_dedup_close(d);
}

static void test_torn_tail(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16];
    struct stat st;
    off_t committed;
    uint32_t i;
    uint64_t v = 0;
    (void)state;

    for (i = 0; i < 10; i++) {
        make_id(i, id);
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    }
    assert_int_equal(cishare_dedup_set_mark(d, "jsonl", 10), 0);
    commit_ok(d);
    assert_int_equal(stat(logpath, &st), 0);
    committed = st.st_size;
    for (i = 10; i < 20; i++) {
        make_id(i, id);
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    }
    assert_int_equal(cishare_dedup_set_mark(d, "jsonl", 20), 0);
    commit_ok(d);
    cishare_dedup_close(d);

    /* Simulate a crash mid-write of the second batch: cut inside an id. */
    assert_int_equal(stat(logpath, &st), 0);
    assert_int_equal(truncate(logpath, committed + 16 + 5 * 16 + 7), 0);

    d = open_ok();
    assert_int_equal(cishare_dedup_count(d), 10);
    make_id(9, id);
    assert_true(cishare_dedup_seen(d, id));
    make_id(10, id);
    assert_false(cishare_dedup_seen(d, id));
    assert_true(cishare_dedup_get_mark(d, "jsonl", &v));
    assert_int_equal(v, 10);
    assert_true(cishare_dedup_torn_bytes(d) > 0);
    /* The tail was cut: appending again makes a clean log. */
    make_id(10, id);
    assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    commit_ok(d);
    cishare_dedup_close(d);
    d = open_ok();
    assert_int_equal(cishare_dedup_count(d), 11);
    assert_int_equal(cishare_dedup_torn_bytes(d), 0);
    cishare_dedup_close(d);
}

static void test_corrupt_batch(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16];
    int fd;
    (void)state;

    make_id(1, id);
    assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    commit_ok(d);
    make_id(2, id);
    assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    commit_ok(d);
    cishare_dedup_close(d);
    /* Flip one byte of the second batch's id: its checksum fails. */
    fd = open(logpath, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 8 + 32 + 16 + 3), 1);
    close(fd);
    d = open_ok();
    assert_int_equal(cishare_dedup_count(d), 1);
    make_id(2, id);
    assert_false(cishare_dedup_seen(d, id));
    cishare_dedup_close(d);
}

/* Damage with a committed batch behind it is not a torn tail: the open
 * fails naming the file and offset, and nothing is cut. (Before the
 * fix: the open cut the log at the damage, forgetting batch 3.) */
static void test_corrupt_middle_batch(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16];
    char errstr[512] = "";
    struct stat st1, st2;
    uint32_t i;
    int fd;
    (void)state;

    for (i = 1; i <= 3; i++) {
        make_id(i, id);
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
        commit_ok(d);
    }
    cishare_dedup_close(d);
    d = NULL;
    assert_int_equal(stat(logpath, &st1), 0);
    /* Flip one byte of the second batch's id. */
    fd = open(logpath, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 8 + 32 + 16 + 3), 1);
    close(fd);
    assert_int_equal(cishare_dedup_open(logpath, &d, errstr, sizeof(errstr)),
                     CISHARE_ERR_VALIDATION);
    assert_null(d);
    assert_non_null(strstr(errstr, logpath));
    assert_non_null(strstr(errstr, "byte 40"));
    assert_int_equal(stat(logpath, &st2), 0);
    assert_int_equal(st2.st_size, st1.st_size);
}

static void test_not_a_log(void **state)
{
    cishare_dedup_t *d = NULL;
    char errstr[256] = "";
    FILE *fp = fopen(logpath, "w");
    (void)state;
    assert_non_null(fp);
    fputs("hello, this is not a dedup log\n", fp);
    fclose(fp);
    assert_int_equal(cishare_dedup_open(logpath, &d, errstr, sizeof(errstr)),
                     CISHARE_ERR_VALIDATION);
    assert_null(d);
    assert_non_null(strstr(errstr, logpath));
}

static void test_compact(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16];
    struct stat st1, st2;
    uint64_t v = 0;
    uint32_t i;
    (void)state;

    for (i = 0; i < 200; i++) {
        make_id(i, id);
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
        assert_int_equal(cishare_dedup_set_mark(d, "jsonl", i), 0);
        commit_ok(d); /* 200 tiny batches: compaction kicks in */
    }
    assert_int_equal(stat(logpath, &st1), 0);
    assert_true(st1.st_size < 8 + 200 * (16 + 16 + 32));
    assert_int_equal(cishare_dedup_compact(d, NULL, 0), CISHARE_OK);
    assert_int_equal(stat(logpath, &st2), 0);
    assert_int_equal(st2.st_size, 8 + 16 + 200 * 16 + 32);
    cishare_dedup_close(d);
    d = open_ok();
    assert_int_equal(cishare_dedup_count(d), 200);
    assert_true(cishare_dedup_get_mark(d, "jsonl", &v));
    assert_int_equal(v, 199);
    for (i = 0; i < 200; i++) {
        make_id(i, id);
        assert_true(cishare_dedup_seen(d, id));
    }
    cishare_dedup_close(d);
}

static void test_million_memory(void **state)
{
    cishare_dedup_t *d = open_ok();
    uint8_t id[16];
    uint32_t i;
    size_t mem;
    (void)state;

    for (i = 0; i < 1000000; i++) {
        make_id(i, id);
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
        if (i % 10000 == 9999)
            commit_ok(d);
    }
    mem = cishare_dedup_memory(d);
    print_message("1M ids: %zu bytes, %.1f B/id\n", mem, mem / 1e6);
    /* grown by adds: load 0.6-0.9, at most 16 / 0.6 bytes an id */
    assert_true(mem <= 27u * 1000000u);
    cishare_dedup_close(d);
    d = open_ok();
    assert_int_equal(cishare_dedup_count(d), 1000000);
    mem = cishare_dedup_memory(d);
    /* loaded from the log: one table sized for the count (load 0.8), the
     * dedup_bytes_per_id bench's case: <= 24 bytes an id, 20 by design */
    print_message("1M ids reopened: %zu bytes, %.1f B/id\n", mem, mem / 1e6);
    assert_true(mem <= 21u * 1000000u);
    make_id(123456, id);
    assert_true(cishare_dedup_seen(d, id));
    make_id(1000001, id);
    assert_false(cishare_dedup_seen(d, id));
    cishare_dedup_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_from_text),
        cmocka_unit_test(test_key_by_origin),
        cmocka_unit_test_setup_teardown(test_insert_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_a_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_million_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
