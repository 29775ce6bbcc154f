/*
 * Log lines: "% ..." text or JSON objects (log.h).
 */
#include "cishare/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set by the main thread before any other starts (log.h). */
static cishare_log_format_t log_format = CISHARE_LOG_TEXT;
static cishare_log_src_t log_src = CISHARE_LOG_SRC_DEFAULT;
static char log_component[32];
static int log_fd = 2;

/* The fields of cishare_log_with() on this thread, NULL outside it. */
static _Thread_local const cishare_log_fields_t *log_ctx;

int cishare_log_format_parse(const char *s, cishare_log_format_t *fmtp)
{
    if (s && !strcmp(s, "json"))
        *fmtp = CISHARE_LOG_JSON;
    else if (s && !strcmp(s, "text"))
        *fmtp = CISHARE_LOG_TEXT;
    else
        return -1;
    return 0;
}

bool cishare_log_set_format(cishare_log_format_t fmt, cishare_log_src_t src)
{
    if (src < log_src)
        return log_format == fmt;
    log_format = fmt;
    log_src = src;
    return true;
}

cishare_log_format_t cishare_log_format(void)
{
    return log_format;
}

void cishare_log_set_component(const char *name)
{
    snprintf(log_component, sizeof(log_component), "%s", name ? name : "");
}

void cishare_log_set_fd(int fd)
{
    log_fd = fd;
}

const char *cishare_log_level_name(cishare_log_level_t level)
{
    switch (level) {
    case CISHARE_LOG_ERROR:
        return "error";
    case CISHARE_LOG_WARN:
        return "warn";
    case CISHARE_LOG_DEBUG:
        return "debug";
    default:
        return "info";
    }
}

void cishare_log_with(const cishare_log_fields_t *fields,
                      void (*log)(void *opaque, const char *line), void *opaque,
                      const char *line)
{
    const cishare_log_fields_t *saved = log_ctx;

    if (!log)
        return;
    log_ctx = fields;
    log(opaque, line);
    log_ctx = saved;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF), 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = s[0] == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = s[0] == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/* A JSON string of s; each byte outside a valid UTF-8 sequence becomes
 * U+FFFD (jansson refuses invalid UTF-8 rather than replace it). */
static json_t *str_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), o = 0, n;
    char *buf;
    json_t *j;

    /* the checks above stop at a NUL, so they never read past it */
    if (!(buf = malloc(len * 3 + 1)))
        return NULL;
    while (*p) {
        if ((n = utf8_seq(p))) {
            memcpy(buf + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

static int add_str(json_t *o, const char *key, const char *val)
{
    return val ? json_object_set_new(o, key, str_utf8(val)) : 0;
}

char *cishare_log_render(int64_t now_ms, cishare_log_level_t level,
                         const char *component,
                         const cishare_log_fields_t *fields,
                         const char *message)
{
    char ts[96], *dump, *line = NULL;
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    json_t *o;
    int bad = 0;
    size_t len;

    if (fields && fields->level)
        level = fields->level;
    gmtime_r(&secs, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(now_ms % 1000));
    if (!(o = json_object()))
        return NULL;
    bad |= add_str(o, "time", ts);
    bad |= add_str(o, "level", cishare_log_level_name(level));
    if (component && *component)
        bad |= add_str(o, "component", component);
    bad |= add_str(o, "message", message ? message : "");
    if (fields) {
        bad |= add_str(o, "msg_id", fields->msg_id);
        bad |= add_str(o, "reason", fields->reason);
        bad |= add_str(o, "origin", fields->origin);
        if (fields->topic) {
            bad |= add_str(o, "topic", fields->topic);
            bad |= json_object_set_new(o, "partition",
                                       json_integer(fields->partition));
            if (fields->offset >= 0)
                bad |= json_object_set_new(o, "offset",
                                           json_integer(fields->offset));
        }
        bad |= add_str(o, "kafka_error", fields->kafka_error);
    }
    dump = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (dump) {
        len = strlen(dump);
        if ((line = realloc(dump, len + 2))) {
            line[len] = '\n';
            line[len + 1] = '\0';
        } else
            free(dump);
    }
    return line;
}

/* The whole line in one write(2) (a pipe keeps writes of up to PIPE_BUF
 * bytes whole among threads); the rest of a short write after it. */
static void write_all(const char *s, size_t len)
{
    ssize_t w;

    while (len) {
        w = write(log_fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

void cishare_log_line(cishare_log_level_t level, const char *prefix,
                      const char *message)
{
    struct timespec now;
    char *line;
    size_t plen, mlen;

    if (!message)
        message = "";
    if (log_format == CISHARE_LOG_JSON) {
        clock_gettime(CLOCK_REALTIME, &now);
        line = cishare_log_render((int64_t)now.tv_sec * 1000 +
                                      now.tv_nsec / 1000000,
                                  level, log_component, log_ctx, message);
        if (line) {
            write_all(line, strlen(line));
            free(line);
            return;
        }
        /* no memory for the object: the text below still says it */
    }
    plen = prefix ? strlen(prefix) : 0;
    mlen = strlen(message);
    if (!(line = malloc(plen + mlen + 2))) {
        if (plen)
            write_all(prefix, plen);
        write_all(message, mlen);
        write_all("\n", 1);
        return;
    }
    memcpy(line, prefix ? prefix : "", plen);
    memcpy(line + plen, message, mlen);
    line[plen + mlen] = '\n';
    write_all(line, plen + mlen + 1);
    free(line);
}
