/*
 * cishare - who this client is: the directory, accepted against the trust
 * state (serial, expiry, root), the participant and its secret keys.
 */
#include "cishare/identity.h"
#include "cishare/codec.h"
#include "cishare/dirstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cishare_err_t cishare_identity_state_dir(const cishare_config_t *conf,
                                         char *out, size_t out_size,
                                         char *errstr, size_t errstr_size)
{
    const char *dir =
        conf ? cishare_config_get(conf, CISHARE_CONF_STATE_DIR) : NULL;
    const char *who =
        conf ? cishare_config_get(conf, CISHARE_CONF_PARTICIPANT) : NULL;
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;

    if (dir && *dir)
        n = snprintf(out, out_size, "%s", dir);
    else {
        if (!who || !*who)
            who = "admin";
        /* a participant id never holds '/', but the config is not yet
         * checked against the directory here */
        if (strchr(who, '/') || who[0] == '.')
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s: '%s' cannot name a state folder",
                                   CISHARE_CONF_PARTICIPANT, who);
        if (xdg && xdg[0] == '/') /* XDG: relative values are ignored */
            n = snprintf(out, out_size, "%s/cishare/%s", xdg, who);
        else if (home && *home)
            n = snprintf(out, out_size, "%s/.local/state/cishare/%s", home,
                         who);
        else
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "no folder for the directory state: set "
                                   "%s (or HOME)",
                                   CISHARE_CONF_STATE_DIR);
    }
    if (n < 0 || (size_t)n >= out_size)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s: path too long", CISHARE_CONF_STATE_DIR);
    return CISHARE_OK;
}

/* The directory file against the trust state; use_kept: or the state's
 * kept copy when newer (note says so). */
static cishare_err_t
accept_directory(const cishare_config_t *conf, const char *path,
                 const char *root_pub_path, const char *state_dir,
                 bool use_kept, cishare_directory_t **dirp, char *note,
                 size_t note_size, char *errstr, size_t errstr_size)
{
    char sdir[4096], spath[4200];
    cishare_err_t err;

    *dirp = NULL;
    if (!path && conf)
        path = cishare_config_get(conf, CISHARE_CONF_DIRECTORY);
    if (!path)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s is not set in the config",
                               CISHARE_CONF_DIRECTORY);
    if (!root_pub_path && conf)
        root_pub_path = cishare_config_get(conf, CISHARE_CONF_ROOT_KEY);
    if (!state_dir || !*state_dir) {
        if ((err = cishare_identity_state_dir(conf, sdir, sizeof(sdir), errstr,
                                              errstr_size)))
            return err;
        state_dir = sdir;
    }
    snprintf(spath, sizeof(spath), "%s/%s", state_dir, CISHARE_DIRSTATE_FILE);
    return cishare_dirstate_accept_file(spath, path, root_pub_path,
                                        cishare_time_now_ms(), use_kept, dirp,
                                        note, note_size, errstr, errstr_size);
}

cishare_err_t cishare_identity_accept_directory(
    const cishare_config_t *conf, const char *path, const char *root_pub_path,
    const char *state_dir, cishare_directory_t **dirp, char *errstr,
    size_t errstr_size)
{
    return accept_directory(conf, path, root_pub_path, state_dir, false, dirp,
                            NULL, 0, errstr, errstr_size);
}

cishare_err_t
cishare_identity_verify_directory(const char *path, const char *root_pub_path,
                                  int64_t now_ms, cishare_directory_t **dirp,
                                  char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    *dirp = NULL;
    if ((err = cishare_directory_load(path, root_pub_path, dirp, errstr,
                                      errstr_size)))
        return err;
    if ((err = cishare_directory_check_expiry(*dirp, path, now_ms, errstr,
                                              errstr_size))) {
        cishare_directory_destroy(*dirp);
        *dirp = NULL;
    }
    return err;
}

cishare_err_t cishare_identity_load_directory(const cishare_config_t *conf,
                                              cishare_directory_t **dirp,
                                              char *errstr, size_t errstr_size)
{
    return cishare_identity_accept_directory(conf, NULL, NULL, NULL, dirp,
                                             errstr, errstr_size);
}

/*
 * The key file must be one of the participant's signing keys that may sign
 * now: the current one (with the directory's x25519 too), or a previous
 * one still inside its rotation overlap.
 */
static cishare_err_t
check_key_file(const cishare_directory_t *dir, const cishare_participant_t *me,
               const cishare_keypair_t *kp, const char *key, const char *pid,
               bool *previous_key, char *errstr, size_t errstr_size)
{
    const cishare_signing_key_t *k =
        cishare_directory_signing_key(dir, kp->key_id);
    int64_t now = cishare_time_now_ms();
    char why[512];

    /* A key that is not the directory's would sign messages nobody can
     * verify and miss every message encrypted to this participant. */
    if (!k || k->owner != me ||
        sodium_memcmp(kp->ed25519_pk, k->ed25519_pk,
                      CISHARE_ED25519_PK_BYTES) != 0 ||
        (k->current && sodium_memcmp(kp->x25519_pk, me->x25519_pk,
                                     CISHARE_X25519_PK_BYTES) != 0))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "secret key file %s does not match the "
                               "public keys of '%s' in the directory "
                               "(its key %s; the directory's current key "
                               "is %s)",
                               key, pid, kp->key_id, me->key_id);
    if (cishare_key_check(k, now, now, why, sizeof(why)))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "secret key file %s: %s; use the current key "
                               "of '%s' (%s)",
                               key, why, pid, me->key_id);
    *previous_key = !k->current;
    return CISHARE_OK;
}

cishare_err_t cishare_identity_load_at(const cishare_config_t *conf,
                                       const char *state_dir,
                                       cishare_identity_t *id, char *errstr,
                                       size_t errstr_size)
{
    const char *pid = cishare_config_get(conf, CISHARE_CONF_PARTICIPANT);
    const char *key = cishare_config_get(conf, CISHARE_CONF_KEY);
    cishare_err_t err;

    memset(id, 0, sizeof(*id));
    if (!pid || !*pid)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s is not set in the config",
                               CISHARE_CONF_PARTICIPANT);
    if (!key)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s is not set in the config", CISHARE_CONF_KEY);
    err = accept_directory(conf, NULL, NULL, state_dir, true, &id->dir,
                           id->dir_note, sizeof(id->dir_note), errstr,
                           errstr_size);
    if (err)
        return err;
    id->me = cishare_directory_find(id->dir, pid);
    if (!id->me) {
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "%s: participant '%s' is not in the directory",
                              CISHARE_CONF_PARTICIPANT, pid);
        goto fail;
    }
    err = cishare_keypair_load(&id->kp, key, errstr, errstr_size);
    if (err)
        goto fail;
    if ((err = check_key_file(id->dir, id->me, &id->kp, key, pid,
                              &id->previous_key, errstr, errstr_size)))
        goto fail;
    return CISHARE_OK;
fail:
    cishare_identity_clear(id);
    return err;
}

cishare_err_t cishare_identity_load(const cishare_config_t *conf,
                                    cishare_identity_t *id, char *errstr,
                                    size_t errstr_size)
{
    return cishare_identity_load_at(conf, NULL, id, errstr, errstr_size);
}

cishare_err_t cishare_identity_swap_directory(cishare_identity_t *id,
                                              cishare_directory_t *newdir,
                                              char *errstr, size_t errstr_size)
{
    char pid[CISHARE_ID_MAX_LEN + 1];
    const cishare_participant_t *me;
    bool previous_key = false;
    cishare_err_t err;

    /* The key pair stays in id: only the new entry is looked up and
     * checked against it, so no copy of the secrets is ever made. */
    snprintf(pid, sizeof(pid), "%s", id->me->id);
    me = cishare_directory_find(newdir, pid);
    if (!me) {
        err = cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "participant '%s' is no longer in directory serial %llu: it was "
            "removed",
            pid, (unsigned long long)cishare_directory_serial(newdir));
        cishare_directory_destroy(newdir);
        return err;
    }
    if ((err = check_key_file(newdir, me, &id->kp, "the secret key file", pid,
                              &previous_key, errstr, errstr_size))) {
        cishare_directory_destroy(newdir);
        return err;
    }
    cishare_directory_destroy(id->dir);
    id->dir = newdir;
    id->me = me;
    id->previous_key = previous_key;
    id->dir_note[0] = '\0'; /* a version from the topic, not the kept copy */
    return CISHARE_OK;
}

void cishare_identity_clear(cishare_identity_t *id)
{
    cishare_directory_destroy(id->dir);
    cishare_keypair_wipe(&id->kp);
    memset(id, 0, sizeof(*id));
}
