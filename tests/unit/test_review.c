/*
 * The relay's review queue (consumers/review.h): ids, listing, the state
 * machine and its errors, and durability: a process killed with SIGKILL
 * leaves a queue that reopens in the state it last returned, a torn last
 * line is cut, a damaged earlier line is refused.
 */
#include "review.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

static const int64_t NOW = 1795676400000LL; /* 2026-11-26T07:00:00Z */
static const uint8_t KEY[] = "indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30";
static const uint8_t VALUE[] = {0xc3, 0x01, 0x00, 0xff, 0x10, 0x00, 0x7f};

static json_t *msg(const char *mid, const char *type, const char *title)
{
    json_t *m =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "message_id",
                  mid, "type", type, "tlp", "amber", "origin", "op-power-a",
                  "key_id", "65aaa63e3404016e", "payload", "id",
                  "indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30", "value",
                  "203.0.113.45", "title", title);
    assert_non_null(m);
    if (!strcmp(type, "indicator"))
        json_object_del(json_object_get(m, "payload"), "title");
    return m;
}

static rd_kafka_headers_t *headers(void)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_header_add(h, "cishare.id", -1, "9b1e4c2a", 8);
    rd_kafka_header_add(h, "binary", -1, "a\0b", 3);
    rd_kafka_header_add(h, "null", -1, NULL, 0);
    rd_kafka_header_add(h, "cishare.relay", -1, "hop", 3);
    return h;
}

static cishare_review_t *open_q(const char *dir)
{
    cishare_review_t *q = NULL;
    char err[512] = "";
    if (cishare_review_open(dir, &q, err, sizeof(err)))
        fail_msg("open: %s", err);
    return q;
}

static const cishare_review_item_t *add(cishare_review_t *q, const char *mid,
                                        int64_t offset, bool *existed)
{
    const cishare_review_item_t *it = NULL;
    rd_kafka_headers_t *h = headers();
    json_t *m = msg(mid, "incident", "Ransomware at a plant");
    char err[512] = "";

    if (cishare_review_add(q, "cishare.inbox.ceptoar-electricity", 2, offset,
                           KEY, sizeof(KEY) - 1, VALUE, sizeof(VALUE), h, m,
                           NOW + offset, &it, existed, err, sizeof(err)))
        fail_msg("add: %s", err);
    rd_kafka_headers_destroy(h);
    json_decref(m);
    assert_non_null(it);
    return it;
}

/* The item is the one add() stored, byte for byte. */
static void assert_item(const cishare_review_item_t *it, int64_t offset)
{
    const void *v;
    size_t vlen;

    assert_string_equal(it->topic, "cishare.inbox.ceptoar-electricity");
    assert_int_equal(it->partition, 2);
    assert_int_equal(it->offset, offset);
    assert_int_equal(it->received_ms, NOW + offset);
    assert_int_equal(it->key_len, sizeof(KEY) - 1);
    assert_memory_equal(it->key, KEY, sizeof(KEY) - 1);
    assert_int_equal(it->value_len, sizeof(VALUE));
    assert_memory_equal(it->value, VALUE, sizeof(VALUE));
    assert_int_equal(rd_kafka_header_cnt(it->headers), 4);
    assert_int_equal(rd_kafka_header_get_last(it->headers, "binary", &v, &vlen),
                     0);
    assert_int_equal(vlen, 3);
    assert_memory_equal(v, "a\0b", 3);
    assert_int_equal(rd_kafka_header_get_last(it->headers, "null", &v, &vlen),
                     0);
    assert_null(v);
    assert_string_equal(it->origin, "op-power-a");
    assert_string_equal(it->type, "incident");
    assert_string_equal(it->tlp, "amber");
    assert_string_equal(it->subject,
                        "indicator--5b0d3c8e-8a41-4f2e-9c1d-6e2f7a9b1c30");
    assert_string_equal(it->summary, "Ransomware at a plant");
    assert_string_equal(json_string_value(json_object_get(it->msg, "key_id")),
                        "65aaa63e3404016e");
}

static void test_states(void **state)
{
    char dir[256], err[512] = "";
    cishare_review_t *q;
    const cishare_review_item_t *it, *got;
    bool existed = true;
    (void)state;

    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "review"), 0);
    q = open_q(dir);
    assert_int_equal(cishare_review_count(q), 0);
    it = add(q, "11111111-1111-4111-8111-111111111111", 10, &existed);
    assert_false(existed);
    assert_string_equal(it->id, "r1");
    assert_int_equal(it->state, CISHARE_REVIEW_PENDING);
    assert_item(it, 10);
    assert_string_equal(
        add(q, "22222222-2222-4222-8222-222222222222", 11, NULL)->id, "r2");
    assert_string_equal(
        add(q, "33333333-3333-4333-8333-333333333333", 12, NULL)->id, "r3");
    /* The same message again (re-read after a crash, or on another
     * topic): the existing item. */
    it = add(q, "22222222-2222-4222-8222-222222222222", 99, &existed);
    assert_true(existed);
    assert_string_equal(it->id, "r2");
    it = add(q, "44444444-4444-4444-8444-444444444444", 12, &existed);
    assert_true(existed);
    assert_string_equal(it->id, "r3");
    assert_int_equal(cishare_review_count(q), 3);
    assert_string_equal(cishare_review_at(q, 2)->id, "r3");
    assert_null(cishare_review_at(q, 3));

    /* Unknown ids. */
    assert_int_equal(cishare_review_get(q, "r9", &got, err, sizeof(err)),
                     CISHARE_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no queued message 'r9'"));
    assert_int_equal(
        cishare_review_approve(q, "r9", NOW, NULL, err, sizeof(err)),
        CISHARE_ERR_NOT_FOUND);
    assert_int_equal(cishare_review_reject(q, "x", "no", NOW, err, sizeof(err)),
                     CISHARE_ERR_NOT_FOUND);
    assert_int_equal(
        cishare_review_mark_relayed(q, "r0", NOW, err, sizeof(err)),
        CISHARE_ERR_NOT_FOUND);

    /* Approve once; then neither again nor a rejection. */
    assert_int_equal(
        cishare_review_approve(q, "r1", NOW + 1, &got, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(got->state, CISHARE_REVIEW_APPROVED);
    assert_int_equal(got->decided_ms, NOW + 1);
    assert_int_equal(
        cishare_review_approve(q, "r1", NOW, NULL, err, sizeof(err)),
        CISHARE_ERR_EXISTS);
    assert_non_null(strstr(err, "already approved"));
    assert_int_equal(
        cishare_review_reject(q, "r1", "late", NOW, err, sizeof(err)),
        CISHARE_ERR_POLICY);

    /* Reject with a reason; kept; never approved afterwards. */
    assert_int_equal(cishare_review_reject(q, "r2", "", NOW, err, sizeof(err)),
                     CISHARE_ERR_INVALID_ARG);
    assert_int_equal(
        cishare_review_reject(q, "r2", "a\nb", NOW, err, sizeof(err)),
        CISHARE_ERR_INVALID_ARG);
    assert_int_equal(cishare_review_reject(q, "r2", "names the victim", NOW + 2,
                                           err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(
        cishare_review_approve(q, "r2", NOW, NULL, err, sizeof(err)),
        CISHARE_ERR_POLICY);
    assert_non_null(strstr(err, "rejected at 2026-11-26T07:00:00.002Z: "
                                "names the victim"));
    assert_int_equal(
        cishare_review_reject(q, "r2", "again", NOW, err, sizeof(err)),
        CISHARE_ERR_EXISTS);

    /* Only an approved item is prepared and marked relayed, once. */
    assert_int_equal(
        cishare_review_mark_relayed(q, "r3", NOW, err, sizeof(err)),
        CISHARE_ERR_POLICY);
    assert_int_equal(
        cishare_review_prepare(q, "r2", json_null(), err, sizeof(err)),
        CISHARE_ERR_POLICY);
    assert_int_equal(
        cishare_review_mark_relayed(q, "r1", NOW + 3, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(
        cishare_review_mark_relayed(q, "r1", NOW, err, sizeof(err)),
        CISHARE_ERR_EXISTS);
    assert_int_equal(
        cishare_review_approve(q, "r1", NOW, NULL, err, sizeof(err)),
        CISHARE_ERR_EXISTS);
    assert_non_null(strstr(err, "already approved and relayed"));
    cishare_review_close(q);

    /* Reopened: the same. */
    q = open_q(dir);
    assert_int_equal(cishare_review_count(q), 3);
    assert_int_equal(cishare_review_at(q, 0)->state, CISHARE_REVIEW_RELAYED);
    assert_int_equal(cishare_review_at(q, 0)->relayed_ms, NOW + 3);
    assert_int_equal(cishare_review_at(q, 1)->state, CISHARE_REVIEW_REJECTED);
    assert_string_equal(cishare_review_at(q, 1)->reason, "names the victim");
    assert_int_equal(cishare_review_at(q, 1)->decided_ms, NOW + 2);
    assert_int_equal(cishare_review_at(q, 2)->state, CISHARE_REVIEW_PENDING);
    assert_item(cishare_review_at(q, 2), 12);
    cishare_review_close(q);
    test_tmpdir_remove(dir);
}

/* A child queues and decides, then dies by SIGKILL without closing; the
 * reopened queue holds exactly what each call had returned. */
static void test_kill9(void **state)
{
    char dir[256], err[512] = "";
    cishare_review_t *q;
    const cishare_review_item_t *it;
    pid_t pid;
    int st;
    (void)state;

    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "review"), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        json_t *out = json_pack("{s:s}", "message_id", "copy-1");
        q = open_q(dir);
        add(q, "11111111-1111-4111-8111-111111111111", 10, NULL);
        add(q, "22222222-2222-4222-8222-222222222222", 11, NULL);
        add(q, "33333333-3333-4333-8333-333333333333", 12, NULL);
        if (cishare_review_approve(q, "r1", NOW, NULL, err, sizeof(err)) ||
            cishare_review_prepare(q, "r1", out, err, sizeof(err)) ||
            cishare_review_reject(q, "r2", "no", NOW, err, sizeof(err)))
            _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    q = open_q(dir);
    assert_int_equal(cishare_review_torn_bytes(q), 0);
    assert_int_equal(cishare_review_count(q), 3);
    /* approved, not yet relayed: what a restarted relay relays */
    assert_int_equal(cishare_review_get(q, "r1", &it, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(it->state, CISHARE_REVIEW_APPROVED);
    assert_string_equal(
        json_string_value(json_object_get(it->out, "message_id")), "copy-1");
    assert_item(it, 10);
    assert_int_equal(cishare_review_at(q, 1)->state, CISHARE_REVIEW_REJECTED);
    assert_string_equal(cishare_review_at(q, 1)->reason, "no");
    assert_int_equal(cishare_review_at(q, 2)->state, CISHARE_REVIEW_PENDING);
    /* ids go on */
    assert_string_equal(
        add(q, "55555555-5555-4555-8555-555555555555", 13, NULL)->id, "r4");
    cishare_review_close(q);
    test_tmpdir_remove(dir);
}

#define TORN "{\"s\":\"s r3\",\"v\":{\"state\":\"rel"

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* A crash in the middle of the last line: that line is cut, the rest is
 * intact, and the id of an item whose line was torn is not reused. A
 * damaged line before the last is refused, not cut. */
static void test_torn(void **state)
{
    char dir[256], path[300], err[512] = "";
    cishare_review_t *q;
    off_t before, after;
    FILE *fp;
    (void)state;

    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "review"), 0);
    snprintf(path, sizeof(path), "%s/review.jsonl", dir);
    q = open_q(dir);
    add(q, "11111111-1111-4111-8111-111111111111", 10, NULL);
    assert_int_equal(
        cishare_review_approve(q, "r1", NOW, NULL, err, sizeof(err)),
        CISHARE_OK);
    before = file_size(path);
    add(q, "22222222-2222-4222-8222-222222222222", 11, NULL);
    after = file_size(path);
    cishare_review_close(q);

    /* r2's item line (the last) torn half-way. */
    assert_int_equal(truncate(path, after - (after - before) / 4), 0);
    q = open_q(dir);
    assert_true(cishare_review_torn_bytes(q) > 0);
    assert_int_equal(cishare_review_count(q), 1);
    assert_int_equal(cishare_review_at(q, 0)->state, CISHARE_REVIEW_APPROVED);
    assert_item(cishare_review_at(q, 0), 10);
    assert_string_equal(
        add(q, "22222222-2222-4222-8222-222222222222", 11, NULL)->id, "r3");
    cishare_review_close(q);

    /* A torn state line after that. */
    fp = fopen(path, "a");
    assert_non_null(fp);
    fputs(TORN, fp);
    fclose(fp);
    q = open_q(dir);
    assert_int_equal(cishare_review_torn_bytes(q), strlen(TORN));
    assert_int_equal(cishare_review_count(q), 2);
    assert_int_equal(cishare_review_at(q, 1)->state, CISHARE_REVIEW_PENDING);
    cishare_review_close(q);

    /* Damage before the last line. */
    fp = fopen(path, "r+");
    assert_non_null(fp);
    fputs("garbage", fp);
    fclose(fp);
    assert_int_equal(cishare_review_open(dir, &q, err, sizeof(err)),
                     CISHARE_ERR_VALIDATION);
    assert_null(q);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "line 1"));
    test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_torn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
