/*
 * cishare - the publishing pipeline shared by `cishare publish` and
 * `cishare alert`: check the publish rules, build (sign, encrypt) each
 * message as the configured participant, route it to the topics its
 * audience needs and produce it with an idempotent, acks=all producer,
 * recording the outcome of every record from its delivery reports.
 *
 * Publish rules checked here, per record (a refusal names the record):
 *   - the record's own label is kept; the caller's label (--tlp) may
 *     tighten it, never loosen it;
 *   - a participant publishes only as itself (an "origin" field naming
 *     another participant is refused; feeds check the signature);
 *   - the audience rules of policy.h (defaults, RED needs named
 *     participants, known names);
 *   - the publish rules P1-P8 of policy.h, through
 *     cishare_policy_check_publish(), the one implementation every feed
 *     also applies (cishare_message_decide()): alerts only from the
 *     coordination office and ministries, a ministry's alerts only to its
 *     sectors, an operator only in its own sectors, AMBER and stricter to
 *     `all` only from the office, the sector header (always the origin's
 *     first sector here), mandatory incident notices to the competent
 *     ministry and the office.
 *
 * Threading: one publisher is used from one thread; delivery reports are
 * served from cishare_publisher_poll() / _flush() on that thread. With a
 * producer, the publisher works on a thread of its own (submit queues,
 * that thread checks, builds, routes and signs, submit/poll/flush
 * produce in submission order), so a record's outcome (and its subject,
 * topics, label) is final only after _flush().
 */
#ifndef CISHARE_PUBLISHER_H
#define CISHARE_PUBLISHER_H

#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/err.h"
#include "cishare/tls.h"
#include "cishare/types.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Outcome of one record. Strings owned by the publisher. */
typedef struct cishare_pub_rec_s {
    char *record;  /**< input record name */
    char *subject; /**< Kafka key; NULL when not built */
    char *topics;  /**< comma-joined topics; NULL when not built */
    char *tlp;     /**< label published; NULL when not built */
    bool failed;
    bool not_delivered; /**< failed on the way to Kafka (not delivered,
                             not authorised, outcome unknown, publisher
                             stopped), not refused as a record */
    char *reason;       /**< short category when failed ("not authorised") */
    char *detail;       /**< the problem when failed */
    size_t pending;     /**< deliveries outstanding (private bookkeeping) */
    /* as built (when subject is set): for the publication journal */
    char *audience; /**< canonical audience text published */
    char *msg_id;   /**< the envelope's message id (cishare.id) */
    cishare_msgtype_t type;
    int64_t expires_ms; /**< 0: never */
    bool journaled;     /**< private: looked at by the journal */
} cishare_pub_rec_t;

typedef struct cishare_publisher_s cishare_publisher_t;

/**
 * Load the identity named by conf (directory, participant, key) and,
 * unless dry_run, create the producer (conf's librdkafka keys plus
 * enable.idempotence=true, acks=all; message.timeout.ms 30000 unless set).
 * Before the producer is created, the TLS settings are checked
 * (cishare_tls_preflight(): a refusal is CISHARE_ERR_CONFIG and nothing
 * is sent). When every broker refuses the connection (a TLS or login
 * refusal: cishare_kafka_watch_update()), _poll() purges what is queued,
 * reported "not delivered" with the refusal in plain words, instead of
 * retrying until message.timeout.ms.
 * The caller owns *pubp (cishare_publisher_destroy()).
 */
cishare_err_t cishare_publisher_new(const cishare_config_t *conf, bool dry_run,
                                    cishare_publisher_t **pubp, char *errstr,
                                    size_t errstr_size);
void cishare_publisher_destroy(cishare_publisher_t *pub);

/**
 * Where the publisher's lines for the user go (NULL: nowhere). Lines
 * from _new() (the directory topic is read there) are passed on here.
 *
 * Directory versions (dirtopic.h): with a producer, _new() reads the
 * directory topic to its end before the producer is made (a version that
 * no longer lists this participant is then CISHARE_ERR_CONFIG), and
 * later submissions look at it at most about once a second (checked
 * every 64 submissions, so records pay nothing). A newer
 * valid version is applied once every record submitted before it is
 * built and produced (the signing thread then reads no directory), and
 * logged; later records use its participants, keys and audiences. A
 * refused version is logged and never applied. A version without this
 * participant (or its key) makes every later record fail with reason
 * "removed from the directory"; so does the expiry of the directory in
 * use (looked at with every record), with reason "directory expired"
 * and a detail naming its serial and expiry. Either is logged once.
 */
void cishare_publisher_set_log(cishare_publisher_t *pub,
                               void (*log)(void *opaque, const char *line),
                               void *opaque);

const cishare_participant_t *
cishare_publisher_me(const cishare_publisher_t *pub);
const cishare_directory_t *
cishare_publisher_directory(const cishare_publisher_t *pub);
/** What the TLS preflight found (info->tls false: plaintext or dry run);
 *  owned by pub. */
const cishare_tls_info_t *cishare_publisher_tls(const cishare_publisher_t *pub);

/**
 * Check, build, route and produce one native JSON message (only read;
 * with a producer a reference is kept until the signing thread has built
 * it: do not change msg before the next _poll(), _flush() or _destroy()).
 * tlp_override: -1 none, else the caller's label: it labels a record
 * without one and tightens a looser one; a record's own stricter label
 * is kept.
 * audience: NULL or the caller's audience text (replaces msg.audience).
 * The outcome is recorded under `record`; a refusal is not an error of
 * this call. Returns CISHARE_ERR_NOMEM only: out of memory, this record
 * (if its entry could be made: see _reserve()) and every later one fail
 * with reason "out of memory"; records already queued keep their own
 * outcomes. Test hook: environment CISHARE_TEST_PUB_NOMEM=N makes record
 * N (1-based, over _reject() and _submit()) fail so as it is built.
 */
cishare_err_t cishare_publisher_submit(cishare_publisher_t *pub,
                                       const json_t *msg, const char *record,
                                       int tlp_override, const char *audience);

/**
 * Make room for n more records up front, so that recording a record's
 * outcome (_submit(), _reject()) needs no more memory than its texts,
 * and, when even those cannot be copied, fixed ones: with room reserved
 * every record gets an outcome, whatever memory is left.
 * CISHARE_ERR_NOMEM when the room cannot be had (nothing changes).
 */
cishare_err_t cishare_publisher_reserve(cishare_publisher_t *pub, size_t n);

/** Record a record refused before submit (an importer's rejection). */
cishare_err_t cishare_publisher_reject(cishare_publisher_t *pub,
                                       const char *record, const char *reason,
                                       const char *detail);

/** Serve delivery reports for up to timeout_ms. */
void cishare_publisher_poll(cishare_publisher_t *pub, int timeout_ms);

/**
 * Flush: wait up to timeout_ms for every delivery report; deliveries
 * still outstanding then fail ("not delivered within the timeout", with
 * the last client error when there was one).
 *
 * Then every record delivered to all its topics (indicators, incidents,
 * alerts) is appended to the publication journal (pubjournal.h), which
 * `cishare revoke` reads; a journal that cannot be written is logged
 * (set_log), and the records stay published.
 */
void cishare_publisher_flush(cishare_publisher_t *pub, int timeout_ms);

/** Number of records so far (forgotten ones included), and record i (in
 *  submission order; NULL when forgotten or out of range). */
size_t cishare_publisher_cnt(const cishare_publisher_t *pub);
const cishare_pub_rec_t *cishare_publisher_rec(const cishare_publisher_t *pub,
                                               size_t i);

/**
 * A long-running publisher (`publish --follow`, `misp-bridge`) keeps
 * memory bounded: produce what is queued, append the records delivered
 * since the last call to the publication journal (as _flush() does), then
 * free every record below index `upto` whose outcome is final (no
 * delivery outstanding); the first one still outstanding stops it.
 * Indexes stay absolute: _rec() of a forgotten record is NULL. The caller
 * has read their outcomes first.
 */
void cishare_publisher_forget(cishare_publisher_t *pub, size_t upto);
/** Deliveries outstanding over all records. */
size_t cishare_publisher_inflight(const cishare_publisher_t *pub);
/** Deliveries confirmed so far (topic copies). */
size_t cishare_publisher_delivered(const cishare_publisher_t *pub);
/** Batches the caller's thread signed itself: poll, flush or a full ring
 *  needed them while the signer thread was idle or lingering. */
size_t cishare_publisher_signed_here(const cishare_publisher_t *pub);

#endif
