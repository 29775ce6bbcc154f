/*
 * cishare - end-to-end payload encryption (layouts v1 and v2 in seal.h
 * and schemas/README.md "Encryption format"): v1 values, v2 values with
 * a publisher's epochs (cishare_sealer_t), and a reader's memory of
 * opened epochs (cishare_unsealer_t).
 *
 * Invariant: the recipient key ids (rkid) of a sealed value are unique.
 * Encryption writes one entry per key; decryption refuses a value that
 * repeats an id, so a reader opens at most one sealed box per value
 * (key ids are public: without this a sender could make every reader try
 * up to CISHARE_SEAL_MAX_RECIPIENTS boxes).
 */
#include "cishare/seal.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_AD_PREFIX    "cishare/seal/v1"
#define SEAL_AD_PREFIX_V2 "cishare/seal/v2"

void cishare_seal_rkid(const uint8_t pk[CISHARE_X25519_PK_BYTES],
                       uint8_t rkid[CISHARE_SEAL_RKID_BYTES])
{
    uint8_t h[32];

    crypto_generichash(h, sizeof(h), pk, CISHARE_X25519_PK_BYTES, NULL, 0);
    memcpy(rkid, h, CISHARE_SEAL_RKID_BYTES);
}

static int rkid_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Whether two of the cnt (<= CISHARE_SEAL_MAX_RECIPIENTS) entries at
 * entries carry the same recipient key id. Sorts a copy of the ids:
 * O(n log n), no allocation. The ids are public: no constant time. */
static bool rkids_repeat(const uint8_t *entries, size_t cnt)
{
    uint64_t ids[CISHARE_SEAL_MAX_RECIPIENTS];
    size_t i;

    for (i = 0; i < cnt; i++)
        memcpy(&ids[i], entries + i * CISHARE_SEAL_ENTRY_BYTES, sizeof(ids[i]));
    qsort(ids, cnt, sizeof(ids[0]), rkid_cmp);
    for (i = 1; i < cnt; i++)
        if (ids[i] == ids[i - 1])
            return true;
    return false;
}

/* AEAD additional data: prefix || header and entries || caller ad. The
 * AEAD takes one buffer; its size is bounded (27 + 1024 * 88 + adlen). */
static uint8_t *build_ad(const uint8_t *head, size_t head_len,
                         const uint8_t *ad, size_t adlen, size_t *lenp)
{
    const char *prefix =
        head[0] == CISHARE_SEAL_VERSION_2 ? SEAL_AD_PREFIX_V2 : SEAL_AD_PREFIX;
    size_t plen = strlen(prefix);
    uint8_t *buf = malloc(plen + head_len + adlen + 1);

    if (!buf)
        return NULL;
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, head, head_len);
    if (adlen)
        memcpy(buf + plen + head_len, ad, adlen);
    *lenp = plen + head_len + adlen;
    return buf;
}

static cishare_err_t check_args(const uint8_t *pt, size_t len,
                                const uint8_t (*pks)[32], size_t n,
                                const uint8_t *ad, size_t adlen, char *errstr,
                                size_t errstr_size);

cishare_err_t cishare_seal_encrypt(const uint8_t *pt, size_t len,
                                   const uint8_t (*recipient_pks)[32], size_t n,
                                   const uint8_t *ad, size_t adlen,
                                   uint8_t **ctp, size_t *ctlenp, char *errstr,
                                   size_t errstr_size)
{
    uint8_t key[CISHARE_SEAL_KEY_BYTES];
    uint8_t *out = NULL, *full_ad = NULL, *p;
    size_t i, j, cnt = 0, head_len, total, full_ad_len = 0;
    unsigned long long clen = 0;
    cishare_err_t err = CISHARE_OK;

    *ctp = NULL;
    *ctlenp = 0;
    if ((err = check_args(pt, len, recipient_pks, n, ad, adlen, errstr,
                          errstr_size)))
        return err;
    head_len = CISHARE_SEAL_HEADER_BYTES + n * CISHARE_SEAL_ENTRY_BYTES;
    total = head_len + len + CISHARE_SEAL_TAG_BYTES;
    if (!(out = malloc(total)))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "seal: out of memory");
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    out[0] = CISHARE_SEAL_VERSION;
    randombytes_buf(out + 1, CISHARE_SEAL_NONCE_BYTES);
    p = out + CISHARE_SEAL_HEADER_BYTES;
    for (i = 0; i < n; i++) {
        /* Skip a key listed twice: one entry per recipient. */
        for (j = 0; j < i; j++)
            if (!memcmp(recipient_pks[i], recipient_pks[j], 32))
                break;
        if (j < i)
            continue;
        cishare_seal_rkid(recipient_pks[i], p);
        if (crypto_box_seal(p + CISHARE_SEAL_RKID_BYTES, key, sizeof(key),
                            recipient_pks[i]) != 0) {
            err = cishare_err_set(CISHARE_ERR_CRYPTO, errstr, errstr_size,
                                  "seal: recipient %zu: bad public key", i + 1);
            goto done;
        }
        p += CISHARE_SEAL_ENTRY_BYTES;
        cnt++;
    }
    /* Two distinct keys whose ids collide (2^-64 per pair) would make a
     * value every reader refuses: fail here instead. */
    if (rkids_repeat(out + CISHARE_SEAL_HEADER_BYTES, cnt)) {
        err = cishare_err_set(CISHARE_ERR_CRYPTO, errstr, errstr_size,
                              "seal: two recipient keys share a key id");
        goto done;
    }
    out[1 + CISHARE_SEAL_NONCE_BYTES] = (uint8_t)(cnt >> 8);
    out[2 + CISHARE_SEAL_NONCE_BYTES] = (uint8_t)cnt;
    head_len = CISHARE_SEAL_HEADER_BYTES + cnt * CISHARE_SEAL_ENTRY_BYTES;
    if (!(full_ad = build_ad(out, head_len, ad, adlen, &full_ad_len))) {
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "seal: out of memory");
        goto done;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + head_len, &clen, pt, len,
                                               full_ad, full_ad_len, NULL,
                                               out + 1, key);
    *ctp = out;
    *ctlenp = head_len + (size_t)clen;
    out = NULL;
done:
    sodium_memzero(key, sizeof(key));
    free(full_ad);
    free(out);
    return err;
}
/* ------------------------------------------------------------------ */
/* layout                                                               */
/* ------------------------------------------------------------------ */

/* Where the fields of a value are: v1 and v2 differ only in the header. */
typedef struct lay_s {
    int version;
    size_t head;          /* bytes before the entries */
    size_t cnt;           /* entries */
    const uint8_t *epoch; /* v2 epoch id, else NULL */
    const uint8_t *nonce;
    const uint8_t *entries;
} lay_t;

/* Layout check shared by decrypt, recipient_cnt and version: fills *l and
 * returns 0, or returns -1 and sets *errp and *whyp. */
static int layout(const uint8_t *ct, size_t len, lay_t *l, cishare_err_t *errp,
                  const char **whyp)
{
    size_t cnt, at;

    *errp = CISHARE_ERR_PARSE;
    if (!ct || len < CISHARE_SEAL_HEADER_BYTES) {
        *errp = CISHARE_ERR_TRUNCATED;
        *whyp = "shorter than the header";
        return -1;
    }
    if (ct[0] == CISHARE_SEAL_VERSION) {
        l->head = CISHARE_SEAL_HEADER_BYTES;
        l->epoch = NULL;
        l->nonce = ct + 1;
    } else if (ct[0] == CISHARE_SEAL_VERSION_2) {
        if (len < CISHARE_SEAL_V2_HEADER_BYTES) {
            *errp = CISHARE_ERR_TRUNCATED;
            *whyp = "shorter than the header";
            return -1;
        }
        l->head = CISHARE_SEAL_V2_HEADER_BYTES;
        l->epoch = ct + 1;
        l->nonce = ct + 1 + CISHARE_SEAL_EPOCH_ID_BYTES;
    } else {
        *whyp = "unknown version";
        return -1;
    }
    l->version = ct[0];
    at = l->head - 2;
    cnt = ((size_t)ct[at] << 8) | ct[at + 1];
    if (cnt == 0 || cnt > CISHARE_SEAL_MAX_RECIPIENTS) {
        *errp = CISHARE_ERR_TOO_LARGE;
        *whyp = "recipient count out of range";
        return -1;
    }
    if (len <
        l->head + cnt * CISHARE_SEAL_ENTRY_BYTES + CISHARE_SEAL_TAG_BYTES) {
        *errp = CISHARE_ERR_TRUNCATED;
        *whyp = "shorter than its recipient entries";
        return -1;
    }
    if (len - l->head - cnt * CISHARE_SEAL_ENTRY_BYTES -
            CISHARE_SEAL_TAG_BYTES >
        CISHARE_SEAL_MAX_PLAINTEXT) {
        *errp = CISHARE_ERR_TOO_LARGE;
        *whyp = "ciphertext too long";
        return -1;
    }
    if (rkids_repeat(ct + l->head, cnt)) {
        *whyp = "duplicate recipient key ids (one entry per recipient)";
        return -1;
    }
    l->cnt = cnt;
    l->entries = ct + l->head;
    return 0;
}

long cishare_seal_recipient_cnt(const uint8_t *ct, size_t len)
{
    cishare_err_t err;
    const char *why;
    lay_t l;

    return layout(ct, len, &l, &err, &why) ? -1 : (long)l.cnt;
}

int cishare_seal_version(const uint8_t *ct, size_t len,
                         uint8_t epoch_id[CISHARE_SEAL_EPOCH_ID_BYTES])
{
    cishare_err_t err;
    const char *why;
    lay_t l;

    if (layout(ct, len, &l, &err, &why))
        return -1;
    if (epoch_id && l.epoch)
        memcpy(epoch_id, l.epoch, CISHARE_SEAL_EPOCH_ID_BYTES);
    return l.version;
}

/* ------------------------------------------------------------------ */
/* version 2: encrypt                                                   */
/* ------------------------------------------------------------------ */

static int pk_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* The recipient set in its one form: distinct keys, sorted (malloc()ed
 * copy in *setp, count in *cntp), and its digest, which names it. */
static cishare_err_t recipient_set(const uint8_t (*pks)[32], size_t n,
                                   uint8_t (**setp)[32], size_t *cntp,
                                   uint8_t digest[32], char *errstr,
                                   size_t errstr_size)
{
    uint8_t(*set)[32] = malloc(n * 32);
    size_t i, cnt = 0;

    if (!set)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "seal: out of memory");
    memcpy(set, pks, n * 32);
    qsort(set, n, 32, pk_cmp);
    for (i = 0; i < n; i++)
        if (!cnt || memcmp(set[cnt - 1], set[i], 32))
            memmove(set[cnt++], set[i], 32);
    crypto_generichash(digest, 32, (const uint8_t *)set, cnt * 32, NULL, 0);
    *setp = set;
    *cntp = cnt;
    return CISHARE_OK;
}

/* One entry per key of set: rkid + sealed box of key. */
static cishare_err_t wrap_entries(const uint8_t key[CISHARE_SEAL_KEY_BYTES],
                                  const uint8_t (*set)[32], size_t cnt,
                                  uint8_t *entries, char *errstr,
                                  size_t errstr_size)
{
    uint8_t *p = entries;
    size_t i;

    for (i = 0; i < cnt; i++, p += CISHARE_SEAL_ENTRY_BYTES) {
        cishare_seal_rkid(set[i], p);
        if (crypto_box_seal(p + CISHARE_SEAL_RKID_BYTES, key,
                            CISHARE_SEAL_KEY_BYTES, set[i]) != 0)
            return cishare_err_set(CISHARE_ERR_CRYPTO, errstr, errstr_size,
                                   "seal: recipient %zu: bad public key",
                                   i + 1);
    }
    /* Two distinct keys whose ids collide (2^-64 per pair) would make a
     * value every reader refuses: fail here instead. */
    if (rkids_repeat(entries, cnt))
        return cishare_err_set(CISHARE_ERR_CRYPTO, errstr, errstr_size,
                               "seal: two recipient keys share a key id");
    return CISHARE_OK;
}

static cishare_err_t check_args(const uint8_t *pt, size_t len,
                                const uint8_t (*pks)[32], size_t n,
                                const uint8_t *ad, size_t adlen, char *errstr,
                                size_t errstr_size)
{
    if ((len && !pt) || (adlen && !ad) || !pks)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "seal: missing input");
    if (n == 0 || n > CISHARE_SEAL_MAX_RECIPIENTS)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "seal: %zu recipients (1..%d allowed)", n,
                               CISHARE_SEAL_MAX_RECIPIENTS);
    if (len > CISHARE_SEAL_MAX_PLAINTEXT)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "seal: plaintext of %zu bytes exceeds %u", len,
                               CISHARE_SEAL_MAX_PLAINTEXT);
    return CISHARE_OK;
}

/* A v2 value of cnt entries: the buffer, its version and count set. */
static uint8_t *v2_alloc(size_t cnt, size_t len)
{
    uint8_t *out =
        malloc(CISHARE_SEAL_V2_HEADER_BYTES + cnt * CISHARE_SEAL_ENTRY_BYTES +
               len + CISHARE_SEAL_TAG_BYTES);

    if (!out)
        return NULL;
    out[0] = CISHARE_SEAL_VERSION_2;
    out[CISHARE_SEAL_V2_HEADER_BYTES - 2] = (uint8_t)(cnt >> 8);
    out[CISHARE_SEAL_V2_HEADER_BYTES - 1] = (uint8_t)cnt;
    return out;
}

/* The start of every v2 seal: the arguments checked, the recipient set
 * (sorted, repeats dropped) and its digest, the value's buffer. On error
 * nothing is left allocated. */
static cishare_err_t
v2_begin(const uint8_t *pt, size_t len, const uint8_t (*pks)[32], size_t n,
         const uint8_t *ad, size_t adlen, uint8_t (**setp)[32], size_t *cntp,
         uint8_t digest[32], uint8_t **outp, char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    *outp = NULL;
    if ((err = check_args(pt, len, pks, n, ad, adlen, errstr, errstr_size)) ||
        (err = recipient_set(pks, n, setp, cntp, digest, errstr, errstr_size)))
        return err;
    if (!(*outp = v2_alloc(*cntp, len))) {
        free(*setp);
        *setp = NULL;
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "seal: out of memory");
    }
    return CISHARE_OK;
}

/* Encrypt pt into out (header, epoch id, nonce and entries written) under
 * key; on success *ctp takes out. */
static cishare_err_t v2_finish(uint8_t *out, size_t cnt, const uint8_t *pt,
                               size_t len, const uint8_t *ad, size_t adlen,
                               const uint8_t key[CISHARE_SEAL_KEY_BYTES],
                               uint8_t **ctp, size_t *ctlenp, char *errstr,
                               size_t errstr_size)
{
    size_t head_len =
        CISHARE_SEAL_V2_HEADER_BYTES + cnt * CISHARE_SEAL_ENTRY_BYTES;
    size_t full_ad_len = 0;
    uint8_t *full_ad = build_ad(out, head_len, ad, adlen, &full_ad_len);
    unsigned long long clen = 0;

    if (!full_ad) {
        free(out);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "seal: out of memory");
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + head_len, &clen, pt, len, full_ad, full_ad_len, NULL,
        out + 1 + CISHARE_SEAL_EPOCH_ID_BYTES, key);
    free(full_ad);
    *ctp = out;
    *ctlenp = head_len + (size_t)clen;
    return CISHARE_OK;
}

cishare_err_t cishare_seal_encrypt_v2_fixed(
    const uint8_t key[CISHARE_SEAL_KEY_BYTES],
    const uint8_t epoch_id[CISHARE_SEAL_EPOCH_ID_BYTES],
    const uint8_t nonce[CISHARE_SEAL_NONCE_BYTES], const uint8_t *pt,
    size_t len, const uint8_t (*recipient_pks)[32], size_t n, const uint8_t *ad,
    size_t adlen, uint8_t **ctp, size_t *ctlenp, char *errstr,
    size_t errstr_size)
{
    uint8_t(*set)[32] = NULL, digest[32], *out;
    size_t cnt = 0;
    cishare_err_t err;

    *ctp = NULL;
    *ctlenp = 0;
    if ((err = v2_begin(pt, len, recipient_pks, n, ad, adlen, &set, &cnt,
                        digest, &out, errstr, errstr_size)))
        return err;
    memcpy(out + 1, epoch_id, CISHARE_SEAL_EPOCH_ID_BYTES);
    memcpy(out + 1 + CISHARE_SEAL_EPOCH_ID_BYTES, nonce,
           CISHARE_SEAL_NONCE_BYTES);
    err = wrap_entries(key, (const uint8_t(*)[32])set, cnt,
                       out + CISHARE_SEAL_V2_HEADER_BYTES, errstr, errstr_size);
    free(set);
    if (err) {
        free(out);
        return err;
    }
    return v2_finish(out, cnt, pt, len, ad, adlen, key, ctp, ctlenp, errstr,
                     errstr_size);
}

/* A publisher's current epoch of one recipient set. */
typedef struct epoch_s {
    bool live;
    uint8_t set[32]; /* digest of the recipient set */
    uint8_t key[CISHARE_SEAL_KEY_BYTES];
    uint8_t id[CISHARE_SEAL_EPOCH_ID_BYTES];
    uint8_t *entries; /* wrapped once, copied into every value */
    size_t cnt;
    uint64_t msgs;
    int64_t start_ms;
    uint64_t used; /* least recently used set goes first */
} epoch_t;

/* Recipient sets a sealer keeps an epoch for: a publisher writes to a
 * few audiences; a set evicted only costs a new epoch when it returns. */
#define SEALER_SETS 64

struct cishare_sealer_s {
    pthread_mutex_t lock;
    int version;
    int per_topic; /* cishare_sealer_set_per_topic() */
    uint64_t max_msgs;
    int64_t max_ms;
    uint64_t tick;
    epoch_t ep[SEALER_SETS];
};

static void epoch_end(epoch_t *e)
{
    sodium_memzero(e->key, sizeof(e->key));
    free(e->entries);
    memset(e, 0, sizeof(*e));
}

cishare_err_t cishare_sealer_new(int version, uint64_t epoch_messages,
                                 int64_t epoch_ms, cishare_sealer_t **sp,
                                 char *errstr, size_t errstr_size)
{
    cishare_sealer_t *s;

    *sp = NULL;
    if (version != CISHARE_SEAL_VERSION && version != CISHARE_SEAL_VERSION_2)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "seal: version %d (1 or 2)", version);
    if (epoch_messages < 1 || epoch_ms < 1)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "seal: an epoch needs at least one message "
                               "and one millisecond");
    if (!(s = calloc(1, sizeof(*s))))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "seal: out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->version = version;
    s->per_topic = 1;
    s->max_msgs = epoch_messages;
    s->max_ms = epoch_ms;
    *sp = s;
    return CISHARE_OK;
}

void cishare_sealer_destroy(cishare_sealer_t *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < SEALER_SETS; i++)
        epoch_end(&s->ep[i]);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int cishare_sealer_version(const cishare_sealer_t *s)
{
    return s ? s->version : CISHARE_SEAL_VERSION_2;
}

void cishare_sealer_set_per_topic(cishare_sealer_t *s, int on)
{
    s->per_topic = on;
}

int cishare_sealer_per_topic(const cishare_sealer_t *s)
{
    return s && s->version == CISHARE_SEAL_VERSION_2 && s->per_topic;
}

/* The current epoch of set (digest) at now_ms, started anew when it has
 * none or when it is full or old. Under s->lock. */
static cishare_err_t epoch_get(cishare_sealer_t *s, const uint8_t digest[32],
                               const uint8_t (*set)[32], size_t cnt,
                               int64_t now_ms, epoch_t **ep, char *errstr,
                               size_t errstr_size)
{
    epoch_t *e = NULL, *lru = &s->ep[0];
    cishare_err_t err;
    size_t i;

    for (i = 0; i < SEALER_SETS; i++) {
        if (s->ep[i].live && !memcmp(s->ep[i].set, digest, 32)) {
            e = &s->ep[i];
            break;
        }
        if (!s->ep[i].live ? lru->live : s->ep[i].used < lru->used)
            lru = &s->ep[i];
    }
    /* a clock that went back also ends the epoch: its age is unknown */
    if (e && (e->msgs >= s->max_msgs || now_ms < e->start_ms ||
              now_ms - e->start_ms >= s->max_ms))
        epoch_end(e);
    else if (e) {
        *ep = e;
        return CISHARE_OK;
    } else {
        e = lru;
        epoch_end(e);
    }
    if (!(e->entries = malloc(cnt * CISHARE_SEAL_ENTRY_BYTES)))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "seal: out of memory");
    crypto_aead_xchacha20poly1305_ietf_keygen(e->key);
    randombytes_buf(e->id, sizeof(e->id));
    if ((err =
             wrap_entries(e->key, set, cnt, e->entries, errstr, errstr_size))) {
        epoch_end(e);
        return err;
    }
    memcpy(e->set, digest, 32);
    e->cnt = cnt;
    e->start_ms = now_ms;
    e->live = true;
    *ep = e;
    return CISHARE_OK;
}

cishare_err_t cishare_sealer_encrypt(cishare_sealer_t *s, int64_t now_ms,
                                     const uint8_t *pt, size_t len,
                                     const uint8_t (*recipient_pks)[32],
                                     size_t n, const uint8_t *ad, size_t adlen,
                                     uint8_t **ctp, size_t *ctlenp,
                                     char *errstr, size_t errstr_size)
{
    uint8_t(*set)[32] = NULL, digest[32], key[CISHARE_SEAL_KEY_BYTES];
    uint8_t *out = NULL;
    size_t cnt = 0;
    epoch_t *e = NULL;
    cishare_err_t err;

    if (s && s->version == CISHARE_SEAL_VERSION)
        return cishare_seal_encrypt(pt, len, recipient_pks, n, ad, adlen, ctp,
                                    ctlenp, errstr, errstr_size);
    *ctp = NULL;
    *ctlenp = 0;
    if ((err = v2_begin(pt, len, recipient_pks, n, ad, adlen, &set, &cnt,
                        digest, &out, errstr, errstr_size)))
        return err;
    if (!s) {
        /* an epoch of one value */
        crypto_aead_xchacha20poly1305_ietf_keygen(key);
        randombytes_buf(out + 1, CISHARE_SEAL_EPOCH_ID_BYTES);
        err = wrap_entries(key, (const uint8_t(*)[32])set, cnt,
                           out + CISHARE_SEAL_V2_HEADER_BYTES, errstr,
                           errstr_size);
    } else {
        pthread_mutex_lock(&s->lock);
        if (!(err = epoch_get(s, digest, (const uint8_t(*)[32])set, cnt, now_ms,
                              &e, errstr, errstr_size))) {
            e->msgs++;
            e->used = ++s->tick;
            memcpy(key, e->key, sizeof(key));
            memcpy(out + 1, e->id, CISHARE_SEAL_EPOCH_ID_BYTES);
            memcpy(out + CISHARE_SEAL_V2_HEADER_BYTES, e->entries,
                   cnt * CISHARE_SEAL_ENTRY_BYTES);
        }
        pthread_mutex_unlock(&s->lock);
    }
    free(set);
    if (!err) {
        /* random per value: 192 bits never repeat under one key */
        randombytes_buf(out + 1 + CISHARE_SEAL_EPOCH_ID_BYTES,
                        CISHARE_SEAL_NONCE_BYTES);
        err = v2_finish(out, cnt, pt, len, ad, adlen, key, ctp, ctlenp, errstr,
                        errstr_size);
        out = NULL; /* v2_finish took it */
    }
    sodium_memzero(key, sizeof(key));
    free(out);
    return err;
}

/* ------------------------------------------------------------------ */
/* unsealer: opened epochs                                              */
/* ------------------------------------------------------------------ */

typedef struct uent_s {
    uint8_t epoch[CISHARE_SEAL_EPOCH_ID_BYTES];
    uint8_t pk[CISHARE_X25519_PK_BYTES];
    uint8_t box[CISHARE_SEAL_BOX_BYTES];
    uint8_t key[CISHARE_SEAL_KEY_BYTES];
    int32_t prev, next; /* recency list, most recent at head */
    int32_t hnext;      /* bucket chain */
    uint32_t bucket;
} uent_t;

struct cishare_unsealer_s {
    pthread_mutex_t lock;
    /* keyed hash: values are chosen by senders, who must not be able to
     * pile entries into one bucket */
    uint8_t hkey[crypto_shorthash_KEYBYTES];
    uent_t *e;
    int32_t *buckets;
    size_t cap, nbuckets, used;
    int32_t head, tail;
    uint64_t hits, opens;
};

cishare_err_t cishare_unsealer_new(size_t capacity, cishare_unsealer_t **up)
{
    cishare_unsealer_t *u;
    size_t i;

    *up = NULL;
    if (capacity < 1 || capacity > (1u << 24))
        return CISHARE_ERR_INVALID_ARG;
    if (!(u = calloc(1, sizeof(*u))))
        return CISHARE_ERR_NOMEM;
    for (u->nbuckets = 16; u->nbuckets < capacity; u->nbuckets <<= 1)
        ;
    u->e = calloc(capacity, sizeof(*u->e));
    u->buckets = malloc(u->nbuckets * sizeof(*u->buckets));
    if (!u->e || !u->buckets) {
        free(u->e);
        free(u->buckets);
        free(u);
        return CISHARE_ERR_NOMEM;
    }
    for (i = 0; i < u->nbuckets; i++)
        u->buckets[i] = -1;
    crypto_shorthash_keygen(u->hkey);
    pthread_mutex_init(&u->lock, NULL);
    u->cap = capacity;
    u->head = u->tail = -1;
    *up = u;
    return CISHARE_OK;
}

void cishare_unsealer_destroy(cishare_unsealer_t *u)
{
    if (!u)
        return;
    sodium_memzero(u->e, u->cap * sizeof(*u->e));
    free(u->e);
    free(u->buckets);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

void cishare_unsealer_stats(const cishare_unsealer_t *u, uint64_t *hits,
                            uint64_t *opens)
{
    *hits = u ? u->hits : 0;
    *opens = u ? u->opens : 0;
}

static uint32_t u_bucket(const cishare_unsealer_t *u, const uint8_t *epoch,
                         const uint8_t *pk, const uint8_t *box)
{
    uint8_t in[CISHARE_SEAL_EPOCH_ID_BYTES + 32 + CISHARE_SEAL_BOX_BYTES];
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v;

    memcpy(in, epoch, CISHARE_SEAL_EPOCH_ID_BYTES);
    memcpy(in + CISHARE_SEAL_EPOCH_ID_BYTES, pk, 32);
    memcpy(in + CISHARE_SEAL_EPOCH_ID_BYTES + 32, box, CISHARE_SEAL_BOX_BYTES);
    crypto_shorthash(h, in, sizeof(in), u->hkey);
    memcpy(&v, h, sizeof(v));
    return (uint32_t)(v & (u->nbuckets - 1));
}

static void u_unlink(cishare_unsealer_t *u, int32_t i)
{
    uent_t *x = &u->e[i];

    if (x->prev >= 0)
        u->e[x->prev].next = x->next;
    else
        u->head = x->next;
    if (x->next >= 0)
        u->e[x->next].prev = x->prev;
    else
        u->tail = x->prev;
}

static void u_push(cishare_unsealer_t *u, int32_t i)
{
    u->e[i].prev = -1;
    u->e[i].next = u->head;
    if (u->head >= 0)
        u->e[u->head].prev = i;
    u->head = i;
    if (u->tail < 0)
        u->tail = i;
}

/* The entry of exactly (epoch, pk, box), or -1. Under u->lock. */
static int32_t u_find(cishare_unsealer_t *u, uint32_t b, const uint8_t *epoch,
                      const uint8_t *pk, const uint8_t *box)
{
    int32_t i;

    for (i = u->buckets[b]; i >= 0; i = u->e[i].hnext)
        if (!memcmp(u->e[i].epoch, epoch, CISHARE_SEAL_EPOCH_ID_BYTES) &&
            !memcmp(u->e[i].pk, pk, 32) &&
            !memcmp(u->e[i].box, box, CISHARE_SEAL_BOX_BYTES))
            return i;
    return -1;
}

/* Remember an opened box, evicting (and wiping) the least recently used
 * entry when full. Under u->lock. */
static void u_insert(cishare_unsealer_t *u, uint32_t b, const uint8_t *epoch,
                     const uint8_t *pk, const uint8_t *box, const uint8_t *key)
{
    int32_t i, *pp;
    uent_t *x;

    if (u_find(u, b, epoch, pk, box) >= 0)
        return; /* another thread opened it meanwhile */
    if (u->used < u->cap)
        i = (int32_t)u->used++;
    else {
        i = u->tail;
        u_unlink(u, i);
        for (pp = &u->buckets[u->e[i].bucket]; *pp != i; pp = &u->e[*pp].hnext)
            ;
        *pp = u->e[i].hnext;
        sodium_memzero(&u->e[i], sizeof(u->e[i]));
    }
    x = &u->e[i];
    memcpy(x->epoch, epoch, CISHARE_SEAL_EPOCH_ID_BYTES);
    memcpy(x->pk, pk, 32);
    memcpy(x->box, box, CISHARE_SEAL_BOX_BYTES);
    memcpy(x->key, key, CISHARE_SEAL_KEY_BYTES);
    x->bucket = b;
    x->hnext = u->buckets[b];
    u->buckets[b] = i;
    u_push(u, i);
}

/* ------------------------------------------------------------------ */
/* decrypt (v1 and v2)                                                  */
/* ------------------------------------------------------------------ */

cishare_err_t cishare_unsealer_decrypt(cishare_unsealer_t *u, const uint8_t *ct,
                                       size_t len, const cishare_keypair_t *kp,
                                       const uint8_t *ad, size_t adlen,
                                       uint8_t **ptp, size_t *ptlenp,
                                       char *errstr, size_t errstr_size)
{
    uint8_t key[CISHARE_SEAL_KEY_BYTES], rkid[CISHARE_SEAL_RKID_BYTES];
    uint8_t *pt = NULL, *full_ad = NULL;
    const uint8_t *e, *box = NULL;
    size_t i, head_len, ctext_len, full_ad_len = 0;
    unsigned long long plen = 0;
    cishare_err_t err;
    const char *why = "";
    bool opened = false;
    uint32_t b = 0;
    int32_t hit = -1;
    lay_t l;

    *ptp = NULL;
    *ptlenp = 0;
    if (!kp || (adlen && !ad))
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "seal: missing key");
    if (layout(ct, len, &l, &err, &why))
        return cishare_err_set(err, errstr, errstr_size, "encrypted value: %s",
                               why);
    head_len = l.head + l.cnt * CISHARE_SEAL_ENTRY_BYTES;
    ctext_len = len - head_len;
    cishare_seal_rkid(kp->x25519_pk, rkid);
    /* The entry with our rkid (ids are unique, layout() checked): one
     * box opened at most. */
    for (i = 0, e = l.entries; i < l.cnt; i++, e += CISHARE_SEAL_ENTRY_BYTES)
        if (sodium_memcmp(e, rkid, CISHARE_SEAL_RKID_BYTES) == 0) {
            box = e + CISHARE_SEAL_RKID_BYTES;
            break;
        }
    if (box && u && l.epoch) {
        b = u_bucket(u, l.epoch, kp->x25519_pk, box);
        pthread_mutex_lock(&u->lock);
        if ((hit = u_find(u, b, l.epoch, kp->x25519_pk, box)) >= 0) {
            memcpy(key, u->e[hit].key, sizeof(key));
            u_unlink(u, hit);
            u_push(u, hit);
            u->hits++;
            opened = true;
        }
        pthread_mutex_unlock(&u->lock);
    }
    if (box && hit < 0) {
        opened = crypto_box_seal_open(key, box, CISHARE_SEAL_BOX_BYTES,
                                      kp->x25519_pk, kp->x25519_sk) == 0;
        if (opened && u && l.epoch) {
            pthread_mutex_lock(&u->lock);
            u->opens++;
            u_insert(u, b, l.epoch, kp->x25519_pk, box, key);
            pthread_mutex_unlock(&u->lock);
        }
    }
    if (!opened) {
        sodium_memzero(key, sizeof(key));
        return cishare_err_set(CISHARE_ERR_NOT_RECIPIENT, errstr, errstr_size,
                               "encrypted value: not addressed to key %s "
                               "(%zu recipients)",
                               kp->key_id, l.cnt);
    }
    if (!(full_ad = build_ad(ct, head_len, ad, adlen, &full_ad_len)) ||
        !(pt = malloc(ctext_len - CISHARE_SEAL_TAG_BYTES + 1))) {
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "seal: out of memory");
        goto fail;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, &plen, NULL, ct + head_len, ctext_len, full_ad, full_ad_len,
            l.nonce, key) != 0) {
        err = cishare_err_set(CISHARE_ERR_DECRYPT, errstr, errstr_size,
                              "encrypted value: authentication failed "
                              "(tampered, or bound to another message)");
        goto fail;
    }
    sodium_memzero(key, sizeof(key));
    free(full_ad);
    *ptp = pt;
    *ptlenp = (size_t)plen;
    return CISHARE_OK;
fail:
    sodium_memzero(key, sizeof(key));
    if (pt) {
        sodium_memzero(pt, ctext_len - CISHARE_SEAL_TAG_BYTES + 1);
        free(pt);
    }
    free(full_ad);
    return err;
}

cishare_err_t cishare_seal_decrypt(const uint8_t *ct, size_t len,
                                   const cishare_keypair_t *kp,
                                   const uint8_t *ad, size_t adlen,
                                   uint8_t **ptp, size_t *ptlenp, char *errstr,
                                   size_t errstr_size)
{
    return cishare_unsealer_decrypt(NULL, ct, len, kp, ad, adlen, ptp, ptlenp,
                                    errstr, errstr_size);
}
