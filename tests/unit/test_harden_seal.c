/*
 * Hardening (issue 12, finding 2): a participant cannot make another's
 * feed slow by repeating the reader's recipient key id in a sealed value.
 *
 * ceptoar-finance, with its own key, hand-builds an AMBER+STRICT value whose
 * 1024 recipient entries all carry op-bank-a's (public) key id, signs it
 * and produces it to op-bank-a's inbox. op-bank-a's real feed must
 * quarantine it as malformed, naming the duplicate recipients, without
 * trying the boxes; a genuine message next to it still gets through.
 *
 * Before the fix: the feed tried all 1024 boxes and quarantined the value
 * as "cannot-decrypt" with "not addressed to key ..." (no mention of
 * duplicates), so the detail assertion failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "hostile.h"

#include "cishare/seal.h"

#include <sodium.h>

static json_t *strict_to_bank(const char *ip)
{
    return json_pack("{s:s, s:s, s:[s], s:{s:s, s:s, s:s}}", "type",
                     "indicator", "tlp", "amber+strict", "audience",
                     "participant:op-bank-a", "payload", "type", "ipv4",
                     "value", ip, "description", "seal hardening");
}

/* Replace out->value by a value with n entries, all carrying rkid, then
 * the original ciphertext. */
static void flood_entries(cishare_msg_out_t *out, const uint8_t *rkid, size_t n)
{
    long cnt = cishare_seal_recipient_cnt(out->value, out->value_len);
    /* the header of the value's layout (v1 or v2, seal.h) */
    size_t hb = out->value[0] == CISHARE_SEAL_VERSION_2
                    ? CISHARE_SEAL_V2_HEADER_BYTES
                    : CISHARE_SEAL_HEADER_BYTES;
    size_t head, tail, len, i;
    uint8_t *v, *e;

    assert_true(cnt > 0);
    head = hb + (size_t)cnt * CISHARE_SEAL_ENTRY_BYTES;
    tail = out->value_len - head;
    len = hb + n * CISHARE_SEAL_ENTRY_BYTES + tail;
    v = malloc(len);
    assert_non_null(v);
    memcpy(v, out->value, hb);
    v[hb - 2] = (uint8_t)(n >> 8);
    v[hb - 1] = (uint8_t)n;
    for (i = 0; i < n; i++) {
        e = v + hb + i * CISHARE_SEAL_ENTRY_BYTES;
        memcpy(e, rkid, CISHARE_SEAL_RKID_BYTES);
        randombytes_buf(e + CISHARE_SEAL_RKID_BYTES, CISHARE_SEAL_BOX_BYTES);
    }
    memcpy(v + hb + n * CISHARE_SEAL_ENTRY_BYTES, out->value + head, tail);
    free(out->value);
    out->value = v;
    out->value_len = len;
}

static void test_duplicate_recipients_quarantined(void **state)
{
    hostile_t *h = hostile_new();
    const cishare_participant_t *bank =
        cishare_directory_find(h->d, "op-bank-a");
    cishare_msg_out_t out = {0};
    cishare_feed_stats_t st;
    uint8_t rkid[CISHARE_SEAL_RKID_BYTES];
    char path[1600], *text;
    json_t *m;

    (void)state;
    assert_non_null(bank);
    cishare_seal_rkid(bank->x25519_pk, rkid);

    m = strict_to_bank("192.0.2.81");
    hostile_build(h, "ceptoar-finance", m, &out);
    json_decref(m);
    assert_true(out.recipient_cnt > 0);
    flood_entries(&out, rkid, CISHARE_SEAL_MAX_RECIPIENTS);
    hostile_produce(h, "ceptoar-finance", "cishare.inbox.op-bank-a", &out);
    cishare_msg_out_clear(&out);

    /* a genuine message from the same sender still gets through */
    m = strict_to_bank("192.0.2.82");
    hostile_build(h, "ceptoar-finance", m, &out);
    json_decref(m);
    hostile_produce(h, "ceptoar-finance", "cishare.inbox.op-bank-a", &out);
    cishare_msg_out_clear(&out);

    hostile_feed_ok(h, "op-bank-a", "jsonl", &st);
    assert_int_equal(st.quarantined, 1);
    assert_int_equal(st.delivered + st.withheld, 1);
    snprintf(path, sizeof(path), "%s/quarantine.jsonl",
             hostile_out(h, "op-bank-a"));
    text = test_slurp(path, NULL);
    assert_non_null(text);
    if (!strstr(text, "duplicate recipient"))
        fail_msg("quarantine does not name duplicate recipients: %s", text);
    assert_non_null(strstr(text, "\"reason\":\"malformed\""));
    free(text);
    hostile_destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_recipients_quarantined),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
