/*
 * Compaction of the dedup store (consumers/dedup.c) when the ids do not
 * fit in one batch. The loader takes at most 2^26 ids a batch, so a store
 * with more is compacted into several batches (marks in the last one).
 * Built here with a batch of 1000 ids, so a few thousand ids show it:
 * this file includes dedup.c itself, with COMPACT_BATCH_IDS set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#define COMPACT_BATCH_IDS 1000
#include "dedup.c"

#define DEDUP_TMPDIR_TAG "dedupc"
#include "dedup_fixture.h"

static void make_id(uint32_t i, uint8_t id[16])
{
    char text[32];
    snprintf(text, sizeof(text), "compact-%u", i);
    cishare_dedup_id_from_text(text, id);
}

static void test_compact_batches(void **state)
{
    enum { N = 2500 };
    static const uint8_t zero[16];
    cishare_dedup_t *d = NULL;
    char errstr[256] = "";
    uint8_t id[16], h[BATCH_HDR];
    uint64_t v = 0, off = 8;
    uint32_t i, sizes[3] = {1000, 1000, 501};
    struct stat st;
    int fd;
    (void)state;

    assert_int_equal(cishare_dedup_open(logpath, &d, errstr, sizeof(errstr)),
                     CISHARE_OK);
    for (i = 0; i < N; i++) {
        make_id(i, id);
        assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    }
    assert_int_equal(cishare_dedup_add(d, zero), CISHARE_OK); /* 2501 */
    assert_int_equal(cishare_dedup_set_mark(d, "jsonl", 77), CISHARE_OK);
    assert_int_equal(cishare_dedup_commit(d, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_dedup_compact(d, errstr, sizeof(errstr)),
                     CISHARE_OK);
    /* another batch appended after compaction lands after the three */
    make_id(N, id);
    assert_int_equal(cishare_dedup_add(d, id), CISHARE_OK);
    assert_int_equal(cishare_dedup_commit(d, errstr, sizeof(errstr)),
                     CISHARE_OK);
    cishare_dedup_close(d);

    /* three batches of at most 1000 ids, the marks in the last */
    assert_true((fd = open(logpath, O_RDONLY)) >= 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(pread(fd, h, BATCH_HDR, (off_t)off), BATCH_HDR);
        assert_int_equal(get32(h), BATCH_MAGIC);
        assert_int_equal(get32(h + 4), sizes[i]);
        assert_int_equal(get32(h + 8), i == 2 ? 1 : 0);
        off += BATCH_HDR + get32(h + 4) * 16 + get32(h + 8) * MARK_REC;
    }
    close(fd);
    assert_int_equal(stat(logpath, &st), 0);
    assert_int_equal((uint64_t)st.st_size, off + BATCH_HDR + 16 + MARK_REC);

    assert_int_equal(cishare_dedup_open(logpath, &d, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_dedup_torn_bytes(d), 0);
    assert_int_equal(cishare_dedup_count(d), N + 2);
    for (i = 0; i <= N; i++) {
        make_id(i, id);
        assert_true(cishare_dedup_seen(d, id));
    }
    assert_true(cishare_dedup_seen(d, zero));
    make_id(N + 1, id);
    assert_false(cishare_dedup_seen(d, id));
    assert_true(cishare_dedup_get_mark(d, "jsonl", &v));
    assert_int_equal(v, 77);
    cishare_dedup_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compact_batches, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
