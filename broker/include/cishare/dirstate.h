/*
 * cishare - directory trust state: the versions of the participant
 * directory a client has accepted and the root key it trusts.
 *
 * A signature alone cannot stop an attacker from replaying an older,
 * validly signed directory (bringing back a removed participant or a
 * revoked key) or from keeping one frozen. So every client remembers, in
 * a small state file, the highest serial it accepted and refuses:
 *
 *   - a lower serial (rollback), naming both serials and the state file;
 *   - the same serial with other content (a version is immutable);
 *   - an expired directory (freeze), naming the expiry and now;
 *   - a directory not signed by the trusted root (unknown root, tampered).
 *
 * Root rotation: the trusted root is the state's, or the pinned root.pub
 * before any directory was accepted. A directory whose `root-key:` differs
 * from the trusted root must be signed by the trusted root AND by that new
 * root; once accepted, only the new root is trusted.
 *
 * State file (text, one "name value" per line, written atomically: temp
 * file, fsync, rename, fsync of the folder; read-check-write runs under
 * an exclusive lock on "<path>.lock"):
 *
 *   cishare-directory-state 1
 *   serial 7
 *   content-blake2b <64 hex: cishare_directory_content_hash()>
 *   root-ed25519 <base64 32 bytes: the trusted root>
 *
 * Threading: the functions keep no global state; concurrent processes
 * sharing a state file are serialised by the lock.
 */
#ifndef CISHARE_DIRSTATE_H
#define CISHARE_DIRSTATE_H

#include "cishare/directory.h"

#include <stdbool.h>
#include <stdint.h>

/** File name of the state in a state folder. */
#define CISHARE_DIRSTATE_FILE "directory.state"

typedef struct cishare_dirstate_s {
    uint64_t serial; /**< highest accepted serial; 0: none yet */
    uint8_t hash[CISHARE_DIRECTORY_HASH_BYTES]; /**< content of that serial */
    uint8_t root_pk[CISHARE_ED25519_PK_BYTES];  /**< trusted root */
    bool has_root; /**< false: trust the pinned root */
} cishare_dirstate_t;

/**
 * Read a state file into *st. A missing file is the empty state
 * (CISHARE_OK, serial 0). A malformed one is CISHARE_ERR_DIRECTORY: it is
 * never silently reset, which would reopen rollback.
 */
cishare_err_t cishare_dirstate_read(const char *path, cishare_dirstate_t *st,
                                    char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Write *st to path atomically (see above). CISHARE_ERR_IO on failure. */
cishare_err_t cishare_dirstate_write(const char *path,
                                     const cishare_dirstate_t *st, char *errstr,
                                     size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Decide on a candidate directory against a state, writing nothing: what
 * a running process calls to test a newer version before applying it.
 *
 * @param st           the state (serial 0: nothing accepted yet)
 * @param pinned_root  the configured root key; trusted when st has none
 * @param name         labels errors (a file name, a topic and offset...)
 * @param buf, len     the signed directory text (only read)
 * @param now_ms       wall clock, for the expiry
 * @param state_label  names the state in refusals (its path)
 * @param dirp         on success a new directory the caller owns
 *                     (cishare_directory_destroy()); NULL on failure
 * @param next         on success the state to record (may equal *st)
 *
 * @returns CISHARE_OK; CISHARE_ERR_DIRECTORY for every refusal (unsigned,
 *          tampered, unknown root, rotation not signed by both roots,
 *          rollback, same serial with other content, expired);
 *          CISHARE_ERR_PARSE / _VALIDATION for bad content under a good
 *          signature; CISHARE_ERR_TOO_LARGE, CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_dirstate_check(
    const cishare_dirstate_t *st,
    const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES], const char *name,
    const char *buf, size_t len, int64_t now_ms, const char *state_label,
    cishare_directory_t **dirp, cishare_dirstate_t *next, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/**
 * Read the state at state_path (its folder is created when missing),
 * cishare_dirstate_check() the candidate and, when accepted and newer,
 * record it. The lock makes read-check-write atomic between processes.
 * Same results as cishare_dirstate_check(), plus CISHARE_ERR_IO.
 */
cishare_err_t cishare_dirstate_accept(
    const char *state_path, const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES],
    const char *name, const char *buf, size_t len, int64_t now_ms,
    cishare_directory_t **dirp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * cishare_dirstate_accept() of the directory file `path`, pinned root
 * from root_pub_path (NULL: root.pub beside the file).
 */
cishare_err_t cishare_dirstate_accept_file(
    const char *state_path, const char *path, const char *root_pub_path,
    int64_t now_ms, cishare_directory_t **dirp, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

#endif
