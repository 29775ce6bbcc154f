/*
 * cishare - who this client is: the verified directory, the participant the
 * config names, and its secret keys, loaded and cross-checked in one call
 * (publish, alert, feed and demo all start here).
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
} cishare_identity_t;

/**
 * Load cishare.directory (verified against cishare.root-key, default
 * root.pub beside it), find cishare.participant in it and load cishare.key.
 * Refuses a key file whose public keys differ from the directory's entry.
 * On failure errstr names the config key or file at fault and *id is
 * cleared. Free with cishare_identity_clear().
 */
cishare_err_t cishare_identity_load(const cishare_config_t *conf,
                                    cishare_identity_t *id, char *errstr,
                                    size_t errstr_size)
    __attribute__((warn_unused_result));

/** Load only the verified directory named by the config (no participant). */
cishare_err_t cishare_identity_load_directory(const cishare_config_t *conf,
                                              cishare_directory_t **dirp,
                                              char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

void cishare_identity_clear(cishare_identity_t *id);

#endif
