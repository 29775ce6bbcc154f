/*
 * Configuration: a declarative table of cishare's own keys (name, type,
 * default, description) that also prints --help, and pass-through of every
 * other key to librdkafka.
 */
#include "cishare/config.h"
#include "cishare/log.h"
#include "cishare/topics.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CONF_STR, CONF_PATH, CONF_INT } conf_type_t;

static const struct conf_prop {
    const char *name;
    conf_type_t type;
    const char *def;
    int64_t min, max;
    const char *desc;
} conf_props[] = {
    {CISHARE_CONF_PARTICIPANT, CONF_STR, NULL, 0, 0,
     "participant id this client acts as (must be in the directory)"},
    {CISHARE_CONF_KEY, CONF_PATH, NULL, 0, 0,
     "the participant's secret key file (cishare keys generate)"},
    {CISHARE_CONF_DIRECTORY, CONF_PATH, NULL, 0, 0,
     "signed participant directory file"},
    {CISHARE_CONF_ROOT_KEY, CONF_PATH, NULL, 0, 0,
     "pinned root public key (default: root.pub beside the directory)"},
    {CISHARE_CONF_STATE_DIR, CONF_PATH, NULL, 0, 0,
     "state folder: accepted directory version and trusted root "
     "(directory.state), and the feed's seen ids and sink marks; default: "
     "the feed's --out folder, else $XDG_STATE_HOME/cishare/<participant "
     "or admin>, else ~/.local/state/cishare/<...>"},
    {CISHARE_CONF_DIRECTORY_TOPIC, CONF_STR, "cishare.directory", 0, 0,
     "compacted topic the coordination office publishes directory versions "
     "on (cishare directory publish); feeds and publishers apply a newer "
     "valid version from it while running"},
    {"cishare.log.format", CONF_STR, "text", 0, 0,
     "text (\"% ...\" lines) or json (one object per line: time, level, "
     "component, message, msg_id, reason, ...; README \"Logs\"); "
     "CISHARE_LOG_FORMAT and --log-format take precedence"},
    {"cishare.feed.threads", CONF_INT, "1", 1, 64, "feed verification threads"},
    {"cishare.feed.revocation-grace-ms", CONF_INT, "300000", 0, 86400000,
     "a message of a key revoked at T is refused when the broker appended it "
     "later than T plus this (topics with LogAppendTime; created times are "
     "the signer's word)"},
    {"cishare.feed.stats-interval-ms", CONF_INT, "10000", 0, 86400000,
     "how often a long-running feed prints a stats line (0: never)"},
    {"cishare.feed.new-state-folder", CONF_STR, "beginning", 0, 0,
     "where a feed with a new state folder (no seen.log) starts: "
     "beginning (every partition from its start, whatever the consumer "
     "group committed for another folder) or group (the group's committed "
     "offsets: a further instance of a feed scaled out over one group)"},
    {"cishare.feed.commit-ms", CONF_INT, "1000", 0, 60000,
     "a busy feed commits what it delivered (sinks synced, archive, "
     "de-duplication, offsets) every cishare.feed.commit-ms, or sooner "
     "after 1000 messages or when a poll finds nothing new; lines reach "
     "the sinks at once. A crash before the commit delivers those "
     "messages again after the sinks are cut back (0: a commit per poll)"},
    {"cishare.feed.archive", CONF_INT, "1", 0, 1,
     "1: the feed keeps every delivered message in <state-dir>/archive.db "
     "(SQLite), what cishare incidents, receipts and report read; 0: no "
     "archive"},
    {"cishare.feed.receipts", CONF_INT, "1", 0, 1,
     "1: the feed sends a signed receipt to the origin's inbox for each "
     "TLP:RED, TLP:AMBER+STRICT or mandatory incident message it delivers; "
     "0: none"},
    {"cishare.feed.receipts-amber", CONF_INT, "0", 0, 1,
     "1: receipts for TLP:AMBER messages too"},
    {"cishare.stix.max-state-bytes-per-origin", CONF_INT, "33554432", 65536,
     INT64_MAX,
     "the STIX sink keeps at most this many bytes of state (stix/"
     "state.jsonl) per origin; what would go past it is left out of the "
     "bundle, counted and logged"},
    {"cishare.misp.max-state-bytes-per-origin", CONF_INT, "33554432", 65536,
     INT64_MAX,
     "the MISP feed sink keeps at most this many bytes of state per "
     "origin; what would go past it is left out of the feed, counted and "
     "logged"},
    {"cishare.publish.timeout-ms", CONF_INT, "30000", 100, 3600000,
     "how long publish waits for delivery reports before failing"},
    {"cishare.sign.scheme", CONF_STR, "ed25519-merkle", 0, 0,
     "signature scheme of published messages: ed25519-merkle (one Ed25519 "
     "signature per batch of up to cishare.sign.batch) or ed25519 (one per "
     "message)"},
    {"cishare.sign.batch", CONF_INT, "32", 1, 1024,
     "most messages one ed25519-merkle signature covers: each message "
     "carries a 32-byte hash per tree level (32: at most 5, 348 header "
     "bytes; 256: 8, 444), a feed checks one Ed25519 signature per batch "
     "(schemas/README.md, \"Batch signatures\")"},
    {"cishare.envelope.version", CONF_INT, "2", 1, 2,
     "header layout a writer uses: 2 (two headers, the signature in binary) "
     "or 1 (one text header per field: only for feeds older than layout "
     "2); feeds read both"},
    {"cishare.seal.version", CONF_INT, "2", 1, 2,
     "layout of encrypted values a publisher writes: 2 (a content key per "
     "epoch, wrapped once per recipient) or 1 (a key per message, one "
     "X25519 operation per recipient and message: only for feeds older "
     "than v2); feeds read both"},
    {"cishare.seal.epoch-messages", CONF_INT, "10000", 1, 100000000,
     "an encryption epoch (one content key per recipient set) ends after "
     "this many messages; a changed recipient set always starts a new one"},
    {"cishare.seal.epoch-seconds", CONF_INT, "3600", 1, 31536000,
     "an encryption epoch ends after this many seconds"},
    {"cishare.seal.per-topic", CONF_INT, "1", 0, 1,
     "1: an encrypted message to several topics carries on each only the "
     "key wraps of that topic's readers (fewer bytes, one signature and "
     "seal per topic); 0: one value with every recipient's, on every topic"},
    {"cishare.provision.partitions", CONF_INT, "3", 1, 10000,
     "partitions of each topic cishare provision creates"},
    {"cishare.provision.replication-factor", CONF_INT, "-1", -1, 32,
     "replication factor of provisioned topics (-1: broker default)"},
    {"cishare.provision.retention-ms", CONF_INT, "2592000000", -1, INT64_MAX,
     "retention.ms of provisioned topics (-1: forever)"},
    {"cishare.provision.min-insync-replicas", CONF_INT, "-1", -1, 32,
     "min.insync.replicas of provisioned topics (-1: broker default)"},
    {"cishare.relay.anonymise-unit-ms", CONF_INT, "3600000", 1, 86400000,
     "cishare relay: times of an anonymised copy (its created time, the "
     "payload's times) are coarsened to multiples of this (1: not at all)"},
    {"cishare.serve.users", CONF_PATH, NULL, 0, 0,
     "cishare serve: users file, one 'user:participant:<argon2id hash>' a "
     "line (cishare serve --hash-password makes the lines)"},
    {"cishare.serve.tls.cert", CONF_PATH, NULL, 0, 0,
     "cishare serve: server certificate chain (PEM); TLS is required "
     "unless it listens on loopback"},
    {"cishare.serve.tls.key", CONF_PATH, NULL, 0, 0,
     "cishare serve: the server certificate's private key (PEM)"},
    {"cishare.serve.tls.ca", CONF_PATH, NULL, 0, 0,
     "cishare serve: CA (PEM) of client certificates; a certificate it "
     "verifies with CN=<participant> authenticates as that participant"},
};

#define CONF_PROP_CNT (sizeof(conf_props) / sizeof(conf_props[0]))

/* Families of keys named by the user after a registered prefix (the
 * relay's rules, cishare.relay.rule.<name>): kept as they are, in the
 * order first set; the module that owns the prefix checks the values
 * and names the key in its errors. */
static const struct conf_prefix {
    const char *prefix;
    const char *desc;
} conf_prefixes[] = {
    {"cishare.relay.rule.",
     "<name>=types=T,... [tlp=L,...] to=ITEM,... [label=keep|L]: what "
     "cishare relay passes on, to whom (README, \"cishare relay\")"},
};

#define CONF_PREFIX_CNT (sizeof(conf_prefixes) / sizeof(conf_prefixes[0]))

struct kv {
    char *key, *value;
};

struct cishare_config_s {
    char *values[CONF_PROP_CNT]; /* resolved; NULL = default */
    struct kv *kafka;            /* librdkafka pass-through, in order */
    size_t kafka_cnt;
    struct kv *prefixed; /* keys of conf_prefixes[], in order */
    size_t prefixed_cnt;
    char *base_dir;         /* folder of the last loaded file, for paths */
    rd_kafka_conf_t *probe; /* validates librdkafka keys as they are set */
};

cishare_config_t *cishare_config_new(void)
{
    cishare_config_t *conf = calloc(1, sizeof(*conf));

    if (!conf)
        return NULL;
    conf->probe = rd_kafka_conf_new();
    return conf;
}

void cishare_config_destroy(cishare_config_t *conf)
{
    size_t i;

    if (!conf)
        return;
    for (i = 0; i < CONF_PROP_CNT; i++)
        free(conf->values[i]);
    for (i = 0; i < conf->kafka_cnt; i++) {
        free(conf->kafka[i].key);
        free(conf->kafka[i].value);
    }
    free(conf->kafka);
    for (i = 0; i < conf->prefixed_cnt; i++) {
        free(conf->prefixed[i].key);
        free(conf->prefixed[i].value);
    }
    free(conf->prefixed);
    free(conf->base_dir);
    if (conf->probe)
        rd_kafka_conf_destroy(conf->probe);
    free(conf);
}

static const struct conf_prop *conf_prop_find(const char *key, size_t *idxp)
{
    size_t i;

    for (i = 0; i < CONF_PROP_CNT; i++) {
        if (!strcmp(conf_props[i].name, key)) {
            if (idxp)
                *idxp = i;
            return &conf_props[i];
        }
    }
    return NULL;
}

static char *path_resolve(const cishare_config_t *conf, const char *value)
{
    char *out;

    if (value[0] == '/' || !conf->base_dir)
        return strdup(value);
    if (asprintf(&out, "%s/%s", conf->base_dir, value) < 0)
        return NULL;
    return out;
}

int cishare_config_kafka_key_is_path(const char *key)
{
    static const char *const keys[] = {
        "ssl.ca.location",  "ssl.certificate.location", "ssl.key.location",
        "ssl.crl.location", "ssl.keystore.location",    NULL};
    size_t i;

    for (i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i]))
            return 1;
    return 0;
}

static cishare_err_t kafka_set(cishare_config_t *conf, const char *key,
                               const char *value, char *errstr,
                               size_t errstr_size);

/* Set (or replace) key in a kv list. */
static cishare_err_t kv_set(struct kv **listp, size_t *cntp, const char *key,
                            const char *value)
{
    struct kv *n;
    size_t i;
    char *copy;

    for (i = 0; i < *cntp; i++) {
        if (!strcmp((*listp)[i].key, key)) {
            if (!(copy = strdup(value)))
                return CISHARE_ERR_NOMEM;
            free((*listp)[i].value);
            (*listp)[i].value = copy;
            return CISHARE_OK;
        }
    }
    if (!(n = realloc(*listp, (*cntp + 1) * sizeof(*n))))
        return CISHARE_ERR_NOMEM;
    *listp = n;
    n[*cntp].key = strdup(key);
    n[*cntp].value = strdup(value);
    if (!n[*cntp].key || !n[*cntp].value) {
        free(n[*cntp].key);
        free(n[*cntp].value);
        return CISHARE_ERR_NOMEM;
    }
    (*cntp)++;
    return CISHARE_OK;
}

static const struct conf_prefix *conf_prefix_find(const char *key)
{
    size_t i, n;

    for (i = 0; i < CONF_PREFIX_CNT; i++) {
        n = strlen(conf_prefixes[i].prefix);
        if (!strncmp(key, conf_prefixes[i].prefix, n))
            return &conf_prefixes[i];
    }
    return NULL;
}

cishare_err_t cishare_config_set(cishare_config_t *conf, const char *key,
                                 const char *value, char *errstr,
                                 size_t errstr_size)
{
    const struct conf_prop *prop;
    size_t idx;
    char *copy, *end;

    if (!strncmp(key, "cishare.", 8)) {
        prop = conf_prop_find(key, &idx);
        if (!prop && conf_prefix_find(key)) {
            const struct conf_prefix *cp = conf_prefix_find(key);
            const char *name = key + strlen(cp->prefix);
            if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_") != strlen(name))
                return cishare_err_set(
                    CISHARE_ERR_CONFIG, errstr, errstr_size,
                    "%s: expected %s<name> with a name of a-z, 0-9, '-' "
                    "and '_'",
                    key, cp->prefix);
            return kv_set(&conf->prefixed, &conf->prefixed_cnt, key, value);
        }
        if (!prop)
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "unknown configuration key '%s'", key);
        if (prop->type == CONF_INT) {
            long long v;
            errno = 0;
            v = strtoll(value, &end, 10);
            if (errno || end == value || *end || v < prop->min || v > prop->max)
                return cishare_err_set(
                    CISHARE_ERR_CONFIG, errstr, errstr_size,
                    "%s: expected an integer in %lld..%lld, not '%s'", key,
                    (long long)prop->min, (long long)prop->max, value);
        }
        if (!*value && prop->type != CONF_STR)
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s: empty value", key);
        if (!strcmp(key, "cishare.log.format") && strcmp(value, "json") &&
            strcmp(value, "text"))
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s: expected json or text, not '%s'", key,
                                   value);
        /* every participant reads the directory topic: it must never be
         * a topic of the layout (topics.h) */
        if (!strcmp(key, CISHARE_CONF_DIRECTORY_TOPIC)) {
            cishare_err_t err =
                cishare_topic_directory_check(value, errstr, errstr_size);
            if (err)
                return err;
        }
        copy =
            prop->type == CONF_PATH ? path_resolve(conf, value) : strdup(value);
        if (!copy)
            return CISHARE_ERR_NOMEM;
        free(conf->values[idx]);
        conf->values[idx] = copy;
        return CISHARE_OK;
    }

    /* A file's certificate paths, like cishare's own, follow the file. */
    if (cishare_config_kafka_key_is_path(key) && *value) {
        cishare_err_t err;
        if (!(copy = path_resolve(conf, value)))
            return CISHARE_ERR_NOMEM;
        err = kafka_set(conf, key, copy, errstr, errstr_size);
        free(copy);
        return err;
    }
    return kafka_set(conf, key, value, errstr, errstr_size);
}

static cishare_err_t kafka_set(cishare_config_t *conf, const char *key,
                               const char *value, char *errstr,
                               size_t errstr_size)
{
    size_t i;
    char *copy;

    /* librdkafka validates its own keys; keep the error text it gives. */
    {
        char kerr[256];
        if (rd_kafka_conf_set(conf->probe, key, value, kerr, sizeof(kerr)) !=
            RD_KAFKA_CONF_OK)
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s", kerr);
    }
    for (i = 0; i < conf->kafka_cnt; i++) {
        if (!strcmp(conf->kafka[i].key, key)) {
            copy = strdup(value);
            if (!copy)
                return CISHARE_ERR_NOMEM;
            free(conf->kafka[i].value);
            conf->kafka[i].value = copy;
            return CISHARE_OK;
        }
    }
    {
        struct kv *n =
            realloc(conf->kafka, (conf->kafka_cnt + 1) * sizeof(*conf->kafka));
        if (!n)
            return CISHARE_ERR_NOMEM;
        conf->kafka = n;
        n[conf->kafka_cnt].key = strdup(key);
        n[conf->kafka_cnt].value = strdup(value);
        if (!n[conf->kafka_cnt].key || !n[conf->kafka_cnt].value) {
            free(n[conf->kafka_cnt].key);
            free(n[conf->kafka_cnt].value);
            return CISHARE_ERR_NOMEM;
        }
        conf->kafka_cnt++;
    }
    return CISHARE_OK;
}

static char *trim(char *s)
{
    char *e;

    s += strspn(s, " \t");
    e = s + strlen(s);
    while (e > s &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

cishare_err_t cishare_config_set_kv(cishare_config_t *conf, const char *kv,
                                    char *errstr, size_t errstr_size)
{
    char *copy = strdup(kv), *eq;
    cishare_err_t err;

    if (!copy)
        return CISHARE_ERR_NOMEM;
    eq = strchr(copy, '=');
    if (!eq || eq == copy) {
        free(copy);
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "expected key=value, not '%s'", kv);
    }
    *eq = '\0';
    err =
        cishare_config_set(conf, trim(copy), trim(eq + 1), errstr, errstr_size);
    free(copy);
    return err;
}

cishare_err_t cishare_config_load(cishare_config_t *conf, const char *path,
                                  char *errstr, size_t errstr_size)
{
    FILE *fp;
    char line[4096], detail[512], *slash;
    int lineno = 0;
    cishare_err_t err = CISHARE_OK;

    fp = fopen(path, "r");
    if (!fp)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "config %s: %s", path, strerror(errno));
    free(conf->base_dir);
    slash = strrchr(path, '/');
    conf->base_dir =
        slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    if (!conf->base_dir) {
        fclose(fp);
        return CISHARE_ERR_NOMEM;
    }
    while (fgets(line, sizeof(line), fp)) {
        char *s, *eq;
        lineno++;
        s = trim(line);
        if (!*s || *s == '#' || *s == '!')
            continue;
        eq = strchr(s, '=');
        if (!eq || eq == s) {
            err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                  "config %s:%d: expected key=value", path,
                                  lineno);
            break;
        }
        *eq = '\0';
        err = cishare_config_set(conf, trim(s), trim(eq + 1), detail,
                                 sizeof(detail));
        if (err) {
            cishare_err_set(err, errstr, errstr_size, "config %s:%d: %s", path,
                            lineno, detail);
            break;
        }
    }
    fclose(fp);
    return err;
}

const char *cishare_config_get(const cishare_config_t *conf, const char *key)
{
    size_t idx;
    const struct conf_prop *prop = conf_prop_find(key, &idx);

    if (!prop)
        return NULL;
    return conf->values[idx] ? conf->values[idx] : prop->def;
}

int64_t cishare_config_get_int(const cishare_config_t *conf, const char *key)
{
    const char *v = cishare_config_get(conf, key);

    return v ? strtoll(v, NULL, 10) : 0;
}

const char *cishare_config_get_kafka(const cishare_config_t *conf,
                                     const char *key)
{
    size_t i;

    for (i = 0; i < conf->kafka_cnt; i++)
        if (!strcmp(conf->kafka[i].key, key))
            return conf->kafka[i].value;
    return NULL;
}

size_t cishare_config_prefixed_cnt(const cishare_config_t *conf)
{
    return conf->prefixed_cnt;
}

const char *cishare_config_prefixed_at(const cishare_config_t *conf, size_t i,
                                       const char **valuep)
{
    if (i >= conf->prefixed_cnt)
        return NULL;
    if (valuep)
        *valuep = conf->prefixed[i].value;
    return conf->prefixed[i].key;
}

size_t cishare_config_kafka_cnt(const cishare_config_t *conf)
{
    return conf->kafka_cnt;
}

const char *cishare_config_kafka_at(const cishare_config_t *conf, size_t i,
                                    const char **valuep)
{
    if (i >= conf->kafka_cnt)
        return NULL;
    if (valuep)
        *valuep = conf->kafka[i].value;
    return conf->kafka[i].key;
}

static void kafka_log_line(void *opaque, const char *line)
{
    (void)opaque;
    cishare_log_line(CISHARE_LOG_INFO, "% ", line);
}

/* With JSON logs (log.h), librdkafka's own lines (its errors, or what -X
 * debug=... asks for) are JSON objects too; any librdkafka thread. */
static void kafka_log_json(const rd_kafka_t *rk, int level, const char *fac,
                           const char *buf)
{
    cishare_log_fields_t lf = {0};
    char line[1024];

    lf.level = level <= 3   ? CISHARE_LOG_ERROR
               : level == 4 ? CISHARE_LOG_WARN
               : level <= 6 ? CISHARE_LOG_INFO
                            : CISHARE_LOG_DEBUG;
    snprintf(line, sizeof(line), "librdkafka %s: %s: %s",
             rk ? rd_kafka_name(rk) : "-", fac, buf);
    cishare_log_with(&lf, kafka_log_line, NULL, line);
}

rd_kafka_conf_t *cishare_config_kafka_conf(const cishare_config_t *conf,
                                           char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    size_t i;

    if (cishare_log_format() == CISHARE_LOG_JSON)
        rd_kafka_conf_set_log_cb(kconf, kafka_log_json);

    /* librdkafka's own notices and warnings (retries, coordinator loads)
     * are noise on a command line: cishare reports failures itself in
     * plain words. -X log_level=7 or -X debug=... brings them back. */
    rd_kafka_conf_set(kconf, "log_level", "3", NULL, 0);
    /* Over TLS a request leaves as several records; with Nagle on, the
     * kernel holds the next one until the broker's delayed ACK (about
     * 40 ms a round trip). Measured on the TLS broker: raw produce 35 k ->
     * 134 k msg/s, feed latency p50 56 -> 12 ms. A config may set false. */
    rd_kafka_conf_set(kconf, "socket.nagle.disable", "true", NULL, 0);
    for (i = 0; i < conf->kafka_cnt; i++) {
        if (rd_kafka_conf_set(kconf, conf->kafka[i].key, conf->kafka[i].value,
                              errstr, errstr_size) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(kconf);
            return NULL;
        }
    }
    return kconf;
}

void cishare_config_print_help(FILE *fp)
{
    size_t i;

    fprintf(fp, "Configuration keys (CONFIG file or -X key=value; any other "
                "key is passed to librdkafka):\n");
    for (i = 0; i < CONF_PROP_CNT; i++)
        fprintf(fp, "  %-38s %s%s%s%s\n", conf_props[i].name,
                conf_props[i].desc, conf_props[i].def ? " (default " : "",
                conf_props[i].def ? conf_props[i].def : "",
                conf_props[i].def ? ")" : "");
    for (i = 0; i < CONF_PREFIX_CNT; i++)
        fprintf(fp, "  %-38s %s\n", conf_prefixes[i].prefix,
                conf_prefixes[i].desc);
}
