/*
 * cishare - the relay: a CEPTOAR, a ministry or the coordination office
 * passes on what it received, under its relay rules.
 *
 * READING is the feed's (feed.h): the relay runs cishare_feed_run() with
 * no sinks and a delivery step of its own (cishare_feed_output_t), so
 * verification, the TLP policy, de-duplication, quarantine and the commit
 * order are the feed's. Its folder is <state-dir>/relay (seen ids,
 * quarantine, trust state, review queue); its consumer group is
 * cishare-feed-<id>.relay, apart from the participant's own feed.
 *
 * RULES (configuration keys, one per rule, tried in name order; the first
 * whose types and labels match a message decides):
 *
 *   cishare.relay.rule.<name>=types=T[,T...] [tlp=L[,L...]] to=ITEM[,...]
 *                             [label=keep|L]
 *
 *   types  message types: indicator, incident, alert, sighting, revocation
 *   tlp    the original's labels that match (default clear,green,amber;
 *          amber+strict and red are never re-shared: refused here)
 *   to     the copy's audience: audience items (all, sector:<s>,
 *          role:<r>, participant:<id>) and
 *            clients  every client of the relay (policy.h rule h):
 *                     a CEPTOAR's member operators and the council, a
 *                     ministry's sectors, the office's `all`
 *            members  a CEPTOAR's member operators (participant items)
 *            originator  for sightings: the originator it names
 *          the origin and the relay itself are never added by these
 *          A SIGHTING (and false-positive report) goes to the originator
 *          it names (payload sighting_of_origin) and to nobody else,
 *          whatever to= says: the rule decides whether it is relayed and
 *          at which label, not where (write to=originator to say so).
 *          Sent with anonymise: true (cishare sighting --anonymise, to
 *          the sighter's CEPTOAR), it goes as an anonymised copy under
 *          the relay's origin; the re-sharing rule j (policy.h) lets it
 *          reach an originator outside the relay's clients.
 *   label  keep (default) or a label: the copy's label is the stricter of
 *          it and the original's (never looser)
 *
 * A malformed rule stops the relay before it reads anything, naming the
 * key and the problem.
 *
 * WHAT IS NOT RELAYED is counted by reason and the relay goes on:
 *   already-relayed  a relayed copy (only what the relay received
 *                    directly is passed on, policy.h rule d)
 *   own-message      the relay's own message
 *   no-rule          no rule matches its type and label
 *   no-recipient     the rule's audience names nobody but the origin
 *   no-originator    a sighting naming no originator of the directory
 *                    (no sighting_of_origin, or the sighter itself)
 *   not-writable     the relay may not write a topic the copy needs
 *                    (the ACL model of topics.h)
 *   anonymise-failed the anonymiser refused the message (logged)
 *   <policy reason>  the re-sharing rules a-j (policy.h) refuse it, or
 *                    refuse every recipient (cishare_reason_code(): e.g.
 *                    never-reshared, no-consent-forward, not-relay-client)
 *
 * SIGNING. A relayed copy is the original record (key, value, the
 * origin's signed headers) plus one relay hop (cishare.relay) signed by
 * the relay's key over the original signature, with the copy's label and
 * audience: the origin's signature stays verifiable. It goes to the topics
 * its own label and audience route to (routing.h). A message whose payload
 * says anonymise: true is not hop-signed: the relay publishes
 * cishare_anonymise()'s copy as a new message under its own origin
 * (anonymise.h), created time coarsened (cishare.relay.anonymise-unit-ms).
 *
 * EXACTLY ONCE (kill -9 anywhere). The relay's producer is transactional
 * (transactional.id cishare-relay.<id>.feed). Per batch of the feed:
 *   1. every copy of the batch is produced inside one transaction;
 *   2. at the feed's commit point (before the dedup commit) the batch's
 *      consumer offsets are added to the transaction
 *      (send_offsets_to_transaction) and the transaction is committed:
 *      copies and offsets become visible together, or neither does;
 *   3. the feed then commits its dedup log and the same offsets.
 * A crash before 2 leaves an open transaction that the restarted relay's
 * init_transactions aborts (readers with isolation.level=read_committed,
 * librdkafka's default, never see its copies) and the batch is read and
 * relayed again. A crash after 2 leaves offsets already past the batch: it
 * is not read again. So each message is relayed once. Kafka needs an ACL
 * for this: WRITE on TransactionalId prefix "cishare-relay.<id>." for the
 * relay's principal. librdkafka 2.0.2 cannot create TransactionalId ACLs,
 * so `cishare provision` does not: deploy/kafka/grant-relay does, with
 * Kafka's own AclCommand.
 *
 * Test hook (tests only): CISHARE_TEST_RELAY_CRASH=before-commit:N or
 * after-commit:N makes the process _exit(9) in the N-th transaction that
 * holds copies, after its copies are acknowledged and before, or just
 * after, the transaction commit.
 *
 * REVIEW (--review): messages the rules and the policy would relay are
 * held in the review queue (review.h, <folder>/review.jsonl) instead,
 * durably before the feed commits their offsets; the queue keeps them
 * across restarts and de-duplicates re-reads. The review commands
 * (cishare_relay_review_*: `cishare relay review list|approve|reject`)
 * and the running relay share the queue through a lock,
 * <folder>/review.lock (flock), one process at a time.
 *
 *   approve  builds the copy as it would be relayed now (verification,
 *            rules, re-sharing policy, hop signature or anonymised copy
 *            with its fresh message id) and stores its exact bytes and
 *            topics with the item (cishare_review_prepare), then marks it
 *            approved; what cannot be relayed now stays pending (reject
 *            it). The copy is built once: an anonymised copy keeps one
 *            message id however often it is produced.
 *   relaying the running relay (at each commit point, about once a
 *            second when idle, when the journal changed) or the next run
 *            (at start, before reading) relays every approved item, with
 *            or without --review.
 *   exactly once  each relayed approval gets a review number 1, 2, ...
 *            stored with its copy before it is produced. A pass produces
 *            its copies and commits its last number as the offset of
 *            consumer group <group.id>.review on the relay's inbox
 *            partition 0 (a counter, never a read position: the group
 *            reads nothing) in ONE Kafka transaction, then marks the items
 *            relayed. After kill -9 anywhere: an approved item whose
 *            number is at most the committed counter was relayed (marked
 *            now, not produced again); one above it was not (its
 *            transaction was aborted by init_transactions) and is produced
 *            again with the same bytes and number. The group needs no new
 *            ACL: cishare provision grants READ on the prefix
 *            cishare-feed-<id>. and on the inbox. Deleting that group (or
 *            pointing a queue at another group.id) while approved items
 *            are mid-pass loses this guarantee for them.
 *
 * Library code: never prints; lines for the user go to opts->log.
 */
#ifndef CISHARE_RELAY_H
#define CISHARE_RELAY_H

#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/err.h"
#include "feed.h"
#include "review.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CISHARE_RELAY_RULE_PREFIX "cishare.relay.rule."
/** Kinds of refusal counted (policy reasons and the relay's own). */
#define CISHARE_RELAY_MAX_REASONS 48

typedef struct cishare_relay_opts_s {
    /** The relay's configuration (its participant, keys, rules). The
     *  caller set cishare.state-dir to the relay's folder and a group.id
     *  of its own (cishare_relay_prepare_config()). */
    const cishare_config_t *conf;
    bool once, from_beginning, review;
    int batch_size; /**< 0: the feed's default */
    /** Optional: Prometheus series (the feed's, and cishare_relay_*). */
    cishare_metrics_t *metrics;
    volatile int *stop;
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
} cishare_relay_opts_t;

typedef struct cishare_relay_stats_s {
    cishare_feed_stats_t feed; /**< what the reading side saw */
    uint64_t relayed;          /**< messages relayed (committed transactions) */
    uint64_t anonymised;       /**< of which as anonymised copies */
    uint64_t records;          /**< Kafka records produced (one per topic) */
    uint64_t queued;           /**< held in the review queue (--review) */
    uint64_t approved; /**< of `relayed`: approved items from the queue */
    uint64_t refused;  /**< not relayed, by reason below */
    struct {
        char code[40];
        uint64_t n;
    } refused_by[CISHARE_RELAY_MAX_REASONS];
    size_t refused_kinds;
} cishare_relay_stats_t;

/**
 * Point conf at the relay's own folder and consumer group: the relay's
 * folder is <state-dir>/relay (state-dir as cishare_identity_state_dir()
 * resolves it), written into cishare.state-dir; group.id becomes
 * cishare-feed-<id>.relay unless set. dirp/dir_size receive the folder.
 */
cishare_err_t cishare_relay_prepare_config(cishare_config_t *conf, char *dirp,
                                           size_t dir_size, char *errstr,
                                           size_t errstr_size);

/** Opaque: the parsed rules. */
typedef struct cishare_relay_rules_s cishare_relay_rules_t;

/**
 * Parse every cishare.relay.rule.<name> of conf and check its items
 * against dir for relay `me`. Errors (CISHARE_ERR_CONFIG) name the key
 * and the problem; no rule at all is an error too.
 */
cishare_err_t cishare_relay_rules_load(const cishare_config_t *conf,
                                       const cishare_directory_t *dir,
                                       const cishare_participant_t *me,
                                       cishare_relay_rules_t **rulesp,
                                       char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
void cishare_relay_rules_destroy(cishare_relay_rules_t *rules);
/** Number of rules. */
size_t cishare_relay_rules_count(const cishare_relay_rules_t *rules);

/**
 * Run the relay until opts->stop is set or (with once) every assigned
 * partition reached its end. Stats are filled in any case.
 * @returns CISHARE_OK; CISHARE_ERR_CONFIG (configuration, rules,
 *          identity), CISHARE_ERR_KAFKA (including a transaction refused
 *          for want of the TransactionalId ACL), CISHARE_ERR_IO, and the
 *          feed's other errors.
 */
cishare_err_t cishare_relay_run(const cishare_relay_opts_t *opts,
                                cishare_relay_stats_t *stats, char *errstr,
                                size_t errstr_size);

/* ---- review commands (the queue of a relay's folder) ---- */

typedef struct cishare_relay_review_s cishare_relay_review_t;

/**
 * Open the review queue of the relay configured by conf (prepared with
 * cishare_relay_prepare_config()), its identity and (approving: for
 * cishare_relay_review_approve()) its relay rules, holding the
 * folder's review lock (waits up to 30 s for a running relay to release
 * it). Errors: CISHARE_ERR_NOT_FOUND (no relay folder yet), the identity's
 * and rules' CISHARE_ERR_CONFIG, CISHARE_ERR_IO (lock busy, journal),
 * CISHARE_ERR_VALIDATION (damaged journal).
 */
cishare_err_t cishare_relay_review_open(const cishare_config_t *conf,
                                        void (*log)(void *, const char *),
                                        void *log_opaque, bool approving,
                                        cishare_relay_review_t **rvp,
                                        char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
/** The queue (borrowed: list it, reject with cishare_review_reject()). */
cishare_review_t *cishare_relay_review_queue(cishare_relay_review_t *rv);
/**
 * Approve pending item qid: build its copy now and store it (see REVIEW
 * above); the running relay, or the next run, relays it. Errors:
 * CISHARE_ERR_NOT_FOUND (unknown id), CISHARE_ERR_EXISTS (already
 * approved or relayed), CISHARE_ERR_POLICY (rejected, or not relayable
 * now: the reason code is named; it stays pending), CISHARE_ERR_IO.
 */
cishare_err_t cishare_relay_review_approve(cishare_relay_review_t *rv,
                                           const char *qid, int64_t now_ms,
                                           const cishare_review_item_t **itemp,
                                           char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));
/** Release the lock and free. NULL is a no-op. */
void cishare_relay_review_close(cishare_relay_review_t *rv);

/** "relayed N (anonymised A), queued Q, not relayed R (reason n, ...)" */
void cishare_relay_stats_format(const cishare_relay_stats_t *stats, char *buf,
                                size_t size);

#endif
