#include "cishare/identity.h"

#include <string.h>

cishare_err_t cishare_identity_load_directory(const cishare_config_t *conf,
                                              cishare_directory_t **dirp,
                                              char *errstr, size_t errstr_size)
{
    const char *path = cishare_config_get(conf, CISHARE_CONF_DIRECTORY);

    *dirp = NULL;
    if (!path)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s is not set in the config",
                               CISHARE_CONF_DIRECTORY);
    return cishare_directory_load(
        path, cishare_config_get(conf, CISHARE_CONF_ROOT_KEY), dirp, errstr,
        errstr_size);
}

cishare_err_t cishare_identity_load(const cishare_config_t *conf,
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
    err = cishare_identity_load_directory(conf, &id->dir, errstr, errstr_size);
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
    /* A key that is not the directory's would sign messages nobody can
     * verify and miss every message encrypted to this participant. */
    if (sodium_memcmp(id->kp.ed25519_pk, id->me->ed25519_pk,
                      CISHARE_ED25519_PK_BYTES) != 0 ||
        sodium_memcmp(id->kp.x25519_pk, id->me->x25519_pk,
                      CISHARE_X25519_PK_BYTES) != 0) {
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "secret key file %s does not match the "
                              "public keys of '%s' in the directory",
                              key, pid);
        goto fail;
    }
    return CISHARE_OK;
fail:
    cishare_identity_clear(id);
    return err;
}

void cishare_identity_clear(cishare_identity_t *id)
{
    cishare_directory_destroy(id->dir);
    cishare_keypair_wipe(&id->kp);
    memset(id, 0, sizeof(*id));
}
