/*
 * cishare - anonymised copies: what a relay (the reporter's CEPTOAR, its
 * ministry or the coordination office) re-publishes, under its own origin,
 * for a report whose origin asked for anonymity (payload anonymise: true).
 *
 * cishare_anonymise() turns the decoded native-JSON message into a new
 * native-JSON message (the input of cishare_message_build()) that carries
 * no trace of the reporter that the library can find:
 *
 *   - the identifying payload fields are removed or replaced, per type
 *     (the list is a contract: schemas/README.md, "Anonymised copies");
 *     an incident's operator_overview becomes a pseudonym such as
 *     "an operator in the Electric power sector";
 *   - the payload id (and so the Kafka key of an incident or indicator)
 *     is a fresh random "<prefix>--<uuid v4>", never derived from the
 *     original (a hash of a guessable id would be a trace); a sighting's
 *     sighting_of (its Kafka key) names the originator's indicator, not
 *     the sighter, and is kept;
 *   - every time of the payload (created, modified, first/last seen,
 *     detected/reported, validity) and the expiry are coarsened to the
 *     unit (default one hour);
 *   - nothing of the original envelope is kept: no message id, origin,
 *     sector, key id, signature, audience, relay hops or feed members.
 *     The relay builds the copy as its own message, with a new message id;
 *   - in every remaining string of the payload, the original subject ids,
 *     the message id, the reporter's id, name, Kafka principal and key
 *     ids are replaced (ASCII case-insensitive) by the pseudonym;
 *   - payload anonymise is false in the copy: the copy is already
 *     anonymous, and the publish rule for anonymise: true (it may go only
 *     to the participant that anonymises it) must not hold the copy back.
 *
 * Limits (also in schemas/README.md): free text (summary, technical
 * details, descriptions, indicator values) is scanned only for the exact
 * strings above; a reporter that writes its own address, a host name or a
 * colleague's name in free text is not anonymised by this. The relay's
 * review queue (consumers/review.h) is the place for a human check.
 *
 * Threading: reentrant; the directory is only read.
 */
#ifndef CISHARE_ANONYMISE_H
#define CISHARE_ANONYMISE_H

#include "cishare/directory.h"
#include "cishare/err.h"

#include <jansson.h>
#include <stdint.h>

/** Default coarsening unit of cishare_anonymise_opts_t: one hour. */
#define CISHARE_ANONYMISE_UNIT_MS (60 * 60 * 1000)

/** Options of cishare_anonymise(). A zeroed struct means the defaults. */
typedef struct cishare_anonymise_opts_s {
    /** Times are coarsened to multiples of this many ms since the epoch
     *  (start times down, valid_until and expires up). 0: the default
     *  CISHARE_ANONYMISE_UNIT_MS. 1: no coarsening. Negative: refused. */
    int64_t unit_ms;
    /** Audience text ("a,b" items, as for --audience) written into the
     *  copy's "audience"; NULL: the copy has no "audience" (the caller
     *  passes audience_override to cishare_message_build(), or the
     *  label's default applies). Never the original's audience. */
    const char *audience;
    /** Pseudonym replacing the reporter; NULL: derived from the
     *  reporter's role and sector (cishare_anonymise_pseudonym()). */
    const char *pseudonym;
} cishare_anonymise_opts_t;

/**
 * The anonymised copy of msg.
 *
 * @param msg       decoded native-JSON message: {"type", "tlp"?,
 *                  "audience"?, "expires"?, "payload"} and optionally the
 *                  feed's envelope members (message_id, origin, sector,
 *                  created, key_id, relayed_by, encrypted), as
 *                  cishare_message_to_json() gives it; only read. Type
 *                  incident, indicator or sighting (others:
 *                  CISHARE_ERR_VALIDATION). payload anonymise is not
 *                  required: the caller decides when to anonymise.
 * @param reporter  the original origin, from the verified envelope (not
 *                  from msg: msg's "origin", when present, must be the
 *                  same id, else CISHARE_ERR_VALIDATION); its id, name,
 *                  principal and every key id are scrubbed
 * @param dir       the directory (sector names for the pseudonym)
 * @param o         options; NULL: defaults
 * @param outp      on success a new message {"type", "tlp"?,
 *                  "audience"?, "expires"?, "payload"} the caller owns
 *                  (json_decref); on failure NULL
 *
 * The copy is meant to be built by the relay as its own message:
 * cishare_message_build(codec, dir, relay, relay_kp, *outp, tlp, audience,
 * cishare_anonymise_time(now_ms, o), ...), so that the envelope's created
 * time is coarsened too.
 *
 * Errors: CISHARE_ERR_INVALID_ARG (NULL msg, reporter, dir or outp; bad
 * unit), CISHARE_ERR_VALIDATION (not an object, no payload object, other
 * type, a time that does not parse, origin mismatch), CISHARE_ERR_NOMEM.
 * errstr names the field.
 */
cishare_err_t cishare_anonymise(const json_t *msg,
                                const cishare_participant_t *reporter,
                                const cishare_directory_t *dir,
                                const cishare_anonymise_opts_t *o,
                                json_t **outp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * The pseudonym of reporter: "an operator in the <sector name-en> sector"
 * (role name for other roles, e.g. "a ceptoar in the ... sector"; without
 * a sector: "an operator"). sector: the code the message was published
 * for, used when it is one of the reporter's sectors; else (or NULL) the
 * reporter's first sector. Written to out (NUL-terminated, truncated to
 * out_size).
 */
void cishare_anonymise_pseudonym(const cishare_participant_t *reporter,
                                 const cishare_directory_t *dir,
                                 const char *sector, char *out,
                                 size_t out_size);

/** now_ms coarsened down to o's unit (o NULL: the default): the time to
 *  pass as now_ms to cishare_message_build() for the copy. */
int64_t cishare_anonymise_time(int64_t now_ms,
                               const cishare_anonymise_opts_t *o);

#endif
