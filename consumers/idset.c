/*
 * cishare - the set of 16-byte ids behind the dedup store: Robin Hood
 * linear probing in a table of any size (see idset.h for the layout).
 */
#include "idset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ID CISHARE_IDSET_ID_BYTES

/* Maximum load 9/10; a reserve sizes for 4/5. */
#define MAX_LOAD_NUM 9
#define MAX_LOAD_DEN 10

typedef struct slot_s {
    uint64_t lo, hi; /* the id's bytes as they are (memcpy), 0/0 = empty */
} slot_t;

struct cishare_idset_s {
    slot_t *slots;
    size_t cap; /* any size; 0 before the first table */
    size_t cnt; /* ids in slots, the zero id not counted */
    bool has_zero;
    uint64_t k0, k1;
};

static slot_t slot_of(const uint8_t *id)
{
    slot_t v;
    memcpy(&v.lo, id, 8);
    memcpy(&v.hi, id + 8, 8);
    return v;
}

static bool slot_empty(slot_t v)
{
    return !(v.lo | v.hi);
}

static bool slot_eq(slot_t a, slot_t b)
{
    return !((a.lo ^ b.lo) | (a.hi ^ b.hi));
}

/* A keyed mix of both halves; its high bits choose the home. */
static uint64_t slot_hash(const cishare_idset_t *s, slot_t v)
{
    uint64_t h = (v.lo ^ s->k0) * 0x9e3779b97f4a7c15ULL;

    h ^= v.hi ^ s->k1;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

/* (h * cap) >> 64: uniform over [0, cap) for any cap, no division. */
static size_t home_in(uint64_t h, size_t cap)
{
    return (size_t)(((unsigned __int128)h * cap) >> 64);
}

static size_t slot_home(const cishare_idset_t *s, size_t cap, slot_t v)
{
    return home_in(slot_hash(s, v), cap);
}

/* Probe distance of the id at slot i whose home is `home`. */
static size_t dist(size_t i, size_t home, size_t cap)
{
    return i >= home ? i - home : i + cap - home;
}

cishare_idset_t *cishare_idset_new(const uint8_t key[16])
{
    cishare_idset_t *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    memcpy(&s->k0, key, 8);
    memcpy(&s->k1, key + 8, 8);
    return s;
}

void cishare_idset_destroy(cishare_idset_t *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s);
}

/*
 * Robin Hood insert of v (not the zero id). Returns false if v is there
 * already (looked for only with `check`). The table must have a free slot.
 *
 * v goes to the first slot of its probe whose id sits nearer its own home
 * than v would; that id and the rest of the run up to the next empty slot
 * each move one slot on. That is what swapping v along would do (every
 * run is ordered by home), as one memmove with no hashing: an insert at
 * load 0.9 moves ~50 slots but hashes only the few it passes.
 */
static bool table_insert(const cishare_idset_t *s, slot_t *slots, size_t cap,
                         slot_t v, bool check)
{
    size_t i = slot_home(s, cap, v), d = 0, e;

    for (;; d++) {
        slot_t cur = slots[i];

        if (slot_empty(cur)) {
            slots[i] = v;
            return true;
        }
        if (check && slot_eq(cur, v))
            return false;
        if (dist(i, slot_home(s, cap, cur), cap) < d)
            break;
        if (++i == cap)
            i = 0;
    }
    /* the run's end: the next empty slot (there is one), up to the
     * table's end, then from its start */
    for (e = i + 1; e < cap && !slot_empty(slots[e]); e++)
        ;
    if (e == cap)
        for (e = 0; !slot_empty(slots[e]); e++)
            ;
    if (e > i) {
        memmove(&slots[i + 1], &slots[i], (e - i) * sizeof(*slots));
    } else { /* the run wraps past the table's end */
        memmove(&slots[1], &slots[0], e * sizeof(*slots));
        slots[0] = slots[cap - 1];
        memmove(&slots[i + 1], &slots[i], (cap - 1 - i) * sizeof(*slots));
    }
    slots[i] = v;
    return true;
}

static cishare_err_t rehash(cishare_idset_t *s, size_t ncap)
{
    slot_t *ns = calloc(ncap, sizeof(*ns));
    size_t i;

    if (!ns)
        return CISHARE_ERR_NOMEM;
    for (i = 0; i < s->cap; i++)
        if (!slot_empty(s->slots[i]))
            table_insert(s, ns, ncap, s->slots[i], false);
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return CISHARE_OK;
}

/* Whether a table of cap slots holds n ids within the maximum load. */
static bool fits(size_t n, size_t cap)
{
    return n * MAX_LOAD_DEN <= cap * MAX_LOAD_NUM;
}

cishare_err_t cishare_idset_reserve(cishare_idset_t *s, size_t n)
{
    size_t ncap;

    /* No table is that large (and the sums below cannot overflow). */
    if (n > SIZE_MAX / (2 * sizeof(slot_t)))
        return CISHARE_ERR_NOMEM;
    /* n may count the zero id, which needs no slot: a slot to spare */
    if (fits(n, s->cap))
        return CISHARE_OK;
    ncap = n + n / 4 + 1; /* load 0.8 */
    if (ncap < CISHARE_IDSET_MIN_CAP)
        ncap = CISHARE_IDSET_MIN_CAP;
    return rehash(s, ncap);
}

bool cishare_idset_has(const cishare_idset_t *s,
                       const uint8_t id[CISHARE_IDSET_ID_BYTES])
{
    slot_t v = slot_of(id);
    size_t i, d;

    if (slot_empty(v))
        return s->has_zero;
    if (!s->cap)
        return false;
    for (i = slot_home(s, s->cap, v), d = 0;; d++) {
        slot_t cur = s->slots[i];

        if (slot_empty(cur))
            return false;
        if (slot_eq(cur, v))
            return true;
        /* Runs are ordered by home: v would have taken this slot. Looked
         * at on every 4th slot only: the test hashes, the scan does not. */
        if ((d & 3) == 3 && dist(i, slot_home(s, s->cap, cur), s->cap) < d)
            return false;
        if (++i == s->cap)
            i = 0;
    }
}

cishare_err_t cishare_idset_add(cishare_idset_t *s,
                                const uint8_t id[CISHARE_IDSET_ID_BYTES],
                                bool *addedp)
{
    slot_t v = slot_of(id);
    bool added;
    cishare_err_t err;

    if (slot_empty(v)) {
        added = !s->has_zero;
        s->has_zero = true;
    } else {
        /* Only a new id needs room: a repeat does not grow the table. */
        if (!fits(s->cnt + 1, s->cap) && !cishare_idset_has(s, id)) {
            size_t ncap = s->cap + s->cap / 2;
            if (ncap < CISHARE_IDSET_MIN_CAP)
                ncap = CISHARE_IDSET_MIN_CAP;
            if ((err = rehash(s, ncap)))
                return err;
        }
        if ((added = table_insert(s, s->slots, s->cap, v, true)))
            s->cnt++;
    }
    if (addedp)
        *addedp = added;
    return CISHARE_OK;
}

size_t cishare_idset_count(const cishare_idset_t *s)
{
    return s->cnt + s->has_zero;
}

size_t cishare_idset_capacity(const cishare_idset_t *s)
{
    return s->cap;
}

bool cishare_idset_next(const cishare_idset_t *s, size_t *pos,
                        const uint8_t **idp)
{
    static const uint8_t zero[ID];

    /* position 0 is the zero id, 1 + i the slot i */
    if (*pos == 0) {
        (*pos)++;
        if (s->has_zero) {
            *idp = zero;
            return true;
        }
    }
    for (; *pos <= s->cap; (*pos)++)
        if (!slot_empty(s->slots[*pos - 1])) {
            *idp = (const uint8_t *)&s->slots[(*pos)++ - 1];
            return true;
        }
    return false;
}

size_t cishare_idset_home(const cishare_idset_t *s,
                          const uint8_t id[CISHARE_IDSET_ID_BYTES])
{
    return s->cap ? slot_home(s, s->cap, slot_of(id)) : 0;
}

size_t cishare_idset_max_distance(const cishare_idset_t *s)
{
    size_t i, m = 0, d;

    for (i = 0; i < s->cap; i++)
        if (!slot_empty(s->slots[i]) &&
            (d = dist(i, slot_home(s, s->cap, s->slots[i]), s->cap)) > m)
            m = d;
    return m;
}
