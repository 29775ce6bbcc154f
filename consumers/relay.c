/*
 * cishare - the relay (see relay.h): relay rules, the relay's delivery
 * step plugged into the feed (judge, hop-sign or anonymise, produce), and
 * the Kafka transaction that makes relaying exactly-once.
 */
#include "relay.h"

#include "cishare/anonymise.h"
#include "cishare/codec.h"
#include "cishare/envelope.h"
#include "cishare/identity.h"
#include "cishare/log.h"
#include "cishare/message.h"
#include "cishare/policy.h"
#include "cishare/routing.h"
#include "cishare/topics.h"
#include "folderlock.h"
#include "review.h"
#include "sinks/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- rules ---- */

typedef struct rule_s {
    char *key;      /* the configuration key, for messages */
    unsigned types; /* bit per cishare_msgtype_t */
    unsigned tlps;  /* bit per cishare_tlp_t (the original's label) */
    int label;      /* -1 keep, else the copy's least label */
    bool clients, members, originator;
    cishare_strlist_t items; /* literal audience items */
    unsigned seen;           /* fields given (types, tlp, to, label) */
} rule_t;

struct cishare_relay_rules_s {
    rule_t *rules;
    size_t cnt;
};

static int rule_cmp(const void *a, const void *b)
{
    return strcmp(((const rule_t *)a)->key, ((const rule_t *)b)->key);
}

void cishare_relay_rules_destroy(cishare_relay_rules_t *rs)
{
    size_t i;

    if (!rs)
        return;
    for (i = 0; i < rs->cnt; i++) {
        free(rs->rules[i].key);
        cishare_strlist_clear(&rs->rules[i].items);
    }
    free(rs->rules);
    free(rs);
}

size_t cishare_relay_rules_count(const cishare_relay_rules_t *rs)
{
    return rs ? rs->cnt : 0;
}

/* One "name=v1,v2" field of a rule value. */
static cishare_err_t rule_field(rule_t *r, const char *key, char *field,
                                const cishare_directory_t *dir,
                                const cishare_participant_t *me, char *errstr,
                                size_t errstr_size)
{
    char *eq = strchr(field, '='), *save = NULL, *v;
    const char *name = field;

    if (!eq || eq == field || !eq[1])
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s: '%s': expected name=value (types=, tlp=, "
                               "to=, label=)",
                               key, field);
    *eq = '\0';
    {
        /* a field given twice would widen or override the rule unseen */
        static const char *const names[] = {"types", "tlp", "to", "label"};
        unsigned i;
        for (i = 0; i < 4 && strcmp(name, names[i]); i++)
            ;
        if (i < 4 && (r->seen & 1u << i))
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s: %s given twice (one %s= per rule, "
                                   "values separated by commas)",
                                   key, name, name);
        if (i < 4)
            r->seen |= 1u << i;
    }
    if (!strcmp(name, "label")) {
        cishare_tlp_t t;
        if (!strcmp(eq + 1, "keep"))
            r->label = -1;
        else if (cishare_tlp_parse(eq + 1, &t) && t >= CISHARE_TLP_AMBER_STRICT)
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s: label=%s: a relayed copy is never "
                                   "%s (never re-shared; keep, clear, green "
                                   "or amber)",
                                   key, eq + 1, cishare_tlp_name(t));
        else if (cishare_tlp_parse(eq + 1, &t))
            r->label = (int)t;
        else
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s: label=%s: expected keep or a TLP "
                                   "label (the copy is never looser than "
                                   "the original)",
                                   key, eq + 1);
        return CISHARE_OK;
    }
    if (strcmp(name, "types") && strcmp(name, "tlp") && strcmp(name, "to"))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s: unknown field '%s' (types, tlp, to, "
                               "label)",
                               key, name);
    if (!strcmp(name, "tlp"))
        r->tlps = 0;
    for (v = strtok_r(eq + 1, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        if (!strcmp(name, "types")) {
            cishare_msgtype_t t;
            if (!cishare_msgtype_parse(v, &t))
                return cishare_err_set(
                    CISHARE_ERR_CONFIG, errstr, errstr_size,
                    "%s: types: '%s' is not a message type (indicator, "
                    "incident, alert, sighting, revocation)",
                    key, v);
            r->types |= 1u << t;
        } else if (!strcmp(name, "tlp")) {
            cishare_tlp_t t;
            if (!cishare_tlp_parse(v, &t))
                return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                       "%s: tlp: '%s' is not a TLP label", key,
                                       v);
            if (t >= CISHARE_TLP_AMBER_STRICT)
                return cishare_err_set(
                    CISHARE_ERR_CONFIG, errstr, errstr_size,
                    "%s: tlp: %s is never re-shared (only clear, green, "
                    "amber)",
                    key, cishare_tlp_name(t));
            r->tlps |= 1u << t;
        } else if (!strcmp(v, "clients")) {
            r->clients = true;
        } else if (!strcmp(v, "originator")) {
            r->originator = true;
        } else if (!strcmp(v, "members")) {
            if (me->role != CISHARE_ROLE_CEPTOAR)
                return cishare_err_set(
                    CISHARE_ERR_CONFIG, errstr, errstr_size,
                    "%s: to: 'members' are a CEPTOAR's operators, and %s is "
                    "a %s (use clients or audience items)",
                    key, me->id, cishare_role_name(me->role));
            r->members = true;
        } else {
            cishare_audience_t a = {0};
            char why[512];
            if (cishare_audience_resolve(dir, CISHARE_TLP_AMBER, me, v, &a, why,
                                         sizeof(why)))
                return cishare_err_set(
                    CISHARE_ERR_CONFIG, errstr, errstr_size,
                    "%s: to: '%s': %s (expected clients, members, "
                    "originator, all, sector:<code>, role:<role> or "
                    "participant:<id>)",
                    key, v, why);
            cishare_audience_clear(&a);
            if (cishare_strlist_add(&r->items, v))
                return CISHARE_ERR_NOMEM;
        }
    }
    return CISHARE_OK;
}

cishare_err_t cishare_relay_rules_load(const cishare_config_t *conf,
                                       const cishare_directory_t *dir,
                                       const cishare_participant_t *me,
                                       cishare_relay_rules_t **rulesp,
                                       char *errstr, size_t errstr_size)
{
    cishare_relay_rules_t *rs = calloc(1, sizeof(*rs));
    size_t n = cishare_config_prefixed_cnt(conf), i;
    const size_t plen = strlen(CISHARE_RELAY_RULE_PREFIX);
    cishare_err_t err = CISHARE_OK;

    *rulesp = NULL;
    if (!rs || !(rs->rules = calloc(n ? n : 1, sizeof(*rs->rules)))) {
        free(rs);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    for (i = 0; i < n && !err; i++) {
        const char *value, *key = cishare_config_prefixed_at(conf, i, &value);
        rule_t *r = &rs->rules[rs->cnt];
        char *copy, *save = NULL, *field;
        bool has_types = false, has_to = false;

        if (strncmp(key, CISHARE_RELAY_RULE_PREFIX, plen))
            continue;
        rs->cnt++;
        r->label = -1;
        r->tlps = 1u << CISHARE_TLP_CLEAR | 1u << CISHARE_TLP_GREEN |
                  1u << CISHARE_TLP_AMBER;
        if (!(r->key = strdup(key)) || !(copy = strdup(value))) {
            err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                  "out of memory");
            break;
        }
        for (field = strtok_r(copy, " \t", &save); field && !err;
             field = strtok_r(NULL, " \t", &save)) {
            has_types |= !strncmp(field, "types=", 6);
            has_to |= !strncmp(field, "to=", 3);
            err = rule_field(r, key, field, dir, me, errstr, errstr_size);
        }
        free(copy);
        if (!err && (!has_types || !has_to))
            err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                  "%s: '%s': a rule needs types=... and "
                                  "to=...",
                                  key, value);
    }
    if (!err && !rs->cnt)
        err = cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "no relay rules: set %s<name>=types=... to=... (cishare relay "
            "--help)",
            CISHARE_RELAY_RULE_PREFIX);
    if (err) {
        cishare_relay_rules_destroy(rs);
        return err;
    }
    if (rs->cnt > 1) /* rules is NULL without rules: not for qsort */
        qsort(rs->rules, rs->cnt, sizeof(*rs->rules), rule_cmp);
    *rulesp = rs;
    return CISHARE_OK;
}

/* ---- the relay's state ---- */

typedef struct relay_s {
    const cishare_relay_opts_t *opts;
    cishare_relay_stats_t *stats;
    cishare_relay_rules_t *rules;
    cishare_codec_t *codec;
    cishare_msg_in_t *in;   /* scratch: the message being judged */
    cishare_envelope_t env; /* scratch: the relayed copy's envelope */
    rd_kafka_t *rk;         /* the transactional producer */
    int64_t timeout_ms;
    int64_t anon_unit_ms;
    uint8_t wire; /* cishare.envelope.version of anonymised copies */
    /* the current transaction: open, and what it holds */
    bool txn_open;
    uint64_t txn_msgs, txn_anon, txn_records;
    uint64_t txn_count; /* transactions with copies so far (test hook) */
    int dr_err;         /* first failed delivery report (rd_kafka_resp_err_t) */
    char dr_errstr[256];
    /* ACLs of the relay's participant, for the directory they came from */
    const cishare_directory_t *acl_dir;
    cishare_acl_set_t acls;
    /* test hook: CISHARE_TEST_RELAY_CRASH */
    int crash_when; /* 0 none, 1 before commit, 2 after commit */
    uint64_t crash_at;
    /* capture (review): relay_hop/relay_anonymised describe the copy in
     * `captured` instead of producing it; `last_refusal` is the code of
     * the last refusal counted */
    bool capture;
    json_t *captured;
    const char *last_refusal;
    /* the review queue (review.h), open while `lock_fd` holds the
     * folder's review.lock */
    const char *folder;
    cishare_review_t *q;
    int lock_fd;
    bool review_loaded;    /* review_seq holds the committed counter */
    int64_t review_seq;    /* last review sequence number committed */
    struct stat review_st; /* the journal when last closed */
} relay_t;

static void relay_log(const relay_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void relay_log(const relay_t *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!r->opts->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r->opts->log(r->opts->log_opaque, line);
}

/* A message not relayed: relay_log() with its id, origin and the code
 * counted in cishare_relay_refused_total{reason} for JSON logs. */
static void refused_log(const relay_t *r, const char *code, const char *msg_id,
                        const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void refused_log(const relay_t *r, const char *code, const char *msg_id,
                        const char *origin, const char *fmt, ...)
{
    cishare_log_fields_t lf = {0};
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    lf.level = CISHARE_LOG_WARN;
    lf.reason = code;
    lf.msg_id = msg_id && *msg_id ? msg_id : NULL;
    lf.origin = origin && *origin ? origin : NULL;
    cishare_log_with(&lf, r->opts->log, r->opts->log_opaque, line);
}

static void count_refusal(relay_t *r, const char *code)
{
    cishare_relay_stats_t *st = r->stats;
    size_t i;

    st->refused++;
    r->last_refusal = code;
    for (i = 0; i < st->refused_kinds; i++)
        if (!strcmp(st->refused_by[i].code, code)) {
            st->refused_by[i].n++;
            return;
        }
    if (i < CISHARE_RELAY_MAX_REASONS) {
        snprintf(st->refused_by[i].code, sizeof(st->refused_by[i].code), "%s",
                 code);
        st->refused_by[i].n = 1;
        st->refused_kinds++;
    }
}

void cishare_relay_stats_format(const cishare_relay_stats_t *st, char *buf,
                                size_t size)
{
    size_t off, i;
    int n;

    n = snprintf(
        buf, size,
        "relayed %llu (anonymised %llu, records %llu, approved from "
        "review %llu), queued for review %llu, not relayed %llu",
        (unsigned long long)st->relayed, (unsigned long long)st->anonymised,
        (unsigned long long)st->records, (unsigned long long)st->approved,
        (unsigned long long)st->queued, (unsigned long long)st->refused);
    off = n > 0 ? (size_t)n : 0;
    for (i = 0; i < st->refused_kinds && off < size; i++) {
        n = snprintf(buf + off, size - off, "%s%s %llu", i ? ", " : " (",
                     st->refused_by[i].code,
                     (unsigned long long)st->refused_by[i].n);
        off += n > 0 ? (size_t)n : 0;
    }
    if (st->refused_kinds && off < size)
        snprintf(buf + off, size - off, ")");
}

/* ---- judging one message ---- */

/* What a message becomes: the copy's label and audience. */
typedef struct plan_s {
    const rule_t *rule;
    cishare_tlp_t tlp;
    cishare_audience_t aud;
    char aud_text[CISHARE_AUDIENCE_TEXT_LEN + 1];
    bool anonymise;
} plan_t;

static const rule_t *rule_match(const cishare_relay_rules_t *rs,
                                cishare_msgtype_t type, cishare_tlp_t tlp)
{
    size_t i;

    for (i = 0; i < rs->cnt; i++)
        if ((rs->rules[i].types & 1u << type) &&
            (rs->rules[i].tlps & 1u << tlp))
            return &rs->rules[i];
    return NULL;
}

/*
 * The rule's audience for this message, as audience text. A sighting
 * goes to the originator it names (sighting_of, the payload's
 * sighting_of_origin) and to nobody else, whatever the rule's to= says
 * (DOMAIN: sightings and false positives go back to the originator); ""
 * when it names none.
 */
static cishare_err_t plan_audience_text(const rule_t *rule,
                                        const cishare_directory_t *dir,
                                        const cishare_participant_t *me,
                                        const char *origin,
                                        const char *sighting_of, bool sighting,
                                        char *buf, size_t size)
{
    cishare_strlist_t items = {0};
    size_t i, off = 0;
    cishare_err_t err = CISHARE_OK;
    char item[CISHARE_ID_MAX_LEN + 16];

    if (sighting) {
        buf[0] = '\0';
        if (sighting_of && *sighting_of && strcmp(sighting_of, origin) &&
            cishare_directory_find(dir, sighting_of) &&
            (size_t)snprintf(buf, size, "participant:%s", sighting_of) >= size)
            return CISHARE_ERR_TOO_LARGE;
        return CISHARE_OK;
    }
    for (i = 0; !err && i < rule->items.cnt; i++)
        err = cishare_strlist_add(&items, rule->items.items[i]);
    if (!err && rule->clients && me->role == CISHARE_ROLE_COORDINATION_OFFICE)
        err = cishare_strlist_add(&items, "all");
    else if (!err && rule->clients && me->role == CISHARE_ROLE_MINISTRY)
        for (i = 0; !err && i < me->sector_cnt; i++) {
            snprintf(item, sizeof(item), "sector:%s", me->sectors[i]);
            err = cishare_strlist_add(&items, item);
        }
    else if (!err && (rule->clients || rule->members))
        for (i = 0; !err && i < cishare_directory_participant_cnt(dir); i++) {
            const cishare_participant_t *p =
                cishare_directory_participant(dir, i);
            bool member = p->ceptoar && !strcmp(p->ceptoar, me->id) &&
                          p->role == CISHARE_ROLE_OPERATOR;
            if (p == me || !strcmp(p->id, origin))
                continue;
            if (member || (rule->clients && cishare_policy_is_client(me, p))) {
                snprintf(item, sizeof(item), "participant:%s", p->id);
                err = cishare_strlist_add(&items, item);
            }
        }
    buf[0] = '\0';
    for (i = 0; !err && i < items.cnt; i++) {
        int n = snprintf(buf + off, size - off, "%s%s", off ? "," : "",
                         items.items[i]);
        if (n < 0 || (size_t)n >= size - off)
            err = CISHARE_ERR_TOO_LARGE;
        else
            off += (size_t)n;
    }
    cishare_strlist_clear(&items);
    return err;
}

/*
 * Decide what becomes of verified message `in` (payload decoded): NULL
 * and a plan, or the refusal's reason code.
 */
static const char *judge(relay_t *r, const cishare_identity_t *id,
                         const cishare_msg_in_t *in, int64_t now, plan_t *plan)
{
    const cishare_directory_t *dir = id->dir;
    const cishare_participant_t *me = id->me;
    cishare_policy_msg_t pm = {0}, copy = {0};
    cishare_payload_flags_t flags;
    cishare_reason_t reason = CISHARE_REASON_NOT_RELAY_CLIENT;
    const cishare_participant_t *members[64], **mem = members;
    size_t n, i, allowed = 0;
    bool any_refused = false;

    if (in->env.relay_cnt)
        return "already-relayed";
    if (!strcmp(in->env.origin, me->id))
        return "own-message";
    if (!(plan->rule = rule_match(r->rules, in->env.type, in->env.tlp)))
        return "no-rule";
    plan->tlp =
        plan->rule->label >= 0 && (cishare_tlp_t)plan->rule->label > in->env.tlp
            ? (cishare_tlp_t)plan->rule->label
            : in->env.tlp;
    cishare_message_payload_flags(in->env.type, in->payload, &flags);
    plan->anonymise = flags.anonymise == 1;
    /* the re-sharing rules a-d (and consent, b) on the original */
    cishare_message_policy_msg(in, &pm);
    if (cishare_policy_check_reshare(dir, &pm, me, plan->tlp, now, &reason,
                                     NULL, 0))
        return cishare_reason_code(reason);
    if (plan_audience_text(plan->rule, dir, me, in->env.origin, pm.sighting_of,
                           in->env.type == CISHARE_MSG_SIGHTING, plan->aud_text,
                           sizeof(plan->aud_text)))
        return "audience-too-large";
    if (!plan->aud_text[0])
        return in->env.type == CISHARE_MSG_SIGHTING ? "no-originator"
                                                    : "no-recipient";
    if (cishare_audience_resolve(dir, plan->tlp, me, plan->aud_text, &plan->aud,
                                 NULL, 0))
        return "no-recipient";
    /* who the copy reaches, and whom of them rules e-i allow: at least
     * one besides the origin and the relay, or it is not relayed */
    copy.tlp = plan->tlp;
    copy.origin = plan->anonymise ? me->id : in->env.origin;
    copy.audience = &plan->aud;
    copy.expires_ms = in->env.expires_ms;
    n = cishare_policy_members(dir, &copy, now, members, 64);
    if (n > 64) {
        if (!(mem = malloc(n * sizeof(*mem))))
            return "out-of-memory";
        n = cishare_policy_members(dir, &copy, now, mem, n);
    }
    for (i = 0; i < n; i++) {
        cishare_decision_t d;
        if (mem[i] == me || !strcmp(mem[i]->id, in->env.origin))
            continue;
        d = cishare_policy_decide_reshare(dir, &pm, me, plan->tlp, mem[i], now);
        if (d.deliver)
            allowed++;
        else if (!any_refused) {
            reason = d.reason;
            any_refused = true;
        }
    }
    if (mem != members)
        free(mem);
    if (!allowed) {
        cishare_audience_clear(&plan->aud);
        return any_refused ? cishare_reason_code(reason) : "no-recipient";
    }
    return NULL;
}

/* ---- producing (inside the transaction) ---- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    relay_t *r = opaque;

    (void)rk;
    if (m->err && !r->dr_err) {
        r->dr_err = m->err;
        snprintf(r->dr_errstr, sizeof(r->dr_errstr), "%s: %s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                 rd_kafka_err2str(m->err));
    }
}

static cishare_err_t txn_error(relay_t *r, const char *what,
                               rd_kafka_error_t *error, char *errstr,
                               size_t errstr_size)
{
    cishare_err_t err = cishare_err_set(
        CISHARE_ERR_KAFKA, errstr, errstr_size, "relay transaction: %s: %s%s",
        what, rd_kafka_error_string(error),
        rd_kafka_error_code(error) ==
                RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            ? " (the relay needs WRITE on TransactionalId prefix "
              "cishare-relay.<id>.: deploy/kafka/grant-relay)"
            : "");

    if (rd_kafka_error_txn_requires_abort(error) && r->txn_open) {
        rd_kafka_error_t *e2 =
            rd_kafka_abort_transaction(r->rk, (int)r->timeout_ms);
        if (e2)
            rd_kafka_error_destroy(e2);
        r->txn_open = false;
        relay_log(r, "relay: transaction aborted: nothing of this batch is "
                     "relayed or committed; it is read again on restart");
    }
    rd_kafka_error_destroy(error);
    return err;
}

static cishare_err_t txn_begin(relay_t *r, char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *error;

    if (r->txn_open)
        return CISHARE_OK;
    if ((error = rd_kafka_begin_transaction(r->rk)))
        return txn_error(r, "begin", error, errstr, errstr_size);
    r->txn_open = true;
    r->txn_msgs = r->txn_anon = r->txn_records = 0;
    r->dr_err = 0;
    return CISHARE_OK;
}

static bool acl_writable(relay_t *r, const cishare_identity_t *id,
                         const char *topic)
{
    if (r->acl_dir != id->dir) {
        cishare_acl_set_clear(&r->acls);
        if (cishare_acls_for_participant(id->dir, id->me, &r->acls))
            return false;
        cishare_acl_set_sort(&r->acls);
        r->acl_dir = id->dir;
    }
    return cishare_acl_allows(&r->acls, id->me->principal,
                              RD_KAFKA_RESOURCE_TOPIC, topic,
                              RD_KAFKA_ACL_OPERATION_WRITE);
}

/* Produce one record (headers copied) to every topic. */
static cishare_err_t produce_all(relay_t *r, const cishare_strlist_t *topics,
                                 const char *key, size_t key_len,
                                 const void *value, size_t value_len,
                                 const rd_kafka_headers_t *hdrs, char *errstr,
                                 size_t errstr_size)
{
    size_t i;

    for (i = 0; i < topics->cnt; i++) {
        rd_kafka_resp_err_t kerr;
        rd_kafka_headers_t *h = rd_kafka_headers_copy(hdrs);
        int tries = 0;

        do {
            kerr = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(topics->items[i]),
                                     RD_KAFKA_V_KEY(key, key_len),
                                     RD_KAFKA_V_VALUE((void *)value, value_len),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
            if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(r->rk, 100);
        } while (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL && ++tries < 600);
        if (kerr) {
            rd_kafka_headers_destroy(h);
            return cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                                   "produce to %s: %s", topics->items[i],
                                   rd_kafka_err2str(kerr));
        }
        r->txn_records++;
    }
    rd_kafka_poll(r->rk, 0);
    return CISHARE_OK;
}

/* The topics a copy goes to; NULL, or the refusal's reason code. */
static const char *copy_topics(relay_t *r, const cishare_identity_t *id,
                               const cishare_participant_t *origin,
                               cishare_tlp_t tlp, const cishare_audience_t *aud,
                               cishare_strlist_t *topics, char *why,
                               size_t why_size)
{
    size_t i;

    if (cishare_routing_topics(id->dir, origin, tlp, aud, topics, why,
                               why_size))
        return "no-recipient";
    for (i = 0; i < topics->cnt; i++)
        if (!acl_writable(r, id, topics->items[i])) {
            snprintf(why, why_size, "%s may not write %s", id->me->id,
                     topics->items[i]);
            return "not-writable";
        }
    return NULL;
}

static json_t *b64_json(const void *buf, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *s;
    json_t *j;

    if (!buf)
        return json_null();
    if (!(s = malloc(n)))
        return NULL;
    sodium_bin2base64(s, n, buf, len, sodium_base64_VARIANT_ORIGINAL);
    j = json_string(s);
    free(s);
    return j;
}

/* base64 string (or null: *bufp NULL) -> malloc()ed bytes; false when
 * malformed or out of memory. */
static bool json_b64(const json_t *j, uint8_t **bufp, size_t *lenp)
{
    const char *s = json_string_value(j);
    size_t slen, len = 0;

    *bufp = NULL;
    *lenp = 0;
    if (json_is_null(j))
        return true;
    if (!s)
        return false;
    slen = json_string_length(j);
    if (!(*bufp = malloc(slen / 4 * 3 + 3)))
        return false;
    if (sodium_base642bin(*bufp, slen / 4 * 3 + 3, s, slen, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL)) {
        free(*bufp);
        *bufp = NULL;
        return false;
    }
    *lenp = len;
    return true;
}

/*
 * A copy is ready: produce it inside the transaction, or (capture, the
 * review queue) describe it in r->captured as
 *   {"copy_id", "anonymised", "tlp", "audience", "topics": [..],
 *    "key": b64|null, "value": b64, "headers": [[name, b64|null], ..]}
 * so that it is produced later byte for byte (relay_review_produce).
 */
static cishare_err_t emit_copy(relay_t *r, const cishare_strlist_t *topics,
                               const char *key, size_t key_len,
                               const void *value, size_t value_len,
                               const rd_kafka_headers_t *hdrs,
                               const char *copy_id, bool anonymised,
                               cishare_tlp_t tlp, const char *aud_text,
                               char *errstr, size_t errstr_size)
{
    cishare_err_t err;
    json_t *t, *h, *c;
    const char *name;
    const void *val;
    size_t i, vlen;

    if (r->capture) {
        t = json_array();
        h = json_array();
        for (i = 0; t && i < topics->cnt; i++)
            if (json_array_append_new(t, json_string(topics->items[i])))
                goto nomem;
        for (i = 0;
             h && hdrs && !rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen);
             i++)
            if (json_array_append_new(
                    h, json_pack("[s, o]", name, b64_json(val, vlen))))
                goto nomem;
        c = t && h
                ? json_pack("{s:s, s:b, s:s, s:s, s:o, s:o, s:o, s:o}",
                            "copy_id", copy_id, "anonymised", anonymised, "tlp",
                            cishare_tlp_name(tlp), "audience", aud_text,
                            "topics", t, "key", b64_json(key, key_len), "value",
                            b64_json(value, value_len), "headers", h)
                : NULL;
        if (!c)
            return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                   "out of memory");
        json_decref(r->captured);
        r->captured = c;
        return CISHARE_OK;
    nomem:
        json_decref(t);
        json_decref(h);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if ((err = txn_begin(r, errstr, errstr_size)) ||
        (err = produce_all(r, topics, key, key_len, value, value_len, hdrs,
                           errstr, errstr_size)))
        return err;
    r->txn_msgs++;
    if (anonymised)
        r->txn_anon++;
    return CISHARE_OK;
}

/* The hop-signed copy of the original record (key, value). */
static cishare_err_t relay_hop(relay_t *r, const cishare_identity_t *id,
                               const char *key, size_t key_len,
                               const void *value, size_t value_len,
                               const cishare_msg_in_t *in, const plan_t *plan,
                               int64_t now, char *errstr, size_t errstr_size)
{
    cishare_strlist_t topics = {0};
    rd_kafka_headers_t *hdrs = NULL;
    const char *code;
    char why[512] = "";
    cishare_err_t err;

    if ((code = copy_topics(r, id, in->origin, plan->tlp, &plan->aud, &topics,
                            why, sizeof(why)))) {
        count_refusal(r, code);
        refused_log(r, code, in->env.id, in->env.origin,
                    "relay: %s from %s not relayed: %s: %s", in->env.id,
                    in->env.origin, code, why);
        cishare_strlist_clear(&topics);
        return CISHARE_OK;
    }
    r->env = in->env; /* and its header layout: the original, verbatim */
    err = cishare_envelope_relay_sign(&r->env, &id->kp, id->me->id, plan->tlp,
                                      plan->aud_text, now, key, key_len, value,
                                      value_len, errstr, errstr_size);
    if (!err && !(hdrs = rd_kafka_headers_new(24)))
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
    if (!err)
        err = cishare_envelope_to_headers(&r->env, hdrs, errstr, errstr_size);
    if (!err)
        err = emit_copy(r, &topics, key, key_len, value, value_len, hdrs,
                        in->env.id, false, plan->tlp, plan->aud_text, errstr,
                        errstr_size);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    cishare_strlist_clear(&topics);
    return err;
}

/* The anonymised copy: a new message of the relay's own (anonymise.h). */
static cishare_err_t relay_anonymised(relay_t *r, const cishare_identity_t *id,
                                      const json_t *msg,
                                      const cishare_msg_in_t *in,
                                      const plan_t *plan, int64_t now,
                                      char *errstr, size_t errstr_size)
{
    cishare_anonymise_opts_t ao = {0};
    cishare_msg_out_t out = {0};
    cishare_strlist_t topics = {0};
    rd_kafka_headers_t *hdrs = NULL;
    json_t *copy = NULL;
    const char *code;
    char why[512] = "";
    cishare_err_t err;

    ao.unit_ms = r->anon_unit_ms;
    ao.audience = plan->aud_text;
    if (cishare_anonymise(msg, in->origin, id->dir, &ao, &copy, why,
                          sizeof(why)) ||
        cishare_message_build(r->codec, id->dir, id->me, &id->kp, copy,
                              (int)plan->tlp, plan->aud_text,
                              cishare_anonymise_time(now, &ao), &out, why,
                              sizeof(why))) {
        json_decref(copy);
        cishare_msg_out_clear(&out);
        count_refusal(r, "anonymise-failed");
        refused_log(r, "anonymise-failed", in->env.id, in->env.origin,
                    "relay: %s from %s not relayed: anonymise-failed: %s",
                    in->env.id, in->env.origin, why);
        return CISHARE_OK;
    }
    json_decref(copy);
    if ((code = copy_topics(r, id, id->me, out.env.tlp, &out.audience, &topics,
                            why, sizeof(why)))) {
        count_refusal(r, code);
        refused_log(r, code, in->env.id, in->env.origin,
                    "relay: %s from %s not relayed: %s: %s", in->env.id,
                    in->env.origin, code, why);
        cishare_strlist_clear(&topics);
        cishare_msg_out_clear(&out);
        return CISHARE_OK;
    }
    err = (hdrs = rd_kafka_headers_new(24))
              ? CISHARE_OK
              : cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                "out of memory");
    out.env.wire_version = r->wire; /* a new message: our layout */
    if (!err)
        err = cishare_envelope_to_headers(&out.env, hdrs, errstr, errstr_size);
    if (!err)
        err = emit_copy(r, &topics, out.key, out.key_len, out.value,
                        out.value_len, hdrs, out.env.id, true, out.env.tlp,
                        plan->aud_text, errstr, errstr_size);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    cishare_strlist_clear(&topics);
    cishare_msg_out_clear(&out);
    return err;
}

/* ---- the feed's delivery step (feed.h: cishare_feed_output_t) ---- */

/*
 * Verify a record (the feed verified it already: this gives the parsed
 * envelope) and judge it: NULL, in filled (payload from msg) and a plan;
 * or the refusal's code, counted and logged, in reset.
 */
static const char *check_one(relay_t *r, const cishare_identity_t *id,
                             const char *where, const char *key, size_t key_len,
                             const void *value, size_t value_len,
                             const rd_kafka_headers_t *hdrs, const json_t *msg,
                             int64_t now, plan_t *plan)
{
    cishare_msg_in_t *in = r->in;
    const char *code;
    char why[512] = "";

    memset(plan, 0, sizeof(*plan));
    if (cishare_message_verify(id->dir, hdrs, key, key_len, value, value_len,
                               in, why, sizeof(why)) ||
        !in->verified) {
        count_refusal(r, "unverifiable");
        refused_log(r, "unverifiable", in->env.id, in->env.origin,
                    "relay: %s not relayed: %s", where, why);
        cishare_msg_in_reset(in);
        return "unverifiable";
    }
    in->payload = json_incref(json_object_get(msg, "payload"));
    if ((code = judge(r, id, in, now, plan))) {
        count_refusal(r, code);
        /* routine ones are counted only: a relay reads much it does not
         * pass on */
        if (r->capture ||
            (strcmp(code, "no-rule") && strcmp(code, "already-relayed") &&
             strcmp(code, "own-message")))
            refused_log(r, code, in->env.id, in->env.origin,
                        "relay: %s from %s (%s, %s) not relayed: %s",
                        in->env.id, in->env.origin,
                        cishare_msgtype_name(in->env.type),
                        cishare_tlp_name(in->env.tlp), code);
        cishare_msg_in_reset(in);
        return code;
    }
    return NULL;
}

static void crash_hook(relay_t *r, int when);

/* ---- the review queue (review.h) ---- */

#define REVIEW_LOCK    "review.lock"
#define REVIEW_JOURNAL "review.jsonl"
/** How long a command waits for the running relay to release the queue. */
#define REVIEW_LOCK_WAIT_MS 30000

/* Take <folder>/review.lock (flock: one process at a time, the running
 * relay and the review commands) and open the queue. */
static cishare_err_t review_lock_open(relay_t *r, bool wait_forever,
                                      char *errstr, size_t errstr_size)
{
    char path[4400];
    int waited = 0;
    cishare_err_t err;

    if (r->q)
        return CISHARE_OK;
    if (mkdir(r->folder, 0750) && errno != EEXIST)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                               r->folder, strerror(errno));
    snprintf(path, sizeof(path), "%s/" REVIEW_LOCK, r->folder);
    if ((r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                               path, strerror(errno));
    while (flock(r->lock_fd, wait_forever ? LOCK_EX : LOCK_EX | LOCK_NB)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK || (waited += 100) > REVIEW_LOCK_WAIT_MS) {
            err = cishare_err_set(
                CISHARE_ERR_IO, errstr, errstr_size, "%s: %s", path,
                errno == EWOULDBLOCK ? "the queue stayed busy for 30 s "
                                       "(a relay holding it?)"
                                     : strerror(errno));
            close(r->lock_fd);
            r->lock_fd = -1;
            return err;
        }
        nanosleep(&ts, NULL);
    }
    if ((err = cishare_review_open(r->folder, &r->q, errstr, errstr_size))) {
        close(r->lock_fd);
        r->lock_fd = -1;
        return err;
    }
    if (cishare_review_torn_bytes(r->q))
        relay_log(r, "relay: %s: cut a torn last line (%llu bytes)",
                  cishare_review_path(r->q),
                  (unsigned long long)cishare_review_torn_bytes(r->q));
    return CISHARE_OK;
}

static void review_close(relay_t *r)
{
    char path[4400];

    if (!r->q)
        return;
    cishare_review_close(r->q);
    r->q = NULL;
    snprintf(path, sizeof(path), "%s/" REVIEW_JOURNAL, r->folder);
    if (stat(path, &r->review_st))
        memset(&r->review_st, 0, sizeof(r->review_st));
    close(r->lock_fd);
    r->lock_fd = -1;
}

/* Hold a message the relay would relay: into the queue, durably (before
 * the feed commits its offset). */
static cishare_err_t review_hold(relay_t *r, const rd_kafka_message_t *m,
                                 const json_t *msg, const cishare_msg_in_t *in,
                                 int64_t now, char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *hdrs = NULL;
    const cishare_review_item_t *it = NULL;
    bool existed = false;
    cishare_err_t err;

    if ((err = review_lock_open(r, true, errstr, errstr_size)))
        return err;
    rd_kafka_message_headers(m, &hdrs);
    if ((err = cishare_review_add(
             r->q, rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->key,
             m->key ? m->key_len : 0, m->payload, m->len, hdrs, msg, now, &it,
             &existed, errstr, errstr_size)))
        return err;
    if (existed) {
        relay_log(r,
                  "relay: %s from %s is already in the review queue as %s "
                  "(%s)",
                  in->env.id, in->env.origin, it->id,
                  cishare_review_state_name(it->state));
        return CISHARE_OK;
    }
    r->stats->queued++;
    relay_log(r, "relay: %s held for review: %s %s from %s (%s)", it->id,
              it->type, it->subject, it->origin, it->tlp);
    return CISHARE_OK;
}

/*
 * Build the copy of queued item `it` as it would be relayed now (the
 * directory, rules and policy of now): NULL and *outp (review_produce's
 * JSON, new reference), or the refusal's code. Hard errors in *errp.
 */
static const char *review_build(relay_t *r, const cishare_identity_t *id,
                                const cishare_review_item_t *it, int64_t now,
                                json_t **outp, cishare_err_t *errp,
                                char *errstr, size_t errstr_size)
{
    plan_t plan;
    const char *code;
    char where[256];

    *outp = NULL;
    *errp = CISHARE_OK;
    snprintf(where, sizeof(where), "%s (%s [%d] @%lld)", it->id, it->topic,
             (int)it->partition, (long long)it->offset);
    if ((code = check_one(r, id, where, (const char *)it->key, it->key_len,
                          it->value, it->value_len, it->headers, it->msg, now,
                          &plan)))
        return code;
    r->capture = true;
    r->last_refusal = NULL;
    json_decref(r->captured);
    r->captured = NULL;
    *errp = plan.anonymise ? relay_anonymised(r, id, it->msg, r->in, &plan, now,
                                              errstr, errstr_size)
                           : relay_hop(r, id, (const char *)it->key,
                                       it->key_len, it->value, it->value_len,
                                       r->in, &plan, now, errstr, errstr_size);
    r->capture = false;
    cishare_audience_clear(&plan.aud);
    cishare_msg_in_reset(r->in);
    if (*errp)
        return "error";
    if (!r->captured)
        return r->last_refusal ? r->last_refusal : "not-built";
    *outp = r->captured;
    r->captured = NULL;
    return NULL;
}

/* Produce a copy review_build() described, byte for byte. */
static cishare_err_t review_produce(relay_t *r, const cishare_review_item_t *it,
                                    char *errstr, size_t errstr_size)
{
    const json_t *out = it->out, *t = json_object_get(out, "topics"), *e;
    cishare_strlist_t topics = {0};
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(24);
    uint8_t *key = NULL, *value = NULL, *hv;
    size_t key_len, value_len, hlen, i;
    cishare_err_t err = CISHARE_OK;
    bool ok = hdrs && json_array_size(t) &&
              json_b64(json_object_get(out, "key"), &key, &key_len) &&
              json_b64(json_object_get(out, "value"), &value, &value_len) &&
              value && json_is_array(json_object_get(out, "headers"));

    json_array_foreach(t, i, e) ok =
        ok && json_is_string(e) &&
        !cishare_strlist_add(&topics, json_string_value(e));
    json_array_foreach(json_object_get(out, "headers"), i, e)
    {
        const char *name = json_string_value(json_array_get(e, 0));
        if (!ok)
            break;
        hv = NULL;
        ok = name && json_b64(json_array_get(e, 1), &hv, &hlen) &&
             !rd_kafka_header_add(hdrs, name, -1, hv, hlen);
        free(hv);
    }
    if (!ok)
        err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                              "review queue item %s: its prepared copy is "
                              "damaged",
                              it->id);
    if (!err)
        err = txn_begin(r, errstr, errstr_size);
    if (!err)
        err = produce_all(r, &topics, (const char *)key, key_len, value,
                          value_len, hdrs, errstr, errstr_size);
    if (!err) {
        r->txn_msgs++;
        if (json_is_true(json_object_get(out, "anonymised")))
            r->txn_anon++;
    }
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    cishare_strlist_clear(&topics);
    free(key);
    free(value);
    return err;
}

/* The consumer group that holds the review counter: <group.id>.review. */
static void review_group(const relay_t *r, char *buf, size_t size)
{
    const char *g = cishare_config_get_kafka(r->opts->conf, "group.id");
    snprintf(buf, size, "%s.review", g ? g : "cishare-relay");
}

static int64_t item_seq(const cishare_review_item_t *it)
{
    return it->out
               ? (int64_t)json_integer_value(json_object_get(it->out, "seq"))
               : 0;
}

static int seq_cmp(const void *a, const void *b)
{
    int64_t x = item_seq(*(const cishare_review_item_t *const *)a),
            y = item_seq(*(const cishare_review_item_t *const *)b);
    return x < y ? -1 : x > y;
}

static cishare_err_t kafka_conf_connection(const cishare_config_t *conf,
                                           rd_kafka_conf_t *kc, char *errstr,
                                           size_t errstr_size);

/* The review counter committed in Kafka (0: none yet). */
static cishare_err_t review_seq_load(relay_t *r, const cishare_identity_t *id,
                                     char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_resp_err_t kerr;
    rd_kafka_t *rk;
    char group[CISHARE_TOPIC_MAX + 32], inbox[CISHARE_TOPIC_MAX + 1];
    cishare_err_t err;

    if (!kc)
        return CISHARE_ERR_NOMEM;
    review_group(r, group, sizeof(group));
    if ((err = kafka_conf_connection(r->opts->conf, kc, errstr, errstr_size)) ||
        rd_kafka_conf_set(kc, "group.id", group, errstr, errstr_size) ||
        rd_kafka_conf_set(kc, "isolation.level", "read_committed", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                          errstr_size)) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_CONFIG;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_KAFKA;
    }
    cishare_topic_inbox(id->me->id, inbox, sizeof(inbox));
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, inbox, 0);
    kerr = rd_kafka_committed(rk, parts, (int)r->timeout_ms);
    if (!kerr)
        kerr = parts->elems[0].err;
    if (kerr)
        err = cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                              "review counter (group %s, %s [0]): %s", group,
                              inbox, rd_kafka_err2str(kerr));
    else {
        r->review_seq = parts->elems[0].offset > 0 ? parts->elems[0].offset : 0;
        r->review_loaded = true;
        relay_log(r, "relay: review counter %lld (group %s)",
                  (long long)r->review_seq, group);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return err;
}

/*
 * Relay the approved items of the queue, exactly once.
 *
 * Each relayed approval gets a review sequence number (1, 2, ...) stored
 * with its prepared copy (cishare_review_prepare) before anything is
 * produced. The copies of one pass and the last number, as the offset of
 * group <group.id>.review on the relay's inbox partition 0 (a counter, not
 * a read position), are committed in one Kafka transaction; then the items
 * are marked relayed. After a crash: an approved item whose number is at
 * most the committed counter was relayed (marked now, not produced again);
 * one above it was not (its transaction was aborted): produced again, with
 * its stored bytes and number.
 */
static cishare_err_t review_pass(relay_t *r, const cishare_identity_t *id,
                                 char *errstr, size_t errstr_size)
{
    const cishare_review_item_t **todo = NULL;
    int64_t maxseq, now = cishare_time_now_ms();
    size_t n, i, k = 0;
    char path[4400], group[CISHARE_TOPIC_MAX + 32];
    char inbox[CISHARE_TOPIC_MAX + 1];
    rd_kafka_error_t *error;
    cishare_err_t err = CISHARE_OK;

    if (!r->q) {
        struct stat st;
        snprintf(path, sizeof(path), "%s/" REVIEW_JOURNAL, r->folder);
        if (stat(path, &st))
            return CISHARE_OK; /* no queue */
        if (st.st_ino == r->review_st.st_ino &&
            st.st_size == r->review_st.st_size &&
            st.st_mtim.tv_sec == r->review_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == r->review_st.st_mtim.tv_nsec)
            return CISHARE_OK; /* unchanged since we looked */
        if ((err = review_lock_open(r, true, errstr, errstr_size)))
            return err;
    }
    if (!r->review_loaded &&
        (err = review_seq_load(r, id, errstr, errstr_size)))
        goto out;
    maxseq = r->review_seq;
    n = cishare_review_count(r->q);
    if (!(todo = calloc(n ? n : 1, sizeof(*todo)))) {
        err = CISHARE_ERR_NOMEM;
        goto out;
    }
    /* relayed before a crash, not yet marked; prepared, not committed */
    for (i = 0; i < n && !err; i++) {
        const cishare_review_item_t *it = cishare_review_at(r->q, i);
        int64_t seq = item_seq(it);
        if (it->state != CISHARE_REVIEW_APPROVED || seq <= 0)
            continue;
        if (seq <= r->review_seq) {
            err = cishare_review_mark_relayed(r->q, it->id, now, errstr,
                                              errstr_size);
            relay_log(r,
                      "relay: %s was relayed before a restart (review "
                      "number %lld committed): marked relayed",
                      it->id, (long long)seq);
            continue;
        }
        todo[k++] = it;
        if (seq > maxseq)
            maxseq = seq;
    }
    if (k > 1)
        qsort(todo, k, sizeof(*todo), seq_cmp);
    /* newly approved: build (if the approving command did not), number */
    for (i = 0; i < n && !err; i++) {
        const cishare_review_item_t *it = cishare_review_at(r->q, i);
        json_t *out = NULL;
        const char *code = NULL;
        if (it->state != CISHARE_REVIEW_APPROVED || item_seq(it) > 0)
            continue;
        if (it->out && json_object_get(it->out, "topics"))
            out = json_deep_copy(it->out);
        else if ((code = review_build(r, id, it, now, &out, &err, errstr,
                                      errstr_size))) {
            if (!err)
                relay_log(r,
                          "relay: approved %s cannot be relayed now: %s "
                          "(kept approved)",
                          it->id, code);
            continue;
        }
        if (!out || json_object_set_new(out, "seq", json_integer(++maxseq))) {
            json_decref(out);
            err = CISHARE_ERR_NOMEM;
            break;
        }
        err = cishare_review_prepare(r->q, it->id, out, errstr, errstr_size);
        json_decref(out);
        todo[k++] = it;
    }
    if (err || !k)
        goto out;
    for (i = 0; i < k && !err; i++)
        err = review_produce(r, todo[i], errstr, errstr_size);
    if (!err) {
        rd_kafka_topic_partition_list_t *parts =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_consumer_group_metadata_t *cgmd;
        review_group(r, group, sizeof(group));
        cishare_topic_inbox(id->me->id, inbox, sizeof(inbox));
        rd_kafka_topic_partition_list_add(parts, inbox, 0)->offset = maxseq;
        cgmd = rd_kafka_consumer_group_metadata_new(group);
        error = rd_kafka_send_offsets_to_transaction(r->rk, parts, cgmd,
                                                     (int)r->timeout_ms);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        rd_kafka_topic_partition_list_destroy(parts);
        if (error)
            err =
                txn_error(r, "send review counter", error, errstr, errstr_size);
    }
    if (err)
        goto out;
    r->txn_count++;
    if (r->crash_when == 1) {
        rd_kafka_flush(r->rk, (int)r->timeout_ms);
        crash_hook(r, 1);
    }
    if ((error = rd_kafka_commit_transaction(r->rk, (int)r->timeout_ms))) {
        err = txn_error(r, r->dr_err ? r->dr_errstr : "commit", error, errstr,
                        errstr_size);
        goto out;
    }
    r->txn_open = false;
    r->review_seq = maxseq;
    r->stats->relayed += r->txn_msgs;
    r->stats->anonymised += r->txn_anon;
    r->stats->records += r->txn_records;
    r->stats->approved += r->txn_msgs;
    crash_hook(r, 2);
    for (i = 0; i < k && !err; i++) {
        err = cishare_review_mark_relayed(r->q, todo[i]->id, now, errstr,
                                          errstr_size);
        relay_log(r,
                  "relay: approved %s relayed: %s %s from %s (review "
                  "number %lld)",
                  todo[i]->id, todo[i]->type, todo[i]->subject, todo[i]->origin,
                  (long long)item_seq(todo[i]));
    }
out:
    free(todo);
    review_close(r);
    return err;
}

/* ---- the feed's delivery step (feed.h: cishare_feed_output_t) ---- */

static cishare_err_t relay_deliver(void *opaque, const cishare_identity_t *id,
                                   const rd_kafka_message_t *m,
                                   const json_t *msg, char *errstr,
                                   size_t errstr_size)
{
    relay_t *r = opaque;
    rd_kafka_headers_t *hdrs = NULL;
    int64_t now = cishare_time_now_ms();
    plan_t plan;
    char where[512];
    cishare_err_t err;

    rd_kafka_message_headers(m, &hdrs);
    snprintf(where, sizeof(where), "%s [%d] @%lld", rd_kafka_topic_name(m->rkt),
             (int)m->partition, (long long)m->offset);
    if (check_one(r, id, where, (const char *)m->key, m->key ? m->key_len : 0,
                  m->payload, m->len, hdrs, msg, now, &plan))
        return CISHARE_OK;
    if (r->opts->review)
        err = review_hold(r, m, msg, r->in, now, errstr, errstr_size);
    else if (plan.anonymise)
        err = relay_anonymised(r, id, msg, r->in, &plan, now, errstr,
                               errstr_size);
    else
        err = relay_hop(r, id, (const char *)m->key, m->key ? m->key_len : 0,
                        m->payload, m->len, r->in, &plan, now, errstr,
                        errstr_size);
    cishare_audience_clear(&plan.aud);
    cishare_msg_in_reset(r->in);
    return err;
}

static void crash_hook(relay_t *r, int when)
{
    if (r->crash_when == when && r->txn_count == r->crash_at) {
        relay_log(r,
                  "relay: CISHARE_TEST_RELAY_CRASH: exiting %s commit of "
                  "transaction %llu",
                  when == 1 ? "before" : "after",
                  (unsigned long long)r->txn_count);
        _exit(9);
    }
}

/* The relay's own series (the reading side's are the feed's). */
static void relay_metrics(relay_t *r)
{
    cishare_metrics_t *mt = r->opts->metrics;
    const cishare_relay_stats_t *st = r->stats;
    size_t i;

    if (!mt)
        return;
    cishare_metrics_set(
        mt, CISHARE_METRIC_COUNTER, "cishare_relay_relayed_total",
        "Messages relayed (committed transactions)", NULL, (double)st->relayed);
    cishare_metrics_set(mt, CISHARE_METRIC_COUNTER,
                        "cishare_relay_anonymised_total",
                        "Relayed messages sent as anonymised copies", NULL,
                        (double)st->anonymised);
    cishare_metrics_set(mt, CISHARE_METRIC_GAUGE, "cishare_relay_review_queued",
                        "Messages held for review (--review) so far", NULL,
                        (double)st->queued);
    for (i = 0; i < st->refused_kinds; i++) {
        const char *l[] = {"reason", st->refused_by[i].code, NULL};
        cishare_metrics_set(
            mt, CISHARE_METRIC_COUNTER, "cishare_relay_refused_total",
            "Messages not relayed, by reason", l, (double)st->refused_by[i].n);
    }
}

static cishare_err_t
relay_commit(void *opaque, const cishare_identity_t *id, rd_kafka_t *consumer,
             const rd_kafka_topic_partition_list_t *offsets, char *errstr,
             size_t errstr_size)
{
    relay_t *r = opaque;
    rd_kafka_error_t *error;

    if (!r->txn_open) { /* nothing produced: the feed commits alone */
        relay_metrics(r);
        return review_pass(r, id, errstr, errstr_size);
    }
    r->txn_count++;
    if (r->crash_when == 1) {
        rd_kafka_flush(r->rk, (int)r->timeout_ms);
        crash_hook(r, 1);
    }
    if (offsets && offsets->cnt) {
        rd_kafka_consumer_group_metadata_t *cgmd =
            rd_kafka_consumer_group_metadata(consumer);
        error = rd_kafka_send_offsets_to_transaction(r->rk, offsets, cgmd,
                                                     (int)r->timeout_ms);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        if (error)
            return txn_error(r, "send offsets", error, errstr, errstr_size);
    }
    if ((error = rd_kafka_commit_transaction(r->rk, (int)r->timeout_ms)))
        return txn_error(r, r->dr_err ? r->dr_errstr : "commit", error, errstr,
                         errstr_size);
    r->txn_open = false;
    r->stats->relayed += r->txn_msgs;
    r->stats->anonymised += r->txn_anon;
    r->stats->records += r->txn_records;
    relay_metrics(r);
    crash_hook(r, 2);
    /* then what reviewers approved meanwhile, in a transaction of its own */
    return review_pass(r, id, errstr, errstr_size);
}

/* ---- setup and run ---- */

cishare_err_t cishare_relay_prepare_config(cishare_config_t *conf, char *dirp,
                                           size_t dir_size, char *errstr,
                                           size_t errstr_size)
{
    const char *who = cishare_config_get(conf, CISHARE_CONF_PARTICIPANT);
    char state[4096], group[CISHARE_TOPIC_MAX + 16];
    cishare_err_t err;

    if (!who || !*who)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s is not set in the config",
                               CISHARE_CONF_PARTICIPANT);
    if ((err = cishare_identity_state_dir(conf, state, sizeof(state), errstr,
                                          errstr_size)))
        return err;
    if ((size_t)snprintf(dirp, dir_size, "%s/relay", state) >= dir_size)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s: path too long", CISHARE_CONF_STATE_DIR);
    if ((err = cishare_config_set(conf, CISHARE_CONF_STATE_DIR, dirp, errstr,
                                  errstr_size)))
        return err;
    if (!cishare_config_get_kafka(conf, "group.id")) {
        if (cishare_topic_feed_group(who, group, sizeof(group)))
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "%s: '%s' cannot name a consumer group",
                                   CISHARE_CONF_PARTICIPANT, who);
        strcat(group, ".relay");
        if ((err = cishare_config_set(conf, "group.id", group, errstr,
                                      errstr_size)))
            return err;
    }
    return CISHARE_OK;
}

/* The connection keys of conf into kc, not the consumer's own. */
static cishare_err_t kafka_conf_connection(const cishare_config_t *conf,
                                           rd_kafka_conf_t *kc, char *errstr,
                                           size_t errstr_size)
{
    static const char *const consumer_keys[] = {"group.id",
                                                "session.timeout.ms",
                                                "auto.offset.reset",
                                                "enable.auto.commit",
                                                "isolation.level",
                                                "max.partition.fetch.bytes",
                                                "fetch.max.bytes",
                                                "queued.max.messages.kbytes",
                                                "heartbeat.interval.ms",
                                                NULL};
    size_t i;

    rd_kafka_conf_set(kc, "log_level", "3", NULL, 0);
    rd_kafka_conf_set(kc, "socket.nagle.disable", "true", NULL, 0);
    for (i = 0; i < cishare_config_kafka_cnt(conf); i++) {
        const char *v, *k = cishare_config_kafka_at(conf, i, &v);
        size_t j;
        for (j = 0; consumer_keys[j] && strcmp(consumer_keys[j], k); j++)
            ;
        if (consumer_keys[j])
            continue;
        if (rd_kafka_conf_set(kc, k, v, errstr, errstr_size) !=
            RD_KAFKA_CONF_OK)
            return CISHARE_ERR_CONFIG;
    }
    return CISHARE_OK;
}

static cishare_err_t producer_open(relay_t *r, const cishare_identity_t *id,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc;
    rd_kafka_error_t *error;
    char tid[CISHARE_TOPIC_MAX + 32];

    if (!(kc = rd_kafka_conf_new()))
        return CISHARE_ERR_NOMEM;
    if (kafka_conf_connection(r->opts->conf, kc, errstr, errstr_size)) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_CONFIG;
    }
    snprintf(tid, sizeof(tid), "cishare-relay.%s.feed", id->me->id);
    if (rd_kafka_conf_set(kc, "transactional.id", tid, errstr, errstr_size) ||
        rd_kafka_conf_set(kc, "enable.idempotence", "true", errstr,
                          errstr_size)) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_CONFIG;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_conf_set_opaque(kc, r);
    if (!(r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_KAFKA;
    }
    /* fences an earlier instance and aborts what it left open */
    if ((error = rd_kafka_init_transactions(r->rk, (int)r->timeout_ms)))
        return txn_error(r, "init", error, errstr, errstr_size);
    relay_log(r, "relay of %s: transactional producer %s ready", id->me->id,
              tid);
    return CISHARE_OK;
}

static void feed_log_passthrough(void *opaque, const char *line)
{
    const relay_t *r = opaque;

    if (r->opts->log)
        r->opts->log(r->opts->log_opaque, line);
}

/* What the relay and the review commands share: the test hook, identity
 * (in *id: the caller clears it), role check, rules, codec. */
static cishare_err_t relay_setup(relay_t *r, const cishare_relay_opts_t *opts,
                                 cishare_relay_stats_t *stats,
                                 cishare_identity_t *id, bool rules,
                                 char *errstr, size_t errstr_size)
{
    const char *state = cishare_config_get(opts->conf, CISHARE_CONF_STATE_DIR);
    const char *crash = getenv("CISHARE_TEST_RELAY_CRASH");
    cishare_err_t err = CISHARE_OK;

    memset(r, 0, sizeof(*r));
    memset(stats, 0, sizeof(*stats));
    r->opts = opts;
    r->stats = stats;
    r->folder = state;
    r->lock_fd = -1;
    r->timeout_ms =
        cishare_config_get_int(opts->conf, "cishare.publish.timeout-ms");
    r->anon_unit_ms =
        cishare_config_get_int(opts->conf, "cishare.relay.anonymise-unit-ms");
    r->wire =
        (uint8_t)cishare_config_get_int(opts->conf, "cishare.envelope.version");
    if (!state)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "%s is not set (cishare_relay_prepare_config)",
                               CISHARE_CONF_STATE_DIR);
    if (crash && *crash) {
        unsigned long long at = 0;
        char when[32] = "";
        if (sscanf(crash, "%31[a-z-]:%llu", when, &at) != 2 || !at ||
            (strcmp(when, "before-commit") && strcmp(when, "after-commit")))
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "CISHARE_TEST_RELAY_CRASH=%s: expected "
                                   "before-commit:N or after-commit:N",
                                   crash);
        r->crash_when = strcmp(when, "before-commit") ? 2 : 1;
        r->crash_at = at;
    }
    /* The rules are checked against the directory before anything is
     * read (the feed loads its own identity again, and may replace the
     * directory while it runs). */
    if ((err = cishare_identity_load_at(opts->conf, state, id, errstr,
                                        errstr_size)))
        return err == CISHARE_ERR_DIRECTORY ? err : CISHARE_ERR_CONFIG;
    if (id->me->role != CISHARE_ROLE_CEPTOAR &&
        id->me->role != CISHARE_ROLE_CEPTOAR_COUNCIL &&
        id->me->role != CISHARE_ROLE_MINISTRY &&
        id->me->role != CISHARE_ROLE_COORDINATION_OFFICE)
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "%s is a %s: only a CEPTOAR, the CEPTOAR "
                              "council, a ministry or the coordination office "
                              "relays",
                              id->me->id, cishare_role_name(id->me->role));
    if (!err && rules)
        err = cishare_relay_rules_load(opts->conf, id->dir, id->me, &r->rules,
                                       errstr, errstr_size);
    if (!err)
        err = cishare_codec_new(&r->codec, errstr, errstr_size);
    if (!err && !(r->in = calloc(1, sizeof(*r->in))))
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
    return err;
}

static void relay_teardown(relay_t *r)
{
    if (r->rk) {
        if (r->txn_open) { /* the feed stopped with an error mid-batch */
            rd_kafka_error_t *e =
                rd_kafka_abort_transaction(r->rk, (int)r->timeout_ms);
            if (e)
                rd_kafka_error_destroy(e);
        }
        rd_kafka_destroy(r->rk);
        r->rk = NULL;
    }
    review_close(r);
    json_decref(r->captured);
    r->captured = NULL;
    cishare_acl_set_clear(&r->acls);
    if (r->in)
        cishare_msg_in_clear(r->in);
    free(r->in);
    r->in = NULL;
    cishare_codec_destroy(r->codec);
    r->codec = NULL;
    cishare_relay_rules_destroy(r->rules);
    r->rules = NULL;
}

cishare_err_t cishare_relay_run(const cishare_relay_opts_t *opts,
                                cishare_relay_stats_t *stats, char *errstr,
                                size_t errstr_size)
{
    relay_t r;
    cishare_identity_t id = {0};
    cishare_feed_opts_t fo = {0};
    cishare_feed_output_t out = {0};
    const char *state = cishare_config_get(opts->conf, CISHARE_CONF_STATE_DIR);
    int lock_fd = -1;
    cishare_err_t err;

    /* One relay per folder (folderlock.h), before its review queue or its
     * transactional producer (whose id a second one would fence) is
     * opened; the feed it runs leaves the lock to it. */
    if (state && cishare_mkdirs(state))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot create folder: %s", state,
                               strerror(errno));
    if (state && (err = cishare_folder_lock(state, "relay", false, opts->stop,
                                            opts->log, opts->log_opaque,
                                            &lock_fd, errstr, errstr_size)))
        return err;
    err = relay_setup(&r, opts, stats, &id, true, errstr, errstr_size);
    if (!err)
        relay_log(&r, "relay of %s: %zu rule(s), folder %s%s", id.me->id,
                  cishare_relay_rules_count(r.rules), r.folder,
                  opts->review ? ", holding messages for review" : "");
    if (!err)
        err = producer_open(&r, &id, errstr, errstr_size);
    /* approvals left from an earlier run (and one cut short by a crash)
     * go out before anything new is read */
    if (!err)
        err = review_pass(&r, &id, errstr, errstr_size);
    cishare_identity_clear(&id);
    if (err)
        goto out;

    out.deliver = relay_deliver;
    out.commit = relay_commit;
    out.opaque = &r;
    fo.conf = opts->conf;
    fo.out = r.folder;
    fo.once = opts->once;
    fo.from_beginning = opts->from_beginning;
    fo.threads = 1;
    fo.batch_size = opts->batch_size;
    fo.metrics = opts->metrics;
    fo.stats_interval_ms = 0;
    fo.stop = opts->stop;
    fo.log = feed_log_passthrough;
    fo.log_opaque = &r;
    fo.output = &out;
    err = cishare_feed_run(&fo, &stats->feed, errstr, errstr_size);
out:
    relay_teardown(&r);
    if (lock_fd >= 0)
        close(lock_fd);
    return err;
}

/* ---- review commands ---- */

struct cishare_relay_review_s {
    relay_t r;
    cishare_relay_opts_t opts;
    cishare_relay_stats_t stats;
    cishare_identity_t id;
};

cishare_err_t cishare_relay_review_open(const cishare_config_t *conf,
                                        void (*log)(void *, const char *),
                                        void *log_opaque, bool approving,
                                        cishare_relay_review_t **rvp,
                                        char *errstr, size_t errstr_size)
{
    cishare_relay_review_t *rv = calloc(1, sizeof(*rv));
    const char *state = cishare_config_get(conf, CISHARE_CONF_STATE_DIR);
    struct stat st;
    cishare_err_t err;

    *rvp = NULL;
    if (!rv)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    rv->opts.conf = conf;
    rv->opts.review = true;
    rv->opts.log = log;
    rv->opts.log_opaque = log_opaque;
    if (state && stat(state, &st)) {
        err = cishare_err_set(CISHARE_ERR_NOT_FOUND, errstr, errstr_size,
                              "no review queue: %s does not exist (run "
                              "cishare relay --review first)",
                              state);
        rv->r.lock_fd = -1;
        goto fail;
    }
    if ((err = relay_setup(&rv->r, &rv->opts, &rv->stats, &rv->id, approving,
                           errstr, errstr_size)) ||
        (err = review_lock_open(&rv->r, false, errstr, errstr_size)))
        goto fail;
    *rvp = rv;
    return CISHARE_OK;
fail:
    relay_teardown(&rv->r);
    cishare_identity_clear(&rv->id);
    free(rv);
    return err;
}

cishare_review_t *cishare_relay_review_queue(cishare_relay_review_t *rv)
{
    return rv->r.q;
}

cishare_err_t cishare_relay_review_approve(cishare_relay_review_t *rv,
                                           const char *qid, int64_t now_ms,
                                           const cishare_review_item_t **itemp,
                                           char *errstr, size_t errstr_size)
{
    const cishare_review_item_t *it = NULL;
    json_t *out = NULL;
    const char *code;
    cishare_err_t err;

    if (itemp)
        *itemp = NULL;
    if ((err = cishare_review_get(rv->r.q, qid, &it, errstr, errstr_size)))
        return err;
    if (it->state != CISHARE_REVIEW_PENDING) /* the queue's own error */
        return cishare_review_approve(rv->r.q, qid, now_ms, itemp, errstr,
                                      errstr_size);
    /* build the copy first: what cannot be relayed now stays pending */
    if (!rv->r.rules)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "opened without the rules (approving false)");
    if ((code = review_build(&rv->r, &rv->id, it, now_ms, &out, &err, errstr,
                             errstr_size)))
        return err ? err
                   : cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                                     "%s cannot be relayed now: %s (it stays "
                                     "pending: reject it with a reason)",
                                     qid, code);
    err = cishare_review_approve(rv->r.q, qid, now_ms, itemp, errstr,
                                 errstr_size);
    if (!err)
        err = cishare_review_prepare(rv->r.q, qid, out, errstr, errstr_size);
    json_decref(out);
    return err;
}

void cishare_relay_review_close(cishare_relay_review_t *rv)
{
    if (!rv)
        return;
    relay_teardown(&rv->r);
    cishare_identity_clear(&rv->id);
    free(rv);
}
