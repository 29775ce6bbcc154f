/*
 * cishare - the feed daemon: reads participant P's topics from Kafka,
 * verifies, filters by the TLP policy, decrypts, de-duplicates and writes
 * what P may see into the sinks; quarantines what is invalid.
 *
 * Per batch (see the invariant in dedup.h): poll up to batch-size messages
 * -> for each: verify (cishare_message_verify) [invalid -> quarantine],
 * policy decide [withheld -> counted by reason], dedup check [seen ->
 * counted as duplicate], decode/decrypt [not openable -> quarantine],
 * write or revoke in every sink, dedup add -> sinks sync, quarantine
 * sync -> dedup commit (ids + marks) -> Kafka offset commit (sync).
 * The ids of invalid messages are never added to the dedup set: a forged
 * copy must not suppress the genuine message.
 *
 * Threads: with threads > 1, verify, policy, decode/decrypt and the JSON
 * of each message ("prepare") run on that many worker threads, one batch
 * at a time, while the calling thread delivers and commits the previous
 * batch (dedup check, quarantine, sinks, commit: in poll order, on the
 * calling thread only) and polls the next. With threads == 1 the calling
 * thread prepares in line. The outcome does not depend on the number of
 * threads.
 *
 * Rebalances: the rebalance callback runs on the calling thread, inside
 * the poll. On a revoke it waits for the preparing threads, delivers the
 * prepared batch and commits it synchronously (the partitions are still
 * the feed's), then drops what was polled from the revoked partitions and
 * not prepared, and their offsets: nothing of a revoked partition is
 * delivered or committed afterwards. Commits name only the partitions
 * assigned at the time (explicit offsets). With a lost assignment nothing
 * uncommitted is delivered.
 *
 * Directory versions: the feed also reads the directory topic
 * (cishare.directory.topic, dirtopic.h). At start a newer valid version
 * there is applied before the subscription is made; while running, one is
 * applied between batches, when no preparing thread reads the directory
 * (the old one is then freed: nothing keeps a pointer into it). Refused
 * versions are logged and counted; a version that no longer lists the
 * feed's participant (or its key), or the expiry of the directory in use
 * (checked between batches), stops the feed with CISHARE_ERR_DIRECTORY
 * after a final commit of what was delivered.
 *
 * Receipts (cishare.feed.receipts=1, the default; none when opts->output
 * is set, as for `cishare relay`: the participant's own feed sends
 * them): for each message the feed delivers (not a duplicate, not
 * withheld) whose origin is another participant, that is not itself a
 * receipt, and that is TLP:RED, TLP:AMBER+STRICT (the label as
 * delivered), a mandatory incident notice, or TLP:AMBER with
 * cishare.feed.receipts-amber=1, the feed builds a receipt (schemas/
 * Receipt.avsc: receipt_of = the envelope message id, its origin, type,
 * subject and label; delivered_at; appended_at = the record's
 * LogAppendTime, else null; topic, partition, offset) for TLP:AMBER to
 * participant:<origin>. The batch's receipts are signed with the
 * participant's key as one batch at the commit (cishare.sign.scheme, as
 * the publisher: one Ed25519 signature per up to 1024 with the default)
 * and sent to the origin's inbox only (not to the sender's own, where
 * each run would deliver the last run's receipts) on a producer of its
 * own (idempotent, acks=all, linger.ms=0). Delivery order: deliver ... ->
 * sinks, quarantine, archive sync -> every receipt of the batch confirmed by
 * the broker -> dedup commit -> offsets. A receipt not delivered stops the feed
 * (CISHARE_ERR_KAFKA) with the batch not committed: it is read again and its
 * receipts re-sent; the origin's archive keeps one receipt per (message,
 * recipient). The signature attests that this participant's feed delivered that
 * message at delivered_at.
 *
 * Metrics (opts->metrics, `--metrics`): counters cishare_feed_delivered_total,
 * _duplicates_total, _revocations_total, _withheld_total{reason},
 * _quarantined_total{reason}, _blocklist_excluded_total{reason}; gauges
 * cishare_feed_consumer_lag{topic,partition} (the high watermark the
 * consumer last saw minus its position, for each assigned partition),
 * cishare_directory_serial, cishare_feed_last_message_timestamp_seconds
 * (the Kafka timestamp of the last delivered message); histogram
 * cishare_feed_batch_seconds (from the batch's first poll to the end of its
 * commit). The reason labels are the names of the stats line and the logs.
 *
 * Library code: it never prints; lines for the user go to opts->log.
 */
#ifndef CISHARE_FEED_H
#define CISHARE_FEED_H

#include "cishare/config.h"
#include "cishare/err.h"
#include "cishare/identity.h"
#include "cishare/indicator.h"
#include "cishare/metrics.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CISHARE_FEED_MAX_SINKS 4

/**
 * A delivery step of its own, besides (or instead of) the sinks: what
 * `cishare relay` plugs in (relay.h), so that the feed's verification,
 * policy, de-duplication, quarantine and commit order cover it too.
 * Called on the feed's thread only; `id` is the feed's identity (its
 * directory may be replaced between batches: keep no pointer into it).
 */
typedef struct cishare_feed_output_s {
    /** Each message the feed delivers (where it writes to the sinks,
     *  revocations included; duplicates are not), in poll order: the
     *  Kafka record as read and the message's JSON tree (both borrowed
     *  for the call). An error stops the feed; nothing of the batch is
     *  committed. */
    cishare_err_t (*deliver)(void *opaque, const cishare_identity_t *id,
                             const rd_kafka_message_t *m, const json_t *msg,
                             char *errstr, size_t errstr_size);
    /** Make what deliver took durable: called by every batch commit
     *  after the sinks and the quarantine are synced, before the dedup
     *  commit (step 1 of the invariant in dedup.h). `offsets` (NULL or
     *  empty: none) are the Kafka offsets the feed commits after the
     *  dedup commit; an output may commit them itself, atomically with
     *  its output (a Kafka transaction): the feed's own commit of the
     *  same offsets afterwards changes nothing. Also called when idle
     *  (about once a second). An error stops the feed. */
    cishare_err_t (*commit)(void *opaque, const cishare_identity_t *id,
                            rd_kafka_t *consumer,
                            const rd_kafka_topic_partition_list_t *offsets,
                            char *errstr, size_t errstr_size);
    void *opaque;
} cishare_feed_output_t;

typedef struct cishare_feed_opts_s {
    const cishare_config_t *conf;
    const char *sinks[CISHARE_FEED_MAX_SINKS]; /**< "jsonl", "stix", ... */
    size_t sink_cnt;
    const char *out;     /**< folder, or "-" (jsonl on stdout) */
    bool once;           /**< stop at the end of every partition */
    bool from_beginning; /**< start every partition at its beginning */
    /** One feed per state folder (folderlock.h): false, another instance
     *  holding <state-dir>/feed.lock is CISHARE_ERR_CONFIG; true, wait
     *  for it as a hot standby (until *stop), then start, with a static
     *  consumer group membership (group.instance.id derived from the
     *  group and the folder, unless set) so that the takeover replaces
     *  the dead member at once instead of waiting for its session to time
     *  out. Run both instances of a pair with it. */
    bool standby;
    int threads;               /**< preparing threads (>= 1), see above */
    int batch_size;            /**< messages per batch (default 1000) */
    int64_t stats_interval_ms; /**< 0: no stats lines */
    volatile int *stop;        /**< set to non-zero to stop cleanly */
    /** Optional: a delivery step besides the sinks (sink_cnt may be 0). */
    const cishare_feed_output_t *output;
    /** Optional: Prometheus series (metrics.h), set after every batch
     *  commit and about once a second when idle: see "Metrics". */
    cishare_metrics_t *metrics;
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
} cishare_feed_opts_t;

/** Why the feed quarantined a message (stable names, as in
 *  quarantine.jsonl and the metrics). */
typedef enum {
    CISHARE_FEED_QREASON_MALFORMED = 0,
    CISHARE_FEED_QREASON_BAD_SIGNATURE,
    CISHARE_FEED_QREASON_UNKNOWN_KEY,
    CISHARE_FEED_QREASON_CANNOT_DECRYPT,
    CISHARE_FEED_QREASON_RELAY_LOOSENED,
    CISHARE_FEED_QREASON__CNT
} cishare_feed_qreason_t;

/** "malformed", "bad-signature", ...; never NULL. */
const char *cishare_feed_quarantine_reason_name(cishare_feed_qreason_t r);

typedef struct cishare_feed_stats_s {
    uint64_t delivered, duplicates, withheld, quarantined, revocations;
    uint64_t withheld_by[32]; /**< by cishare_reason_t */
    /** by reason, cishare_feed_quarantine_reason_name() */
    uint64_t quarantined_by[CISHARE_FEED_QREASON__CNT];
    /** The Kafka timestamp (ms) of the last message delivered; 0: none. */
    int64_t last_message_ms;
    /** Directory versions from the directory topic: applied while
     *  running (or at start), and refused (never applied). */
    uint64_t directory_applied, directory_refused;
    /** Records the sinks left out of their state because the origin was
     *  past its bound (cishare.stix.max-state-bytes-per-origin); each
     *  is also logged. */
    uint64_t sink_over_bound;
    /** Observables the blocklist sink refused to list (indicator.h: a
     *  public suffix, a special range, ...), by reason; each is also
     *  logged. The message itself still reaches the other sinks. */
    uint64_t blocklist_refused;
    /** Incident notices delivered out of their incident's order (an
     *  update with no earlier notice, ...): flagged in the archive and
     *  logged, never dropped. */
    uint64_t incident_flagged;
    /** Signed receipts (see "Receipts" above): sent (their delivery
     *  confirmed by the broker), and not sent because the publish rules
     *  refuse them (each is also logged). */
    uint64_t receipts_sent, receipts_refused;
    uint64_t blocklist_refused_by[CISHARE_INDICATOR__CNT];
    /** Busy time (CLOCK_MONOTONIC, us): the first message polled and the
     *  end of the last commit of a batch with messages; 0 when none. */
    int64_t busy_first_us, busy_last_us;
    /** Poll batches delivered, and commits of delivered messages: a commit
     *  takes every batch delivered since the last one, up to batch_size
     *  messages or cishare.feed.commit-ms after the first was polled, or
     *  until a poll finds nothing new. */
    uint64_t batches, commits;
} cishare_feed_stats_t;

/**
 * Run the feed until opts->stop is set or (with once) every assigned
 * partition reached its end. Stats are filled in any case.
 * @returns CISHARE_OK; CISHARE_ERR_CONFIG (bad configuration, identity),
 *          CISHARE_ERR_KAFKA, CISHARE_ERR_IO (sink, dedup, quarantine),
 *          CISHARE_ERR_DIRECTORY (a new directory version removed this
 *          participant or its key, or the directory in use expired).
 */
cishare_err_t cishare_feed_run(const cishare_feed_opts_t *opts,
                               cishare_feed_stats_t *stats, char *errstr,
                               size_t errstr_size);

/** "delivered N, duplicates D, withheld W (reason n, ...), quarantined Q" */
void cishare_feed_stats_format(const cishare_feed_stats_t *stats, char *buf,
                               size_t size);

#endif
