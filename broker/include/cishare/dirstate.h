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
 * Kept copy: beside the state, "directory.accepted.yaml" holds the exact
 * bytes of the version the state records (written atomically, under the
 * same lock, BEFORE the state: a crash between the two leaves a copy newer
 * than the state, never a state newer than every copy on disk). A version
 * applied from the directory topic is then still in use after a restart,
 * although the configured file (cishare.directory) is older or signed by a
 * root that a rotation replaced: cishare_dirstate_accept_file() (for a
 * feed or publisher starting) uses the
 * kept copy instead of the file exactly when the file is a genuine older
 * version (signed by the trusted or the pinned root, lower serial). The
 * kept copy is checked like any candidate: signature by the trusted root,
 * expiry, serial and content hash against the state. A file that is newer,
 * tampered, or the same serial with other content gets today's verdict.
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
/** File name of the kept copy of the accepted version (see above). */
#define CISHARE_DIRSTATE_KEPT_FILE "directory.accepted.yaml"

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
 * record it: its bytes as the kept copy (also when that is missing), then
 * the state. The lock makes read-check-write atomic between processes.
 * Same results as cishare_dirstate_check(), plus CISHARE_ERR_IO.
 */
cishare_err_t cishare_dirstate_accept(
    const char *state_path, const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES],
    const char *name, const char *buf, size_t len, int64_t now_ms,
    cishare_directory_t **dirp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Load the directory a client starts on: the file `path` (pinned root
 * from root_pub_path, NULL: root.pub beside the file), accepted as
 * cishare_dirstate_accept() does. With use_kept, the kept copy beside
 * state_path is used instead when it holds a newer version than the file
 * (see above): what a feed or publisher does at start. Without, the file
 * alone decides (an admin's explicit file: an older one is refused).
 *
 * @param note  (may be NULL) set to "" when the file is used; when the
 *              kept copy is, to a line for the user naming both serials
 *              and both files ("using directory serial 3 ... the file F
 *              holds serial 2"). The library does not print it.
 *
 * Refusals: the file's, as cishare_dirstate_accept(); with use_kept, when
 * the kept copy is refused too (expired, say), its reason follows.
 */
cishare_err_t cishare_dirstate_accept_file(
    const char *state_path, const char *path, const char *root_pub_path,
    int64_t now_ms, bool use_kept, cishare_directory_t **dirp, char *note,
    size_t note_size, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * For a running client, between messages: CISHARE_ERR_DIRECTORY when the
 * directory in use has expired at now_ms (no newer version arrived in
 * time), with a reason naming its serial, its expiry and now. A client
 * must then stop using it (the feed stops, the publisher refuses every
 * later record). CISHARE_OK while it is in force.
 */
cishare_err_t cishare_dirstate_check_in_force(const cishare_directory_t *dir,
                                              int64_t now_ms, char *errstr,
                                              size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
