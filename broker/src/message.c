/*
 * cishare - message build (JSON -> signed Kafka message) and open
 * (Kafka message -> verified envelope + payload). See message.h.
 */
#include "cishare/message.h"
#include "cishare/routing.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The envelope is the first member of both: zeroed apart (see below). */
_Static_assert(offsetof(cishare_msg_out_t, env) == 0, "env first");
_Static_assert(offsetof(cishare_msg_in_t, env) == 0, "env first");

/* ------------------------------------------------------------------ */
/* build                                                                */
/* ------------------------------------------------------------------ */

void cishare_msg_out_clear(cishare_msg_out_t *out)
{
    if (!out)
        return;
    free(out->key);
    free(out->value);
    cishare_audience_clear(&out->audience);
    for (size_t i = 0; i < out->topic_cnt; i++)
        free(out->topics[i].value);
    free(out->topics);
    cishare_msg_out_init(out);
}

void cishare_msg_out_init(cishare_msg_out_t *out)
{
    /* env is the first member; its relay hop slots (21 of its 27 KB) are
     * not read past relay_cnt: zeroing all of it was a memset of 27 KB
     * twice per receipt the feed sends */
    cishare_envelope_init(&out->env);
    memset((char *)out + sizeof(out->env), 0, sizeof(*out) - sizeof(out->env));
}

static const char *const top_keys[] = {"type", "tlp", "audience", "expires",
                                       "payload"};

/* msg.audience (array of strings, or one string) -> "a,b" text, malloc()ed.
 * NULL with *errp set on error; NULL with *errp OK when absent. */
static char *audience_text(const json_t *a, cishare_err_t *errp, char *errstr,
                           size_t errstr_size)
{
    size_t i, len = 0;
    char *buf;
    json_t *it;

    *errp = CISHARE_OK;
    if (!a || json_is_null(a))
        return NULL;
    if (json_is_string(a))
        return strdup(json_string_value(a));
    if (!json_is_array(a) || json_array_size(a) > CISHARE_AUDIENCE_MAX_ITEMS) {
        *errp = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                "message.audience: expected an array of at "
                                "most %d strings",
                                CISHARE_AUDIENCE_MAX_ITEMS);
        return NULL;
    }
    json_array_foreach(a, i, it)
    {
        if (!json_is_string(it) || strchr(json_string_value(it), ',')) {
            *errp = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                    "message.audience[%zu]: expected an "
                                    "item string such as \"sector:gas\"",
                                    i);
            return NULL;
        }
        len += json_string_length(it) + 1;
    }
    if (!(buf = calloc(1, len + 1))) {
        *errp = CISHARE_ERR_NOMEM;
        return NULL;
    }
    json_array_foreach(a, i, it)
    {
        if (i)
            strcat(buf, ",");
        strcat(buf, json_string_value(it));
    }
    return buf;
}

/* Encryption recipients: every member direct delivery reaches, plus the
 * origin. malloc()ed array of X25519 keys in *pksp, and of the same
 * participants in *memp. */
static cishare_err_t recipients(const cishare_directory_t *dir,
                                const cishare_policy_msg_t *pm,
                                const cishare_participant_t *origin,
                                int64_t now_ms, uint8_t (**pksp)[32],
                                const cishare_participant_t ***memp, size_t *np,
                                char *errstr, size_t errstr_size)
{
    size_t cnt = cishare_directory_participant_cnt(dir), n, i, k = 0;
    const cishare_participant_t **mem;
    uint8_t(*pks)[32];
    bool have_origin = false;

    mem = calloc(cnt + 1, sizeof(*mem));
    pks = calloc(cnt + 1, sizeof(*pks));
    if (!mem || !pks) {
        free(mem);
        free(pks);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    n = cishare_policy_members(dir, pm, now_ms, mem, cnt);
    if (n > cnt)
        n = cnt; /* cannot happen: members are directory participants */
    for (i = 0; i < n; i++) {
        memcpy(pks[k++], mem[i]->x25519_pk, 32);
        if (mem[i] == origin)
            have_origin = true;
    }
    if (!have_origin) {
        mem[k] = origin;
        memcpy(pks[k++], origin->x25519_pk, 32);
    }
    if (k > CISHARE_SEAL_MAX_RECIPIENTS) {
        free(mem);
        free(pks);
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "audience reaches %zu participants; at most "
                               "%d can receive an encrypted message",
                               k, CISHARE_SEAL_MAX_RECIPIENTS);
    }
    *pksp = pks;
    *memp = mem;
    *np = k;
    return CISHARE_OK;
}

/* topic == pfx (plen bytes) followed by name; compared, not formatted
 * (topics.h names: once per recipient and topic of every message). */
static bool topic_is(const char *topic, const char *pfx, size_t plen,
                     const char *name)
{
    return !strncmp(topic, pfx, plen) && !strcmp(topic + plen, name);
}

/* True when p's feed reads topic of a message at label tlp, as
 * cishare_routing_feed_topics() subscribes: p's inbox, and the .all and
 * p's sectors' topics of the label (spfx "cishare.<tlp>.", "" for RED). */
static bool recipient_reads(const cishare_participant_t *p, const char *topic,
                            const char *spfx, size_t slen)
{
    size_t i;

    if (topic_is(topic, CISHARE_TOPIC_INBOX, sizeof(CISHARE_TOPIC_INBOX) - 1,
                 p->id))
        return true;
    if (!slen || strncmp(topic, spfx, slen))
        return false;
    if (!strcmp(topic + slen, CISHARE_TOPIC_ALL))
        return true;
    for (i = 0; i < p->sector_cnt; i++)
        if (!strcmp(topic + slen, p->sectors[i]))
            return true;
    return false;
}

/* out->topics: one copy of the message per topic it routes to, sealed
 * (under the sealer's epoch of that recipient subset) to the recipients
 * whose feed reads the topic: their sectors' and .all topics at the
 * label, and their inbox, as cishare_routing_feed_topics() subscribes.
 * A record then carries its own readers' key wraps only, and a reader
 * that joins or leaves one topic's subset starts a new epoch of that
 * subset. */
static cishare_err_t
seal_topics(const cishare_directory_t *dir, const cishare_participant_t *origin,
            cishare_sealer_t *sealer, int64_t now_ms,
            const cishare_participant_t *const *mem, const uint8_t (*pks)[32],
            size_t npk, const uint8_t *plain, size_t plain_len,
            const uint8_t *ad, size_t adlen, cishare_msg_out_t *out,
            char *errstr, size_t errstr_size)
{
    cishare_strlist_t topics = {0};
    char spfx[48] = "";
    uint8_t(*sub)[32] = NULL;
    size_t j, r, cnt, slen = 0, tlen;
    cishare_err_t err;

    if ((err = cishare_routing_topics(dir, origin, out->env.tlp, &out->audience,
                                      &topics, errstr, errstr_size)))
        return err;
    if (!(sub = malloc((npk + 1) * sizeof(*sub))) ||
        !(out->topics = calloc(topics.cnt, sizeof(*out->topics)))) {
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
        goto done;
    }
    if (out->env.tlp != CISHARE_TLP_RED)
        slen = (size_t)snprintf(spfx, sizeof(spfx), "cishare.%s.",
                                cishare_tlp_topic_name(out->env.tlp));
    /* every topic read by every recipient (one topic, say): out->value
     * is each copy already */
    for (j = 0; j < topics.cnt; j++) {
        for (r = 0;
             r < npk && recipient_reads(mem[r], topics.items[j], spfx, slen);
             r++)
            ;
        if (r < npk)
            break;
    }
    if (j == topics.cnt) {
        free(out->topics);
        out->topics = NULL;
        goto done;
    }
    for (j = 0; j < topics.cnt; j++) {
        cishare_msg_topic_t *mt = &out->topics[j];

        for (cnt = r = 0; r < npk; r++)
            if (recipient_reads(mem[r], topics.items[j], spfx, slen))
                memcpy(sub[cnt++], pks[r], 32);
        if (!cnt) /* no recipient reads it (cannot happen): all of them */
            memcpy(sub, pks, (cnt = npk) * sizeof(*sub));
        out->topic_cnt = j + 1;
        if ((tlen = strlen(topics.items[j])) >= sizeof(mt->topic)) {
            err = cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                                  "topic name too long: %s", topics.items[j]);
            goto done;
        }
        memcpy(mt->topic, topics.items[j], tlen + 1);
        mt->recipient_cnt = cnt;
        if ((err = cishare_sealer_encrypt(sealer, now_ms, plain, plain_len,
                                          (const uint8_t(*)[32])sub, cnt, ad,
                                          adlen, &mt->value, &mt->value_len,
                                          errstr, errstr_size)))
            goto done;
    }
done:
    cishare_strlist_clear(&topics);
    free(sub);
    return err;
}

/* payload's member k, or extra's when payload's is missing or null */
static const json_t *payload_get(const json_t *payload, const json_t *extra,
                                 const char *k)
{
    const json_t *v = json_object_get(payload, k), *x;

    return (!v || json_is_null(v)) && (x = json_object_get(extra, k)) ? x : v;
}

/* cishare_envelope_derive_id() over a built payload: the version of the
 * types that have one is the "modified" time (canonical ms text, so
 * "...:00Z" and "...:00.000Z" are one version) and a digest of the encoded
 * payload, so that a changed record is never taken for a re-run of the
 * old one; "" for immutable records (sightings, revocations, receipts:
 * a re-sent one is the same message even with a new delivery time). */
static void message_derive_id(cishare_envelope_t *env, const char *origin,
                              const json_t *payload, const json_t *extra,
                              const char *key, size_t key_len,
                              const uint8_t *plain, size_t plain_len)
{
    char ver[32 + 1 + 33] = "";
    const char *mod = NULL;
    int64_t ms;

    if (env->type == CISHARE_MSG_INDICATOR ||
        env->type == CISHARE_MSG_INCIDENT || env->type == CISHARE_MSG_ALERT) {
        uint8_t h[16];
        char hex[33];
        size_t n;

        mod = json_string_value(payload_get(payload, extra, "modified"));
        if (mod && cishare_time_parse(mod, &ms))
            cishare_time_format(ms, ver);
        else
            snprintf(ver, 25, "%s", mod ? mod : "");
        crypto_generichash(h, sizeof(h), plain, plain_len, NULL, 0);
        sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
        n = strlen(ver);
        snprintf(ver + n, sizeof(ver) - n, "|%s", hex);
        mod = ver;
    }
    cishare_envelope_derive_id(
        env, origin, env->type, key, key_len,
        json_string_value(payload_get(payload, extra, "id")), mod, env->tlp,
        env->audience);
}

/* The envelope's origin, sector, schema and creation time */
static void env_origin(cishare_codec_t *codec,
                       const cishare_participant_t *origin, int64_t now_ms,
                       cishare_envelope_t *env)
{
    snprintf(env->origin, sizeof(env->origin), "%s", origin->id);
    snprintf(env->sector, sizeof(env->sector), "%s",
             origin->sector_cnt ? origin->sectors[0] : "");
    env->schema_fp = cishare_codec_fingerprint(codec, env->type);
    env->created_ms = now_ms;
}

/* The signing key must be a key of the origin that signs now (the
 * current one, or a previous one in its rotation overlap). */
static cishare_err_t key_check(const cishare_directory_t *dir,
                               const cishare_participant_t *origin,
                               const cishare_keypair_t *kp, int64_t now_ms,
                               char *errstr, size_t errstr_size)
{
    const cishare_signing_key_t *sk =
        cishare_directory_signing_key(dir, kp->key_id);
    char why[384];

    if (!sk || sk->owner != origin ||
        sodium_memcmp(kp->ed25519_pk, sk->ed25519_pk,
                      CISHARE_ED25519_PK_BYTES) != 0)
        return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                               "key %s is not the directory key of '%s' "
                               "(%s)",
                               kp->key_id, origin->id, origin->key_id);
    if (cishare_key_check(sk, now_ms, now_ms, why, sizeof(why)))
        return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                               "%s", why);
    return CISHARE_OK;
}

/* out->audience and the envelope's canonical audience text from the
 * text a user wrote (the label, out->env.tlp, is set) */
static cishare_err_t set_audience(const cishare_directory_t *dir,
                                  const cishare_participant_t *origin,
                                  const char *text, cishare_msg_out_t *out,
                                  char *errstr, size_t errstr_size)
{
    cishare_envelope_t *env = &out->env;
    cishare_err_t err;
    size_t n;

    if ((err = cishare_audience_resolve(dir, env->tlp, origin, text,
                                        &out->audience, errstr, errstr_size)))
        return err;
    n = cishare_audience_format(&out->audience, env->audience,
                                sizeof(env->audience));
    if (n >= sizeof(env->audience))
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "audience text is %zu bytes; at most %d fit "
                               "the envelope",
                               n, CISHARE_AUDIENCE_TEXT_LEN);
    return CISHARE_OK;
}

/* build; the signature last unless `sign` is false (then the caller
 * signs, see cishare_message_build_unsigned). */
static cishare_err_t
message_build(cishare_codec_t *codec, const cishare_directory_t *dir,
              const cishare_participant_t *origin, const cishare_keypair_t *kp,
              const json_t *msg, int tlp_override,
              const char *audience_override, int64_t now_ms,
              cishare_sealer_t *sealer, cishare_msg_out_t *out, bool sign,
              char *errstr, size_t errstr_size)
{
    cishare_envelope_t *env = &out->env;
    const json_t *payload = NULL, *v;
    json_t *extra = NULL;
    const char *k, *subject;
    char *aud_text = NULL;
    uint8_t *plain = NULL, (*pks)[32] = NULL;
    const cishare_participant_t **mem = NULL;
    size_t plain_len = 0, npk = 0, i, n;
    uint8_t ad[CISHARE_SEAL_AD_MAX];
    cishare_policy_msg_t pm;
    cishare_err_t err = CISHARE_OK;

    cishare_msg_out_init(out);
    if (!codec || !dir || !origin || !kp || !msg)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "message build: missing argument");
    if (!json_is_object(msg))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message: expected a JSON object");
    json_object_foreach((json_t *)msg, k, v)
    {
        for (i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++)
            if (!strcmp(k, top_keys[i]))
                break;
        if (i == sizeof(top_keys) / sizeof(top_keys[0]))
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "message.%s: unknown field (expected "
                                   "type, tlp, audience, expires, payload)",
                                   k);
    }
    if ((err = key_check(dir, origin, kp, now_ms, errstr, errstr_size)))
        return err;

    v = json_object_get(msg, "type");
    if (!json_is_string(v) ||
        !cishare_msgtype_parse(json_string_value(v), &env->type))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message.type: expected one of indicator, "
                               "incident, alert, sighting, revocation");
    if (tlp_override >= 0) {
        if (tlp_override >= CISHARE_TLP__CNT)
            return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                                   "bad TLP override");
        env->tlp = (cishare_tlp_t)tlp_override;
    } else if ((v = json_object_get(msg, "tlp")) && !json_is_null(v)) {
        if (!json_is_string(v) ||
            !cishare_tlp_parse(json_string_value(v), &env->tlp))
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "message.tlp: expected clear, green, "
                                   "amber, amber+strict or red");
    } else {
        env->tlp = CISHARE_TLP_GREEN;
    }
    if ((v = json_object_get(msg, "expires")) && !json_is_null(v)) {
        if (!json_is_string(v) ||
            !cishare_time_parse(json_string_value(v), &env->expires_ms) ||
            env->expires_ms <= 0)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "message.expires: expected an RFC 3339 "
                                   "UTC time");
        if (env->expires_ms <= now_ms)
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "message.expires: already in the past");
    }
    v = json_object_get(msg, "payload");
    if (!json_is_object(v))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message.payload: expected an object");
    /* Not copied: the defaults (id, created, modified) go in a small
     * object beside it (a shallow copy and its free were a fifth of the
     * build, a tenth of the signer thread's work) */
    payload = v;

    /* audience */
    if (audience_override)
        aud_text = strdup(audience_override);
    else
        aud_text = audience_text(json_object_get(msg, "audience"), &err, errstr,
                                 errstr_size);
    if (err)
        goto fail;
    if ((err = set_audience(dir, origin, aud_text, out, errstr, errstr_size)))
        goto fail;

    /* payload */
    if ((err = cishare_payload_defaults(env->type, payload, now_ms, &extra,
                                        errstr, errstr_size)))
        goto fail;
    if (!(subject = cishare_payload_subject(env->type, payload)) && extra)
        subject = cishare_payload_subject(env->type, extra);
    if (!subject || !*subject || strlen(subject) > CISHARE_SUBJECT_MAX_LEN) {
        err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                              "payload: subject id (%s) missing, empty or "
                              "longer than %d",
                              env->type == CISHARE_MSG_SIGHTING ? "sighting_of"
                              : env->type == CISHARE_MSG_REVOCATION ? "revokes"
                              : env->type == CISHARE_MSG_RECEIPT ? "receipt_of"
                                                                 : "id",
                              CISHARE_SUBJECT_MAX_LEN);
        goto fail;
    }
    if (!(out->key = strdup(subject))) {
        err = CISHARE_ERR_NOMEM;
        goto fail;
    }
    out->key_len = strlen(out->key);
    if ((err =
             cishare_codec_encode_with(codec, env->type, payload, extra, &plain,
                                       &plain_len, errstr, errstr_size)))
        goto fail;

    /* envelope: the id is derived from the record version, so a re-run of
     * the same input is a duplicate to every feed, not a second message */
    message_derive_id(env, origin->id, payload, extra, out->key, out->key_len,
                      plain, plain_len);
    env_origin(codec, origin, now_ms, env);

    if (cishare_tlp_encrypted(env->tlp)) {
        pm.tlp = env->tlp;
        pm.origin = origin->id;
        pm.audience = &out->audience;
        pm.expires_ms = env->expires_ms;
        if ((err = recipients(dir, &pm, origin, now_ms, &pks, &mem, &npk,
                              errstr, errstr_size)))
            goto fail;
        snprintf(env->enc, sizeof(env->enc), "%s", CISHARE_ENC_SEAL_V1);
        n = cishare_envelope_seal_ad(env, out->key, out->key_len, ad,
                                     sizeof(ad));
        /* v2 under the sealer's epoch of this recipient set (its own
         * one-value epoch without a sealer); v1 if the sealer says so */
        if ((err = cishare_sealer_encrypt(sealer, now_ms, plain, plain_len,
                                          (const uint8_t(*)[32])pks, npk, ad, n,
                                          &out->value, &out->value_len, errstr,
                                          errstr_size)))
            goto fail;
        out->recipient_cnt = npk;
        if (cishare_sealer_per_topic(sealer) &&
            (err = seal_topics(dir, origin, sealer, now_ms,
                               (const cishare_participant_t *const *)mem,
                               (const uint8_t(*)[32])pks, npk, plain, plain_len,
                               ad, n, out, errstr, errstr_size)))
            goto fail;
        sodium_memzero(plain, plain_len);
        free(plain);
        plain = NULL;
    } else {
        out->value = plain;
        out->value_len = plain_len;
        plain = NULL;
    }
    if (sign && (err = cishare_envelope_sign(
                     env, kp, NULL, out->key, out->key_len, out->value,
                     out->value_len, errstr, errstr_size)))
        goto fail;
    free(pks);
    free(mem);
    free(aud_text);
    json_decref(extra);
    return CISHARE_OK;

fail:
    if (plain) {
        sodium_memzero(plain, plain_len);
        free(plain);
    }
    free(pks);
    free(mem);
    free(aud_text);
    json_decref(extra);
    cishare_msg_out_clear(out);
    return err ? err : CISHARE_ERR_VALIDATION;
}

cishare_err_t cishare_message_build(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const json_t *msg, int tlp_override, const char *audience_override,
    int64_t now_ms, cishare_msg_out_t *out, char *errstr, size_t errstr_size)
{
    return message_build(codec, dir, origin, kp, msg, tlp_override,
                         audience_override, now_ms, NULL, out, true, errstr,
                         errstr_size);
}

cishare_err_t cishare_message_build_unsigned(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const json_t *msg, int tlp_override, const char *audience_override,
    int64_t now_ms, cishare_msg_out_t *out, char *errstr, size_t errstr_size)
{
    return message_build(codec, dir, origin, kp, msg, tlp_override,
                         audience_override, now_ms, NULL, out, false, errstr,
                         errstr_size);
}

cishare_err_t cishare_message_build_receipt(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const cishare_receipt_fields_t *r, int64_t now_ms, cishare_msg_out_t *out,
    char *errstr, size_t errstr_size)
{
    cishare_envelope_t *env = &out->env;
    char aud[CISHARE_ID_MAX_LEN + 16];
    size_t n;
    cishare_err_t err;

    cishare_msg_out_init(out);
    if (!codec || !dir || !origin || !kp || !r || !r->id || !r->of_id ||
        !r->of_origin || !r->of_subject)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "receipt build: missing argument");
    if ((err = key_check(dir, origin, kp, now_ms, errstr, errstr_size)))
        return err;
    n = strlen(r->of_id);
    if (!n || n > CISHARE_SUBJECT_MAX_LEN)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "payload: subject id (receipt_of) missing, "
                               "empty or longer than %d",
                               CISHARE_SUBJECT_MAX_LEN);
    env->type = CISHARE_MSG_RECEIPT;
    env->tlp = CISHARE_TLP_AMBER; /* P3: at AMBER to exactly the origin */
    snprintf(aud, sizeof(aud), "participant:%s", r->of_origin);
    if ((err = set_audience(dir, origin, aud, out, errstr, errstr_size)) ||
        (err = cishare_codec_encode_receipt(
             codec, r, &out->value, &out->value_len, errstr, errstr_size)))
        goto fail;
    if (!(out->key = strdup(r->of_id))) {
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "out of memory");
        goto fail;
    }
    out->key_len = n;
    /* as message_derive_id() for an immutable record */
    cishare_envelope_derive_id(env, origin->id, env->type, out->key,
                               out->key_len, r->id, NULL, env->tlp,
                               env->audience);
    env_origin(codec, origin, now_ms, env);
    return CISHARE_OK;
fail:
    cishare_msg_out_clear(out);
    return err;
}

cishare_err_t cishare_message_build_sealer(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const json_t *msg, int tlp_override, const char *audience_override,
    int64_t now_ms, cishare_sealer_t *sealer, cishare_msg_out_t *out,
    char *errstr, size_t errstr_size)
{
    return message_build(codec, dir, origin, kp, msg, tlp_override,
                         audience_override, now_ms, sealer, out, false, errstr,
                         errstr_size);
}

/* ------------------------------------------------------------------ */
/* open                                                                 */
/* ------------------------------------------------------------------ */

void cishare_msg_in_clear(cishare_msg_in_t *in)
{
    if (!in)
        return;
    json_decref(in->payload);
    cishare_audience_clear(&in->audience);
    memset(in, 0, sizeof(*in));
}

void cishare_msg_in_reset(cishare_msg_in_t *in)
{
    if (!in)
        return;
    json_decref(in->payload);
    cishare_audience_clear(&in->audience);
    /* the envelope is plain data that the next verify overwrites: not
     * zeroed here (27 KB per message) */
    memset((char *)in + sizeof(in->env), 0, sizeof(*in) - sizeof(in->env));
    in->env.sig_len = 0;
    in->env.relay_cnt = 0;
}

cishare_err_t cishare_message_verify(const cishare_directory_t *dir,
                                     const rd_kafka_headers_t *hdrs,
                                     const char *key, size_t key_len,
                                     const uint8_t *value, size_t len,
                                     cishare_msg_in_t *in, char *errstr,
                                     size_t errstr_size)
{
    return cishare_message_verify_ctx(dir, hdrs, key, key_len, value, len, NULL,
                                      in, errstr, errstr_size);
}

/* A revoked key's message that reached Kafka too late: its created time
 * (the signer's word) cannot be trusted, the broker's append time can. */
static cishare_err_t check_written(const cishare_signing_key_t *sk,
                                   const cishare_verify_ctx_t *ctx,
                                   const char *msg_id, char *errstr,
                                   size_t errstr_size)
{
    char a[32], t[32];

    if (!ctx || ctx->append_ms <= 0 || sk->revoked_ms == CISHARE_KEY_NO_END ||
        ctx->append_ms <= sk->revoked_ms + ctx->append_grace_ms)
        return CISHARE_OK;
    cishare_time_format(ctx->append_ms, a);
    cishare_time_format(sk->revoked_ms, t);
    return cishare_err_set(
        CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
        "message %s: written to Kafka at %s (broker time), after key %s of "
        "'%s' was revoked (compromised) at %s: whatever created time it "
        "claims, it may be a thief's",
        msg_id, a, sk->key_id, sk->owner && sk->owner->id ? sk->owner->id : "?",
        t);
}

cishare_err_t cishare_message_verify_ctx(const cishare_directory_t *dir,
                                         const rd_kafka_headers_t *hdrs,
                                         const char *key, size_t key_len,
                                         const uint8_t *value, size_t len,
                                         const cishare_verify_ctx_t *ctx,
                                         cishare_msg_in_t *in, char *errstr,
                                         size_t errstr_size)
{
    cishare_envelope_t *env = &in->env;
    const cishare_participant_t *p;
    const cishare_signing_key_t *sk;
    const char *aud;
    char why[384];
    int64_t now_ms;
    cishare_tlp_t tlp;
    cishare_err_t err;
    size_t i;

    /* The envelope (about 27 KB) is zeroed once, by from_headers or here
     * before an early return: it is most of the struct, and this runs
     * once per message received. */
    memset((char *)in + sizeof(in->env), 0, sizeof(*in) - sizeof(in->env));
    if (!dir || (key_len && !key) || (len && !value)) {
        cishare_envelope_init(env);
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "message verify: missing argument");
    }
    if (key_len > CISHARE_SUBJECT_MAX_LEN) {
        cishare_envelope_init(env);
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "key: %zu bytes, more than %d", key_len,
                               CISHARE_SUBJECT_MAX_LEN);
    }
    if (len > CISHARE_MESSAGE_MAX_VALUE) {
        cishare_envelope_init(env);
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "value: %zu bytes, more than %lu", len,
                               (unsigned long)CISHARE_MESSAGE_MAX_VALUE);
    }
    /* from_headers zeroes env first */
    if ((err = cishare_envelope_from_headers(hdrs, env, errstr, errstr_size)))
        return err;
    in->encrypted = cishare_envelope_encrypted(env);

    /* origin and key: one of the origin's keys (current, or previous in
     * its rotation overlap), valid for the message's created time */
    now_ms = cishare_time_now_ms();
    if (!(p = cishare_directory_find(dir, env->origin)))
        return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                               "message %s: origin '%s' is not in the "
                               "directory",
                               env->id, env->origin);
    sk = cishare_directory_signing_key(dir, env->key_id);
    if (!sk || sk->owner != p)
        return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                               "message %s: key %s is not a key of '%s' "
                               "(%s)",
                               env->id, env->key_id, p->id, p->key_id);
    if (cishare_key_check(sk, env->created_ms, now_ms, why, sizeof(why)))
        return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                               "message %s: %s", env->id, why);
    if ((err = cishare_envelope_verify(env, key, key_len, value, len,
                                       sk->ed25519_pk, errstr, errstr_size)))
        return err;
    /* the last signer wrote it to Kafka: the origin unless relayed */
    if (!env->relay_cnt &&
        (err = check_written(sk, ctx, env->id, errstr, errstr_size)))
        return err;
    in->origin = p;

    /* relay chain: each hop known, its key, its signature, never looser */
    tlp = env->tlp;
    aud = env->audience;
    for (i = 0; i < env->relay_cnt; i++) {
        const cishare_relay_hop_t *h = &env->relay[i];
        const cishare_participant_t *r = cishare_directory_find(dir, h->by);
        sk = cishare_directory_signing_key(dir, h->key_id);
        if (!r || !sk || sk->owner != r)
            return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                                   "message %s: relay hop %zu: '%s' or key "
                                   "%s not in the directory",
                                   env->id, i + 1, h->by, h->key_id);
        if (cishare_key_check(sk, h->created_ms, now_ms, why, sizeof(why)))
            return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                                   "message %s: relay hop %zu: %s", env->id,
                                   i + 1, why);
        if ((err = cishare_envelope_relay_verify(env, i, key, key_len, value,
                                                 len, sk->ed25519_pk, errstr,
                                                 errstr_size)))
            return err;
        if (i + 1 == env->relay_cnt &&
            (err = check_written(sk, ctx, env->id, errstr, errstr_size)))
            return err;
        if (!cishare_tlp_at_least(h->tlp, tlp))
            return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                                   "message %s: relay '%s' loosened the label "
                                   "from %s to %s",
                                   env->id, h->by, cishare_tlp_name(tlp),
                                   cishare_tlp_name(h->tlp));
        in->relay[i] = r;
        tlp = h->tlp;
        aud = h->audience;
    }
    if (!in->encrypted && (err = cishare_envelope_check_fingerprint(
                               env, value, len, errstr, errstr_size)))
        return err;
    if ((err = cishare_audience_parse(aud, &in->audience, errstr, errstr_size)))
        return err;
    in->tlp = tlp;
    in->verified = true;
    return CISHARE_OK;
}

/* The Avro bytes of a verified message: the value, or its decryption
 * (fingerprint checked) into *plainp, which the caller wipes and frees. */
static cishare_err_t
plain_bytes(const cishare_keypair_t *kp, cishare_unsealer_t *unsealer,
            const char *key, size_t key_len, const uint8_t *value, size_t len,
            const cishare_msg_in_t *in, const uint8_t **bytesp, size_t *blenp,
            uint8_t **plainp, char *errstr, size_t errstr_size)
{
    const cishare_envelope_t *env = &in->env;
    uint8_t ad[CISHARE_SEAL_AD_MAX];
    size_t adlen;
    cishare_err_t err;

    *plainp = NULL;
    *bytesp = value;
    *blenp = len;
    if (!in->verified)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "message decode: message not verified");
    if (!in->encrypted)
        return CISHARE_OK;
    if (!kp)
        return cishare_err_set(CISHARE_ERR_NOT_RECIPIENT, errstr, errstr_size,
                               "message %s: encrypted, and no key given",
                               env->id);
    adlen = cishare_envelope_seal_ad(env, key, key_len, ad, sizeof(ad));
    if ((err = cishare_unsealer_decrypt(unsealer, value, len, kp, ad, adlen,
                                        plainp, blenp, errstr, errstr_size)))
        return err;
    *bytesp = *plainp;
    return cishare_envelope_check_fingerprint(env, *bytesp, *blenp, errstr,
                                              errstr_size);
}

static void plain_free(uint8_t *plain, size_t len)
{
    if (plain) {
        sodium_memzero(plain, len);
        free(plain);
    }
}

/* The payload's type and subject against the envelope and the key. */
static cishare_err_t check_payload(const cishare_envelope_t *env,
                                   cishare_msgtype_t type, const char *subject,
                                   size_t subject_len, const char *key,
                                   size_t key_len, char *errstr,
                                   size_t errstr_size)
{
    if (type != env->type)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message %s: header type %s, payload is %s",
                               env->id, cishare_msgtype_name(env->type),
                               cishare_msgtype_name(type));
    if (!subject || subject_len != key_len ||
        memcmp(subject, key, key_len) != 0)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message %s: Kafka key is not the payload's "
                               "subject id",
                               env->id);
    return CISHARE_OK;
}

cishare_err_t cishare_message_decode(cishare_codec_t *codec,
                                     const cishare_keypair_t *kp,
                                     const char *key, size_t key_len,
                                     const uint8_t *value, size_t len,
                                     cishare_msg_in_t *in, char *errstr,
                                     size_t errstr_size)
{
    return cishare_message_decode_unsealer(codec, kp, NULL, key, key_len, value,
                                           len, in, errstr, errstr_size);
}

cishare_err_t cishare_message_decode_unsealer(cishare_codec_t *codec,
                                              const cishare_keypair_t *kp,
                                              cishare_unsealer_t *unsealer,
                                              const char *key, size_t key_len,
                                              const uint8_t *value, size_t len,
                                              cishare_msg_in_t *in,
                                              char *errstr, size_t errstr_size)
{
    const uint8_t *bytes;
    uint8_t *plain = NULL;
    size_t blen = 0;
    cishare_msgtype_t type;
    const char *subject;
    size_t subject_len = 0;
    json_t *payload = NULL;
    cishare_err_t err;

    if (!codec)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "message decode: no codec");
    if ((err = plain_bytes(kp, unsealer, key, key_len, value, len, in, &bytes,
                           &blen, &plain, errstr, errstr_size)))
        goto done;
    if ((err = cishare_codec_decode(codec, bytes, blen, &type, &payload, errstr,
                                    errstr_size)))
        goto done;
    /* the whole subject: a NUL inside it does not end the comparison */
    subject = cishare_payload_subject_len(type, payload, &subject_len);
    if ((err = check_payload(&in->env, type, subject, subject_len, key, key_len,
                             errstr, errstr_size)))
        goto done;
    in->payload = payload;
    in->payload_type = type;
    payload = NULL;
done:
    json_decref(payload);
    plain_free(plain, blen);
    return err;
}

/* ---- the feed's JSON line, written directly (no JSON tree) ---- */

static int put(cishare_avro_buf_t *o, const char *s, size_t n)
{
    return cishare_avro_buf_put(o, s, n);
}

#define PUTS(o, lit) put(o, lit, sizeof(lit) - 1)

static int put_str(cishare_avro_buf_t *o, const char *s)
{
    return cishare_avro_json_string(o, s, strlen(s));
}

/* Items of an audience text as cishare_envelope_to_json() splits it
 * (empty items kept), or as cishare_message_to_json() splits the
 * effective audience (strtok: empty items skipped). */
static int put_audience(cishare_avro_buf_t *o, const char *text,
                        bool skip_empty)
{
    const char *p = text, *c;
    bool first = true;
    size_t n;

    if (PUTS(o, "["))
        return -1;
    while (*p) {
        c = strchr(p, ',');
        n = c ? (size_t)(c - p) : strlen(p);
        if (n || !skip_empty) {
            if ((!first && PUTS(o, ",")) || cishare_avro_json_string(o, p, n))
                return -1;
            first = false;
        }
        if (!c)
            break;
        p = c + 1;
    }
    return PUTS(o, "]");
}

static int put_time(cishare_avro_buf_t *o, int64_t ms)
{
    char t[CISHARE_TIME_TEXT_LEN + 1];

    cishare_envelope_time_format(ms, t);
    return put_str(o, t);
}

cishare_err_t cishare_message_render_line(cishare_codec_t *codec,
                                          const cishare_keypair_t *kp,
                                          const char *key, size_t key_len,
                                          const uint8_t *value, size_t len,
                                          const cishare_msg_in_t *in,
                                          cishare_avro_buf_t *out, char *errstr,
                                          size_t errstr_size)
{
    return cishare_message_render_line_unsealer(codec, kp, NULL, key, key_len,
                                                value, len, in, out, errstr,
                                                errstr_size);
}

cishare_err_t cishare_message_render_line_unsealer(
    cishare_codec_t *codec, const cishare_keypair_t *kp,
    cishare_unsealer_t *unsealer, const char *key, size_t key_len,
    const uint8_t *value, size_t len, const cishare_msg_in_t *in,
    cishare_avro_buf_t *out, char *errstr, size_t errstr_size)
{
    return cishare_message_render_line_spans(codec, kp, unsealer, key, key_len,
                                             value, len, in, out, NULL, errstr,
                                             errstr_size);
}

cishare_err_t cishare_message_render_line_spans(
    cishare_codec_t *codec, const cishare_keypair_t *kp,
    cishare_unsealer_t *unsealer, const char *key, size_t key_len,
    const uint8_t *value, size_t len, const cishare_msg_in_t *in,
    cishare_avro_buf_t *out, cishare_line_spans_t *spans, char *errstr,
    size_t errstr_size)
{
    cishare_line_spans_t sp;
    const cishare_envelope_t *env = &in->env;
    char aud[CISHARE_AUDIENCE_TEXT_LEN + 1], fp[17];
    const char *subject;
    const uint8_t *bytes;
    uint8_t *plain = NULL;
    size_t blen = 0, subject_len, start = out->len, i;
    bool relayed = in->verified && env->relay_cnt;
    cishare_msgtype_t type;
    cishare_err_t err;
    int r;

    if (!codec)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "message decode: no codec");
    if ((err = plain_bytes(kp, unsealer, key, key_len, value, len, in, &bytes,
                           &blen, &plain, errstr, errstr_size)))
        goto done;
    /* keys in sorted order, as cishare_message_to_json() dumped with
     * JSON_COMPACT | JSON_SORT_KEYS */
    r = PUTS(out, "{\"audience\":");
    sp.audience_off = out->len;
    if (relayed &&
        cishare_audience_format(&in->audience, aud, sizeof(aud)) < sizeof(aud))
        r = r || put_audience(out, aud, true);
    else
        r = r || put_audience(out, env->audience, false);
    sp.audience_len = out->len - sp.audience_off;
    r = r || PUTS(out, ",\"created\":") || put_time(out, env->created_ms);
    r = r || (env->enc[0] ? PUTS(out, ",\"encrypted\":true")
                          : PUTS(out, ",\"encrypted\":false"));
    if (env->expires_ms)
        r = r || PUTS(out, ",\"expires\":") || put_time(out, env->expires_ms);
    r = r || PUTS(out, ",\"key_id\":") || put_str(out, env->key_id);
    r = r || PUTS(out, ",\"message_id\":") || put_str(out, env->id);
    r = r || PUTS(out, ",\"origin\":") || put_str(out, env->origin);
    r = r || PUTS(out, ",\"payload\":");
    if (r)
        goto nomem;
    sp.payload_off = out->len;
    if ((err =
             cishare_codec_decode_text(codec, bytes, blen, &type, out, &subject,
                                       &subject_len, errstr, errstr_size)) ||
        (err = check_payload(env, type, subject, subject_len, key, key_len,
                             errstr, errstr_size)))
        goto done;
    sp.payload_len = out->len - sp.payload_off;
    if (env->relay_cnt) {
        r = r || PUTS(out, ",\"relay\":[");
        for (i = 0; i < env->relay_cnt && i < CISHARE_RELAY_MAX; i++) {
            const cishare_relay_hop_t *h = &env->relay[i];
            r = r || (i && PUTS(out, ",")) || PUTS(out, "{\"audience\":") ||
                put_audience(out, h->audience, false) ||
                PUTS(out, ",\"by\":") || put_str(out, h->by) ||
                PUTS(out, ",\"created\":") || put_time(out, h->created_ms) ||
                PUTS(out, ",\"key_id\":") || put_str(out, h->key_id) ||
                PUTS(out, ",\"tlp\":") ||
                put_str(out, cishare_tlp_name(h->tlp)) || PUTS(out, "}");
        }
        r = r || PUTS(out, "],\"relayed_by\":[");
        for (i = 0; i < env->relay_cnt && i < CISHARE_RELAY_MAX; i++)
            r = r || (i && PUTS(out, ",")) || put_str(out, env->relay[i].by);
        r = r || PUTS(out, "]");
    }
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)env->schema_fp);
    r = r || PUTS(out, ",\"schema\":") || put_str(out, fp);
    r = r || PUTS(out, ",\"sector\":") || put_str(out, env->sector);
    r = r || PUTS(out, ",\"sig_alg\":") || put_str(out, env->alg);
    r = r || PUTS(out, ",\"tlp\":") ||
        put_str(out, cishare_tlp_name(relayed ? in->tlp : env->tlp));
    r = r || PUTS(out, ",\"type\":") ||
        put_str(out, cishare_msgtype_name(env->type));
    r = r || PUTS(out, "}");
    if (r)
        goto nomem;
    if (spans)
        *spans = sp;
    goto done;
nomem:
    err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                          "out of memory");
done:
    if (err)
        out->len = start;
    plain_free(plain, blen);
    return err;
}

cishare_err_t
cishare_message_open(cishare_codec_t *codec, const cishare_directory_t *dir,
                     const cishare_keypair_t *kp,
                     const rd_kafka_headers_t *hdrs, const char *key,
                     size_t key_len, const uint8_t *value, size_t len,
                     cishare_msg_in_t *in, char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    if ((err = cishare_message_verify(dir, hdrs, key, key_len, value, len, in,
                                      errstr, errstr_size)))
        return err;
    if (in->encrypted && !kp)
        return CISHARE_OK; /* verify only */
    return cishare_message_decode(codec, kp, key, key_len, value, len, in,
                                  errstr, errstr_size);
}

void cishare_message_policy_msg(const cishare_msg_in_t *in,
                                cishare_policy_msg_t *pm)
{
    pm->tlp = in->tlp;
    pm->origin = in->env.origin;
    pm->audience = &in->audience;
    pm->expires_ms = in->env.expires_ms;
    pm->consent = CISHARE_CONSENT_NA;
    pm->sighting_of = NULL;
    if (in->env.type == CISHARE_MSG_SIGHTING && in->payload)
        pm->sighting_of = json_string_value(
            json_object_get(in->payload, "sighting_of_origin"));
    if (in->env.type == CISHARE_MSG_RECEIPT && in->payload)
        pm->sighting_of = json_string_value(
            json_object_get(in->payload, "receipt_of_origin"));
    if (in->env.type == CISHARE_MSG_INCIDENT) {
        cishare_payload_flags_t f;
        cishare_message_payload_flags(in->env.type, in->payload, &f);
        pm->consent = f.consent;
    }
}

void cishare_message_payload_flags(cishare_msgtype_t type,
                                   const json_t *payload,
                                   cishare_payload_flags_t *f)
{
    const char *lb;
    bool anon_field = type == CISHARE_MSG_INCIDENT ||
                      type == CISHARE_MSG_INDICATOR ||
                      type == CISHARE_MSG_SIGHTING;

    f->mandatory = 0;
    f->anonymise = 0;
    f->consent = CISHARE_CONSENT_NA;
    if (!payload) {
        if (type == CISHARE_MSG_INCIDENT) {
            f->mandatory = -1;
            f->consent = CISHARE_CONSENT_UNKNOWN;
        }
        if (anon_field)
            f->anonymise = -1;
        return;
    }
    if (anon_field)
        f->anonymise = json_is_true(json_object_get(payload, "anonymise"));
    if (type == CISHARE_MSG_INCIDENT) {
        lb = json_string_value(json_object_get(payload, "legal_basis"));
        f->mandatory = lb && !strcmp(lb, "mandatory");
        f->consent = json_is_true(json_object_get(payload, "consent_forward"))
                         ? CISHARE_CONSENT_YES
                         : CISHARE_CONSENT_NO;
    }
}

static cishare_decision_t withheld(cishare_reason_t reason)
{
    cishare_decision_t d;

    d.deliver = false;
    d.reason = reason;
    d.text = cishare_reason_text(reason);
    return d;
}

cishare_decision_t cishare_message_decide(const cishare_directory_t *dir,
                                          const cishare_msg_in_t *in,
                                          const cishare_participant_t *p,
                                          int64_t now_ms)
{
    cishare_policy_msg_t pm, orig;
    cishare_publish_msg_t pub;
    cishare_payload_flags_t flags;
    cishare_audience_t orig_aud = {0};
    cishare_reason_t reason = CISHARE_REASON_INVALID;
    cishare_decision_t d;

    cishare_message_policy_msg(in, &pm);
    if (!in->verified)
        return cishare_policy_decide(dir, &pm, p, now_ms);
    if (in->env.relay_cnt > 1)
        return withheld(CISHARE_REASON_RELAY_NOT_RECIPIENT);
    /* The origin's label and audience, as it signed them (verified). */
    if (cishare_audience_parse(in->env.audience, &orig_aud, NULL, 0))
        return withheld(CISHARE_REASON_INVALID);
    /* The publish rules, on the origin's original: a producer of its own
     * skips `cishare publish`, not this. */
    pub.type = in->env.type;
    pub.tlp = in->env.tlp;
    pub.origin =
        in->origin ? in->origin : cishare_directory_find(dir, in->env.origin);
    pub.audience = &orig_aud;
    pub.sector = in->env.sector;
    cishare_message_payload_flags(in->env.type, in->payload, &flags);
    pub.mandatory = flags.mandatory;
    pub.anonymise = flags.anonymise;
    pub.sighting_of = pm.sighting_of;
    if (cishare_policy_check_publish(dir, &pub, &reason, NULL, 0)) {
        cishare_audience_clear(&orig_aud);
        return withheld(reason);
    }
    if (in->env.relay_cnt == 0) {
        cishare_audience_clear(&orig_aud);
        return cishare_policy_decide(dir, &pm, p, now_ms);
    }
    orig.tlp = in->env.tlp;
    orig.origin = in->env.origin;
    orig.audience = &orig_aud;
    orig.expires_ms = in->env.expires_ms;
    orig.consent = pm.consent;
    orig.sighting_of = pm.sighting_of;
    d = cishare_policy_decide_reshare(dir, &orig, in->relay[0],
                                      in->env.relay[0].tlp, p, now_ms);
    cishare_audience_clear(&orig_aud);
    /* and within the relayed copy's own (never wider) label and audience */
    return d.deliver ? cishare_policy_decide(dir, &pm, p, now_ms) : d;
}

json_t *cishare_message_to_json(const cishare_msg_in_t *in)
{
    json_t *o = cishare_envelope_to_json(&in->env);
    char buf[CISHARE_AUDIENCE_TEXT_LEN + 1];

    if (!o)
        return NULL;
    /* effective label and audience of a relayed copy */
    if (in->verified && in->env.relay_cnt)
        json_object_set_new(o, "tlp", json_string(cishare_tlp_name(in->tlp)));
    if (in->verified && in->env.relay_cnt &&
        cishare_audience_format(&in->audience, buf, sizeof(buf)) <
            sizeof(buf)) {
        json_t *a = json_array();
        char *save = NULL, *item;
        for (item = strtok_r(buf, ",", &save); a && item;
             item = strtok_r(NULL, ",", &save))
            json_array_append_new(a, json_string(item));
        json_object_set_new(o, "audience", a);
    }
    json_object_set_new(o, "payload",
                        in->payload ? json_incref(in->payload) : json_null());
    return o;
}
