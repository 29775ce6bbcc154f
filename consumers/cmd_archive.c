/*
 * cishare - what the archive's readers (cishare incidents, receipts,
 * report) do first: the participant, the directory and the archive.
 */
#include "archive.h"

#include "cishare/cli.h"
#include "cishare/identity.h"

int cishare_archive_cli_open(const char *cmd, const cishare_config_t *conf,
                             const char *archive, cishare_directory_t **dirp,
                             const cishare_participant_t **mep,
                             cishare_archive_t **ap)
{
    const char *pid = cishare_config_get(conf, CISHARE_CONF_PARTICIPANT);
    char path[4096], errstr[2048];
    cishare_err_t err;

    *dirp = NULL;
    *mep = NULL;
    *ap = NULL;
    if (!pid || !*pid)
        return cishare_cli_usage_error(cmd, "%s is not set (whose archive)",
                                       CISHARE_CONF_PARTICIPANT);
    /* The directory only, no secret key: reading the archive needs none.
     * Its participants and `reporting:` deadlines are the ones every
     * participant applies. */
    if ((err = cishare_identity_load_directory(conf, dirp, errstr,
                                               sizeof(errstr)))) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "%s: ", cmd);
        cishare_cli_error_lines(prefix, errstr);
        return err == CISHARE_ERR_NOMEM ? CISHARE_EXIT_FAIL
                                        : CISHARE_EXIT_USAGE;
    }
    if (!(*mep = cishare_directory_find(*dirp, pid))) {
        cishare_cli_error("%s: %s '%s' is not in the directory", cmd,
                          CISHARE_CONF_PARTICIPANT, pid);
        return CISHARE_EXIT_USAGE;
    }
    if (!archive) {
        if (!cishare_archive_default_path(conf, NULL, path, sizeof(path)))
            return cishare_cli_usage_error(cmd, "%s is too long",
                                           CISHARE_CONF_STATE_DIR);
        archive = path;
    }
    if (cishare_archive_open(archive, false, ap, errstr, sizeof(errstr))) {
        cishare_cli_error("%s: %s", cmd, errstr);
        return CISHARE_EXIT_FAIL;
    }
    return CISHARE_EXIT_OK;
}
