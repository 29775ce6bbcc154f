/*
 * cishare - the sighting message of `cishare sighting`: "we saw this
 * indicator" or "false positive", addressed back to the originator and
 * nobody else (library part: checks and builds, prints nothing).
 *
 * Addressing (docs: schemas/README.md, "Sightings and revocations"):
 *   default      TLP:AMBER, audience participant:<origin of the indicator>:
 *                routed to that participant's inbox (and the sighter's own,
 *                as every origin receives its own messages); the sighter's
 *                sector peers read neither inbox.
 *   --anonymise  TLP:AMBER, audience participant:<the sighter's CEPTOAR>,
 *                payload anonymise true: the CEPTOAR's relay strips the
 *                sighter's identity and passes the copy to
 *                sighting_of_origin.
 * The payload names the indicator exactly: sighting_of (its subject) and
 * sighting_of_origin (its origin), since subjects are chosen by their
 * origins and two origins may use one.
 */
#ifndef CISHARE_SIGHTING_H
#define CISHARE_SIGHTING_H

#include "cishare/directory.h"
#include "cishare/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What the user asked for (borrowed strings; NULL = not given). */
typedef struct cishare_sighting_opts_s {
    const char *subject;    /**< --subject: the sighted subject id */
    const char *origin;     /**< --origin: the participant that published it */
    bool false_positive;    /**< --false-positive */
    const char *count;      /**< --count N (text), NULL: 1 */
    const char *first_seen; /**< --first-seen (RFC 3339) */
    const char *last_seen;  /**< --last-seen (RFC 3339) */
    const char *note;       /**< --note: free text (payload description) */
    bool anonymise;         /**< --anonymise */
} cishare_sighting_opts_t;

/** Longest --note accepted, in bytes. */
#define CISHARE_SIGHTING_NOTE_MAX 65536
/** How far in the future a --first-seen/--last-seen may lie (clock skew). */
#define CISHARE_SIGHTING_SKEW_MS (5 * 60 * 1000)

/**
 * Check a subject id given on the command line: "<type>--<rest>" with
 * type indicator, incident or alert, rest 1 or more printable ASCII
 * characters without spaces or commas, at most CISHARE_SUBJECT_MAX_LEN
 * bytes in all. `what` names the option in errstr ("--subject").
 *
 * @returns CISHARE_OK or CISHARE_ERR_VALIDATION (errstr says why).
 */
cishare_err_t cishare_subject_check(const char *what, const char *subject,
                                    char *errstr, size_t errstr_size);

/**
 * Check the options that need no directory (subject shape, count, times,
 * note), at now_ms. Errors name the option.
 *
 * @returns CISHARE_OK or CISHARE_ERR_VALIDATION.
 */
cishare_err_t cishare_sighting_check(const cishare_sighting_opts_t *o,
                                     int64_t now_ms, char *errstr,
                                     size_t errstr_size);

/**
 * Check everything (cishare_sighting_check(), and against dir: --origin
 * is a participant other than me; with anonymise, me has a CEPTOAR) and
 * build the native JSON sighting message as `me` at now_ms (a fresh
 * sighting--<uuid> id), with its label and audience in the message.
 *
 * @param msgp      on success a new message (caller decrefs)
 * @returns CISHARE_OK, CISHARE_ERR_VALIDATION (the user's input),
 *          CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_sighting_build(const cishare_directory_t *dir,
                                     const cishare_participant_t *me,
                                     const cishare_sighting_opts_t *o,
                                     int64_t now_ms, json_t **msgp,
                                     char *errstr, size_t errstr_size);

#endif
