/*
 * cishare - the TLP policy engine: who receives a message directly, and
 * whom a relay may pass it on to. Used by publish (audiences, encryption
 * recipients), the feed (per-message filter), relays, demo and provision.
 *
 * THE RULES (contract, ARCHITECTURE.md "Audience and sharing rules")
 * ------------------------------------------------------------------
 * Audience items: `all`, `sector:<code>`, `role:<role>`, `participant:<id>`.
 * Defaults when the audience is omitted (resolve only):
 *   CLEAR, GREEN          -> `all`
 *   AMBER, AMBER+STRICT   -> `sector:<origin's first sector>`; an origin
 *                            without sectors is an error ("no default
 *                            audience")
 *   RED                   -> no default: explicit `participant:` items are
 *                            required; `all`, `sector:`, `role:` are refused
 *
 * A participant P MATCHES an item when: the item is `all`; or
 * `sector:<c>` and P lists sector c; or `role:<r>` and P's role is r; or
 * `participant:<id>` and P's id is id. This holds for every label except
 * RED (our reading of rules 4 and 5: `all` matches every participant of the
 * directory at CLEAR, GREEN, AMBER and AMBER+STRICT alike).
 *
 * Direct delivery of message M to participant P, first rule that applies:
 *   1. unverifiable M: never delivered. That is the caller's job (verify
 *      the signature, origin and key before calling); decide() is given a
 *      verified message.
 *   2. M expired (expires_ms != 0 and now_ms >= expires_ms): withheld,
 *      even for the origin.
 *   3. P is M's origin: delivered ("origin always receives its own").
 *   4. CLEAR, GREEN: delivered if P matches an item of the audience.
 *   5. AMBER, AMBER+STRICT: delivered if P matches an item (its id, one of
 *      its sectors, its role; or `all`).
 *   6. RED: delivered only if P is named by a `participant:` item; any
 *      other item in a RED audience is ignored (fail closed).
 *
 * Re-sharing of M by relay R at label L (L = the relayed copy's label) to
 * participant P, first rule that applies:
 *   a. M expired: withheld.
 *   b. M is AMBER+STRICT or RED: never re-shared (refused).
 *   c. L looser than M's label: refused ("relay may not loosen the label").
 *   d. R did not receive M directly (decide(M, R) withholds): refused.
 *      Re-sharing is of what R holds, never of what it merely saw routed.
 *   e. P is R: delivered (R holds the message already).
 *   f. P is M's origin: delivered (the origin always receives its own; the
 *      relayed copy keeps the original signature, so it is the origin's
 *      own message).
 *   g. L is CLEAR or GREEN: delivered (re-published to the community:
 *      every participant of the directory).
 *   h. L is AMBER or stricter (an AMBER message, or a CLEAR/GREEN one that
 *      R tightened): delivered only to R's clients:
 *        ceptoar              -> operators whose `ceptoar` is R, and the
 *                                CEPTOAR council (cross-sector exchange)
 *        ceptoar-council      -> every CEPTOAR, of every sector
 *        ministry             -> participants having one of R's sectors
 *        coordination-office  -> every participant
 *        any other role       -> no clients
 *   i. consent forwarding: R is a ministry competent for one of the
 *      origin's sectors, P is the coordination office, and M is an incident
 *      notice that gives consent (consent_forward true): delivered ("a
 *      ministry forwards an operator's report to the NCO", at any label
 *      rules a-c allow).
 *   j. feedback to the originator: M is a sighting (or false-positive
 *      report) and P is the originator it names (payload
 *      sighting_of_origin, cishare_policy_msg_t.sighting_of): delivered
 *      ("any participant --(sighting / false-positive feedback)-->
 *      originator", wherever the originator sits: a CEPTOAR passes its
 *      member's anonymised sighting to an originator of any sector or
 *      none, at any label rules a-c allow). Otherwise withheld
 *      ("not-relay-client").
 *
 * Consent to forward (incident notices only; payload field
 * consent_forward, default false). Checked with rule b, before any other
 * re-sharing rule: an incident notice whose consent is not known to be
 * given (consent_forward false, or the payload not decoded: fail closed)
 * is never re-shared by any relay, to anyone ("no-consent-forward"). The
 * caller states consent in cishare_policy_msg_t.consent; other message
 * types leave it CISHARE_CONSENT_NA and only the TLP rules apply.
 *
 * Publish rules, on the message as its origin signed it (label, audience,
 * type, sector header), first rule that applies. `cishare publish` and
 * `cishare alert` refuse a message that breaks one; every feed withholds
 * it again (cishare_message_decide), because a participant with its own
 * producer can write a message to any inbox:
 *   P1. alerts come from the coordination office and ministries only;
 *   P2. a ministry alerts only sectors it is competent for: every item is
 *       `sector:<one of its sectors>` or `participant:<a participant of
 *       one of its sectors, or the coordination office>` (no `all`, no
 *       `role:`);
 *   P3. an operator publishes only in its own sectors: every `sector:`
 *       item is one of its sectors; and at AMBER and stricter (need to
 *       know) an operator names no `role:` item (a role spans every
 *       sector: `role:operator,role:ministry,...` is `all` in disguise),
 *       and its `participant:` items name only participants that share
 *       one of its sectors (its peers, its CEPTOAR, its ministry), the
 *       coordination office, or a security organisation (JPCERT/CC and
 *       the like, which handle incident reports and have no sector).
 *       An operator of another sector, a ministry or CEPTOAR of another
 *       sector, and the CEPTOAR council are refused: cross-sector AMBER
 *       goes through the operator's CEPTOAR or the coordination office.
 *       At CLEAR and GREEN (the community) any item but those of P4/P5
 *       is fine;
 *   P4. AMBER and stricter to `all` comes from the coordination office
 *       only (its topics cishare.amber*.all are the office's to write);
 *   P5. RED audiences are `participant:` items only;
 *   P6. the sector header is one of the origin's sectors ("" for an
 *       origin without sectors; publishing writes its first sector);
 *   P7. a mandatory incident notice (type incident, payload legal_basis
 *       "mandatory") from a core-infrastructure operator reaches every
 *       competent ministry (the ministries of the sector header; there
 *       must be one) and the coordination office; and any mandatory
 *       notice, from whatever origin, is TLP:AMBER or stricter (a
 *       report to the authorities is never public). Judged only when
 *       the payload is known (it may be encrypted).
 *   P8. a report that asks for anonymisation (payload anonymise true:
 *       incident notices, indicators and sightings) goes only to the
 * participant that will anonymise it: the audience is exactly one
 *       `participant:` item naming the origin's CEPTOAR, a ministry
 *       competent for one of the origin's sectors, or the coordination
 *       office. Anything wider would carry the origin's identity past
 *       the anonymiser. Judged only when the payload is known.
 * Re-sharing is governed by rules a-j, not by P1-P8: a relayed copy is
 * judged on its origin's original.
 *
 * Reasons: every decision carries a reason code (stable, for logs and
 * scripts: cishare_reason_code()) and a fixed English text.
 *
 * Performance: cishare_policy_decide() and _decide_reshare() allocate
 * nothing and take no locks; they are safe to call from any thread on a
 * shared directory and audience.
 */
#ifndef CISHARE_POLICY_H
#define CISHARE_POLICY_H

#include "cishare/directory.h"
#include "cishare/err.h"
#include "cishare/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Bound on audience items (header text is untrusted input). */
#define CISHARE_AUDIENCE_MAX_ITEMS 256
/** Kafka header that carries the canonical audience text. */
#define CISHARE_AUDIENCE_HEADER "cishare.audience"

typedef enum {
    CISHARE_AUD_ALL = 0,
    CISHARE_AUD_SECTOR,
    CISHARE_AUD_ROLE,
    CISHARE_AUD_PARTICIPANT
} cishare_aud_kind_t;

typedef struct cishare_aud_item_s {
    cishare_aud_kind_t kind;
    char value[CISHARE_ID_MAX_LEN + 1]; /**< "" for CISHARE_AUD_ALL */
} cishare_aud_item_t;

/** A parsed audience; items are sorted and unique. Owns `items`. */
typedef struct cishare_audience_s {
    cishare_aud_item_t *items;
    size_t cnt;
} cishare_audience_t;

/**
 * Publisher side: parse an audience written by a user, apply the default
 * for `tlp` and `origin` when `text` is NULL or empty, check every item
 * against the directory (unknown sector, role or participant is an error)
 * and apply the RED rules. On success `aud` holds sorted, deduplicated
 * items; the caller frees them with cishare_audience_clear(). On failure
 * `aud` is empty and errstr says why.
 *
 * @returns CISHARE_OK, CISHARE_ERR_VALIDATION (bad item, unknown name),
 *          CISHARE_ERR_POLICY (RED with non-participant items, RED without
 *          items, no default audience), CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_audience_resolve(const cishare_directory_t *dir,
                                       cishare_tlp_t tlp,
                                       const cishare_participant_t *origin,
                                       const char *text,
                                       cishare_audience_t *aud, char *errstr,
                                       size_t errstr_size);

/**
 * Receiver side: parse the canonical header text (syntax only, no
 * defaults, no directory look-ups: a name unknown to this directory simply
 * matches nobody). At most CISHARE_AUDIENCE_MAX_ITEMS items. The caller
 * frees `aud` with cishare_audience_clear().
 */
cishare_err_t cishare_audience_parse(const char *text, cishare_audience_t *aud,
                                     char *errstr, size_t errstr_size);

/** Free the items; `aud` becomes empty. NULL is a no-op. */
void cishare_audience_clear(cishare_audience_t *aud);

/**
 * Canonical text: items sorted and comma-joined ("all",
 * "participant:nco", "sector:gas"). Writes at most `size` bytes including
 * the NUL (snprintf semantics); returns the length the full text needs.
 */
size_t cishare_audience_format(const cishare_audience_t *aud, char *buf,
                               size_t size);

/** True if p matches one item of aud (see MATCHES above; no TLP rules). */
bool cishare_audience_matches(const cishare_audience_t *aud,
                              const cishare_participant_t *p);

typedef enum {
    /* delivered */
    CISHARE_REASON_DELIVER_AUDIENCE = 0, /**< matches an audience item */
    CISHARE_REASON_DELIVER_NAMED,        /**< named by a RED audience */
    CISHARE_REASON_DELIVER_OWN,          /**< origin receives its own */
    CISHARE_REASON_DELIVER_COMMUNITY,    /**< relay: CLEAR/GREEN to all */
    CISHARE_REASON_DELIVER_CLIENT,       /**< relay: AMBER to a client */
    CISHARE_REASON_DELIVER_RELAY_SELF,   /**< relay holds it already */
    CISHARE_REASON_DELIVER_CONSENT,      /**< relay: rule i (ministry->NCO) */
    CISHARE_REASON_DELIVER_FEEDBACK, /**< relay: rule j (sighting->originator)
                                      */
    /* withheld */
    CISHARE_REASON_NOT_IN_AUDIENCE,
    CISHARE_REASON_RED_NOT_NAMED,
    CISHARE_REASON_EXPIRED,
    CISHARE_REASON_NEVER_RESHARED,
    CISHARE_REASON_NOT_RELAY_CLIENT,
    CISHARE_REASON_LOOSENED,
    CISHARE_REASON_RELAY_NOT_RECIPIENT,
    CISHARE_REASON_UNKNOWN_PARTICIPANT, /**< NULL participant or relay */
    CISHARE_REASON_INVALID,             /**< bad label or missing message */
    CISHARE_REASON_NO_CONSENT_FORWARD,  /**< relay: no consent to forward */
    /* withheld: the origin broke a publish rule (P1-P8 above) */
    CISHARE_REASON_ALERT_NOT_ISSUER,         /**< P1 */
    CISHARE_REASON_ALERT_OUTSIDE_COMPETENCE, /**< P2 */
    CISHARE_REASON_OUTSIDE_OWN_SECTORS,      /**< P3 */
    CISHARE_REASON_AMBER_ALL_NOT_OFFICE,     /**< P4 */
    CISHARE_REASON_RED_AUDIENCE_NOT_NAMED,   /**< P5 */
    CISHARE_REASON_SECTOR_HEADER,            /**< P6 */
    CISHARE_REASON_MANDATORY_NOT_ADDRESSED,  /**< P7 */
    CISHARE_REASON_ANONYMISE_AUDIENCE,       /**< P8 */
    CISHARE_REASON_MANDATORY_LABEL,          /**< P7, the label */
    CISHARE_REASON__CNT
} cishare_reason_t;

typedef struct cishare_decision_s {
    bool deliver;
    cishare_reason_t reason;
    const char *text; /**< static, never NULL */
} cishare_decision_t;

/** Consent to forward, as the re-sharing rules see it (rules b, i). */
typedef enum {
    CISHARE_CONSENT_NA = 0,  /**< not an incident notice: TLP rules only */
    CISHARE_CONSENT_UNKNOWN, /**< incident notice, payload not decoded */
    CISHARE_CONSENT_NO,      /**< incident notice, consent_forward false */
    CISHARE_CONSENT_YES      /**< incident notice, consent_forward true */
} cishare_consent_t;

/** What the policy needs to know of a (verified) message. Borrowed.
 *  Zero-initialise it: a field added later keeps its neutral value. */
typedef struct cishare_policy_msg_s {
    cishare_tlp_t tlp;
    const char *origin;                 /**< origin participant id */
    const cishare_audience_t *audience; /**< resolved or parsed */
    int64_t expires_ms;                 /**< 0: never expires */
    /** Re-sharing only (rules b and i): set it for incident notices
     *  (cishare_message_policy_msg() does); direct delivery ignores it. */
    cishare_consent_t consent;
    /** Re-sharing only (rule j): for a sighting, the originator it names
     *  (payload sighting_of_origin; cishare_message_policy_msg() sets it
     *  when the payload is decoded); NULL otherwise. */
    const char *sighting_of;
} cishare_policy_msg_t;

/** Direct delivery of msg to p at now_ms (rules 1-6). No allocation. */
cishare_decision_t cishare_policy_decide(const cishare_directory_t *dir,
                                         const cishare_policy_msg_t *msg,
                                         const cishare_participant_t *p,
                                         int64_t now_ms);

/**
 * Whether p receives msg when `relay` re-shares it at `relay_tlp`
 * (rules a-j). No allocation.
 */
cishare_decision_t cishare_policy_decide_reshare(
    const cishare_directory_t *dir, const cishare_policy_msg_t *msg,
    const cishare_participant_t *relay, cishare_tlp_t relay_tlp,
    const cishare_participant_t *p, int64_t now_ms);

/**
 * Relay side, before re-publishing at all: CISHARE_OK if `relay` may
 * re-share msg at relay_tlp (rules a-d), else CISHARE_ERR_POLICY with the
 * reason in errstr (and in *reasonp when not NULL).
 */
cishare_err_t cishare_policy_check_reshare(
    const cishare_directory_t *dir, const cishare_policy_msg_t *msg,
    const cishare_participant_t *relay, cishare_tlp_t relay_tlp, int64_t now_ms,
    cishare_reason_t *reasonp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** What the publish rules need of a message, as its origin signed it.
 *  Borrowed. */
typedef struct cishare_publish_msg_s {
    cishare_msgtype_t type;
    cishare_tlp_t tlp;
    const cishare_participant_t *origin;
    const cishare_audience_t *audience;
    const char *sector; /**< the sector header */
    /** 1: an incident whose payload says legal_basis "mandatory"; 0: not;
     *  -1: not known (payload not decoded): P7 is not judged */
    int mandatory;
    /** 1: the payload says anonymise true; 0: not (or a type without the
     *  field); -1: not known (payload not decoded): P8 is not judged */
    int anonymise;
    /** A sighting's sighted originator (payload sighting_of_origin), or
     *  a receipt's acknowledged origin (receipt_of_origin), or NULL
     *  (another type, not named, or not decoded). An operator may send a
     *  sighting or a receipt at AMBER to exactly that participant, in
     *  whatever sector (P3): feedback goes back to the originator. */
    const char *sighting_of;
} cishare_publish_msg_t;

/**
 * The publish rules P1-P8: CISHARE_OK when msg keeps them, else
 * CISHARE_ERR_POLICY with the rule's reason in *reasonp (when not NULL)
 * and the problem in plain words in errstr (CISHARE_ERR_INVALID_ARG, reason
 * CISHARE_REASON_INVALID, for a missing origin or audience or a bad
 * label). The one implementation used by the publisher, `cishare alert`
 * and the feed's decision. No allocation.
 */
cishare_err_t cishare_policy_check_publish(const cishare_directory_t *dir,
                                           const cishare_publish_msg_t *msg,
                                           cishare_reason_t *reasonp,
                                           char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** True if p is a client of relay (rule h; rule i needs the message and
 *  is not a client relation). */
bool cishare_policy_is_client(const cishare_participant_t *relay,
                              const cishare_participant_t *p);

/**
 * The members of msg: every participant of dir that direct delivery
 * reaches at now_ms (used to pick encryption recipients). Writes up to
 * out_size pointers (owned by dir) into out, in directory order; returns
 * the total count (may exceed out_size: call again with a bigger array).
 */
size_t cishare_policy_members(const cishare_directory_t *dir,
                              const cishare_policy_msg_t *msg, int64_t now_ms,
                              const cishare_participant_t **out,
                              size_t out_size);

/** Stable short code, e.g. "not-in-audience". Never NULL. */
const char *cishare_reason_code(cishare_reason_t reason);
/** Fixed English text, e.g. "audience does not include participant". */
const char *cishare_reason_text(cishare_reason_t reason);

#endif
