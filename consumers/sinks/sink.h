/*
 * cishare - the feed's sinks: where delivered messages go.
 *
 * A sink is a plugin: a struct of callbacks filled with designated
 * initialisers (fluent-bit style). Each callback answers OK, RETRY (a
 * passing condition: the caller may try the same call again) or ERROR.
 *
 * The feed calls, for each batch:
 *   write(msg, subject)      every delivered message but revocations
 *   revoke(subject, rev)     for each verified revocation message
 *   sync(now, &mark)         makes everything written so far durable
 *                            (fsync) and updates the sink's views
 * then commits the batch in the dedup log (dedup.h), recording each sink's
 * mark, then commits Kafka offsets. On start the sink is opened with the
 * mark of the last committed batch, so it can drop output that was
 * written but never committed (see the invariant in dedup.h).
 *
 * `msg` is the delivered message in native JSON form (schemas/README.md):
 * envelope fields message_id, origin, sector, tlp, audience, created,
 * expires, type, key_id (and relayed_by) plus payload. Sinks only read it.
 *
 * The sinks:
 *   jsonl      <out>/feed.jsonl (or stdout for out "-"): one message per
 *              line. Append-only: a revocation is written as its own
 *              message line (type "revocation", payload.revokes = subject),
 *              a *delete* event as OpenCTI sends: a reader of the file
 *              drops every earlier line of that subject from that origin.
 *              Mark = file length; on open the file is cut back to it.
 *              stdout ("-") cannot be cut back: it is at-least-once. A
 *              batch is written and flushed before its seen ids and
 *              offsets are committed; a crash (kill -9, a closed pipe,
 *              a sink or Kafka error) after the flush and before the
 *              seen-id commit writes that batch again on the next run
 *              (at most one batch, cishare_feed_opts_t.batch_size lines,
 *              with the same message_ids: a reader drops repeats by
 *              (origin, message_id)). Nothing is lost: a line not
 *              flushed was not committed. A run killed mid-write may
 *              leave its last line unterminated: a reader skips it.
 *   stix       <out>/stix/bundle.json: the current state as one STIX 2.1
 *              bundle, rewritten atomically. STIX ids are derived from
 *              (origin, subject); each origin's state is bounded.
 *   blocklist  <out>/blocklist/<label>/ per TLP label (clear, green,
 *              amber, amber-strict, red; nothing merged across labels):
 *              <type>.txt for ipv4, ipv6, domain, url, email, md5, sha1,
 *              sha256, sha512, one value a line, sorted, unique; rpz.zone,
 *              the domains as a DNS RPZ zone; cishare.nft, the addresses
 *              as nftables sets <label>_v4/_v6 of table inet cishare.
 *              Values the validator refuses (cishare/indicator.h: special
 *              ranges, bare wildcards, to_ids:false, ...) are left out,
 *              counted by reason and logged; expired and revoked
 *              indicators leave. Each file is replaced atomically
 *              (temporary file, fsync, rename). See blocklist.c.
 *   misp       <out>/misp/: a MISP feed (manifest.json, hashes.csv,
 *              <event uuid>.json). An event per incident and per alert;
 *              indicators grouped by origin, UTC day of payload.created
 *              and TLP label (one tlp: tag per event). Only changed
 *              events are rewritten, each atomically (see misp.c).
 * The stix, blocklist and misp sinks keep their state by subject in a
 * journal (<out>/.state/<sink>.jsonl, out of the output folders):
 * re-applying a message is idempotent, and a revocation leaves a tombstone so
 * that a late copy of the revoked subject stays out. A revocation only removes
 * a subject published by the revocation's own origin. Expired entries are
 * forgotten. A damaged journal line stops the sink's open (see
 * cishare_sink_state_open).
 *
 * Threading: a sink instance is used by one thread at a time.
 */
#ifndef CISHARE_SINK_H
#define CISHARE_SINK_H

#include "cishare/codec.h"
#include "cishare/config.h"
#include "cishare/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CISHARE_SINK_OK = 0,
    CISHARE_SINK_RETRY, /**< transient: call again later */
    CISHARE_SINK_ERROR  /**< failed: errstr says why */
} cishare_sink_status_t;

typedef struct cishare_sink_opts_s {
    const char *out; /**< output folder; "-" = stdout (jsonl only) */
    bool has_mark;   /**< a committed mark is known (from dedup) */
    uint64_t mark;   /**< that mark */
    /** Views (bundle, blocklists) are rewritten on sync at most this
     *  often; 0 = on every sync that changed something. Close always
     *  rewrites changed views. */
    int64_t view_interval_ms;
    /** Optional: where a sink reports a line for the user (the blocklist
     *  sink's refusals), as cishare_feed_opts_t's log; called on the
     *  thread that calls the sink. NULL: no lines. */
    void (*log)(void *opaque, const char *line);
    void *log_opaque;
    /** Optional: settings (the stix sink reads
     *  cishare.stix.max-state-bytes-per-origin). NULL: defaults. */
    const cishare_config_t *conf;
} cishare_sink_opts_t;

typedef struct cishare_sink_plugin_s {
    const char *name;
    const char *description;
    /** Create the instance into *ctxp (owned by the sink until close). */
    cishare_sink_status_t (*open)(const cishare_sink_opts_t *opts, void **ctxp,
                                  char *errstr, size_t errstr_size);
    /** msg and subject are borrowed for the call. */
    cishare_sink_status_t (*write)(void *ctx, const json_t *msg,
                                   const char *subject, char *errstr,
                                   size_t errstr_size);
    /** rev: the verified revocation message (borrowed). */
    cishare_sink_status_t (*revoke)(void *ctx, const char *subject,
                                    const json_t *rev, char *errstr,
                                    size_t errstr_size);
    /** Optional: when set, the feed calls it instead of write and revoke
     *  (revoke true for a revocation) with the message's JSON line, the
     *  bytes json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS) gives (no
     *  newline), and builds no JSON tree for this sink
     *  (cishare_message_render_line). Borrowed for the call. */
    cishare_sink_status_t (*write_line)(void *ctx, const char *line, size_t len,
                                        const char *subject, bool revoke,
                                        char *errstr, size_t errstr_size);
    /** Durable: fsync; *markp receives the sink's mark (0 if unused). */
    cishare_sink_status_t (*sync)(void *ctx, int64_t now_ms, uint64_t *markp,
                                  char *errstr, size_t errstr_size);
    /** Rewrite changed views, release everything. NULL ctx is a no-op. */
    void (*close)(void *ctx);
    /** Optional: entries left out of the sink's state so far because
     *  their origin was past its bound (each also logged). */
    uint64_t (*over_bound)(void *ctx);
    /** Optional: hand what was written to its readers now, without making
     *  it durable (called after each delivered poll batch; sync may come
     *  several batches later). A write error surfaces at sync. */
    void (*flush)(void *ctx);
} cishare_sink_plugin_t;

extern const cishare_sink_plugin_t cishare_sink_jsonl;
extern const cishare_sink_plugin_t cishare_sink_stix;
extern const cishare_sink_plugin_t cishare_sink_blocklist;
extern const cishare_sink_plugin_t cishare_sink_misp;

/** Plugin by name ("jsonl", "stix", "blocklist", "misp"), or NULL. */
const cishare_sink_plugin_t *cishare_sink_plugin_find(const char *name);

/** An open sink: plugin plus instance, and counters. */
typedef struct cishare_sink_s {
    const cishare_sink_plugin_t *plugin;
    void *ctx;
    uint64_t written, revoked;
} cishare_sink_t;

/**
 * Open sink `name` with opts. *sinkp receives a new sink the caller
 * closes with cishare_sink_close(). CISHARE_ERR_NOT_FOUND for an unknown
 * name, CISHARE_ERR_IO when the plugin refuses (errstr says why).
 */
cishare_err_t cishare_sink_open(const char *name,
                                const cishare_sink_opts_t *opts,
                                cishare_sink_t **sinkp, char *errstr,
                                size_t errstr_size);
cishare_sink_status_t cishare_sink_write(cishare_sink_t *sink,
                                         const json_t *msg, const char *subject,
                                         char *errstr, size_t errstr_size);
cishare_sink_status_t cishare_sink_revoke(cishare_sink_t *sink,
                                          const char *subject,
                                          const json_t *rev, char *errstr,
                                          size_t errstr_size);
/** True when the sink takes JSON lines (plugin write_line). */
bool cishare_sink_takes_line(const cishare_sink_t *sink);
/** write_line of the plugin (counted as written or revoked). */
cishare_sink_status_t cishare_sink_write_line(cishare_sink_t *sink,
                                              const char *line, size_t len,
                                              const char *subject, bool revoke,
                                              char *errstr, size_t errstr_size);
cishare_sink_status_t cishare_sink_sync(cishare_sink_t *sink, int64_t now_ms,
                                        uint64_t *markp, char *errstr,
                                        size_t errstr_size);
/** The plugin's flush, when it has one. */
void cishare_sink_flush(cishare_sink_t *sink);
/** The plugin's over_bound count (0 when it keeps no bound). */
uint64_t cishare_sink_over_bound(const cishare_sink_t *sink);
/** Close and free. NULL is a no-op. */
void cishare_sink_close(cishare_sink_t *sink);

/* ---- helpers shared by the sinks (and the quarantine writer) ---- */

/* Times: cishare_time_parse(), _format(), _now_ms() of codec.h. */

/** mkdir -p with mode 0750. 0 or -1 (errno set). */
int cishare_mkdirs(const char *path);

/** fsync the folder holding path (a new or renamed entry in it becomes
 *  durable). 0 or -1. */
int cishare_fsync_parent(const char *path);

/**
 * fopen(path, "a"), and when that created the file, fsync its folder so
 * the new entry survives a power loss (the data itself is fsynced by the
 * caller at each commit). NULL with errno set on failure.
 */
FILE *cishare_fopen_append(const char *path);

/**
 * Atomic file replacement: cishare_atomic_begin() opens a temporary file
 * "<path>.tmp.<pid>" in the same folder; the caller writes to af->fp;
 * cishare_atomic_commit() flushes, fsyncs, renames over path and fsyncs
 * the folder; cishare_atomic_abort() removes the temporary file.
 */
typedef struct cishare_atomic_s {
    FILE *fp;
    char *path, *tmp;
} cishare_atomic_t;
int cishare_atomic_begin(cishare_atomic_t *af, const char *path);
int cishare_atomic_commit(cishare_atomic_t *af);
void cishare_atomic_abort(cishare_atomic_t *af);

/**
 * The subject-keyed state of a sink: an in-memory JSON object (subject ->
 * value) and an append-only journal of JSON lines {"s":subject,"v":value}
 * (value null = forget). Strings may hold U+0000: whatever the codec
 * delivers is journalled and loaded back (JSON_ALLOW_NUL).
 *
 * Loading: only an unterminated last line is a torn tail (a crash during
 * the append); it is cut (cishare_sink_state_torn_bytes() says how much,
 * the caller logs it). Any other line that does not load makes the open
 * fail with CISHARE_ERR_VALIDATION, naming the file and the line, and the
 * file is left as it is: cutting there would lose every later record.
 *
 * Each subject's owner is its key up to the first space (the origin, for
 * "<origin> <subject>" keys); the state counts the live journal bytes of
 * each owner, for bounds. The journal is rewritten atomically when it
 * holds more than twice the live entries, or more than 64 KiB plus half
 * their bytes beyond them. After a failed write nothing more is appended.
 */
typedef struct cishare_sink_state_s cishare_sink_state_t;
cishare_err_t cishare_sink_state_open(const char *path,
                                      cishare_sink_state_t **sp, char *errstr,
                                      size_t errstr_size);
/** Set subject -> value (value borrowed; NULL forgets the subject). */
cishare_err_t cishare_sink_state_put(cishare_sink_state_t *s,
                                     const char *subject, json_t *value);
/**
 * cishare_sink_state_put() with a bound: CISHARE_ERR_TOO_LARGE, and
 * nothing written, when value's line would grow its subject's line and
 * take the owner's live bytes past max_owner_bytes (0: no bound).
 * Forgetting (value NULL) and shrinking always go in. *line_bytesp
 * (optional) receives the size of value's line.
 */
cishare_err_t cishare_sink_state_put_bounded(cishare_sink_state_t *s,
                                             const char *subject, json_t *value,
                                             uint64_t max_owner_bytes,
                                             uint64_t *line_bytesp);
/** Live journal bytes of the owner owner[0..owner_len). */
uint64_t cishare_sink_state_owner_bytes(const cishare_sink_state_t *s,
                                        const char *owner, size_t owner_len);
/** Bytes of a torn last line cut when the journal was opened. */
uint64_t cishare_sink_state_torn_bytes(const cishare_sink_state_t *s);
/** Borrowed value of subject, or NULL. */
json_t *cishare_sink_state_get(const cishare_sink_state_t *s,
                               const char *subject);
/** Borrowed object of every subject -> value. */
json_t *cishare_sink_state_all(const cishare_sink_state_t *s);
/** Flush and fsync the journal (and compact it when due). */
cishare_err_t cishare_sink_state_sync(cishare_sink_state_t *s, char *errstr,
                                      size_t errstr_size);
void cishare_sink_state_close(cishare_sink_state_t *s);

/** Milliseconds of an RFC 3339 JSON string; 0 when absent or unparsable. */
int64_t cishare_sink_json_time(const json_t *v);

/**
 * The frame the stix and blocklist sinks share: the folder <out>/<name>,
 * the state journal <out>/.state/<name>.jsonl (outside every folder a
 * firewall, resolver or web server is pointed at; a journal of the older
 * layout, <out>/<name>/state.jsonl, is moved there on open, durably, and
 * the open fails naming both when both exist), and when the view
 * (bundle, lists) is rewritten from the state: on sync when the state changed
 * or an expiry passed, at most every view_interval_ms; on open; on close when
 * changed. Embedded in the sink's instance; regen(ctx, ...) rewrites the
 * view and lowers next_expiry_ms to the earliest live expiry it saw.
 */
typedef cishare_sink_status_t (*cishare_view_regen_fn)(void *ctx,
                                                       int64_t now_ms,
                                                       char *errstr,
                                                       size_t errstr_size);
typedef struct cishare_view_sink_s {
    char *dir;                   /**< <out>/<name> (owned) */
    char *state_path;            /**< <out>/.state/<name>.jsonl (owned) */
    cishare_sink_state_t *state; /**< the journal at state_path (owned) */
    int64_t view_interval_ms, last_view_ms;
    int64_t next_expiry_ms; /**< earliest live expiry, INT64_MAX if none */
    bool dirty;             /**< state changed since the last view */
    cishare_view_regen_fn regen;
    void *ctx;
    /** Bound on each origin's live journal bytes (0: none), and the
     *  setting it comes from (named in log lines); set by
     *  cishare_view_sink_open() from its bound_key. */
    uint64_t max_origin_bytes;
    const char *bound_key;
    uint64_t over_bound;    /**< records left out past the bound */
    json_t *over_by_origin; /**< origin -> records left out (owned) */
    void (*log)(void *opaque, const char *line); /**< from the opts */
    void *log_opaque;
} cishare_view_sink_t;

/** Per-origin bound of a view sink when opts->conf is NULL (32 MiB, as
 *  the config defaults of its settings). */
#define CISHARE_VIEW_SINK_BOUND_DEFAULT (32u * 1024u * 1024u)

/**
 * Fill vs for sink `name` (refuses out "-"), create the folder, load the
 * journal (a torn last line cut is logged), rewrite the view and make
 * what the view forgot (expired entries) durable. bound_key: the setting
 * of the per-origin bound ("cishare.<name>.max-state-bytes-per-origin",
 * read from opts->conf, CISHARE_VIEW_SINK_BOUND_DEFAULT without one);
 * NULL: no bound. On error the caller still calls
 * cishare_view_sink_close() (which then rewrites nothing).
 */
cishare_sink_status_t
cishare_view_sink_open(cishare_view_sink_t *vs, const char *name,
                       const cishare_sink_opts_t *opts, const char *bound_key,
                       cishare_view_regen_fn regen, void *ctx, char *errstr,
                       size_t errstr_size);
/**
 * The journal key of origin's subject, "<origin> <subject>" (NULL origin:
 * ""): keyed by origin, one participant can neither overwrite nor revoke
 * another's subject. malloc()ed; NULL when out of memory.
 */
char *cishare_view_sink_key(const char *origin, const char *subject);
/**
 * Record key -> rec in the journal and mark the view changed. rec is
 * taken (NULL, like a NULL key, is an allocation failure); the error
 * names the journal (state_path), what ("" or "revocation of ") and
 * subject.
 * With max_origin_bytes set, a record that would take its origin (the
 * key up to the first space) past the bound is left out, and the key's
 * earlier record forgotten (a superseded version must not stay in its
 * place): counted in over_bound, logged (the first, second, fourth, ...
 * of each origin), and CISHARE_SINK_OK.
 */
cishare_sink_status_t
cishare_view_sink_record(cishare_view_sink_t *vs, const char *key, json_t *rec,
                         const char *what, const char *subject, char *errstr,
                         size_t errstr_size);
/**
 * The write of a view sink: record {"s": subject, "m": msg} under key
 * (borrowed) unless key holds a tombstone (revoked for good) or a version
 * with a later payload.modified: the latest wins, in any arrival order.
 * Errors as cishare_view_sink_record().
 */
cishare_sink_status_t
cishare_view_sink_put_latest(cishare_view_sink_t *vs, const char *key,
                             const char *subject, const json_t *msg,
                             char *errstr, size_t errstr_size);
/**
 * The revoke of a view sink: replace origin's subject (key
 * cishare_view_sink_key()) with a tombstone {"s", "revoked": true, "x"}
 * that keeps a late copy out until the revoked message's own expiry
 * (then no copy can be delivered any more), forever when that is
 * unknown. expiry(msg) gives that expiry of the held message (0: none);
 * NULL: its envelope's expires. A tombstone already held keeps its "x".
 */
cishare_sink_status_t cishare_view_sink_tombstone(
    cishare_view_sink_t *vs, const char *origin, const char *subject,
    int64_t (*expiry)(const json_t *msg), char *errstr, size_t errstr_size);
/** The sink's sync: journal durable, then the view when due. Mark 0. */
cishare_sink_status_t cishare_view_sink_sync(cishare_view_sink_t *vs,
                                             int64_t now_ms, uint64_t *markp,
                                             char *errstr, size_t errstr_size);
/** Rewrite a changed view, close the journal, free dir. */
void cishare_view_sink_close(cishare_view_sink_t *vs);

#endif
