/*
 * Policy engine tests. The expected tables below were written from the
 * rules text (ARCHITECTURE.md "Audience and sharing rules" and the comment
 * block in cishare/policy.h), not from the code.
 */
#include "cishare/directory.h"
#include "cishare/keys.h"
#include "cishare/policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*
 * Test directory: one representative per role (P), an origin O and a few
 * bystanders.
 *
 *   id            role                 sectors          ceptoar
 *   op-src   (O)  operator             finance          ceptoar-fin
 *   op-fin        operator             finance          ceptoar-fin
 *   ceptoar-fin   ceptoar              finance
 *   council       ceptoar-council      -
 *   min-fsa       ministry             finance, credit
 *   nco           coordination-office  -
 *   jpcert        security-org         -
 *   op-gas        operator             gas              ceptoar-gas
 *   ceptoar-gas   ceptoar              gas
 */
static const struct {
    const char *id, *role, *sectors, *ceptoar;
} members[] = {
    {"op-src", "operator", "[finance]", "ceptoar-fin"},
    {"op-fin", "operator", "[finance]", "ceptoar-fin"},
    {"ceptoar-fin", "ceptoar", "[finance]", NULL},
    {"council", "ceptoar-council", "[]", NULL},
    {"min-fsa", "ministry", "[finance, credit]", NULL},
    {"nco", "coordination-office", "[]", NULL},
    {"jpcert", "security-org", "[]", NULL},
    {"op-gas", "operator", "[gas]", "ceptoar-gas"},
    {"ceptoar-gas", "ceptoar", "[gas]", NULL},
};

static cishare_directory_t *dir;

static int setup(void **state)
{
    char *buf = malloc(65536), errstr[4096];
    size_t off = 0, i;
    cishare_keypair_t kp;
    char ed[CISHARE_PK_B64_SIZE], x[CISHARE_PK_B64_SIZE];
    cishare_err_t err;

    (void)state;
    off += (size_t)snprintf(buf + off, 65536 - off,
                            "version: 1\nserial: 1\n"
                            "expires: 2030-12-31T00:00:00Z\nsectors:\n"
                            "  - {code: finance, name-en: Financial services}\n"
                            "  - {code: credit, name-en: Credit cards}\n"
                            "  - {code: gas, name-en: Gas}\n"
                            "participants:\n");
    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        if (cishare_keypair_generate(&kp))
            return -1;
        cishare_pk_to_base64(kp.ed25519_pk, ed, sizeof(ed));
        cishare_pk_to_base64(kp.x25519_pk, x, sizeof(x));
        cishare_keypair_wipe(&kp);
        off += (size_t)snprintf(
            buf + off, 65536 - off,
            "  - id: %s\n    name: Test %s\n    role: %s\n    sectors: %s\n"
            "%s%s%s    principal: User:%s\n    ed25519: %s\n    x25519: "
            "%s\n",
            members[i].id, members[i].id, members[i].role, members[i].sectors,
            members[i].ceptoar ? "    ceptoar: " : "",
            members[i].ceptoar ? members[i].ceptoar : "",
            members[i].ceptoar ? "\n" : "", members[i].id, ed, x);
    }
    err = cishare_directory_load_buf("test-directory", buf, off, NULL, &dir,
                                     errstr, sizeof(errstr));
    free(buf);
    if (err) {
        fprintf(stderr, "test directory: %s\n", errstr);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_directory_destroy(dir);
    return 0;
}

static const cishare_participant_t *P(const char *id)
{
    const cishare_participant_t *p = cishare_directory_find(dir, id);
    if (!p)
        fail_msg("no participant %s", id);
    return p;
}

/* Audience shapes, relative to the participant under test. */
enum {
    SH_ALL,
    SH_OWN_SECTOR,
    SH_OTHER_SECTOR,
    SH_OWN_ROLE,
    SH_OTHER_ROLE,
    SH_NAMED,
    SH_OTHER_NAMED,
    SH_OMITTED,
    SH__CNT
};
static const char *const shape_names[SH__CNT] = {
    "all",        "sector of P", "other sector", "role of P",
    "other role", "P named",     "other named",  "omitted"};

/*
 * Audience text for a shape; NULL text = omitted; returns 0 when the shape
 * does not apply (P has no sector).
 */
static int shape_text(int shape, const cishare_participant_t *p, char *buf,
                      size_t size, const char **textp)
{
    *textp = buf;
    switch (shape) {
    case SH_ALL:
        snprintf(buf, size, "all");
        break;
    case SH_OWN_SECTOR:
        if (!p->sector_cnt)
            return 0;
        snprintf(buf, size, "sector:%s", p->sectors[0]);
        break;
    case SH_OTHER_SECTOR: /* no participant under test is in gas */
        snprintf(buf, size, "sector:gas");
        break;
    case SH_OWN_ROLE:
        snprintf(buf, size, "role:%s", cishare_role_name(p->role));
        break;
    case SH_OTHER_ROLE:
        snprintf(buf, size, "role:%s",
                 p->role == CISHARE_ROLE_SECURITY_ORG ? "operator"
                                                      : "security-org");
        break;
    case SH_NAMED:
        snprintf(buf, size, "participant:%s", p->id);
        break;
    case SH_OTHER_NAMED:
        snprintf(buf, size, "participant:op-gas");
        break;
    case SH_OMITTED:
        *textp = NULL;
        break;
    }
    return 1;
}

/*
 * Direct delivery. One row per (role, label); one character per shape, in
 * the order all, sector of P, other sector, role of P, other role, P
 * named, other named, omitted:
 *   D delivered, A withheld: not in audience, R withheld: RED not named,
 *   E audience refused (bad input), - shape does not apply.
 * The origin is op-src (operator, finance), so an omitted AMBER audience
 * is sector:finance.
 */
static const struct {
    const char *p;
    const char *row[CISHARE_TLP__CNT]; /* clear, green, amber, a+s, red */
} direct_table[] = {
    /* operator, in finance (same sector as the origin) */
    {"op-fin", {"DDADADAD", "DDADADAD", "DDADADAD", "DDADADAD", "EEEEEDRE"}},
    /* ceptoar, in finance */
    {"ceptoar-fin",
     {"DDADADAD", "DDADADAD", "DDADADAD", "DDADADAD", "EEEEEDRE"}},
    /* ceptoar-council, no sector: AMBER default does not reach it */
    {"council", {"D-ADADAD", "D-ADADAD", "D-ADADAA", "D-ADADAA", "E-EEEDRE"}},
    /* ministry, finance and credit */
    {"min-fsa", {"DDADADAD", "DDADADAD", "DDADADAD", "DDADADAD", "EEEEEDRE"}},
    /* coordination office, no sector */
    {"nco", {"D-ADADAD", "D-ADADAD", "D-ADADAA", "D-ADADAA", "E-EEEDRE"}},
    /* security organisation, no sector */
    {"jpcert", {"D-ADADAD", "D-ADADAD", "D-ADADAA", "D-ADADAA", "E-EEEDRE"}},
};

static char outcome_direct(cishare_decision_t d)
{
    if (d.deliver)
        return 'D';
    if (d.reason == CISHARE_REASON_NOT_IN_AUDIENCE)
        return 'A';
    if (d.reason == CISHARE_REASON_RED_NOT_NAMED)
        return 'R';
    return '?';
}

static void test_direct_table(void **state)
{
    const cishare_participant_t *origin = P("op-src");
    size_t i;
    int tlp, shape, checked = 0;
    char text[128], errstr[256];

    (void)state;
    for (i = 0; i < sizeof(direct_table) / sizeof(direct_table[0]); i++) {
        const cishare_participant_t *p = P(direct_table[i].p);
        for (tlp = 0; tlp < CISHARE_TLP__CNT; tlp++) {
            for (shape = 0; shape < SH__CNT; shape++) {
                char want = direct_table[i].row[tlp][shape], got;
                cishare_audience_t aud;
                cishare_policy_msg_t msg;
                const char *atext;
                if (!shape_text(shape, p, text, sizeof(text), &atext)) {
                    assert_int_equal(want, '-');
                    continue;
                }
                if (cishare_audience_resolve(dir, (cishare_tlp_t)tlp, origin,
                                             atext, &aud, errstr,
                                             sizeof(errstr))) {
                    got = 'E';
                } else {
                    msg.tlp = (cishare_tlp_t)tlp;
                    msg.origin = origin->id;
                    msg.audience = &aud;
                    msg.expires_ms = 0;
                    msg.consent = CISHARE_CONSENT_NA;
                    msg.sighting_of = NULL;
                    got = outcome_direct(
                        cishare_policy_decide(dir, &msg, p, 1000));
                    cishare_audience_clear(&aud);
                }
                if (got != want)
                    fail_msg("direct: P=%s (%s) TLP:%s audience '%s' (%s): "
                             "want %c got %c",
                             p->id, cishare_role_name(p->role),
                             cishare_tlp_name((cishare_tlp_t)tlp),
                             atext ? atext : "(omitted)", shape_names[shape],
                             want, got);
                checked++;
            }
        }
    }
    assert_true(checked > 200);
}

/*
 * Re-sharing. The relay R is the participant under test; the audience
 * shape is relative to R (so it decides whether R received the message
 * directly). R re-shares at the message's own label. Each cell is two
 * characters: the outcome for a client of R, then for a non-client:
 *   D delivered, N never re-shared (AMBER+STRICT, RED), X relay did not
 *   receive it directly, C not a client of the relay, E audience refused,
 *   - no such recipient (no clients, or everyone is a client).
 */
static const struct {
    const char *relay, *client, *nonclient;
    const char *row[CISHARE_TLP__CNT];
} reshare_table[] = {
    /* an operator has no clients */
    {"op-fin",
     NULL,
     "jpcert",
     {"-D-D-X-D-X-D-X-D", "-D-D-X-D-X-D-X-D", "-C-C-X-C-X-C-X-C",
      "-N-N-N-N-N-N-N-N", "EEEEEEEEEE-N-NEE"}},
    /* a CEPTOAR's clients are its member operators */
    {"ceptoar-fin",
     "op-fin",
     "jpcert",
     {"DDDDXXDDXXDDXXDD", "DDDDXXDDXXDDXXDD", "DCDCXXDCXXDCXXDC",
      "NNNNNNNNNNNNNNNN", "EEEEEEEEEENNNNEE"}},
    /* a council's clients are the CEPTOARs of every sector */
    {"council",
     "ceptoar-gas",
     "jpcert",
     {"DD--XXDDXXDDXXDD", "DD--XXDDXXDDXXDD", "DC--XXDCXXDCXXXX",
      "NN--NNNNNNNNNNNN", "EE--EEEEEENNNNEE"}},
    /* a ministry's clients are the participants of its sectors */
    {"min-fsa",
     "op-fin",
     "jpcert",
     {"DDDDXXDDXXDDXXDD", "DDDDXXDDXXDDXXDD", "DCDCXXDCXXDCXXDC",
      "NNNNNNNNNNNNNNNN", "EEEEEEEEEENNNNEE"}},
    /* the coordination office's clients are all participants */
    {"nco",
     "op-fin",
     NULL,
     {"D---X-D-X-D-X-D-", "D---X-D-X-D-X-D-", "D---X-D-X-D-X-X-",
      "N---N-N-N-N-N-N-", "EE--EEEEEEN-N-EE"}},
    /* a security organisation has no clients */
    {"jpcert",
     NULL,
     "op-gas",
     {"-D---X-D-X-D-X-D", "-D---X-D-X-D-X-D", "-C---X-C-X-C-X-X",
      "-N---N-N-N-N-N-N", "EE--EEEEEE-N-NEE"}},
};

static char outcome_reshare(cishare_decision_t d)
{
    if (d.deliver)
        return 'D';
    switch (d.reason) {
    case CISHARE_REASON_NEVER_RESHARED:
        return 'N';
    case CISHARE_REASON_RELAY_NOT_RECIPIENT:
        return 'X';
    case CISHARE_REASON_NOT_RELAY_CLIENT:
        return 'C';
    default:
        return '?';
    }
}

static void test_reshare_table(void **state)
{
    const cishare_participant_t *origin = P("op-src");
    size_t i;
    int tlp, shape, k, checked = 0;
    char text[128], errstr[256];

    (void)state;
    for (i = 0; i < sizeof(reshare_table) / sizeof(reshare_table[0]); i++) {
        const cishare_participant_t *r = P(reshare_table[i].relay);
        const char *rcpt[2] = {reshare_table[i].client,
                               reshare_table[i].nonclient};
        /* The table's client / non-client columns must be right. */
        if (rcpt[0])
            assert_true(cishare_policy_is_client(r, P(rcpt[0])));
        if (rcpt[1])
            assert_false(cishare_policy_is_client(r, P(rcpt[1])));
        for (tlp = 0; tlp < CISHARE_TLP__CNT; tlp++) {
            for (shape = 0; shape < SH__CNT; shape++) {
                const char *cell = reshare_table[i].row[tlp] + 2 * shape;
                cishare_audience_t aud;
                cishare_policy_msg_t msg;
                const char *atext;
                int refused;
                if (!shape_text(shape, r, text, sizeof(text), &atext)) {
                    assert_true(cell[0] == '-' && cell[1] == '-');
                    continue;
                }
                refused = cishare_audience_resolve(
                              dir, (cishare_tlp_t)tlp, origin, atext, &aud,
                              errstr, sizeof(errstr)) != CISHARE_OK;
                if (refused) {
                    if (cell[0] != 'E' || cell[1] != 'E')
                        fail_msg("reshare: R=%s TLP:%s audience '%s': "
                                 "refused (%s), want %.2s",
                                 r->id, cishare_tlp_name((cishare_tlp_t)tlp),
                                 atext ? atext : "(omitted)", errstr, cell);
                    continue;
                }
                msg.tlp = (cishare_tlp_t)tlp;
                msg.origin = origin->id;
                msg.audience = &aud;
                msg.expires_ms = 0;
                msg.consent = CISHARE_CONSENT_NA;
                msg.sighting_of = NULL;
                for (k = 0; k < 2; k++) {
                    char got;
                    if (!rcpt[k]) {
                        assert_int_equal(cell[k], '-');
                        continue;
                    }
                    got = outcome_reshare(cishare_policy_decide_reshare(
                        dir, &msg, r, (cishare_tlp_t)tlp, P(rcpt[k]), 1000));
                    if (got != cell[k])
                        fail_msg("reshare: R=%s (%s) to %s (%s) TLP:%s "
                                 "audience '%s' (%s): want %c got %c",
                                 r->id, cishare_role_name(r->role), rcpt[k],
                                 k ? "non-client" : "client",
                                 cishare_tlp_name((cishare_tlp_t)tlp),
                                 atext ? atext : "(omitted)",
                                 shape_names[shape], cell[k], got);
                    checked++;
                }
                cishare_audience_clear(&aud);
            }
        }
    }
    assert_true(checked > 150);
}

/* Build a message with a resolved audience; caller clears aud. */
static void mkmsg(cishare_policy_msg_t *msg, cishare_audience_t *aud,
                  cishare_tlp_t tlp, const char *origin, const char *text,
                  int64_t expires)
{
    char errstr[256];

    if (cishare_audience_resolve(dir, tlp, P(origin), text, aud, errstr,
                                 sizeof(errstr)))
        fail_msg("resolve '%s': %s", text ? text : "(omitted)", errstr);
    msg->tlp = tlp;
    msg->origin = origin;
    msg->audience = aud;
    msg->expires_ms = expires;
    msg->consent = CISHARE_CONSENT_NA;
    msg->sighting_of = NULL;
}

static void test_origin_receives_own(void **state)
{
    cishare_policy_msg_t msg;
    cishare_audience_t aud;
    cishare_decision_t d;
    int tlp;

    (void)state;
    for (tlp = 0; tlp < CISHARE_TLP__CNT; tlp++) {
        /* an audience that does not include the origin */
        mkmsg(&msg, &aud, (cishare_tlp_t)tlp, "op-src", "participant:op-gas",
              0);
        d = cishare_policy_decide(dir, &msg, P("op-src"), 1);
        assert_true(d.deliver);
        assert_int_equal(d.reason, CISHARE_REASON_DELIVER_OWN);
        assert_string_equal(cishare_reason_code(d.reason), "own-message");
        cishare_audience_clear(&aud);
    }
}

static void test_expired(void **state)
{
    cishare_policy_msg_t msg;
    cishare_audience_t aud;
    cishare_decision_t d;

    (void)state;
    mkmsg(&msg, &aud, CISHARE_TLP_CLEAR, "op-src", "all", 5000);
    d = cishare_policy_decide(dir, &msg, P("jpcert"), 4999);
    assert_true(d.deliver);
    d = cishare_policy_decide(dir, &msg, P("jpcert"), 5000);
    assert_false(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_EXPIRED);
    assert_string_equal(d.text, "message expired");
    /* rule 2 comes before rule 3: not even the origin */
    d = cishare_policy_decide(dir, &msg, P("op-src"), 6000);
    assert_false(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_EXPIRED);
    d = cishare_policy_decide_reshare(dir, &msg, P("nco"), CISHARE_TLP_CLEAR,
                                      P("jpcert"), 6000);
    assert_int_equal(d.reason, CISHARE_REASON_EXPIRED);
    cishare_audience_clear(&aud);
}

static void test_red_ignores_non_participant_items(void **state)
{
    cishare_policy_msg_t msg = {CISHARE_TLP_RED,    "op-src", NULL, 0,
                                CISHARE_CONSENT_NA, NULL};
    cishare_audience_t aud;
    cishare_decision_t d;

    (void)state;
    /* receiver side: a forged RED header with a sector item (parse does
     * not apply the RED rules) must still reach nobody but named ones */
    assert_int_equal(cishare_audience_parse("sector:finance,all,"
                                            "participant:nco",
                                            &aud, NULL, 0),
                     CISHARE_OK);
    msg.audience = &aud;
    d = cishare_policy_decide(dir, &msg, P("op-fin"), 1);
    assert_false(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_RED_NOT_NAMED);
    assert_string_equal(d.text, "TLP:RED is for named recipients only");
    d = cishare_policy_decide(dir, &msg, P("nco"), 1);
    assert_true(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_NAMED);
    cishare_audience_clear(&aud);
}

static void test_reshare_special(void **state)
{
    cishare_policy_msg_t msg;
    cishare_audience_t aud;
    cishare_decision_t d;
    cishare_reason_t reason = CISHARE_REASON__CNT;
    char errstr[256];

    (void)state;
    mkmsg(&msg, &aud, CISHARE_TLP_AMBER, "op-src", "sector:finance", 0);
    /* loosening AMBER to GREEN */
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_GREEN, P("op-fin"), 1);
    assert_false(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_LOOSENED);
    assert_string_equal(d.text, "relay may not loosen the label");
    assert_int_equal(cishare_policy_check_reshare(dir, &msg, P("ceptoar-fin"),
                                                  CISHARE_TLP_GREEN, 1, &reason,
                                                  errstr, sizeof(errstr)),
                     CISHARE_ERR_POLICY);
    assert_int_equal(reason, CISHARE_REASON_LOOSENED);
    /* tightening AMBER to RED is fine, to clients */
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_RED, P("op-fin"), 1);
    assert_true(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_CLIENT);
    /* the relay itself and the origin */
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("ceptoar-fin"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_RELAY_SELF);
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("op-src"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_OWN);
    /* a CEPTOAR's clients are its own members, not another sector's */
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("op-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    assert_int_equal(cishare_policy_check_reshare(dir, &msg, P("ceptoar-fin"),
                                                  CISHARE_TLP_AMBER, 1, NULL,
                                                  errstr, sizeof(errstr)),
                     CISHARE_OK);
    cishare_audience_clear(&aud);

    /* GREEN tightened to AMBER by a relay: clients only */
    mkmsg(&msg, &aud, CISHARE_TLP_GREEN, "op-src", NULL, 0);
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("jpcert"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_GREEN, P("jpcert"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_COMMUNITY);
    cishare_audience_clear(&aud);

    /* RED: refused with an error */
    mkmsg(&msg, &aud, CISHARE_TLP_RED, "op-src", "participant:ceptoar-fin", 0);
    assert_int_equal(cishare_policy_check_reshare(dir, &msg, P("ceptoar-fin"),
                                                  CISHARE_TLP_RED, 1, &reason,
                                                  errstr, sizeof(errstr)),
                     CISHARE_ERR_POLICY);
    assert_int_equal(reason, CISHARE_REASON_NEVER_RESHARED);
    assert_non_null(strstr(errstr, "never re-shared"));
    cishare_audience_clear(&aud);

    /* NULL participant */
    d = cishare_policy_decide(dir, &msg, NULL, 1);
    assert_int_equal(d.reason, CISHARE_REASON_UNKNOWN_PARTICIPANT);
}

/* Rules b and i: consent to forward an incident notice. */
static void test_consent_forward(void **state)
{
    cishare_policy_msg_t msg;
    cishare_audience_t aud;
    cishare_decision_t d;
    cishare_reason_t reason = CISHARE_REASON__CNT;
    char errstr[256];

    (void)state;
    /* an operator's report to its ministry */
    mkmsg(&msg, &aud, CISHARE_TLP_AMBER, "op-src", "participant:min-fsa", 0);
    msg.consent = CISHARE_CONSENT_YES;
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER, P("nco"), 1);
    assert_true(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_CONSENT);
    assert_string_equal(cishare_reason_code(d.reason), "consent-forward");
    /* tightened is fine too; consent reaches the office only */
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER_STRICT, P("nco"), 1);
    assert_true(d.deliver);
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER, P("jpcert"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    /* without consent, or not known: no relay forwards it, to anyone */
    msg.consent = CISHARE_CONSENT_NO;
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER, P("nco"), 1);
    assert_false(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_NO_CONSENT_FORWARD);
    assert_string_equal(cishare_reason_code(d.reason), "no-consent-forward");
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER, P("op-fin"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NO_CONSENT_FORWARD);
    assert_int_equal(cishare_policy_check_reshare(dir, &msg, P("min-fsa"),
                                                  CISHARE_TLP_AMBER, 1, &reason,
                                                  errstr, sizeof(errstr)),
                     CISHARE_ERR_POLICY);
    assert_int_equal(reason, CISHARE_REASON_NO_CONSENT_FORWARD);
    assert_non_null(strstr(errstr, "consent"));
    msg.consent = CISHARE_CONSENT_UNKNOWN;
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER, P("nco"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NO_CONSENT_FORWARD);
    /* not an incident notice: the TLP rules alone (the office is not a
     * ministry's client) */
    msg.consent = CISHARE_CONSENT_NA;
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER, P("nco"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    cishare_audience_clear(&aud);

    /* a CEPTOAR relays an incident to its members only with consent */
    mkmsg(&msg, &aud, CISHARE_TLP_GREEN, "op-src", NULL, 0);
    msg.consent = CISHARE_CONSENT_NO;
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_GREEN, P("op-fin"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NO_CONSENT_FORWARD);
    msg.consent = CISHARE_CONSENT_YES;
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_GREEN, P("op-fin"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_COMMUNITY);
    cishare_audience_clear(&aud);

    /* a ministry not competent for the origin's sector forwards nothing
     * to the office, consent or not */
    mkmsg(&msg, &aud, CISHARE_TLP_AMBER, "op-gas", "participant:min-fsa", 0);
    msg.consent = CISHARE_CONSENT_YES;
    d = cishare_policy_decide_reshare(dir, &msg, P("min-fsa"),
                                      CISHARE_TLP_AMBER, P("nco"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    /* nor does a CEPTOAR */
    cishare_audience_clear(&aud);
    mkmsg(&msg, &aud, CISHARE_TLP_AMBER, "op-src", "sector:finance", 0);
    msg.consent = CISHARE_CONSENT_YES;
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("nco"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    cishare_audience_clear(&aud);
}

/* Rule j: a relay passes a member's sighting back to the originator it
 * names, wherever the originator sits; nobody else outside its clients. */
static void test_sighting_to_originator(void **state)
{
    cishare_policy_msg_t msg;
    cishare_audience_t aud;
    cishare_decision_t d;

    (void)state;
    /* op-src's (anonymised) sighting of jpcert's indicator, sent to its
     * CEPTOAR */
    mkmsg(&msg, &aud, CISHARE_TLP_AMBER, "op-src", "participant:ceptoar-fin",
          0);
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("jpcert"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    msg.sighting_of = "jpcert";
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("jpcert"), 1);
    assert_true(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_FEEDBACK);
    assert_string_equal(cishare_reason_code(d.reason),
                        "sighting-to-originator");
    /* of another sector's operator too; never anyone else */
    msg.sighting_of = "op-gas";
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("op-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_FEEDBACK);
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("jpcert"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("ceptoar-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    /* rules a-d still come first: never re-shared, not received */
    msg.tlp = CISHARE_TLP_RED;
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_RED, P("op-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NEVER_RESHARED);
    msg.tlp = CISHARE_TLP_AMBER;
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-gas"),
                                      CISHARE_TLP_AMBER, P("op-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_RELAY_NOT_RECIPIENT);
    cishare_audience_clear(&aud);
}

/* Rule h: CEPTOAR <-> CEPTOAR council, across sectors. */
static void test_council(void **state)
{
    cishare_policy_msg_t msg;
    cishare_audience_t aud;
    cishare_decision_t d;

    (void)state;
    assert_true(cishare_policy_is_client(P("ceptoar-fin"), P("council")));
    assert_true(cishare_policy_is_client(P("ceptoar-gas"), P("council")));
    assert_true(cishare_policy_is_client(P("council"), P("ceptoar-fin")));
    assert_true(cishare_policy_is_client(P("council"), P("ceptoar-gas")));
    assert_false(cishare_policy_is_client(P("council"), P("op-gas")));
    assert_false(cishare_policy_is_client(P("council"), P("council")));
    /* a finance member's AMBER report: its CEPTOAR passes it on */
    mkmsg(&msg, &aud, CISHARE_TLP_AMBER, "op-src", "sector:finance", 0);
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("council"), 1);
    assert_true(d.deliver);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_CLIENT);
    /* but not to the gas CEPTOAR directly */
    d = cishare_policy_decide_reshare(dir, &msg, P("ceptoar-fin"),
                                      CISHARE_TLP_AMBER, P("ceptoar-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    cishare_audience_clear(&aud);
    /* what the council holds goes to every CEPTOAR, not to operators */
    mkmsg(&msg, &aud, CISHARE_TLP_AMBER, "ceptoar-fin", "participant:council",
          0);
    d = cishare_policy_decide_reshare(dir, &msg, P("council"),
                                      CISHARE_TLP_AMBER, P("ceptoar-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_DELIVER_CLIENT);
    d = cishare_policy_decide_reshare(dir, &msg, P("council"),
                                      CISHARE_TLP_AMBER, P("op-gas"), 1);
    assert_int_equal(d.reason, CISHARE_REASON_NOT_RELAY_CLIENT);
    cishare_audience_clear(&aud);
}

/* One publish-rule check: 'O' keeps the rules, else the reason code. */
static const char *publish_check_of(cishare_msgtype_t type, cishare_tlp_t tlp,
                                    const char *origin, const char *text,
                                    int anonymise, const char *sighting_of,
                                    char *errstr, size_t size)
{
    cishare_audience_t aud;
    cishare_publish_msg_t pm;
    cishare_reason_t reason = CISHARE_REASON__CNT;
    const cishare_participant_t *o = P(origin);
    cishare_err_t err;

    if (cishare_audience_parse(text, &aud, errstr, size))
        fail_msg("parse '%s': %s", text, errstr);
    pm.type = type;
    pm.tlp = tlp;
    pm.origin = o;
    pm.audience = &aud;
    pm.sector = o->sector_cnt ? o->sectors[0] : "";
    pm.mandatory = 0;
    pm.anonymise = anonymise;
    pm.sighting_of = sighting_of;
    errstr[0] = '\0';
    err = cishare_policy_check_publish(dir, &pm, &reason, errstr, size);
    cishare_audience_clear(&aud);
    if (!err)
        return "O";
    assert_int_equal(err, CISHARE_ERR_POLICY);
    return cishare_reason_code(reason);
}

static const char *publish_check(cishare_msgtype_t type, cishare_tlp_t tlp,
                                 const char *origin, const char *text,
                                 int anonymise, char *errstr, size_t size)
{
    return publish_check_of(type, tlp, origin, text, anonymise, NULL, errstr,
                            size);
}

/* P3 at AMBER and stricter: no roles, no participants of other sectors. */
static void test_publish_operator_need_to_know(void **state)
{
    static const struct {
        cishare_tlp_t tlp;
        const char *text, *want;
    } cases[] = {
        {CISHARE_TLP_AMBER, "sector:finance", "O"},
        {CISHARE_TLP_AMBER, "participant:op-fin", "O"},
        {CISHARE_TLP_AMBER, "participant:ceptoar-fin", "O"},
        {CISHARE_TLP_AMBER, "participant:min-fsa", "O"},
        {CISHARE_TLP_AMBER, "participant:nco", "O"},
        {CISHARE_TLP_AMBER, "participant:jpcert", "O"},
        {CISHARE_TLP_AMBER, "participant:op-src", "O"},
        {CISHARE_TLP_RED, "participant:min-fsa,participant:nco", "O"},
        {CISHARE_TLP_AMBER, "participant:op-gas", "outside-own-sectors"},
        {CISHARE_TLP_AMBER_STRICT, "participant:op-gas", "outside-own-sectors"},
        {CISHARE_TLP_RED, "participant:op-gas", "outside-own-sectors"},
        {CISHARE_TLP_AMBER, "participant:ceptoar-gas", "outside-own-sectors"},
        {CISHARE_TLP_AMBER, "participant:council", "outside-own-sectors"},
        {CISHARE_TLP_AMBER, "participant:nco,participant:op-gas",
         "outside-own-sectors"},
        {CISHARE_TLP_AMBER, "role:ceptoar", "outside-own-sectors"},
        {CISHARE_TLP_AMBER,
         "role:operator,role:ceptoar,role:ceptoar-council,role:ministry,"
         "role:coordination-office,role:security-org",
         "outside-own-sectors"},
        {CISHARE_TLP_AMBER_STRICT, "sector:finance,role:ministry",
         "outside-own-sectors"},
        {CISHARE_TLP_AMBER, "all", "amber-all-not-office"},
        /* the community: roles and other sectors' participants are fine */
        {CISHARE_TLP_GREEN, "role:ceptoar", "O"},
        {CISHARE_TLP_GREEN, "participant:op-gas", "O"},
        {CISHARE_TLP_CLEAR, "role:operator,participant:ceptoar-gas", "O"},
    };
    char errstr[512];
    const char *got;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        got = publish_check(CISHARE_MSG_INDICATOR, cases[i].tlp, "op-src",
                            cases[i].text, 0, errstr, sizeof(errstr));
        if (strcmp(got, cases[i].want))
            fail_msg("op-src TLP:%s to '%s': want %s got %s (%s)",
                     cishare_tlp_name(cases[i].tlp), cases[i].text,
                     cases[i].want, got, errstr);
    }
    /* the error names the item */
    publish_check(CISHARE_MSG_INDICATOR, CISHARE_TLP_AMBER, "op-src",
                  "participant:op-gas", 0, errstr, sizeof(errstr));
    assert_non_null(strstr(errstr, "participant:op-gas"));
    publish_check(CISHARE_MSG_INDICATOR, CISHARE_TLP_AMBER, "op-src",
                  "role:ceptoar", 0, errstr, sizeof(errstr));
    assert_non_null(strstr(errstr, "role:ceptoar"));
    /* a sighting goes back to the originator it names, in any sector (P3
     * exemption); to anyone else across sectors it is refused as before */
    assert_string_equal(publish_check_of(CISHARE_MSG_SIGHTING,
                                         CISHARE_TLP_AMBER, "op-src",
                                         "participant:op-gas", 0, "op-gas",
                                         errstr, sizeof(errstr)),
                        "O");
    assert_string_equal(publish_check_of(CISHARE_MSG_SIGHTING,
                                         CISHARE_TLP_AMBER, "op-src",
                                         "participant:op-gas", 0, "op-fin",
                                         errstr, sizeof(errstr)),
                        "outside-own-sectors");
    assert_string_equal(publish_check_of(CISHARE_MSG_INDICATOR,
                                         CISHARE_TLP_AMBER, "op-src",
                                         "participant:op-gas", 0, "op-gas",
                                         errstr, sizeof(errstr)),
                        "outside-own-sectors");
    /* other roles keep their own rules: a CEPTOAR may name role:ceptoar */
    assert_string_equal(publish_check(CISHARE_MSG_INDICATOR, CISHARE_TLP_AMBER,
                                      "ceptoar-fin",
                                      "role:ceptoar,participant:council", 0,
                                      errstr, sizeof(errstr)),
                        "O");
}

/* P8: an anonymised report goes to its anonymiser only. */
static void test_publish_anonymise(void **state)
{
    static const struct {
        cishare_msgtype_t type;
        const char *origin, *text;
        int anonymise;
        const char *want;
    } cases[] = {
        {CISHARE_MSG_INCIDENT, "op-src", "participant:ceptoar-fin", 1, "O"},
        {CISHARE_MSG_INCIDENT, "op-src", "participant:min-fsa", 1, "O"},
        {CISHARE_MSG_INDICATOR, "op-src", "participant:nco", 1, "O"},
        {CISHARE_MSG_INCIDENT, "op-src", "sector:finance", 1,
         "anonymise-audience"},
        {CISHARE_MSG_INDICATOR, "op-src", "participant:op-fin", 1,
         "anonymise-audience"},
        {CISHARE_MSG_INCIDENT, "op-src", "participant:jpcert", 1,
         "anonymise-audience"},
        {CISHARE_MSG_INCIDENT, "op-src",
         "participant:ceptoar-fin,participant:nco", 1, "anonymise-audience"},
        {CISHARE_MSG_INCIDENT, "op-src", "participant:op-src", 1,
         "anonymise-audience"},
        /* another sector's CEPTOAR is not its anonymiser (P3 first) */
        {CISHARE_MSG_INCIDENT, "op-src", "participant:ceptoar-gas", 1,
         "outside-own-sectors"},
        {CISHARE_MSG_INDICATOR, "op-src", "participant:ceptoar-gas", 1,
         "outside-own-sectors"},
        {CISHARE_MSG_INDICATOR, "op-gas", "participant:ceptoar-gas", 1, "O"},
        {CISHARE_MSG_INDICATOR, "op-gas", "participant:min-fsa", 1,
         "outside-own-sectors"},
        {CISHARE_MSG_INDICATOR, "op-src", "all", 1, "amber-all-not-office"},
        /* not asked, or not known (sealed payload): not judged */
        {CISHARE_MSG_INCIDENT, "op-src", "sector:finance", 0, "O"},
        {CISHARE_MSG_INCIDENT, "op-src", "sector:finance", -1, "O"},
    };
    char errstr[512];
    const char *got;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        got = publish_check(cases[i].type, CISHARE_TLP_AMBER, cases[i].origin,
                            cases[i].text, cases[i].anonymise, errstr,
                            sizeof(errstr));
        if (strcmp(got, cases[i].want))
            fail_msg("%s anonymise=%d to '%s': want %s got %s (%s)",
                     cases[i].origin, cases[i].anonymise, cases[i].text,
                     cases[i].want, got, errstr);
    }
    /* at GREEN as well: anonymity is not a matter of the label */
    assert_string_equal(publish_check(CISHARE_MSG_INDICATOR, CISHARE_TLP_GREEN,
                                      "op-src", "all", 1, errstr,
                                      sizeof(errstr)),
                        "anonymise-audience");
    assert_non_null(strstr(errstr, "participant:ceptoar-fin"));
    assert_non_null(strstr(errstr, "'all'"));
}

static void test_audience_canonical(void **state)
{
    cishare_audience_t aud;
    char buf[256];
    size_t n;

    (void)state;
    assert_int_equal(
        cishare_audience_resolve(dir, CISHARE_TLP_AMBER, P("op-src"),
                                 " sector:gas,participant:nco , all,sector:gas,"
                                 "role:ministry",
                                 &aud, NULL, 0),
        CISHARE_OK);
    assert_int_equal(aud.cnt, 4);
    n = cishare_audience_format(&aud, buf, sizeof(buf));
    assert_string_equal(buf, "all,participant:nco,role:ministry,sector:gas");
    assert_int_equal(n, strlen(buf));
    /* truncation keeps snprintf semantics */
    n = cishare_audience_format(&aud, buf, 8);
    assert_int_equal(n, strlen("all,participant:nco,role:ministry,sector:gas"));
    assert_string_equal(buf, "all,par");
    cishare_audience_clear(&aud);
    assert_null(aud.items);
    cishare_audience_clear(NULL);

    /* defaults */
    assert_int_equal(cishare_audience_resolve(dir, CISHARE_TLP_GREEN, P("nco"),
                                              NULL, &aud, NULL, 0),
                     CISHARE_OK);
    cishare_audience_format(&aud, buf, sizeof(buf));
    assert_string_equal(buf, "all");
    cishare_audience_clear(&aud);
    assert_int_equal(cishare_audience_resolve(dir, CISHARE_TLP_AMBER_STRICT,
                                              P("min-fsa"), "", &aud, NULL, 0),
                     CISHARE_OK);
    cishare_audience_format(&aud, buf, sizeof(buf));
    assert_string_equal(buf, "sector:finance");
    cishare_audience_clear(&aud);
}

static void test_audience_errors(void **state)
{
    static const struct {
        cishare_tlp_t tlp;
        const char *origin, *text, *want;
    } cases[] = {
        {CISHARE_TLP_AMBER, "nco", NULL, "no default audience"},
        {CISHARE_TLP_RED, "op-src", NULL, "no default audience"},
        {CISHARE_TLP_RED, "op-src", "sector:finance", "named recipients"},
        {CISHARE_TLP_RED, "op-src", "participant:nco,all", "named recipients"},
        {CISHARE_TLP_RED, "op-src", "role:ministry", "named recipients"},
        {CISHARE_TLP_GREEN, "op-src", "sector:foo", "unknown sector 'foo'"},
        {CISHARE_TLP_GREEN, "op-src", "participant:nobody",
         "unknown participant 'nobody'"},
        {CISHARE_TLP_GREEN, "op-src", "role:king", "unknown role"},
        {CISHARE_TLP_GREEN, "op-src", "everyone", "expected all"},
        {CISHARE_TLP_GREEN, "op-src", "all,", "empty audience item"},
        {CISHARE_TLP_GREEN, "op-src", "all,,sector:gas", "empty"},
        {CISHARE_TLP_GREEN, "op-src", "sector:", "bad name"},
        {CISHARE_TLP_GREEN, "op-src", "sector:GAS", "bad name"},
    };
    cishare_audience_t aud;
    char errstr[256], *big;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        errstr[0] = '\0';
        if (cishare_audience_resolve(dir, cases[i].tlp, P(cases[i].origin),
                                     cases[i].text, &aud, errstr,
                                     sizeof(errstr)) == CISHARE_OK)
            fail_msg("audience '%s' accepted", cases[i].text);
        assert_null(aud.items);
        if (!strstr(errstr, cases[i].want))
            fail_msg("audience '%s': error '%s' lacks '%s'", cases[i].text,
                     errstr, cases[i].want);
    }
    /* bound on items */
    big = malloc(CISHARE_AUDIENCE_MAX_ITEMS * 4 + 8);
    big[0] = '\0';
    for (i = 0; i <= CISHARE_AUDIENCE_MAX_ITEMS; i++)
        strcat(big, i ? ",all" : "all");
    assert_int_equal(cishare_audience_parse(big, &aud, NULL, 0),
                     CISHARE_ERR_TOO_LARGE);
    free(big);
}

static void test_members(void **state)
{
    const cishare_participant_t *out[16];
    cishare_policy_msg_t msg;
    cishare_audience_t aud;
    size_t n;

    (void)state;
    mkmsg(&msg, &aud, CISHARE_TLP_RED, "op-src", "participant:nco", 0);
    n = cishare_policy_members(dir, &msg, 1, out, 16);
    assert_int_equal(n, 2); /* origin and nco */
    assert_string_equal(out[0]->id, "op-src");
    assert_string_equal(out[1]->id, "nco");
    cishare_audience_clear(&aud);
    mkmsg(&msg, &aud, CISHARE_TLP_GREEN, "op-src", NULL, 0);
    n = cishare_policy_members(dir, &msg, 1, out, 2);
    assert_int_equal(n, sizeof(members) / sizeof(members[0]));
    cishare_audience_clear(&aud);
}

static void test_reason_codes(void **state)
{
    int r;

    (void)state;
    for (r = 0; r < CISHARE_REASON__CNT; r++) {
        assert_non_null(cishare_reason_code((cishare_reason_t)r));
        assert_non_null(cishare_reason_text((cishare_reason_t)r));
    }
    assert_string_equal(cishare_reason_code(CISHARE_REASON_NOT_IN_AUDIENCE),
                        "not-in-audience");
    assert_string_equal(cishare_reason_text(CISHARE_REASON_NOT_IN_AUDIENCE),
                        "audience does not include participant");
    assert_string_equal(cishare_reason_code((cishare_reason_t)999), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_table),
        cmocka_unit_test(test_reshare_table),
        cmocka_unit_test(test_origin_receives_own),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_red_ignores_non_participant_items),
        cmocka_unit_test(test_reshare_special),
        cmocka_unit_test(test_consent_forward),
        cmocka_unit_test(test_sighting_to_originator),
        cmocka_unit_test(test_council),
        cmocka_unit_test(test_publish_operator_need_to_know),
        cmocka_unit_test(test_publish_anonymise),
        cmocka_unit_test(test_audience_canonical),
        cmocka_unit_test(test_audience_errors),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_reason_codes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
