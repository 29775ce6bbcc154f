/*
 * cishare - a set of 16-byte ids in memory: the dedup store's table
 * (dedup.h keeps it on disk).
 *
 * Open addressing with Robin Hood linear probing, at most 16 bytes a slot
 * and nothing else per id:
 *
 *   slots  [ id | id | 0 | id | id | id | 0 | ... ]    cap x 16 bytes
 *            ^home(a)     ^home(b): b sits at home+2 (its probe distance)
 *
 * - an all-zero slot is empty; the all-zero id itself is a flag;
 * - home(id) = (hash(id) * cap) >> 64, so cap is any size (no power of two
 *   to round up to), and hash is a keyed 64-bit mix of the id's bytes: ids
 *   are random already (BLAKE2b, UUIDv4), the key keeps a sender who grinds
 *   ids from piling them onto one home;
 * - Robin Hood: an insert takes the slot of the first id that sits nearer
 *   its own home than the new id would, and moves the rest of the run on
 *   by one. Every run is then ordered by home, so a lookup stops once it
 *   meets an id nearer its home than the probe: a miss costs about what a
 *   hit does even at the maximum load of 0.9 (plain linear probing: ~50
 *   slots a miss), and the longest probe stays short;
 * - growth by 1.5x past a load of 0.9 (old and new table held at once while
 *   rehashing); cishare_idset_reserve() sizes the table once for a known
 *   count (load 0.8), so loading a history never rehashes.
 * Memory per id: 16 / load, i.e. 20 bytes after a reserve, 17.8-26.7
 * bytes while growing by adds.
 *
 * No removal. One thread at a time per set.
 */
#ifndef CISHARE_IDSET_H
#define CISHARE_IDSET_H

#include "cishare/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CISHARE_IDSET_ID_BYTES 16
#define CISHARE_IDSET_MIN_CAP  1024 /**< slots of the first table */

typedef struct cishare_idset_s cishare_idset_t;

/**
 * A new, empty set (no table until the first add or reserve) whose hash
 * is keyed with `key` (random in production; fixed in tests that need to
 * know where ids land). Free with cishare_idset_destroy(). NULL: no memory.
 */
cishare_idset_t *cishare_idset_new(const uint8_t key[16]);

/** Free the set. NULL is a no-op. */
void cishare_idset_destroy(cishare_idset_t *s);

/**
 * Make room for `n` ids in all without growing: when the table would pass
 * the maximum load on the way to n, rehash once into a table at load 0.8
 * for n. Returns CISHARE_OK or CISHARE_ERR_NOMEM (the set unchanged).
 */
cishare_err_t cishare_idset_reserve(cishare_idset_t *s, size_t n);

/** True if id is in the set. */
bool cishare_idset_has(const cishare_idset_t *s,
                       const uint8_t id[CISHARE_IDSET_ID_BYTES]);

/**
 * Add id (the bytes are copied). *addedp (may be NULL) tells whether it
 * was new. Returns CISHARE_OK (also when present) or CISHARE_ERR_NOMEM
 * (the set unchanged).
 */
cishare_err_t cishare_idset_add(cishare_idset_t *s,
                                const uint8_t id[CISHARE_IDSET_ID_BYTES],
                                bool *addedp);

/** Number of ids. */
size_t cishare_idset_count(const cishare_idset_t *s);

/** Slots of the table (its memory is this x 16 bytes; 0 before any). */
size_t cishare_idset_capacity(const cishare_idset_t *s);

/**
 * Walk the ids in no particular order: start with *pos = 0; each call
 * lends the next id in *idp (valid until the set changes) and returns
 * true, or returns false at the end.
 */
bool cishare_idset_next(const cishare_idset_t *s, size_t *pos,
                        const uint8_t **idp);

/** The slot where a probe for id starts in the current table (tests). */
size_t cishare_idset_home(const cishare_idset_t *s,
                          const uint8_t id[CISHARE_IDSET_ID_BYTES]);

/** The longest probe distance of any id in the table (tests, reports). */
size_t cishare_idset_max_distance(const cishare_idset_t *s);

#endif
