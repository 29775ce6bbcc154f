/*
 * Hardening of the feed (issue 12), on the embedded broker with the
 * hostile-participant harness (hostile.h):
 *
 *  - finding 5: the publish rules (who issues alerts, an operator only in
 *    its own sectors, ...) hold in the victim's feed, not only in
 *    `cishare publish`: a participant with its own producer can write to
 *    any inbox.
 *  - finding 7: two members of one feed group, each with its own state
 *    folder, across a rebalance: nothing is delivered by both, nothing is
 *    lost, and the committed offsets are what was delivered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "hostile.h"

#include "cishare/policy.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* ---- helpers ---- */

/* The withheld count of the reason whose code is `code`; fails the test
 * when no reason has that code (a build without the rule). */
static uint64_t withheld_by_code(const cishare_feed_stats_t *st,
                                 const char *code)
{
    int r;

    for (r = 0; r < CISHARE_REASON__CNT; r++)
        if (!strcmp(cishare_reason_code((cishare_reason_t)r), code))
            return st->withheld_by[r];
    fail_msg("no withheld reason with code '%s'", code);
    return 0;
}

/* The file at out/name, or "" when it does not exist (malloc()ed). */
static char *slurp_or_empty(const char *out, const char *name)
{
    char path[1600], *text;

    snprintf(path, sizeof(path), "%s/%s", out, name);
    text = test_slurp_maybe(path, NULL);
    return text ? text : strdup("");
}

/* Every sink file of a feed folder, concatenated (malloc()ed). */
static char *all_sinks(const char *out)
{
    /* the blocklists of every label's folder (blocklist/<label>/) */
    static const char *const files[] = {
        "feed.jsonl", "stix/bundle.json", "ipv4.txt",   "ipv6.txt",
        "domain.txt", "url.txt",          "email.txt",  "sha256.txt",
        "md5.txt",    "rpz.zone",         "cishare.nft"};
    static const char *const labels[] = {"clear", "green", "amber",
                                         "amber-strict", "red"};
    size_t i, len = 0, nf = sizeof(files) / sizeof(files[0]);
    char *all = strdup(""), *t, name[64];

    for (i = 0; i < 2 + (nf - 2) * 5; i++) {
        if (i < 2)
            snprintf(name, sizeof(name), "%s", files[i]);
        else
            snprintf(name, sizeof(name), "blocklist/%s/%s",
                     labels[(i - 2) / (nf - 2)], files[2 + (i - 2) % (nf - 2)]);
        t = slurp_or_empty(out, name);
        all = realloc(all, len + strlen(t) + 2);
        assert_non_null(all);
        memcpy(all + len, t, strlen(t));
        len += strlen(t);
        all[len++] = '\n';
        all[len] = '\0';
        free(t);
    }
    return all;
}

static json_t *indicator(const char *id, const char *type, const char *value,
                         const char *tlp, const char *audience)
{
    return json_pack("{s:s, s:s, s:[s], s:{s:s, s:s, s:s, s:s}}", "type",
                     "indicator", "tlp", tlp, "audience", audience, "payload",
                     "id", id, "type", type, "value", value, "description",
                     "hardening");
}

static json_t *alert(const char *id, const char *title, const char *tlp,
                     const char *audience, const char *domain)
{
    return json_pack(
        "{s:s, s:s, s:[s], s:{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[], "
        "s:[], s:[{s:s, s:s}], s:s}}",
        "type", "alert", "tlp", tlp, "audience", audience, "payload", "id", id,
        "created", "2026-11-27T01:00:00Z", "modified", "2026-11-27T01:00:00Z",
        "severity", "critical", "title", title, "body", "block now",
        "target_sectors", "finance", "cves", "recommended_actions",
        "observables", "type", "domain", "value", domain, "valid_from",
        "2026-11-27T01:00:00Z");
}

/* Build msg as `as` (no publish-side checks) and produce it to topic. */
static void send_to(hostile_t *h, const char *as, json_t *msg,
                    const char *topic)
{
    cishare_msg_out_t out = {0};

    hostile_build(h, as, msg, &out);
    hostile_produce(h, as, topic, &out);
    cishare_msg_out_clear(&out);
    json_decref(msg);
}

/* ---- finding 5: the publish rules, again in the feed ---- */

/*
 * On the code before the fix this failed at its first check,
 *   assert_null(strstr(sinks, "victim-bank-login.example"))
 * (op-power-a's "NCO: block these domains immediately" alert was
 * delivered to op-bank-a, its domain in feed.jsonl, the STIX bundle and
 * blocklist/domain.txt); the reasons checked below did not exist.
 */
static void test_publish_rules_in_feed(void **state)
{
    hostile_t *h = hostile_new();
    const char *inbox = "cishare.inbox.op-bank-a";
    cishare_feed_stats_t st;
    const char *out;
    char *sinks;

    (void)state;
    /* An electricity operator's own producer, straight to the inbox. */
    send_to(h, "op-power-a",
            alert("alert--5e0c0000-0000-4000-8000-000000000001",
                  "NCO: block these domains immediately", "green",
                  "participant:op-bank-a", "victim-bank-login.example"),
            inbox);
    send_to(h, "op-power-a",
            indicator("indicator--5e0c0000-0000-4000-8000-000000000002",
                      "domain", "amber-finance.example", "amber",
                      "sector:finance"),
            inbox);
    /* The sector header is the origin's: not another sector's. */
    {
        cishare_msg_out_t o = {0};
        json_t *m = indicator("indicator--5e0c0000-0000-4000-8000-000000000003",
                              "domain", "forged-sector.example", "green",
                              "participant:op-bank-a");
        hostile_build(h, "op-power-a", m, &o);
        snprintf(o.env.sector, sizeof(o.env.sector), "finance");
        hostile_produce(h, "op-power-a", inbox, &o);
        cishare_msg_out_clear(&o);
        json_decref(m);
    }
    /* A ministry alerts only the sectors it is competent for. */
    send_to(h, "min-meti",
            alert("alert--5e0c0000-0000-4000-8000-000000000004",
                  "METI: finance alert", "green", "sector:finance",
                  "meti-finance.example"),
            "cishare.green.finance");
    /* AMBER to `all` comes from the coordination office only (its topic
     * is the office's to write; an inbox is everyone's). */
    send_to(h, "op-power-a",
            indicator("indicator--5e0c0000-0000-4000-8000-000000000005",
                      "domain", "amber-all.example", "amber", "all"),
            inbox);
    /* Controls: the office's alert, an operator in its own sector, a
     * ministry in its own. */
    send_to(h, "nco",
            alert("alert--5e0c0000-0000-4000-8000-000000000006",
                  "NCO: genuine alert", "green", "participant:op-bank-a",
                  "nco-genuine.example"),
            inbox);
    send_to(h, "op-power-a", /* GREEN: AMBER to another sector's
                              * operator breaks P3 (policy.h) */
            indicator("indicator--5e0c0000-0000-4000-8000-000000000007",
                      "domain", "own-sector.example", "green",
                      "participant:op-bank-a"),
            inbox);
    send_to(h, "min-fsa",
            alert("alert--5e0c0000-0000-4000-8000-000000000008",
                  "FSA: finance alert", "green", "sector:finance",
                  "fsa-finance.example"),
            "cishare.green.finance");

    hostile_feed_ok(h, "op-bank-a", "jsonl,stix,blocklist", &st);
    out = hostile_out(h, "op-bank-a");
    sinks = all_sinks(out);
    /* the hostile messages reach no sink, in any format */
    assert_null(strstr(sinks, "victim-bank-login.example"));
    assert_null(strstr(sinks, "5e0c0000-0000-4000-8000-000000000001"));
    assert_null(strstr(sinks, "amber-finance.example"));
    assert_null(strstr(sinks, "forged-sector.example"));
    assert_null(strstr(sinks, "meti-finance.example"));
    assert_null(strstr(sinks, "amber-all.example"));
    /* the genuine ones do, the alert's observable into the blocklist */
    assert_non_null(strstr(sinks, "nco-genuine.example"));
    assert_non_null(strstr(sinks, "own-sector.example"));
    assert_non_null(strstr(sinks, "fsa-finance.example"));
    free(sinks);
    sinks = slurp_or_empty(out, "blocklist/green/domain.txt"); /* GREEN */
    assert_non_null(strstr(sinks, "nco-genuine.example"));
    free(sinks);
    assert_int_equal(st.quarantined, 0);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.withheld, 5);
    /* each withheld with its own reason */
    assert_int_equal(withheld_by_code(&st, "alert-not-issuer"), 1);
    assert_int_equal(withheld_by_code(&st, "outside-own-sectors"), 1);
    assert_int_equal(withheld_by_code(&st, "sector-header-not-origin"), 1);
    assert_int_equal(withheld_by_code(&st, "alert-outside-competence"), 1);
    assert_int_equal(withheld_by_code(&st, "amber-all-not-office"), 1);
    hostile_destroy(h);
}

/* ---- finding 7: two members of one group across a rebalance ---- */

#define GROUP         "cishare-feed-op-bank-a.harden7"
#define TOPIC         "cishare.green.all"
#define API_HEARTBEAT 12 /* Kafka protocol ApiKey */

/* Holds member A on its quarantine lines (a malformed message): the
 * first until the test lets it go, the second for a second (long enough
 * for the broker to see A rejoin, when A rejoins while delivering). */
typedef struct gate_s {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int hits;     /* quarantine lines seen */
    int released; /* the first is let go */
    int revoked;  /* a revoke delivered and committed prepared messages */
} gate_t;

typedef struct member_s {
    hostile_t *h;
    const char *name;
    char out[1400];
    int threads, batch_size;
    gate_t *gate; /* NULL: never held */
    pthread_t th;
    cishare_err_t err;
    char errstr[1024];
    cishare_feed_stats_t st;
} member_t;

static void member_log(void *opaque, const char *line)
{
    member_t *m = opaque;
    gate_t *g = m->gate;
    int me;

    if (getenv("HOSTILE_DEBUG"))
        fprintf(stderr, "%lld [%s] %s\n", (long long)cishare_time_now_ms(),
                m->name, line);
    if (g && strstr(line, "rebalance: ") &&
        strstr(line, "delivered and committed") &&
        !strstr(line, "; 0 prepared")) {
        pthread_mutex_lock(&g->lock);
        g->revoked++;
        pthread_mutex_unlock(&g->lock);
    }
    if (!g || strncmp(line, "quarantined", 11))
        return;
    pthread_mutex_lock(&g->lock);
    me = ++g->hits;
    pthread_cond_broadcast(&g->cond);
    while (me == 1 && !g->released)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    if (me == 2)
        usleep(1000 * 1000);
}

static void *member_main(void *arg)
{
    member_t *m = arg;
    static const char *const extra[] = {
        "group.id=" GROUP, "heartbeat.interval.ms=100",
        "session.timeout.ms=10000", "fetch.wait.max.ms=20",
        /* members share the group's offsets from their first run */
        "cishare.feed.new-state-folder=group", NULL};
    hostile_feed_opts_t fo = {0};

    fo.out = m->out;
    fo.keep_offsets = true; /* one group: the offsets are shared */
    fo.threads = m->threads;
    fo.batch_size = m->batch_size;
    fo.log = member_log;
    fo.log_opaque = m;
    m->err = hostile_feed_ex(m->h, "op-bank-a", "jsonl", extra, &fo, &m->st,
                             m->errstr, sizeof(m->errstr));
    return NULL;
}

/* Wait until the gate saw `hits` quarantine lines (30 s at most). */
static void gate_wait_hits(gate_t *g, int hits)
{
    struct timespec ts;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&g->lock);
    while (g->hits < hits && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&g->cond, &g->lock, &ts);
    pthread_mutex_unlock(&g->lock);
    if (rc == ETIMEDOUT)
        fail_msg("member A never quarantined message %d", hits);
}

static void gate_release(gate_t *g)
{
    pthread_mutex_lock(&g->lock);
    g->released = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* cnt messages no feed can verify (no envelope: quarantined, logged),
 * in one record batch, so that a feed fetches them together. */
static void produce_malformed(hostile_t *h, int32_t partition, int cnt)
{
    int i;

    for (i = 0; i < cnt; i++)
        assert_int_equal(
            rd_kafka_producev(
                h->producer, RD_KAFKA_V_TOPIC(TOPIC),
                RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY("junk", 4),
                RD_KAFKA_V_VALUE("junk", 4),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    assert_int_equal(rd_kafka_flush(h->producer, 10000), 0);
}

static void produce_indicator(hostile_t *h, int32_t partition, int n)
{
    cishare_msg_out_t o = {0};
    char id[96], value[64];
    json_t *m;

    snprintf(id, sizeof(id), "indicator--7e000000-0000-4000-8000-%012d", n);
    snprintf(value, sizeof(value), "198.51.100.%d", n);
    m = indicator(id, "ipv4", value, "green", "all");
    hostile_build(h, "op-power-a", m, &o);
    hostile_produce_to(h, "op-power-a", TOPIC, partition, &o);
    cishare_msg_out_clear(&o);
    json_decref(m);
}

/* How many times needle occurs in text. */
static int count_in(const char *text, const char *needle)
{
    int n = 0;
    const char *p = text;

    while ((p = strstr(p, needle))) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* The group's committed offset of TOPIC [partition] (-1001: none). */
static int64_t committed(hostile_t *h, int32_t partition)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l;
    char errstr[512];
    rd_kafka_t *rk;
    int64_t off;

    rd_kafka_conf_set(kc, "bootstrap.servers",
                      rd_kafka_mock_cluster_bootstraps(h->mc), NULL, 0);
    rd_kafka_conf_set(kc, "group.id", GROUP, NULL, 0);
    rd_kafka_conf_set(kc, "log_level", "2", NULL, 0);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
    assert_non_null(rk);
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, partition);
    assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
    off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

/*
 * Member A (2 preparing threads, batches of 1) alone in the group reads
 * partition 1 of cishare.green.all: malformed, malformed, i1, i2, i3.
 * It is held while it delivers (quarantines) the first malformed
 * message; the second is prepared meanwhile (the batch after). The
 * broker then answers A's heartbeat "rebalance in progress" (the mock's
 * request error injection): A is to give up all its partitions at its
 * next poll, with a prepared batch not yet delivered. A is let go; once
 * A has rejoined, member B (its own state folder) joins, and the group
 * settles with one partition of the topic each (p1 goes to B in
 * practice: the mock names members by address and A joined first; the
 * checks hold whichever member gets it).
 *
 * Each message must be handled by exactly one member: every indicator in
 * one feed.jsonl, each malformed message quarantined once. The committed
 * offset must be the end of the partition (5: nothing short, nothing
 * past).
 *
 * On the code before the fix (rebalance_cb only unassigning, every
 * tracked offset committed) this failed 3 runs of 3 with
 *   "0x3 != 0x2" at the check "each malformed message quarantined once"
 * (A handled its prepared batch after the revoke; its commit came too
 * late: "offset commit failed ...: Specified group generation id is not
 * valid"; the next owner of p1, B or A, read the second malformed message
 * again from the older offset and quarantined it a second time).
 *
 * The mock broker refuses every commit while a group is joining (a real
 * broker accepts a member's commit until it rejoins), so the revoke here
 * comes from the heartbeat error rather than from B's join: A's commit
 * in its revoke callback is then accepted, as it would be on Kafka.
 */
/* One run of the scenario; false (and nothing asserted) when the machine
 * was too slow for the revoke to meet a prepared batch: the case under
 * test did not happen. */
static bool rebalance_attempt(int settle_ms)
{
    hostile_t *h = hostile_new();
    gate_t gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
                   0};
    member_t a = {0}, b = {0};
    char *ta, *tb, needle[64];
    int n, in_a, in_b;

    assert_int_equal(rd_kafka_mock_topic_create(h->mc, TOPIC, 2, 1), 0);
    produce_malformed(h, 1, 2); /* p1 @0, @1 */
    for (n = 1; n <= 3; n++)
        produce_indicator(h, 1, n); /* p1 @2..4 */

    a.h = b.h = h;
    a.name = "A";
    b.name = "B";
    snprintf(a.out, sizeof(a.out), "%s/member-a", h->dir);
    snprintf(b.out, sizeof(b.out), "%s/member-b", h->dir);
    a.threads = 2;
    a.batch_size = 1;
    b.threads = 1;
    a.gate = &gate;
    assert_int_equal(pthread_create(&a.th, NULL, member_main, &a), 0);
    gate_wait_hits(&gate, 1); /* A delivers; its next batch is prepared */

    rd_kafka_mock_push_request_errors(h->mc, API_HEARTBEAT, 1,
                                      RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
    usleep((useconds_t)settle_ms * 1000); /* A's heartbeat learns of it */
    gate_release(&gate);
    usleep(2500 * 1000); /* A gives its partitions up and rejoins */

    assert_int_equal(pthread_create(&b.th, NULL, member_main, &b), 0);
    assert_int_equal(pthread_join(b.th, NULL), 0);
    assert_int_equal(pthread_join(a.th, NULL), 0);
    if (a.err)
        fail_msg("member A: %s", a.errstr);
    if (b.err)
        fail_msg("member B: %s", b.errstr);
    ta = slurp_or_empty(a.out, "feed.jsonl");
    tb = slurp_or_empty(b.out, "feed.jsonl");
    for (n = 1; n <= 3; n++) {
        snprintf(needle, sizeof(needle), "\"198.51.100.%d\"", n);
        in_a = count_in(ta, needle);
        in_b = count_in(tb, needle);
        if (getenv("HOSTILE_DEBUG"))
            fprintf(stderr, "indicator %d: A %d, B %d\n", n, in_a, in_b);
        /* delivered once in all: by exactly one member */
        assert_int_equal(in_a + in_b, 1);
    }
    assert_int_equal(a.st.delivered + b.st.delivered, 3);
    /* each malformed message quarantined once */
    assert_int_equal(a.st.quarantined + b.st.quarantined, 2);
    free(ta);
    free(tb);
    /* committed: the end of what was delivered (or quarantined) */
    assert_int_equal(committed(h, 1), 5);
    hostile_destroy(h);
    /* the assertions above hold in any timing; the case under test is a
     * revoke that met a prepared batch */
    if (gate.revoked < 1)
        print_message("A's revoke met no prepared batch (settle %d ms; A "
                      "delivered %llu, quarantined %llu): again\n",
                      settle_ms, (unsigned long long)a.st.delivered,
                      (unsigned long long)a.st.quarantined);
    return gate.revoked >= 1;
}

static void test_rebalance_no_duplicates(void **state)
{
    int i;

    (void)state;
    /* The case under test needs A's revoke to find a prepared batch (the
     * old code then quarantined a message twice: the assertions fail); on
     * a loaded machine the revoke may come at another point: every run is
     * checked, and retried until the case happened. Without it in three
     * runs the test is skipped, loudly, rather than passed. */
    for (i = 0; i < 3; i++)
        if (rebalance_attempt(1500 + 1500 * i))
            return;
    print_message("member A's revoke never met a prepared batch: the case "
                  "under test did not happen (machine too loaded?)\n");
    skip();
}

/*
 * A quarantined record read again (its offset's commit refused, as in a
 * rebalance; here: a second run from the beginning on the same state
 * folder) is not quarantined a second time: the dedup store keeps its
 * place (topic, partition, offset). Its line is in quarantine.jsonl once,
 * and it counts as a duplicate. Without the record key the second run
 * quarantines both again (4 lines).
 */
static void test_quarantine_once(void **state)
{
    hostile_t *h = hostile_new();
    cishare_feed_stats_t st;
    char *q;

    (void)state;
    assert_int_equal(rd_kafka_mock_topic_create(h->mc, TOPIC, 2, 1), 0);
    produce_malformed(h, 0, 2);
    produce_indicator(h, 0, 1);
    hostile_feed_ok(h, "op-bank-a", "jsonl", &st);
    assert_int_equal(st.quarantined, 2);
    assert_int_equal(st.delivered, 1);
    hostile_feed_ok(h, "op-bank-a", "jsonl", &st); /* read again */
    assert_int_equal(st.quarantined, 0);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.duplicates, 3);
    q = slurp_or_empty(hostile_out(h, "op-bank-a"), "quarantine.jsonl");
    assert_int_equal(count_in(q, "\n"), 2);
    free(q);
    hostile_destroy(h);
}

/* ---- commits take several small batches (issue 17, latency) ---- */

/*
 * Messages that arrive a few at a time (here: a fetch queue of 1 KB) are
 * delivered batch by batch, and committed together: up to batch_size of
 * them, or those of 200 ms. Every message is delivered once, and the
 * final commit takes what is left. One commit per poll batch (the code
 * before) fails the commits check.
 */
static void test_commits_take_batches(void **state)
{
    hostile_t *h = hostile_new();
    const char *const extra[] = {"queued.max.messages.kbytes=1",
                                 "max.partition.fetch.bytes=1024", NULL};
    cishare_feed_stats_t st;
    char errstr[1024], id[64], *lines;
    size_t n = 0;
    const char *p;
    int i;

    (void)state;
    for (i = 0; i < 60; i++) {
        snprintf(id, sizeof(id), "indicator--5e0c0000-0000-4000-8000-%012d",
                 100 + i);
        send_to(h, "op-power-a",
                indicator(id, "domain", "batches.example", "green",
                          "participant:op-bank-a"),
                "cishare.inbox.op-bank-a");
    }
    if (hostile_feed(h, "op-bank-a", "jsonl", extra, &st, errstr,
                     sizeof(errstr)))
        fail_msg("feed: %s", errstr);
    assert_int_equal(st.delivered, 60);
    lines = slurp_or_empty(hostile_out(h, "op-bank-a"), "feed.jsonl");
    for (p = lines; (p = strchr(p, '\n')); p++)
        n++;
    free(lines);
    assert_int_equal(n, 60);
    print_message("60 messages: %llu batches, %llu commits\n",
                  (unsigned long long)st.batches,
                  (unsigned long long)st.commits);
    if (st.batches < 6) {
        print_message("the fetch queue gave only %llu batches: the case "
                      "under test did not happen\n",
                      (unsigned long long)st.batches);
        hostile_destroy(h);
        skip();
    }
    assert_true(st.commits >= 1);
    assert_true(st.commits * 2 <= st.batches);
    hostile_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_rules_in_feed),
        cmocka_unit_test(test_rebalance_no_duplicates),
        cmocka_unit_test(test_quarantine_once),
        cmocka_unit_test(test_commits_take_batches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
