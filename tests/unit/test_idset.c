/*
 * Unit tests of the id set behind the dedup store (consumers/idset.c):
 * growth, the maximum load, reserve, ids piled onto one home (also where
 * a run wraps past the table's end), the zero id, the walk, memory per id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "idset.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t key[16] = {0x5a, 1, 2,  3,  4,  5,  6,  7,
                                8,    9, 10, 11, 12, 13, 14, 15};

/* Deterministic ids (xorshift64*): the same on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void rand_id(uint8_t id[16])
{
    int k;

    for (k = 0; k < 2; k++) {
        uint64_t x;
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        x = rng * 0x2545f4914f6cdd1dULL;
        memcpy(id + 8 * k, &x, 8);
    }
}

static cishare_idset_t *new_set(void)
{
    cishare_idset_t *s = cishare_idset_new(key);
    assert_non_null(s);
    return s;
}

static void add_new(cishare_idset_t *s, const uint8_t id[16])
{
    bool added = false;
    assert_int_equal(cishare_idset_add(s, id, &added), CISHARE_OK);
    assert_true(added);
}

/* From empty to 200 000 ids: the table grows by 1.5x past load 0.9, and
 * every id stays found across each rehash. */
static void test_growth(void **state)
{
    enum { N = 200000 };
    uint8_t(*ids)[16] = malloc((size_t)N * 16), other[16];
    cishare_idset_t *s = new_set();
    size_t i, cap = 0, grows = 0;
    bool added = true;
    (void)state;

    assert_non_null(ids);
    assert_int_equal(cishare_idset_capacity(s), 0);
    for (i = 0; i < N; i++) {
        rand_id(ids[i]);
        add_new(s, ids[i]);
        if (cishare_idset_capacity(s) != cap) {
            size_t ncap = cishare_idset_capacity(s);
            if (cap)
                assert_int_equal(ncap, cap + cap / 2);
            else
                assert_int_equal(ncap, CISHARE_IDSET_MIN_CAP);
            cap = ncap;
            grows++;
        }
        /* load <= 0.9 at all times */
        assert_true((i + 1) * 10 <= cap * 9);
    }
    assert_true(grows > 8);
    assert_int_equal(cishare_idset_count(s), N);
    for (i = 0; i < N; i++) {
        assert_true(cishare_idset_has(s, ids[i]));
        assert_int_equal(cishare_idset_add(s, ids[i], &added), CISHARE_OK);
        assert_false(added);
        rand_id(other);
        assert_false(cishare_idset_has(s, other));
    }
    assert_int_equal(cishare_idset_count(s), N);
    assert_int_equal(cishare_idset_capacity(s), cap); /* repeats: no growth */
    cishare_idset_destroy(s);
    free(ids);
}

/* Filled to exactly the maximum load: nothing grows, lookups (hits and
 * misses) stay right, probes stay short; one more id grows the table. */
static void test_high_load(void **state)
{
    enum { N = 100000 };
    uint8_t(*ids)[16] = malloc((size_t)N * 16), other[16];
    cishare_idset_t *s = new_set();
    size_t i, cap, full;
    (void)state;

    assert_non_null(ids);
    assert_int_equal(cishare_idset_reserve(s, N), CISHARE_OK);
    cap = cishare_idset_capacity(s);
    full = cap * 9 / 10;
    assert_true(full >= N && full < (size_t)N * 2);
    for (i = 0; i < full; i++) {
        uint8_t id[16];
        rand_id(id);
        if (i < N)
            memcpy(ids[i], id, 16);
        add_new(s, id);
    }
    assert_int_equal(cishare_idset_capacity(s), cap);
    assert_int_equal(cishare_idset_count(s), full);
    for (i = 0; i < N; i++) {
        assert_true(cishare_idset_has(s, ids[i]));
        rand_id(other);
        assert_false(cishare_idset_has(s, other));
    }
    /* Robin Hood keeps the longest probe short at load 0.9 (random ids:
     * ~60-100 here; plain linear probing reaches several hundred). */
    print_message("load 0.9: longest probe %zu slots\n",
                  cishare_idset_max_distance(s));
    assert_true(cishare_idset_max_distance(s) < 200);
    rand_id(other);
    add_new(s, other);
    assert_int_equal(cishare_idset_capacity(s), cap + cap / 2);
    for (i = 0; i < N; i++)
        assert_true(cishare_idset_has(s, ids[i]));
    cishare_idset_destroy(s);
    free(ids);
}

/* A reserve sizes the table once (load 0.8): no rehash on the way to n,
 * at most 20 bytes per id, and a smaller reserve changes nothing. */
static void test_reserve(void **state)
{
    enum { N = 1000000 };
    cishare_idset_t *s = new_set();
    uint8_t id[16], first[16];
    size_t i, cap;
    (void)state;

    assert_int_equal(cishare_idset_reserve(s, 0), CISHARE_OK);
    assert_int_equal(cishare_idset_capacity(s), 0);
    assert_int_equal(cishare_idset_reserve(s, N), CISHARE_OK);
    cap = cishare_idset_capacity(s);
    print_message("1M ids reserved: %zu slots, %.1f B/id\n", cap,
                  cap * 16.0 / N);
    assert_true(cap >= N + N / 9);                /* room within load 0.9 */
    assert_true(cap * 16 <= (size_t)N * 20 + 16); /* <= 20 B/id */
    rand_id(first);
    add_new(s, first);
    for (i = 1; i < N; i++) {
        rand_id(id);
        add_new(s, id);
    }
    assert_int_equal(cishare_idset_capacity(s), cap);
    assert_int_equal(cishare_idset_reserve(s, N / 2), CISHARE_OK);
    assert_int_equal(cishare_idset_reserve(s, N + N / 10), CISHARE_OK);
    assert_int_equal(cishare_idset_capacity(s), cap);
    /* past what the table holds: rehash to load 0.8 for the new count */
    assert_int_equal(cishare_idset_reserve(s, 2 * N), CISHARE_OK);
    assert_int_equal(cishare_idset_capacity(s), 2 * N + 2 * N / 4 + 1);
    assert_true(cishare_idset_has(s, first));
    assert_true(cishare_idset_has(s, id));
    assert_int_equal(cishare_idset_count(s), N);
    /* a count no table can hold: refused, the set unchanged */
    cap = cishare_idset_capacity(s);
    assert_int_equal(cishare_idset_reserve(s, SIZE_MAX), CISHARE_ERR_NOMEM);
    assert_int_equal(cishare_idset_reserve(s, SIZE_MAX / 8), CISHARE_ERR_NOMEM);
    assert_int_equal(cishare_idset_capacity(s), cap);
    assert_true(cishare_idset_has(s, first));
    cishare_idset_destroy(s);
}

/* Hundreds of ids with one home, twice: once mid-table and once on the
 * last slot (their run wraps past the end to slot 0), in a table near the
 * maximum load. Every id is found, absent ids with the same home are not,
 * and the walk yields each id once. */
static void test_collisions(void **state)
{
    enum { N = 4000, PILE = 300 };
    static uint8_t mid[PILE][16], end[PILE][16], miss[2][16];
    cishare_idset_t *s = new_set(), *seen = new_set();
    size_t cap, i, nm = 0, ne = 0, nmiss = 0, pos = 0, walked = 0;
    const uint8_t *idp;
    uint8_t id[16];
    (void)state;

    assert_int_equal(cishare_idset_reserve(s, N), CISHARE_OK);
    cap = cishare_idset_capacity(s);
    /* find ids that land on slot 100 or on the last slot */
    while (nm < PILE || ne < PILE || nmiss < 2) {
        size_t h;
        rand_id(id);
        h = cishare_idset_home(s, id);
        if (h == 100 && nm < PILE)
            memcpy(mid[nm++], id, 16);
        else if (h == cap - 1 && ne < PILE)
            memcpy(end[ne++], id, 16);
        else if ((h == 100 || h == cap - 1) && nmiss < 2)
            memcpy(miss[nmiss++], id, 16);
    }
    /* interleaved with random ids up to load ~0.85 */
    for (i = 0; i < PILE; i++) {
        add_new(s, mid[i]);
        add_new(s, end[i]);
        rand_id(id);
        add_new(s, id);
    }
    while (cishare_idset_count(s) * 100 < cap * 85) {
        rand_id(id);
        add_new(s, id);
    }
    assert_int_equal(cishare_idset_capacity(s), cap); /* not rehashed */
    assert_true(cishare_idset_max_distance(s) >= PILE - 1);
    for (i = 0; i < PILE; i++) {
        assert_true(cishare_idset_has(s, mid[i]));
        assert_true(cishare_idset_has(s, end[i]));
    }
    assert_false(cishare_idset_has(s, miss[0]));
    assert_false(cishare_idset_has(s, miss[1]));
    while (cishare_idset_next(s, &pos, &idp)) {
        bool added = false;
        assert_int_equal(cishare_idset_add(seen, idp, &added), CISHARE_OK);
        assert_true(added);
        walked++;
    }
    assert_int_equal(walked, cishare_idset_count(s));
    for (i = 0; i < PILE; i++)
        assert_true(cishare_idset_has(seen, end[i]));
    /* and the same after a rehash */
    assert_int_equal(cishare_idset_reserve(s, 2 * N), CISHARE_OK);
    for (i = 0; i < PILE; i++) {
        assert_true(cishare_idset_has(s, mid[i]));
        assert_true(cishare_idset_has(s, end[i]));
    }
    assert_false(cishare_idset_has(s, miss[1]));
    cishare_idset_destroy(s);
    cishare_idset_destroy(seen);
}

/* The all-zero id (the empty slot's bytes) is an id like any other. */
static void test_zero_id(void **state)
{
    static const uint8_t zero[16];
    cishare_idset_t *s = new_set();
    uint8_t id[16];
    const uint8_t *idp;
    size_t pos = 0, n = 0;
    bool added = true;
    (void)state;

    assert_false(cishare_idset_has(s, zero));
    add_new(s, zero);
    assert_true(cishare_idset_has(s, zero));
    assert_int_equal(cishare_idset_add(s, zero, &added), CISHARE_OK);
    assert_false(added);
    rand_id(id);
    assert_false(cishare_idset_has(s, id));
    add_new(s, id);
    assert_int_equal(cishare_idset_count(s), 2);
    /* 4/5 of SIZE_MAX: its slots at load 0.8 would wrap around to 0 */
    assert_int_equal(cishare_idset_reserve(s, SIZE_MAX / 5 * 4),
                     CISHARE_ERR_NOMEM);
    assert_int_equal(cishare_idset_capacity(s), CISHARE_IDSET_MIN_CAP);
    while (cishare_idset_next(s, &pos, &idp))
        n++;
    assert_int_equal(n, 2);
    cishare_idset_destroy(s);
    cishare_idset_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth),  cmocka_unit_test(test_high_load),
        cmocka_unit_test(test_reserve), cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_zero_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
