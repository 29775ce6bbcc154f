/*
 * cishare - who this client is: the verified directory, the participant the
 * config names, and its secret keys, loaded and cross-checked in one call
 * (publish, alert, feed and demo all start here).
 *
 * Every directory a publisher, feed or provision loads goes through the
 * trust state of dirstate.h (rollback, expiry, root rotation, the kept
 * copy of the last accepted version). The state lives in
 * cishare.state-dir; when that is unset, in
 * $XDG_STATE_HOME/cishare/<participant id or "admin">, else in
 * $HOME/.local/state/cishare/<...> (the feed passes its --out folder).
 * Commands that only look (inspect, demo) use
 * cishare_identity_verify_directory(), which reads and writes no state.
 */
#ifndef CISHARE_IDENTITY_H
#define CISHARE_IDENTITY_H

#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/keys.h"

typedef struct cishare_identity_s {
    cishare_directory_t *dir;        /**< owned */
    const cishare_participant_t *me; /**< owned by dir */
    cishare_keypair_t kp;            /**< secrets: wiped by _clear() */
    /** kp is a previous key of `me`, still in its rotation overlap: it
     *  signs until then, but messages encrypted to the new x25519 key do
     *  not open with it. */
    bool previous_key;
    /** Non-empty when the directory in use is the kept copy of a version
     *  accepted before, newer than cishare.directory: a line for the user
     *  saying so (dirstate.h, cishare_dirstate_accept_file()). */
    char dir_note[1024];
} cishare_identity_t;

/**
 * Load cishare.directory (verified against the trusted root: the state's,
 * else cishare.root-key, default root.pub beside it; refused when older
 * than what the state accepted, or expired; replaced by the state's kept
 * copy when that is newer, said in id->dir_note), find cishare.participant in
 * it and load cishare.key. Refuses a key file that is not the entry's
 * current key pair, or a previous signing key still valid now; and a
 * key that is revoked or past its validity. On failure errstr names the
 * config key or file at fault and *id is cleared. Free with
 * cishare_identity_clear().
 *
 * Errors: CISHARE_ERR_DIRECTORY (directory refused), CISHARE_ERR_CONFIG,
 * and what the loaders return.
 */
cishare_err_t cishare_identity_load(const cishare_config_t *conf,
                                    cishare_identity_t *id, char *errstr,
                                    size_t errstr_size)
    __attribute__((warn_unused_result));

/** cishare_identity_load() with the state in state_dir (NULL: default). */
cishare_err_t cishare_identity_load_at(const cishare_config_t *conf,
                                       const char *state_dir,
                                       cishare_identity_t *id, char *errstr,
                                       size_t errstr_size)
    __attribute__((warn_unused_result));

/** Load only the accepted directory named by the config (no participant). */
cishare_err_t cishare_identity_load_directory(const cishare_config_t *conf,
                                              cishare_directory_t **dirp,
                                              char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Accept a directory file against the trust state: path (NULL:
 * cishare.directory of conf), root_pub_path (NULL: cishare.root-key, else
 * root.pub beside the file), state_dir (NULL: the default above). conf may
 * be NULL when path is given (state of "admin"). *dirp: caller owns.
 * The file alone decides (provision: the admin's file is provisioned, or
 * refused when older than accepted); _load() also considers the state's
 * kept copy.
 */
cishare_err_t cishare_identity_accept_directory(
    const cishare_config_t *conf, const char *path, const char *root_pub_path,
    const char *state_dir, cishare_directory_t **dirp, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/**
 * Stateless: load the directory file `path`, verify its signature against
 * the pinned root (root_pub_path, NULL: root.pub beside the file) and
 * refuse it when expired at now_ms. No trust state is read or written (so
 * no rollback check): for commands that only look, such as inspect and
 * demo, which must not pin anything into an installation's state.
 * *dirp: caller owns. Errors as cishare_directory_load(), and
 * CISHARE_ERR_DIRECTORY when expired.
 */
cishare_err_t
cishare_identity_verify_directory(const char *path, const char *root_pub_path,
                                  int64_t now_ms, cishare_directory_t **dirp,
                                  char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** The default state folder for conf (see above) into out. */
cishare_err_t cishare_identity_state_dir(const cishare_config_t *conf,
                                         char *out, size_t out_size,
                                         char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Make newdir the directory of a loaded identity (a newer version from
 * the directory topic). Takes newdir in every case. Finds the participant
 * again and checks the key file's key against the new entry, as _load
 * does. On success the old directory is freed and id->me points into
 * newdir: the caller makes sure that no other thread reads the old
 * directory and that no pointer into it (participants, keys, sectors)
 * is kept anywhere. On failure *id is unchanged and newdir is freed.
 *
 * Errors: CISHARE_ERR_CONFIG when the participant is no longer in the
 * directory or its key file no longer matches it (errstr says which).
 * The key pair is never copied out of id.
 */
cishare_err_t cishare_identity_swap_directory(cishare_identity_t *id,
                                              cishare_directory_t *newdir,
                                              char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

void cishare_identity_clear(cishare_identity_t *id);

#endif
