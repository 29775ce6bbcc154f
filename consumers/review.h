/*
 * cishare - the relay's review queue: messages held for a human decision
 * (`cishare relay --review`) before they are relayed.
 *
 * A queue lives in one folder (the relay's state folder) as one journal,
 * <dir>/review.jsonl, kept by the sinks' subject-keyed state
 * (consumers/sinks/sink.h: append-only JSON lines, fsync per change, a
 * torn last line cut on open, compaction by atomic replacement). Keys:
 *
 *   "next"       {"n": N}: the number of the next queue id
 *   "i <id>"     the item as received, written once: Kafka topic,
 *                partition, offset, key, value and headers (bytes as
 *                base64), the decoded message JSON, the received time
 *   "s <id>"     its state: {"state", "decided", "relayed", "reason"?,
 *                "out"?} (times in ms; 0: not yet)
 *
 * States and the only transitions:
 *
 *   pending --approve--> approved --mark_relayed--> relayed
 *      \
 *       `---reject(reason)--> rejected           (kept: rejections are
 *                                                 recorded, never deleted)
 *
 * Every change is durable (fsynced) before the call returns, so a relay
 * killed with kill -9 and restarted finds every item in the state it last
 * returned: an item approved but not yet relayed stays "approved" until
 * the relay calls cishare_review_mark_relayed() after its copy is in
 * Kafka. A relay that restarts relays every "approved" item (exactly
 * once, when it also records what it produces with
 * cishare_review_prepare() before producing it: see there).
 *
 * Queue ids are short and stable: "r1", "r2", ... in the order of adding,
 * never reused. Adding a message already in the queue (same origin and
 * message id, or same topic, partition and offset: a re-read after a
 * crash) returns the existing id.
 *
 * Threading: one thread at a time per queue; one process per folder.
 */
#ifndef CISHARE_REVIEW_H
#define CISHARE_REVIEW_H

#include "cishare/err.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest queue id, without NUL ("r" and up to 20 digits). */
#define CISHARE_REVIEW_ID_MAX 21
/** Longest rejection reason accepted, in bytes. */
#define CISHARE_REVIEW_REASON_MAX 1024

typedef struct cishare_review_s cishare_review_t;

typedef enum {
    CISHARE_REVIEW_PENDING = 0, /**< waiting for a decision */
    CISHARE_REVIEW_APPROVED,    /**< approved, not yet relayed */
    CISHARE_REVIEW_RELAYED,     /**< approved and relayed */
    CISHARE_REVIEW_REJECTED,    /**< rejected, with a reason */
    CISHARE_REVIEW__CNT
} cishare_review_state_t;

/** "pending", "approved", "relayed", "rejected". */
const char *cishare_review_state_name(cishare_review_state_t st);

/**
 * One queued message. Owned by the queue; pointers stay valid until the
 * queue is closed (items are never freed while it is open; a change of
 * state updates the fields in place).
 */
typedef struct cishare_review_item_s {
    char id[CISHARE_REVIEW_ID_MAX + 1]; /**< "r7" */
    cishare_review_state_t state;
    int64_t received_ms; /**< when add() was called (its received_ms) */
    int64_t decided_ms;  /**< approve/reject time; 0 while pending */
    int64_t relayed_ms;  /**< mark_relayed time; 0 until relayed */
    char *reason;        /**< rejection reason; NULL unless rejected */
    /** What cishare_review_prepare() recorded (borrowed); NULL if none. */
    json_t *out;

    /* The Kafka record as received. */
    char *topic;
    int32_t partition;
    int64_t offset;
    uint8_t *key; /**< NULL when the record had no key */
    size_t key_len;
    uint8_t *value; /**< NULL when the record had no value */
    size_t value_len;
    /** Every header, in order, values byte for byte (NULL values kept).
     *  Borrowed: copy it (rd_kafka_headers_copy) before handing it to
     *  rd_kafka_producev(), which takes ownership. */
    rd_kafka_headers_t *headers;

    /** The decoded message (cishare_message_to_json() form), borrowed. */
    json_t *msg;
    /* Summary, borrowed from msg ("" when absent): origin, type, tlp,
     * subject (payload id, or sighting_of / revokes), summary (payload
     * title, else value, else description, else ""). */
    const char *origin, *type, *tlp, *subject, *summary;
} cishare_review_item_t;

/**
 * Open (or create) the queue in folder dir (created with mode 0750 when
 * missing). A torn last journal line (crash during a write) is cut;
 * cishare_review_torn_bytes() says how much, for the caller's log.
 * On success *qp is a new queue the caller closes with
 * cishare_review_close().
 *
 * Errors: CISHARE_ERR_IO (folder or file), CISHARE_ERR_VALIDATION (a
 * damaged line other than the last, or a record that is not a review
 * record: the file and what is wrong are named, nothing is cut),
 * CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_review_open(const char *dir, cishare_review_t **qp,
                                  char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Close the queue (every change is already durable). NULL is a no-op. */
void cishare_review_close(cishare_review_t *q);

/** Bytes of a torn last line cut when the queue was opened. */
uint64_t cishare_review_torn_bytes(const cishare_review_t *q);

/** The journal's path, "<dir>/review.jsonl" (for messages). */
const char *cishare_review_path(const cishare_review_t *q);

/**
 * Queue a received message, durably.
 *
 * @param topic, partition, offset  where it was read
 * @param key, key_len               the Kafka key (NULL: none)
 * @param value, value_len           the Kafka value (NULL: none)
 * @param hdrs                       its headers (NULL: none); copied
 * @param msg                        its decoded JSON (e.g.
 *                                   cishare_message_to_json()); copied
 *                                   (a deep copy: the caller keeps msg)
 * @param received_ms                when it was received
 * @param itemp                      receives the item (new or existing),
 *                                   borrowed
 * @param existedp                   optional: true when the message was
 *                                   already queued (nothing written)
 *
 * Errors: CISHARE_ERR_INVALID_ARG (NULL topic or msg, or msg not an
 * object), CISHARE_ERR_TOO_LARGE (key or value beyond the message
 * bounds of message.h), CISHARE_ERR_IO, CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_review_add(
    cishare_review_t *q, const char *topic, int32_t partition, int64_t offset,
    const void *key, size_t key_len, const void *value, size_t value_len,
    const rd_kafka_headers_t *hdrs, const json_t *msg, int64_t received_ms,
    const cishare_review_item_t **itemp, bool *existedp, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/** Number of items in every state. */
size_t cishare_review_count(const cishare_review_t *q);

/** Item i (0 .. count-1) in the order they were added; NULL past the
 *  end. Borrowed. */
const cishare_review_item_t *cishare_review_at(const cishare_review_t *q,
                                               size_t i);

/**
 * The item of queue id `id`. Borrowed. CISHARE_ERR_NOT_FOUND
 * ("<journal>: no queued message 'x'") when unknown; *itemp NULL then.
 */
cishare_err_t cishare_review_get(const cishare_review_t *q, const char *id,
                                 const cishare_review_item_t **itemp,
                                 char *errstr, size_t errstr_size);

/**
 * pending -> approved, durably, at now_ms. *itemp (optional) receives the
 * item to relay. Errors: CISHARE_ERR_NOT_FOUND (unknown id),
 * CISHARE_ERR_EXISTS (already approved, or already relayed),
 * CISHARE_ERR_POLICY (it was rejected: the reason is quoted),
 * CISHARE_ERR_IO.
 */
cishare_err_t cishare_review_approve(cishare_review_t *q, const char *id,
                                     int64_t now_ms,
                                     const cishare_review_item_t **itemp,
                                     char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * pending -> rejected with reason (non-empty, at most
 * CISHARE_REVIEW_REASON_MAX bytes, no control characters), durably, at
 * now_ms. The item is kept. Errors: CISHARE_ERR_NOT_FOUND,
 * CISHARE_ERR_INVALID_ARG (reason), CISHARE_ERR_EXISTS (already
 * rejected), CISHARE_ERR_POLICY (already approved or relayed),
 * CISHARE_ERR_IO.
 */
cishare_err_t cishare_review_reject(cishare_review_t *q, const char *id,
                                    const char *reason, int64_t now_ms,
                                    char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Record, durably, what the relay is about to produce for an approved
 * item (any JSON the relay chooses, e.g. the built copy's message id, key,
 * value and headers), before producing it. After a crash the relay finds
 * item->out set and produces the same bytes again instead of building a
 * new copy (a new copy of an anonymised message would have a new message
 * id that no feed could de-duplicate). out is copied; a second call
 * replaces it. Errors: CISHARE_ERR_NOT_FOUND, CISHARE_ERR_POLICY (the
 * item is not in state approved), CISHARE_ERR_IO.
 */
cishare_err_t cishare_review_prepare(cishare_review_t *q, const char *id,
                                     const json_t *out, char *errstr,
                                     size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * approved -> relayed, durably, at now_ms: call it once the copy is
 * acknowledged by Kafka. Errors: CISHARE_ERR_NOT_FOUND, CISHARE_ERR_EXISTS
 * (already relayed), CISHARE_ERR_POLICY (pending or rejected: only an
 * approved item is relayed), CISHARE_ERR_IO.
 */
cishare_err_t cishare_review_mark_relayed(cishare_review_t *q, const char *id,
                                          int64_t now_ms, char *errstr,
                                          size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
