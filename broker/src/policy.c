/*
 * cishare - the TLP policy engine. The rules are written down once, in
 * cishare/policy.h; this file implements them in the same order, and the
 * table-driven test (tests/unit/test_policy.c) checks them from that text.
 */
#include "cishare/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *code;
    const char *text;
} reasons[CISHARE_REASON__CNT] = {
    [CISHARE_REASON_DELIVER_AUDIENCE] = {"in-audience",
                                         "participant is in the audience"},
    [CISHARE_REASON_DELIVER_NAMED] = {"named-recipient",
                                      "participant is a named TLP:RED "
                                      "recipient"},
    [CISHARE_REASON_DELIVER_OWN] = {"own-message",
                                    "origin always receives its own "
                                    "messages"},
    [CISHARE_REASON_DELIVER_COMMUNITY] = {"community",
                                          "TLP:CLEAR and TLP:GREEN may be "
                                          "re-shared to the community"},
    [CISHARE_REASON_DELIVER_CLIENT] = {"relay-client",
                                       "participant is a client of the "
                                       "relay"},
    [CISHARE_REASON_DELIVER_RELAY_SELF] = {"relay-self",
                                           "the relay holds the message "
                                           "already"},
    [CISHARE_REASON_DELIVER_CONSENT] = {"consent-forward",
                                        "a ministry forwards an operator's "
                                        "report to the coordination office "
                                        "with its consent"},
    [CISHARE_REASON_DELIVER_FEEDBACK] = {"sighting-to-originator",
                                         "a sighting goes back to the "
                                         "originator of what it names"},
    [CISHARE_REASON_NOT_IN_AUDIENCE] = {"not-in-audience",
                                        "audience does not include "
                                        "participant"},
    [CISHARE_REASON_RED_NOT_NAMED] = {"red-not-named",
                                      "TLP:RED is for named recipients only"},
    [CISHARE_REASON_EXPIRED] = {"expired", "message expired"},
    [CISHARE_REASON_NEVER_RESHARED] = {"never-reshared",
                                       "TLP:AMBER+STRICT and TLP:RED are "
                                       "never re-shared"},
    [CISHARE_REASON_NOT_RELAY_CLIENT] = {"not-relay-client",
                                         "TLP:AMBER is re-shared only to the "
                                         "relay's clients"},
    [CISHARE_REASON_LOOSENED] = {"loosened", "relay may not loosen the label"},
    [CISHARE_REASON_RELAY_NOT_RECIPIENT] = {"relay-not-recipient",
                                            "relay did not receive the "
                                            "message directly"},
    [CISHARE_REASON_UNKNOWN_PARTICIPANT] = {"unknown-participant",
                                            "participant is not in the "
                                            "directory"},
    [CISHARE_REASON_INVALID] = {"invalid", "invalid message or label"},
    [CISHARE_REASON_NO_CONSENT_FORWARD] = {"no-consent-forward",
                                           "the incident notice does not give "
                                           "consent to forward "
                                           "(consent_forward): no relay "
                                           "forwards it"},
    [CISHARE_REASON_ALERT_NOT_ISSUER] = {"alert-not-issuer",
                                         "only the coordination office and "
                                         "ministries issue alerts"},
    [CISHARE_REASON_ALERT_OUTSIDE_COMPETENCE] = {"alert-outside-competence",
                                                 "a ministry alerts only the "
                                                 "sectors it is competent "
                                                 "for"},
    [CISHARE_REASON_OUTSIDE_OWN_SECTORS] = {"outside-own-sectors",
                                            "an operator publishes only in "
                                            "its own sectors"},
    [CISHARE_REASON_AMBER_ALL_NOT_OFFICE] = {"amber-all-not-office",
                                             "TLP:AMBER and stricter to all "
                                             "come only from the "
                                             "coordination office"},
    [CISHARE_REASON_RED_AUDIENCE_NOT_NAMED] = {"red-audience-not-named",
                                               "a TLP:RED audience names "
                                               "participants only"},
    [CISHARE_REASON_SECTOR_HEADER] = {"sector-header-not-origin",
                                      "the sector header is not one of the "
                                      "origin's sectors"},
    [CISHARE_REASON_MANDATORY_NOT_ADDRESSED] = {"mandatory-not-addressed",
                                                "a mandatory incident notice "
                                                "must reach the competent "
                                                "ministry and the "
                                                "coordination office"},
    [CISHARE_REASON_MANDATORY_LABEL] = {"mandatory-label",
                                        "a mandatory incident notice must "
                                        "be TLP:AMBER or stricter"},
    [CISHARE_REASON_ANONYMISE_AUDIENCE] = {"anonymise-audience",
                                           "a report asking for anonymisation "
                                           "goes only to the one participant "
                                           "that anonymises it (its CEPTOAR, "
                                           "its ministry or the coordination "
                                           "office)"},
};

const char *cishare_reason_code(cishare_reason_t reason)
{
    return (unsigned)reason < CISHARE_REASON__CNT ? reasons[reason].code
                                                  : "invalid";
}

const char *cishare_reason_text(cishare_reason_t reason)
{
    return (unsigned)reason < CISHARE_REASON__CNT ? reasons[reason].text
                                                  : "invalid reason";
}

static cishare_decision_t decision(bool deliver, cishare_reason_t reason)
{
    cishare_decision_t d = {deliver, reason, reasons[reason].text};
    return d;
}

/* ---------------------------------------------------------------------
 * Audiences
 * ------------------------------------------------------------------ */

static const char *const kind_prefix[] = {
    [CISHARE_AUD_ALL] = "all",
    [CISHARE_AUD_SECTOR] = "sector:",
    [CISHARE_AUD_ROLE] = "role:",
    [CISHARE_AUD_PARTICIPANT] = "participant:",
};

/* "AMBER+STRICT" for messages (header form is lowercase). */
static const char *tlp_upper(cishare_tlp_t tlp)
{
    static const char *const names[CISHARE_TLP__CNT] = {
        "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"};
    return (unsigned)tlp < CISHARE_TLP__CNT ? names[tlp] : "?";
}

/* "<prefix><value>", cut to size. By hand: snprintf here was a tenth of
 * an encrypted feed's instructions (policy checks and sorts of every
 * receipt's audience). */
static size_t item_text(const cishare_aud_item_t *it, char *buf, size_t size)
{
    const char *pfx = kind_prefix[it->kind];
    size_t pl = strlen(pfx), vl = strlen(it->value);

    if (!size)
        return 0;
    if (pl >= size)
        pl = size - 1;
    if (vl >= size - pl)
        vl = size - pl - 1;
    memcpy(buf, pfx, pl);
    memcpy(buf + pl, it->value, vl);
    buf[pl + vl] = '\0';
    return pl + vl;
}

/* Canonical order is the byte order of the item texts ("<prefix><value>"),
 * compared without writing them. */
static int item_cmp(const void *a, const void *b)
{
    const cishare_aud_item_t *ia = a, *ib = b;
    const unsigned char *pa = (const unsigned char *)kind_prefix[ia->kind];
    const unsigned char *pb = (const unsigned char *)kind_prefix[ib->kind];
    const unsigned char *va = (const unsigned char *)ia->value;
    const unsigned char *vb = (const unsigned char *)ib->value;

    for (;;) {
        unsigned ca, cb;

        if (!*pa)
            pa = va, va = (const unsigned char *)"";
        if (!*pb)
            pb = vb, vb = (const unsigned char *)"";
        ca = *pa;
        cb = *pb;
        if (ca != cb || !ca)
            return (int)ca - (int)cb;
        pa++;
        pb++;
    }
}

static int name_chars_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > CISHARE_ID_MAX_LEN)
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

void cishare_audience_clear(cishare_audience_t *aud)
{
    if (!aud)
        return;
    free(aud->items);
    aud->items = NULL;
    aud->cnt = 0;
}

cishare_err_t cishare_audience_parse(const char *text, cishare_audience_t *aud,
                                     char *errstr, size_t errstr_size)
{
    const char *p = text, *end;
    size_t cap = 0, i, j;
    cishare_role_t role;

    aud->items = NULL;
    aud->cnt = 0;
    if (!text || !*text)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "empty audience");
    for (end = text; *end; end++)
        if (*end == ',')
            cap++;
    cap++;
    if (cap > CISHARE_AUDIENCE_MAX_ITEMS)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "audience has more than %d items",
                               CISHARE_AUDIENCE_MAX_ITEMS);
    aud->items = calloc(cap, sizeof(*aud->items));
    if (!aud->items)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    while (*p) {
        const char *s, *e, *colon;
        cishare_aud_item_t *it = &aud->items[aud->cnt];
        size_t len, klen;

        end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        for (s = p; s < end && (*s == ' ' || *s == '\t'); s++)
            ;
        for (e = end; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        len = (size_t)(e - s);
        colon = memchr(s, ':', len);
        klen = colon ? (size_t)(colon - s) : len;
        if (len == 0) {
            cishare_audience_clear(aud);
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "empty audience item");
        }
        if (!colon && len == 3 && !memcmp(s, "all", 3)) {
            it->kind = CISHARE_AUD_ALL;
        } else if (colon && ((klen == 6 && !memcmp(s, "sector", 6)) ||
                             (klen == 4 && !memcmp(s, "role", 4)) ||
                             (klen == 11 && !memcmp(s, "participant", 11)))) {
            size_t vlen = len - klen - 1;
            it->kind = klen == 6   ? CISHARE_AUD_SECTOR
                       : klen == 4 ? CISHARE_AUD_ROLE
                                   : CISHARE_AUD_PARTICIPANT;
            if (!name_chars_ok(colon + 1, vlen)) {
                cishare_audience_clear(aud);
                return cishare_err_set(
                    CISHARE_ERR_VALIDATION, errstr, errstr_size,
                    "audience item '%.*s': bad name (1-%d characters of "
                    "a-z, 0-9, '.', '_', '-')",
                    (int)len, s, CISHARE_ID_MAX_LEN);
            }
            memcpy(it->value, colon + 1, vlen);
            it->value[vlen] = '\0';
            if (it->kind == CISHARE_AUD_ROLE &&
                !cishare_role_parse(it->value, &role)) {
                cishare_audience_clear(aud);
                return cishare_err_set(
                    CISHARE_ERR_VALIDATION, errstr, errstr_size,
                    "audience item '%.*s': unknown role", (int)len, s);
            }
        } else {
            cishare_audience_clear(aud);
            return cishare_err_set(
                CISHARE_ERR_VALIDATION, errstr, errstr_size,
                "audience item '%.*s': expected all, sector:<code>, "
                "role:<role> or participant:<id>",
                (int)(len > 80 ? 80 : len), s);
        }
        aud->cnt++;
        p = *end ? end + 1 : end;
        if (*end && !*p) { /* trailing comma */
            cishare_audience_clear(aud);
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "empty audience item");
        }
    }
    qsort(aud->items, aud->cnt, sizeof(*aud->items), item_cmp);
    for (i = j = 0; i < aud->cnt; i++)
        if (j == 0 || item_cmp(&aud->items[j - 1], &aud->items[i]))
            aud->items[j++] = aud->items[i];
    aud->cnt = j;
    return CISHARE_OK;
}

cishare_err_t cishare_audience_resolve(const cishare_directory_t *dir,
                                       cishare_tlp_t tlp,
                                       const cishare_participant_t *origin,
                                       const char *text,
                                       cishare_audience_t *aud, char *errstr,
                                       size_t errstr_size)
{
    char buf[CISHARE_ID_MAX_LEN + 16];
    const char *tname = tlp_upper(tlp);
    cishare_err_t err;
    size_t i;

    aud->items = NULL;
    aud->cnt = 0;
    if ((unsigned)tlp >= CISHARE_TLP__CNT)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "invalid TLP label");
    if (!text || !*text) {
        switch (tlp) {
        case CISHARE_TLP_CLEAR:
        case CISHARE_TLP_GREEN:
            text = "all";
            break;
        case CISHARE_TLP_AMBER:
        case CISHARE_TLP_AMBER_STRICT:
            if (!origin || origin->sector_cnt == 0)
                return cishare_err_set(
                    CISHARE_ERR_POLICY, errstr, errstr_size,
                    "no default audience: TLP:%s defaults to the origin's "
                    "first sector, and origin '%s' has no sector; give an "
                    "explicit audience",
                    tname, origin ? origin->id : "?");
            snprintf(buf, sizeof(buf), "sector:%s", origin->sectors[0]);
            text = buf;
            break;
        default:
            return cishare_err_set(
                CISHARE_ERR_POLICY, errstr, errstr_size,
                "no default audience: TLP:RED needs explicit "
                "participant:<id> items naming its recipients");
        }
    }
    err = cishare_audience_parse(text, aud, errstr, errstr_size);
    if (err)
        return err;
    for (i = 0; i < aud->cnt; i++) {
        const cishare_aud_item_t *it = &aud->items[i];
        if (tlp == CISHARE_TLP_RED && it->kind != CISHARE_AUD_PARTICIPANT) {
            item_text(it, buf, sizeof(buf));
            cishare_audience_clear(aud);
            return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                                   "TLP:RED is for named recipients only: "
                                   "audience item '%s' is refused (use "
                                   "participant:<id> items)",
                                   buf);
        }
        if (it->kind == CISHARE_AUD_SECTOR &&
            !cishare_directory_sector_find(dir, it->value)) {
            err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                  "audience: unknown sector '%s'", it->value);
            break;
        }
        if (it->kind == CISHARE_AUD_PARTICIPANT &&
            !cishare_directory_find(dir, it->value)) {
            err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                  "audience: unknown participant '%s'",
                                  it->value);
            break;
        }
    }
    if (err)
        cishare_audience_clear(aud);
    return err;
}

size_t cishare_audience_format(const cishare_audience_t *aud, char *buf,
                               size_t size)
{
    char item[96];
    size_t i, total = 0, n;

    if (size)
        buf[0] = '\0';
    for (i = 0; aud && i < aud->cnt; i++) {
        n = item_text(&aud->items[i], item, sizeof(item));
        if (i > 0) {
            if (total + 1 < size) {
                buf[total] = ',';
                buf[total + 1] = '\0';
            }
            total++;
        }
        if (total < size) {
            size_t room = size - total - 1;
            size_t c = n < room ? n : room;
            memcpy(buf + total, item, c);
            buf[total + c] = '\0';
        }
        total += n;
    }
    return total;
}

static bool item_matches(const cishare_aud_item_t *it,
                         const cishare_participant_t *p)
{
    switch (it->kind) {
    case CISHARE_AUD_ALL:
        return true;
    case CISHARE_AUD_SECTOR:
        return cishare_participant_in_sector(p, it->value);
    case CISHARE_AUD_ROLE:
        return !strcmp(cishare_role_name(p->role), it->value);
    case CISHARE_AUD_PARTICIPANT:
        return !strcmp(p->id, it->value);
    }
    return false;
}

bool cishare_audience_matches(const cishare_audience_t *aud,
                              const cishare_participant_t *p)
{
    size_t i;

    for (i = 0; aud && p && i < aud->cnt; i++)
        if (item_matches(&aud->items[i], p))
            return true;
    return false;
}

/* ---------------------------------------------------------------------
 * Decisions
 * ------------------------------------------------------------------ */

static bool expired(const cishare_policy_msg_t *msg, int64_t now_ms)
{
    return msg->expires_ms != 0 && now_ms >= msg->expires_ms;
}

cishare_decision_t cishare_policy_decide(const cishare_directory_t *dir,
                                         const cishare_policy_msg_t *msg,
                                         const cishare_participant_t *p,
                                         int64_t now_ms)
{
    size_t i;

    (void)dir; /* all the rules need is in msg and p, for now */
    if (!msg || (unsigned)msg->tlp >= CISHARE_TLP__CNT)
        return decision(false, CISHARE_REASON_INVALID);
    if (!p)
        return decision(false, CISHARE_REASON_UNKNOWN_PARTICIPANT);
    /* Rule 1 (unverifiable) is the caller's: msg was verified. */
    if (expired(msg, now_ms)) /* rule 2 */
        return decision(false, CISHARE_REASON_EXPIRED);
    if (msg->origin && !strcmp(msg->origin, p->id)) /* rule 3 */
        return decision(true, CISHARE_REASON_DELIVER_OWN);
    if (msg->tlp == CISHARE_TLP_RED) { /* rule 6: participant items only */
        for (i = 0; msg->audience && i < msg->audience->cnt; i++) {
            const cishare_aud_item_t *it = &msg->audience->items[i];
            if (it->kind == CISHARE_AUD_PARTICIPANT &&
                !strcmp(it->value, p->id))
                return decision(true, CISHARE_REASON_DELIVER_NAMED);
        }
        return decision(false, CISHARE_REASON_RED_NOT_NAMED);
    }
    /* Rules 4 and 5. */
    if (cishare_audience_matches(msg->audience, p))
        return decision(true, CISHARE_REASON_DELIVER_AUDIENCE);
    return decision(false, CISHARE_REASON_NOT_IN_AUDIENCE);
}

bool cishare_policy_is_client(const cishare_participant_t *relay,
                              const cishare_participant_t *p)
{
    size_t i;

    if (!relay || !p || !strcmp(relay->id, p->id))
        return false;
    switch (relay->role) {
    case CISHARE_ROLE_CEPTOAR:
        return (p->role == CISHARE_ROLE_OPERATOR && p->ceptoar &&
                !strcmp(p->ceptoar, relay->id)) ||
               p->role == CISHARE_ROLE_CEPTOAR_COUNCIL;
    case CISHARE_ROLE_CEPTOAR_COUNCIL:
        return p->role == CISHARE_ROLE_CEPTOAR;
    case CISHARE_ROLE_MINISTRY:
        for (i = 0; i < p->sector_cnt; i++)
            if (cishare_participant_in_sector(relay, p->sectors[i]))
                return true;
        return false;
    case CISHARE_ROLE_COORDINATION_OFFICE:
        return true;
    default:
        return false;
    }
}

/* Rules a-d: may the relay re-share msg at all? */
static cishare_reason_t reshare_refusal(const cishare_directory_t *dir,
                                        const cishare_policy_msg_t *msg,
                                        const cishare_participant_t *relay,
                                        cishare_tlp_t relay_tlp, int64_t now_ms)
{
    if (!msg || (unsigned)msg->tlp >= CISHARE_TLP__CNT ||
        (unsigned)relay_tlp >= CISHARE_TLP__CNT)
        return CISHARE_REASON_INVALID;
    if (!relay)
        return CISHARE_REASON_UNKNOWN_PARTICIPANT;
    if (expired(msg, now_ms)) /* a */
        return CISHARE_REASON_EXPIRED;
    if (msg->tlp >= CISHARE_TLP_AMBER_STRICT) /* b */
        return CISHARE_REASON_NEVER_RESHARED;
    if (msg->consent != CISHARE_CONSENT_NA && /* b: consent, fail closed */
        msg->consent != CISHARE_CONSENT_YES)
        return CISHARE_REASON_NO_CONSENT_FORWARD;
    if (!cishare_tlp_at_least(relay_tlp, msg->tlp)) /* c */
        return CISHARE_REASON_LOOSENED;
    if (!cishare_policy_decide(dir, msg, relay, now_ms).deliver) /* d */
        return CISHARE_REASON_RELAY_NOT_RECIPIENT;
    return CISHARE_REASON__CNT; /* allowed */
}

/* Rule i: a ministry competent for the origin forwards an incident
 * notice that gives consent to the coordination office. */
static bool consent_forward_ok(const cishare_directory_t *dir,
                               const cishare_policy_msg_t *msg,
                               const cishare_participant_t *relay,
                               const cishare_participant_t *p)
{
    const cishare_participant_t *o;
    size_t i;

    if (msg->consent != CISHARE_CONSENT_YES ||
        relay->role != CISHARE_ROLE_MINISTRY ||
        p->role != CISHARE_ROLE_COORDINATION_OFFICE || !msg->origin ||
        !(o = cishare_directory_find(dir, msg->origin)))
        return false;
    for (i = 0; i < o->sector_cnt; i++)
        if (cishare_participant_in_sector(relay, o->sectors[i]))
            return true;
    return false;
}

cishare_decision_t cishare_policy_decide_reshare(
    const cishare_directory_t *dir, const cishare_policy_msg_t *msg,
    const cishare_participant_t *relay, cishare_tlp_t relay_tlp,
    const cishare_participant_t *p, int64_t now_ms)
{
    cishare_reason_t r;

    if (!p)
        return decision(false, CISHARE_REASON_UNKNOWN_PARTICIPANT);
    r = reshare_refusal(dir, msg, relay, relay_tlp, now_ms);
    if (r != CISHARE_REASON__CNT)
        return decision(false, r);
    if (!strcmp(p->id, relay->id)) /* e */
        return decision(true, CISHARE_REASON_DELIVER_RELAY_SELF);
    if (msg->origin && !strcmp(msg->origin, p->id)) /* f */
        return decision(true, CISHARE_REASON_DELIVER_OWN);
    if (relay_tlp <= CISHARE_TLP_GREEN) /* g */
        return decision(true, CISHARE_REASON_DELIVER_COMMUNITY);
    if (cishare_policy_is_client(relay, p)) /* h */
        return decision(true, CISHARE_REASON_DELIVER_CLIENT);
    if (consent_forward_ok(dir, msg, relay, p)) /* i */
        return decision(true, CISHARE_REASON_DELIVER_CONSENT);
    if (msg->sighting_of && !strcmp(msg->sighting_of, p->id)) /* j */
        return decision(true, CISHARE_REASON_DELIVER_FEEDBACK);
    return decision(false, CISHARE_REASON_NOT_RELAY_CLIENT);
}

cishare_err_t cishare_policy_check_reshare(
    const cishare_directory_t *dir, const cishare_policy_msg_t *msg,
    const cishare_participant_t *relay, cishare_tlp_t relay_tlp, int64_t now_ms,
    cishare_reason_t *reasonp, char *errstr, size_t errstr_size)
{
    cishare_reason_t r = reshare_refusal(dir, msg, relay, relay_tlp, now_ms);

    if (r == CISHARE_REASON__CNT)
        return CISHARE_OK;
    if (reasonp)
        *reasonp = r;
    return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                           "relay '%s' may not re-share this TLP:%s message "
                           "at TLP:%s: %s",
                           relay ? relay->id : "?",
                           msg ? tlp_upper(msg->tlp) : "?",
                           tlp_upper(relay_tlp), cishare_reason_text(r));
}

size_t cishare_policy_members(const cishare_directory_t *dir,
                              const cishare_policy_msg_t *msg, int64_t now_ms,
                              const cishare_participant_t **out,
                              size_t out_size)
{
    size_t i, n = 0, cnt = cishare_directory_participant_cnt(dir);

    for (i = 0; i < cnt; i++) {
        const cishare_participant_t *p = cishare_directory_participant(dir, i);
        if (cishare_policy_decide(dir, msg, p, now_ms).deliver) {
            if (n < out_size)
                out[n] = p;
            n++;
        }
    }
    return n;
}

/* ---------------------------------------------------------------------
 * Publish rules (P1-P8 in policy.h)
 * ------------------------------------------------------------------ */

static cishare_err_t refuse(cishare_reason_t reason, cishare_reason_t *reasonp,
                            char *errstr, size_t errstr_size, const char *fmt,
                            ...) __attribute__((format(printf, 5, 6)));

static cishare_err_t refuse(cishare_reason_t reason, cishare_reason_t *reasonp,
                            char *errstr, size_t errstr_size, const char *fmt,
                            ...)
{
    va_list ap;

    if (reasonp)
        *reasonp = reason;
    if (errstr && errstr_size) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return reason == CISHARE_REASON_INVALID ? CISHARE_ERR_INVALID_ARG
                                            : CISHARE_ERR_POLICY;
}

/* P2: may ministry m name item it in an alert? */
static bool ministry_alert_item_ok(const cishare_directory_t *dir,
                                   const cishare_participant_t *m,
                                   const cishare_aud_item_t *it)
{
    const cishare_participant_t *p;

    switch (it->kind) {
    case CISHARE_AUD_SECTOR:
        return cishare_participant_in_sector(m, it->value);
    case CISHARE_AUD_PARTICIPANT:
        p = cishare_directory_find(dir, it->value);
        return p && (p->role == CISHARE_ROLE_COORDINATION_OFFICE ||
                     cishare_policy_is_client(m, p) || p == m);
    default:
        return false;
    }
}

/* P3: may operator o name item it at AMBER or stricter? */
static bool operator_amber_item_ok(const cishare_directory_t *dir,
                                   const cishare_participant_t *o,
                                   const cishare_aud_item_t *it)
{
    const cishare_participant_t *p;
    size_t i;

    switch (it->kind) {
    case CISHARE_AUD_SECTOR: /* checked for every label */
    case CISHARE_AUD_ALL:    /* P4 */
        return true;
    case CISHARE_AUD_ROLE:
        return false;
    case CISHARE_AUD_PARTICIPANT:
        p = cishare_directory_find(dir, it->value);
        if (!p) /* names nobody: matches no one */
            return true;
        if (p == o || p->role == CISHARE_ROLE_COORDINATION_OFFICE ||
            p->role == CISHARE_ROLE_SECURITY_ORG)
            return true;
        for (i = 0; i < p->sector_cnt; i++)
            if (cishare_participant_in_sector(o, p->sectors[i]))
                return true;
        return false;
    }
    return false;
}

/* P8: is the audience one participant item naming an anonymiser of o? */
static bool anonymiser_audience_ok(const cishare_directory_t *dir,
                                   const cishare_participant_t *o,
                                   const cishare_audience_t *aud)
{
    const cishare_participant_t *p;
    size_t i;

    if (aud->cnt != 1 || aud->items[0].kind != CISHARE_AUD_PARTICIPANT ||
        !(p = cishare_directory_find(dir, aud->items[0].value)))
        return false;
    switch (p->role) {
    case CISHARE_ROLE_COORDINATION_OFFICE:
        return true;
    case CISHARE_ROLE_CEPTOAR:
        return o->ceptoar && !strcmp(o->ceptoar, p->id);
    case CISHARE_ROLE_MINISTRY:
        for (i = 0; i < o->sector_cnt; i++)
            if (cishare_participant_in_sector(p, o->sectors[i]))
                return true;
        return false;
    default:
        return false;
    }
}

/* P7: NULL when the notice reaches every competent ministry (one at
 * least) and the coordination office, else the participant it misses
 * (or the origin itself when the sector has no ministry). */
static const cishare_participant_t *
mandatory_missing(const cishare_directory_t *dir,
                  const cishare_publish_msg_t *msg)
{
    cishare_policy_msg_t pm;
    size_t i, n = cishare_directory_participant_cnt(dir), ministries = 0;

    pm.tlp = msg->tlp;
    pm.origin = msg->origin->id;
    pm.audience = msg->audience;
    pm.expires_ms = 0; /* reachability, not expiry */
    pm.consent = CISHARE_CONSENT_NA;
    pm.sighting_of = NULL;
    for (i = 0; i < n; i++) {
        const cishare_participant_t *p = cishare_directory_participant(dir, i);
        bool needed = p->role == CISHARE_ROLE_COORDINATION_OFFICE ||
                      (p->role == CISHARE_ROLE_MINISTRY &&
                       cishare_participant_in_sector(p, msg->sector));
        if (p->role == CISHARE_ROLE_MINISTRY && needed)
            ministries++;
        if (needed && !cishare_policy_decide(dir, &pm, p, 0).deliver)
            return p;
    }
    return ministries ? NULL : msg->origin;
}

cishare_err_t cishare_policy_check_publish(const cishare_directory_t *dir,
                                           const cishare_publish_msg_t *msg,
                                           cishare_reason_t *reasonp,
                                           char *errstr, size_t errstr_size)
{
    const cishare_participant_t *o, *miss;
    const cishare_aud_item_t *it;
    char item[96];
    size_t i;

    if (!dir || !msg || !msg->origin || !msg->audience || !msg->sector ||
        (unsigned)msg->tlp >= CISHARE_TLP__CNT)
        return refuse(CISHARE_REASON_INVALID, reasonp, errstr, errstr_size,
                      "publish rules: missing origin, audience or sector, or "
                      "a bad label");
    o = msg->origin;
    if (msg->type == CISHARE_MSG_ALERT && /* P1 */
        o->role != CISHARE_ROLE_COORDINATION_OFFICE &&
        o->role != CISHARE_ROLE_MINISTRY)
        return refuse(CISHARE_REASON_ALERT_NOT_ISSUER, reasonp, errstr,
                      errstr_size,
                      "%s is a%s %s: only the coordination office and "
                      "ministries issue alerts",
                      o->id, o->role == CISHARE_ROLE_OPERATOR ? "n" : "",
                      cishare_role_name(o->role));
    for (i = 0; msg->audience->items && i < msg->audience->cnt; i++) {
        it = &msg->audience->items[i];
        item_text(it, item, sizeof(item));
        if (msg->type == CISHARE_MSG_ALERT && /* P2 */
            o->role == CISHARE_ROLE_MINISTRY &&
            !ministry_alert_item_ok(dir, o, it)) {
            if (it->kind == CISHARE_AUD_SECTOR)
                return refuse(CISHARE_REASON_ALERT_OUTSIDE_COMPETENCE, reasonp,
                              errstr, errstr_size,
                              "ministry %s is not competent for sector '%s'",
                              o->id, it->value);
            return refuse(CISHARE_REASON_ALERT_OUTSIDE_COMPETENCE, reasonp,
                          errstr, errstr_size,
                          "ministry %s alerts only the sectors it is "
                          "competent for; the audience names %s",
                          o->id, item);
        }
        if (o->role == CISHARE_ROLE_OPERATOR && /* P3 */
            it->kind == CISHARE_AUD_SECTOR &&
            !cishare_participant_in_sector(o, it->value))
            return refuse(CISHARE_REASON_OUTSIDE_OWN_SECTORS, reasonp, errstr,
                          errstr_size,
                          "operator %s may publish only in its own sectors; "
                          "the audience names sector:%s",
                          o->id, it->value);
        if (o->role == CISHARE_ROLE_OPERATOR && /* P3, need to know */
            msg->tlp >= CISHARE_TLP_AMBER &&
            !operator_amber_item_ok(dir, o, it) &&
            !((msg->type == CISHARE_MSG_SIGHTING ||
               msg->type == CISHARE_MSG_RECEIPT) &&
              msg->sighting_of && it->kind == CISHARE_AUD_PARTICIPANT &&
              !strcmp(it->value, msg->sighting_of)))
            return refuse(
                CISHARE_REASON_OUTSIDE_OWN_SECTORS, reasonp, errstr,
                errstr_size,
                it->kind == CISHARE_AUD_ROLE
                    ? "operator %s may not address TLP:%s to a role (%s "
                      "spans every sector): name sector:<its sector> or "
                      "participant:<id> items"
                    : "operator %s may not send TLP:%s to %s, outside its "
                      "sectors: cross-sector TLP:AMBER goes through its "
                      "CEPTOAR or the coordination office",
                o->id, tlp_upper(msg->tlp), item);
        if (msg->tlp >= CISHARE_TLP_AMBER && /* P4 */
            it->kind == CISHARE_AUD_ALL &&
            o->role != CISHARE_ROLE_COORDINATION_OFFICE)
            return refuse(CISHARE_REASON_AMBER_ALL_NOT_OFFICE, reasonp, errstr,
                          errstr_size,
                          "TLP:%s to all comes only from the coordination "
                          "office, not from %s",
                          tlp_upper(msg->tlp), o->id);
        if (msg->tlp == CISHARE_TLP_RED && /* P5 */
            it->kind != CISHARE_AUD_PARTICIPANT)
            return refuse(CISHARE_REASON_RED_AUDIENCE_NOT_NAMED, reasonp,
                          errstr, errstr_size,
                          "TLP:RED is for named recipients only: audience "
                          "item '%s' is refused",
                          item);
    }
    if (o->sector_cnt ? !cishare_participant_in_sector(o, msg->sector) /* P6 */
                      : msg->sector[0] != '\0')
        return refuse(CISHARE_REASON_SECTOR_HEADER, reasonp, errstr,
                      errstr_size,
                      "the sector header '%.64s' is not a sector of %s",
                      msg->sector, o->id);
    if (msg->type == CISHARE_MSG_INCIDENT && msg->mandatory == 1 && /* P7 */
        msg->tlp < CISHARE_TLP_AMBER)
        return refuse(CISHARE_REASON_MANDATORY_LABEL, reasonp, errstr,
                      errstr_size,
                      "a mandatory incident notice must be TLP:AMBER or "
                      "stricter (it is a report to the authorities); "
                      "it is TLP:%s",
                      tlp_upper(msg->tlp));
    if (msg->type == CISHARE_MSG_INCIDENT && msg->mandatory == 1 && /* P7 */
        o->core_infrastructure && (miss = mandatory_missing(dir, msg))) {
        if (miss == o)
            return refuse(CISHARE_REASON_MANDATORY_NOT_ADDRESSED, reasonp,
                          errstr, errstr_size,
                          "a mandatory incident notice must go to the "
                          "competent ministry, but the directory has no "
                          "ministry for sector %s",
                          msg->sector);
        return refuse(CISHARE_REASON_MANDATORY_NOT_ADDRESSED, reasonp, errstr,
                      errstr_size,
                      "a mandatory incident notice from core-infrastructure "
                      "operator %s must be addressed to its competent "
                      "ministry and to the coordination office: add "
                      "participant:%s to the audience",
                      o->id, miss->id);
    }
    if (msg->anonymise == 1 && /* P8 */
        !anonymiser_audience_ok(dir, o, msg->audience)) {
        char aud[256], ceptoar[CISHARE_ID_MAX_LEN + 32] = "";

        cishare_audience_format(msg->audience, aud, sizeof(aud));
        if (o->ceptoar)
            snprintf(ceptoar, sizeof(ceptoar), "participant:%s (its CEPTOAR), ",
                     o->ceptoar);
        return refuse(CISHARE_REASON_ANONYMISE_AUDIENCE, reasonp, errstr,
                      errstr_size,
                      "%s asks for anonymisation (anonymise: true), so the "
                      "report goes only to the one participant that "
                      "anonymises it: %sa ministry of its sector, or the "
                      "coordination office; the audience is '%s'",
                      o->id, ceptoar, aud);
    }
    return CISHARE_OK;
}
