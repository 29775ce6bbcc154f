/*
 * cishare - the lines a command writes on stderr: "% ..." text (kcat
 * style, the default) or one JSON object per line for a SIEM.
 *
 * The format is, by precedence: the option --log-format json|text (main.c
 * takes it anywhere on the command line), the environment
 * CISHARE_LOG_FORMAT=json|text (what the systemd units set), the config
 * key cishare.log.format of a command that loads a config; text otherwise.
 *
 * JSON, one object per line, keys in this order, the last six only when
 * known:
 *
 *   {"time":"2026-12-02T04:08:38.123Z","level":"warn","component":"feed",
 *    "message":"quarantined ...","msg_id":"...","reason":"bad-signature",
 *    "origin":"op-bank-a","topic":"cishare.amber.finance","partition":0,
 *    "offset":42,"kafka_error":"_TRANSPORT"}
 *
 * time is RFC 3339 UTC with milliseconds; level is error, warn, info or
 * debug; component is the command (feed, relay, publish, ...). Strings are
 * valid UTF-8: a byte that is not part of a valid sequence reads as
 * U+FFFD.
 *
 * Fields from the library: its log callbacks (feed.h, relay.h, sink.h,
 * publisher.h, ...) take a line of text, so that text output stays as it
 * is. A module that knows more about a line (a message's id, a reason
 * code) calls its callback through cishare_log_with(): the fields ride
 * with the calling thread, as a logging framework's diagnostic context
 * does, and the JSON object of that line carries them.
 *
 * Reason codes are the labels of the metrics and the reasons of the
 * --json outputs: the quarantine reasons (cishare_feed_quarantine_reason_
 * name()), the TLP rules' (cishare_reason_code()), the blocklists'
 * (cishare_indicator_reason_name()), the relay's refusals and the Kafka
 * connection causes (cishare_kafka_conn_code()). README "Logs" lists
 * them all (a unit test checks it).
 *
 * Thread-safe: every line is one write(2); set the format and component
 * before starting threads.
 */
#ifndef CISHARE_LOG_H
#define CISHARE_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CISHARE_LOG_ERROR = 1,
    CISHARE_LOG_WARN,
    CISHARE_LOG_INFO,
    CISHARE_LOG_DEBUG
} cishare_log_level_t;

typedef enum { CISHARE_LOG_TEXT = 0, CISHARE_LOG_JSON } cishare_log_format_t;

/** Where a format came from, lowest precedence first. */
typedef enum {
    CISHARE_LOG_SRC_DEFAULT = 0,
    CISHARE_LOG_SRC_CONFIG, /**< cishare.log.format */
    CISHARE_LOG_SRC_ENV,    /**< CISHARE_LOG_FORMAT */
    CISHARE_LOG_SRC_OPTION  /**< --log-format */
} cishare_log_src_t;

/**
 * What a line is about, beyond its text. Zero-initialise: NULL strings
 * and level 0 are "not known"; partition and offset count only with a
 * topic, and a negative offset is left out.
 */
typedef struct cishare_log_fields_s {
    cishare_log_level_t level; /**< 0: the writer's (info, error) */
    const char *msg_id;        /**< the message's cishare.id */
    const char *reason;        /**< a reason code (README "Logs") */
    const char *origin;        /**< the message's origin participant */
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *kafka_error; /**< rd_kafka_err2name() of a Kafka error */
} cishare_log_fields_t;

/** "json" or "text" into *fmtp: 0, or -1 for anything else. */
int cishare_log_format_parse(const char *s, cishare_log_format_t *fmtp);

/**
 * Use fmt unless a source of higher precedence set the format already.
 * @returns true if fmt is now the format.
 */
bool cishare_log_set_format(cishare_log_format_t fmt, cishare_log_src_t src);

cishare_log_format_t cishare_log_format(void);

/** The "component" of every JSON line (copied; at most 31 bytes). */
void cishare_log_set_component(const char *name);

/** Where lines go (default 2, stderr); for tests. */
void cishare_log_set_fd(int fd);

/**
 * Call log(opaque, line) with fields attached to the lines it writes on
 * this thread (restored after: calls nest). Nothing if log is NULL.
 * fields and its strings are borrowed for the duration of the call.
 */
void cishare_log_with(const cishare_log_fields_t *fields,
                      void (*log)(void *opaque, const char *line), void *opaque,
                      const char *line);

/**
 * Write one line: text is prefix, message and "\n"; JSON is the object
 * of message at level (the level of the fields of cishare_log_with(), if
 * any, wins) with those fields. Multi-line messages stay one object.
 */
void cishare_log_line(cishare_log_level_t level, const char *prefix,
                      const char *message);

/**
 * The JSON object of one line, with a final "\n", at time now_ms (ms
 * since the epoch). fields may be NULL, component NULL or "" leaves it
 * out. Returns a malloc()ed string the caller frees, or NULL (no memory).
 */
char *cishare_log_render(int64_t now_ms, cishare_log_level_t level,
                         const char *component,
                         const cishare_log_fields_t *fields,
                         const char *message);

/** "error", "warn", "info" or "debug". */
const char *cishare_log_level_name(cishare_log_level_t level);

#endif
