/*
 * cishare - the directory topic: how running feeds and publishers learn of
 * a newer signed directory without a restart.
 *
 * The coordination office produces every new version of the signed
 * directory file (`cishare directory publish`) to a compacted topic of one
 * partition (cishare.directory.topic, default "cishare.directory"), key
 * "directory", value the file's bytes. Compaction keeps the latest version;
 * every participant may read the topic, only the admin writes it
 * (deploy/TOPICS.md).
 *
 * A client reads the topic with a consumer of its own (no consumer group:
 * partition 0, from the beginning) and decides on every version it sees:
 *
 *   candidate                                  verdict
 *   ---------------------------------------------------------------
 *   signed by the trusted root, not expired,   APPLY: record it in the
 *   serial above the one in use (and not      trust state, then the
 *   below the state's)                         caller swaps directories
 *   the version in use (same serial, same      SAME: ignored silently
 *   content)
 *   anything else: older serial, same serial   REFUSE: reported, never
 *   with other content, tampered, unknown      applied; the directory in
 *   root, expired, malformed, too large        use stays
 *
 * The decision is cishare_dirtopic_decide() (pure, no I/O); the watcher
 * below adds the consumer and the trust state file (dirstate.h).
 *
 * At start (cishare_dirtopic_sync) the watcher reads up to the end of the
 * partition and decides on every version in order, so a client never runs
 * on an older directory than the topic holds. Only the last version (the
 * one compaction keeps) is reported when refused: older versions still in
 * the uncompacted head are expected and not worth a line. A missing or
 * unreadable topic, or an empty one, is not an error: the directory file stays
 * in use (said once through the log).
 *
 * Threading: one watcher is used from one thread. Library code: it never
 * prints; lines for the user go to the log callback.
 */
#ifndef CISHARE_DIRTOPIC_H
#define CISHARE_DIRTOPIC_H

#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/dirstate.h"
#include "cishare/err.h"

#include <stdbool.h>
#include <stdint.h>

/** Default topic name (config key cishare.directory.topic). */
#define CISHARE_DIRTOPIC_DEFAULT "cishare.directory"
/** Message key of every version on the topic. */
#define CISHARE_DIRTOPIC_KEY "directory"
/** max.message.bytes of the topic: the largest directory plus room for
 *  the record batch framing. */
#define CISHARE_DIRTOPIC_MAX_MESSAGE_BYTES                                     \
    (CISHARE_DIRECTORY_MAX_SIZE + 64u * 1024u)

typedef enum {
    CISHARE_DIRTOPIC_APPLY,  /**< newer and valid: apply it */
    CISHARE_DIRTOPIC_SAME,   /**< the version in use: ignore */
    CISHARE_DIRTOPIC_REFUSE, /**< refused: report, keep the current one */
} cishare_dirtopic_verdict_t;

/**
 * Decide on one candidate version (pure: reads no file, writes nothing).
 *
 * @param st           the trust state (serial 0: nothing accepted yet)
 * @param pinned_root  the configured root key (trusted when st has none)
 * @param current      the directory in use, or NULL
 * @param name         labels refusals ("cishare.directory@12")
 * @param buf, len     the candidate (untrusted; only read)
 * @param now_ms       wall clock, for the expiry
 * @param state_label  names the state in refusals
 * @param dirp         APPLY: the new directory, the caller owns it;
 *                     NULL otherwise
 * @param next         APPLY: the state to record
 * @param errstr       REFUSE: the reason in plain words
 */
cishare_dirtopic_verdict_t
cishare_dirtopic_decide(const cishare_dirstate_t *st,
                        const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES],
                        const cishare_directory_t *current, const char *name,
                        const char *buf, size_t len, int64_t now_ms,
                        const char *state_label, cishare_directory_t **dirp,
                        cishare_dirstate_t *next, char *errstr,
                        size_t errstr_size) __attribute__((warn_unused_result));

typedef struct cishare_dirtopic_s cishare_dirtopic_t;

/**
 * A watcher of the directory topic named by conf, for a client whose
 * trust state is state_dir/directory.state (NULL: the default of
 * identity.h) and whose pinned root is conf's (cishare.root-key, else
 * root.pub beside cishare.directory). Creates the consumer (conf's
 * librdkafka keys, no group) and starts reading from the beginning.
 * log(opaque, line) receives the user's lines (may be NULL).
 * Errors: CISHARE_ERR_CONFIG, CISHARE_ERR_DIRECTORY (root key),
 * CISHARE_ERR_KAFKA. The caller owns *wp (cishare_dirtopic_destroy()).
 */
cishare_err_t cishare_dirtopic_new(const cishare_config_t *conf,
                                   const char *state_dir,
                                   void (*log)(void *opaque, const char *line),
                                   void *log_opaque, cishare_dirtopic_t **wp,
                                   char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Stop the consumer and free. NULL is a no-op. */
void cishare_dirtopic_destroy(cishare_dirtopic_t *w);

/** The topic name (owned by w). */
const char *cishare_dirtopic_topic(const cishare_dirtopic_t *w);

/** Versions refused so far. */
uint64_t cishare_dirtopic_refused(const cishare_dirtopic_t *w);

/**
 * At start: read the partition up to its end (waiting up to timeout_ms)
 * and decide on each version in order against `current`, then against
 * what was applied (only a refusal of the last one is logged). On APPLY the
 * version is recorded in the trust state, logged ("directory serial N applied
 * (was M)") and returned in *newp (caller owns); otherwise *newp is NULL.
 * A refusal is logged and counted. Returns CISHARE_OK unless out of
 * memory or the state file cannot be written (CISHARE_ERR_IO).
 */
cishare_err_t cishare_dirtopic_sync(cishare_dirtopic_t *w,
                                    const cishare_directory_t *current,
                                    int timeout_ms, cishare_directory_t **newp,
                                    char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * While running: take what arrived (no waiting) and decide on each
 * version in order, against `current`, then against what this call
 * applied. *newp as for _sync (the newest applied; intermediate ones are
 * freed). Cheap when nothing arrived: one queue look-up.
 */
cishare_err_t cishare_dirtopic_poll(cishare_dirtopic_t *w,
                                    const cishare_directory_t *current,
                                    cishare_directory_t **newp, char *errstr,
                                    size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
