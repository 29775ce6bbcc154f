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

cishare_err_t cishare_identity_accept_directory(
    const cishare_config_t *conf, const char *path, const char *root_pub_path,
    const char *state_dir, cishare_directory_t **dirp, char *errstr,
    size_t errstr_size)
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
                                        cishare_time_now_ms(), dirp, errstr,
                                        errstr_size);
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
static cishare_err_t check_key_file(cishare_identity_t *id, const char *key,
                                    const char *pid, char *errstr,
                                    size_t errstr_size)
{
    const cishare_signing_key_t *k =
        cishare_directory_signing_key(id->dir, id->kp.key_id);
    int64_t now = cishare_time_now_ms();
    char why[512];

    /* A key that is not the directory's would sign messages nobody can
     * verify and miss every message encrypted to this participant. */
    if (!k || k->owner != id->me ||
        sodium_memcmp(id->kp.ed25519_pk, k->ed25519_pk,
                      CISHARE_ED25519_PK_BYTES) != 0 ||
        (k->current && sodium_memcmp(id->kp.x25519_pk, id->me->x25519_pk,
                                     CISHARE_X25519_PK_BYTES) != 0))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "secret key file %s does not match the "
                               "public keys of '%s' in the directory "
                               "(its key %s; the directory's current key "
                               "is %s)",
                               key, pid, id->kp.key_id, id->me->key_id);
    if (cishare_key_check(k, now, now, why, sizeof(why)))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "secret key file %s: %s; use the current key "
                               "of '%s' (%s)",
                               key, why, pid, id->me->key_id);
    id->previous_key = !k->current;
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
    err = cishare_identity_accept_directory(conf, NULL, NULL, state_dir,
                                            &id->dir, errstr, errstr_size);
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
    if ((err = check_key_file(id, key, pid, errstr, errstr_size)))
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
    cishare_identity_t next;
    cishare_err_t err;

    snprintf(pid, sizeof(pid), "%s", id->me->id);
    next = *id; /* the same key pair: not copied out of id in the end */
    next.dir = newdir;
    next.me = cishare_directory_find(newdir, pid);
    if (!next.me) {
        err = cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "participant '%s' is no longer in directory serial %llu: it was "
            "removed",
            pid, (unsigned long long)cishare_directory_serial(newdir));
        cishare_directory_destroy(newdir);
        return err;
    }
    if ((err = check_key_file(&next, "the secret key file", pid, errstr,
                              errstr_size))) {
        cishare_directory_destroy(newdir);
        return err;
    }
    cishare_directory_destroy(id->dir);
    id->dir = newdir;
    id->me = next.me;
    id->previous_key = next.previous_key;
    return CISHARE_OK;
}

void cishare_identity_clear(cishare_identity_t *id)
{
    cishare_directory_destroy(id->dir);
    cishare_keypair_wipe(&id->kp);
    memset(id, 0, sizeof(*id));
}
