/*
 * cishare - end-to-end payload encryption (layout in seal.h and
 * schemas/README.md "Encryption format").
 *
 * Invariant: the recipient key ids (rkid) of a sealed value are unique.
 * Encryption writes one entry per key; decryption refuses a value that
 * repeats an id, so a reader opens at most one sealed box per value
 * (key ids are public: without this a sender could make every reader try
 * up to CISHARE_SEAL_MAX_RECIPIENTS boxes).
 */
#include "cishare/seal.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_AD_PREFIX "cishare/seal/v1"

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
    size_t plen = strlen(SEAL_AD_PREFIX);
    uint8_t *buf = malloc(plen + head_len + adlen + 1);

    if (!buf)
        return NULL;
    memcpy(buf, SEAL_AD_PREFIX, plen);
    memcpy(buf + plen, head, head_len);
    if (adlen)
        memcpy(buf + plen + head_len, ad, adlen);
    *lenp = plen + head_len + adlen;
    return buf;
}

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
    if ((len && !pt) || (adlen && !ad) || !recipient_pks)
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

/* Layout check shared by decrypt and recipient_cnt: returns the count or
 * -1 and sets *errp. */
static long layout(const uint8_t *ct, size_t len, cishare_err_t *errp,
                   const char **whyp)
{
    size_t cnt;

    *errp = CISHARE_ERR_PARSE;
    if (!ct || len < CISHARE_SEAL_HEADER_BYTES) {
        *errp = CISHARE_ERR_TRUNCATED;
        *whyp = "shorter than the header";
        return -1;
    }
    if (ct[0] != CISHARE_SEAL_VERSION) {
        *whyp = "unknown version";
        return -1;
    }
    cnt = ((size_t)ct[1 + CISHARE_SEAL_NONCE_BYTES] << 8) |
          ct[2 + CISHARE_SEAL_NONCE_BYTES];
    if (cnt == 0 || cnt > CISHARE_SEAL_MAX_RECIPIENTS) {
        *errp = CISHARE_ERR_TOO_LARGE;
        *whyp = "recipient count out of range";
        return -1;
    }
    if (len < CISHARE_SEAL_HEADER_BYTES + cnt * CISHARE_SEAL_ENTRY_BYTES +
                  CISHARE_SEAL_TAG_BYTES) {
        *errp = CISHARE_ERR_TRUNCATED;
        *whyp = "shorter than its recipient entries";
        return -1;
    }
    if (len - CISHARE_SEAL_HEADER_BYTES - cnt * CISHARE_SEAL_ENTRY_BYTES -
            CISHARE_SEAL_TAG_BYTES >
        CISHARE_SEAL_MAX_PLAINTEXT) {
        *errp = CISHARE_ERR_TOO_LARGE;
        *whyp = "ciphertext too long";
        return -1;
    }
    if (rkids_repeat(ct + CISHARE_SEAL_HEADER_BYTES, cnt)) {
        *whyp = "duplicate recipient key ids (one entry per recipient)";
        return -1;
    }
    return (long)cnt;
}

long cishare_seal_recipient_cnt(const uint8_t *ct, size_t len)
{
    cishare_err_t err;
    const char *why;

    return layout(ct, len, &err, &why);
}

cishare_err_t cishare_seal_decrypt(const uint8_t *ct, size_t len,
                                   const cishare_keypair_t *kp,
                                   const uint8_t *ad, size_t adlen,
                                   uint8_t **ptp, size_t *ptlenp, char *errstr,
                                   size_t errstr_size)
{
    uint8_t key[CISHARE_SEAL_KEY_BYTES], rkid[CISHARE_SEAL_RKID_BYTES];
    uint8_t *pt = NULL, *full_ad = NULL;
    const uint8_t *e;
    size_t i, head_len, ctext_len, full_ad_len = 0;
    unsigned long long plen = 0;
    cishare_err_t err;
    const char *why = "";
    long cnt;
    bool opened = false;

    *ptp = NULL;
    *ptlenp = 0;
    if (!kp || (adlen && !ad))
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "seal: missing key");
    if ((cnt = layout(ct, len, &err, &why)) < 0)
        return cishare_err_set(err, errstr, errstr_size, "encrypted value: %s",
                               why);
    head_len =
        CISHARE_SEAL_HEADER_BYTES + (size_t)cnt * CISHARE_SEAL_ENTRY_BYTES;
    ctext_len = len - head_len;
    cishare_seal_rkid(kp->x25519_pk, rkid);
    /* The entry with our rkid (ids are unique, layout() checked): one
     * box opened at most. */
    for (i = 0, e = ct + CISHARE_SEAL_HEADER_BYTES; i < (size_t)cnt;
         i++, e += CISHARE_SEAL_ENTRY_BYTES) {
        if (sodium_memcmp(e, rkid, CISHARE_SEAL_RKID_BYTES) != 0)
            continue;
        opened = crypto_box_seal_open(key, e + CISHARE_SEAL_RKID_BYTES,
                                      CISHARE_SEAL_BOX_BYTES, kp->x25519_pk,
                                      kp->x25519_sk) == 0;
        break;
    }
    if (!opened) {
        sodium_memzero(key, sizeof(key));
        return cishare_err_set(CISHARE_ERR_NOT_RECIPIENT, errstr, errstr_size,
                               "encrypted value: not addressed to key %s "
                               "(%ld recipients)",
                               kp->key_id, cnt);
    }
    if (!(full_ad = build_ad(ct, head_len, ad, adlen, &full_ad_len)) ||
        !(pt = malloc(ctext_len - CISHARE_SEAL_TAG_BYTES + 1))) {
        err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                              "seal: out of memory");
        goto fail;
    }
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, &plen, NULL, ct + head_len, ctext_len, full_ad, full_ad_len,
            ct + 1, key) != 0) {
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
