/*
 * cishare - envelope headers, canonical signing input, signature schemes.
 * The byte layouts here are the contract of schemas/README.md; change both
 * together (and the golden vectors under tests/vectors/envelope/).
 */
#include "cishare/envelope.h"
#include "cishare/codec.h" /* cishare_time_days_from_civil */

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Domain separators: never reuse one for another byte layout. */
#define SIG_PREFIX     "cishare-envelope"
#define RELAY_PREFIX   "cishare-relay"
#define SEAL_AD_PREFIX "cishare/seal-ad/v1"
#define SIG_VERSION    0x01

/* ------------------------------------------------------------------ */
/* Byte writer with snprintf semantics: counts past the end of buf.    */
/* ------------------------------------------------------------------ */

typedef struct wbuf_s {
    uint8_t *buf;
    size_t size;
    size_t len;
} wbuf_t;

static void put_bytes(wbuf_t *w, const void *p, size_t n)
{
    if (w->buf && w->len < w->size) {
        size_t room = w->size - w->len;
        memcpy(w->buf + w->len, p, n < room ? n : room);
    }
    w->len += n;
}

static void put_u8(wbuf_t *w, uint8_t v)
{
    put_bytes(w, &v, 1);
}

static void put_u32(wbuf_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    put_bytes(w, b, 4);
}

static void put_u64(wbuf_t *w, uint64_t v)
{
    uint8_t b[8];
    int i;

    for (i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
    put_bytes(w, b, 8);
}

/* Length-prefixed field: u32 big-endian length, then the bytes. */
static void put_field(wbuf_t *w, const void *p, size_t n)
{
    put_u32(w, (uint32_t)n);
    put_bytes(w, p, n);
}

static void put_str(wbuf_t *w, const char *s)
{
    put_field(w, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Time: the one header form, strict.                                   */
/* ------------------------------------------------------------------ */

void cishare_envelope_time_format(int64_t ms,
                                  char out[CISHARE_TIME_TEXT_LEN + 1])
{
    char t[32];

    if (ms < 0 || ms > CISHARE_TIME_MAX_MS) {
        memcpy(out, "0000-00-00T00:00:00.000Z", CISHARE_TIME_TEXT_LEN + 1);
        return;
    }
    /* codec's formatter writes the digits by hand (snprintf cost more
     * than the rest of a receipt's envelope); it leaves out ".000" */
    cishare_time_format(ms, t);
    if (t[19] == 'Z')
        memcpy(t + 19, ".000Z", 6);
    memcpy(out, t, CISHARE_TIME_TEXT_LEN);
    out[CISHARE_TIME_TEXT_LEN] = '\0';
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool cishare_envelope_time_parse(const char *t, size_t len, int64_t *msp)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, s, ms;
    bool leap;

    /* YYYY-MM-DDTHH:MM:SS.sssZ */
    if (len != CISHARE_TIME_TEXT_LEN || t[4] != '-' || t[7] != '-' ||
        t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != '.' ||
        t[23] != 'Z')
        return false;
    if (!digits(t, 4, &y) || !digits(t + 5, 2, &mo) || !digits(t + 8, 2, &d) ||
        !digits(t + 11, 2, &h) || !digits(t + 14, 2, &mi) ||
        !digits(t + 17, 2, &s) || !digits(t + 20, 3, &ms))
        return false;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || s > 59)
        return false;
    *msp = ((cishare_time_days_from_civil(y, mo, d) * 86400 + h * 3600 +
             mi * 60 + s) *
            1000) +
           ms;
    return true;
}

/* ------------------------------------------------------------------ */
/* Field validation                                                     */
/* ------------------------------------------------------------------ */

/* Participant ids and sector codes: [a-z0-9][a-z0-9._-]*. */
static bool valid_name(const char *s, size_t max, bool may_be_empty)
{
    size_t i, n = strnlen(s, max + 1);

    if (n == 0)
        return may_be_empty;
    if (n > max ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool valid_audience(const char *s)
{
    size_t i, n = strnlen(s, CISHARE_AUDIENCE_TEXT_LEN + 1);

    if (n == 0 || n > CISHARE_AUDIENCE_TEXT_LEN)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-' || c == ':' || c == ','))
            return false;
    }
    return true;
}

static bool valid_hex(const char *s, size_t n)
{
    size_t i;

    if (strnlen(s, n + 1) != n)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool valid_id(const char *s)
{
    size_t i;

    if (strnlen(s, CISHARE_MSG_ID_LEN + 1) != CISHARE_MSG_ID_LEN)
        return false;
    for (i = 0; i < CISHARE_MSG_ID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

static bool valid_alg(const char *s)
{
    return s[0] && valid_name(s, CISHARE_SIG_ALG_LEN, false);
}

static bool valid_time(int64_t ms)
{
    /* up to 9999-12-31 */
    return ms >= 0 && ms < 253402300800000LL;
}

cishare_err_t cishare_envelope_validate(const cishare_envelope_t *env,
                                        char *errstr, size_t errstr_size)
{
#define BAD(...)                                                               \
    return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,        \
                           __VA_ARGS__)
    size_t i;

    if (!valid_id(env->id))
        BAD("envelope: message id is not a 36-character lowercase UUID");
    if ((unsigned)env->type >= CISHARE_MSG__CNT)
        BAD("envelope: bad message type");
    if ((unsigned)env->tlp >= CISHARE_TLP__CNT)
        BAD("envelope: bad TLP label");
    if (!valid_name(env->origin, CISHARE_ENV_NAME_LEN, false))
        BAD("envelope: bad origin participant id");
    if (!valid_name(env->sector, CISHARE_ENV_NAME_LEN, true))
        BAD("envelope: bad sector code");
    if (!valid_audience(env->audience))
        BAD("envelope: audience empty, too long or with bad characters");
    if (!valid_time(env->created_ms))
        BAD("envelope: created time out of range");
    if (env->expires_ms != 0 && !valid_time(env->expires_ms))
        BAD("envelope: expires time out of range");
    if (env->enc[0] && strcmp(env->enc, CISHARE_ENC_SEAL_V1) != 0)
        BAD("envelope: unknown encryption '%.*s'", CISHARE_ENC_LEN, env->enc);
    if (env->key_id[0] && !valid_hex(env->key_id, CISHARE_KEY_ID_LEN))
        BAD("envelope: key id is not 16 lowercase hex characters");
    if (env->alg[0] && !valid_alg(env->alg))
        BAD("envelope: bad signature scheme id");
    if (env->sig_len > CISHARE_SIG_MAX_BYTES)
        BAD("envelope: signature too long");
    if (env->relay_cnt > CISHARE_RELAY_MAX)
        BAD("envelope: more than %d relay hops", CISHARE_RELAY_MAX);
    for (i = 0; i < env->relay_cnt; i++) {
        const cishare_relay_hop_t *h = &env->relay[i];
        if (!valid_name(h->by, CISHARE_ENV_NAME_LEN, false) ||
            (unsigned)h->tlp >= CISHARE_TLP__CNT ||
            !valid_time(h->created_ms) ||
            !valid_hex(h->key_id, CISHARE_KEY_ID_LEN) || !valid_alg(h->alg) ||
            !valid_audience(h->audience) || h->sig_len == 0 ||
            h->sig_len > CISHARE_SIG_MAX_BYTES)
            BAD("envelope: relay hop %zu is malformed", i + 1);
    }
    return CISHARE_OK;
#undef BAD
}

/* ------------------------------------------------------------------ */
/* Envelope basics                                                      */
/* ------------------------------------------------------------------ */

void cishare_envelope_init(cishare_envelope_t *env)
{
    /* The relay hop slots are 21 of the 27 KB: a hop is zeroed when it is
     * added (relay_sign, parse_relay), and none at or past relay_cnt is
     * read, so zeroing them per message (twice per publish, once per
     * verify) was only memory traffic. */
    memset(env, 0, offsetof(cishare_envelope_t, relay));
    env->relay_cnt = 0;
}

/* 16 bytes as a UUID's text (8-4-4-4-12 lowercase hex) into out[37];
 * by hand: snprintf was most of the cost of an id. */
static void uuid_text(char out[37], const uint8_t r[16])
{
    static const char hx[] = "0123456789abcdef";
    size_t i, o = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hx[r[i] >> 4];
        out[o++] = hx[r[i] & 15];
    }
    out[o] = '\0';
}

void cishare_envelope_new_id(cishare_envelope_t *env)
{
    uint8_t r[16];

    randombytes_buf(r, sizeof(r));
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    uuid_text(env->id, r);
}

static void id_field(crypto_generichash_state *st, const char *s, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                      (uint8_t)n};

    crypto_generichash_update(st, len, sizeof(len));
    if (n)
        crypto_generichash_update(st, (const uint8_t *)s, n);
}

void cishare_uuid_name(char out[37], const char *domain,
                       const char *const *fields, const size_t *lens, size_t n)
{
    crypto_generichash_state st;
    uint8_t r[16];
    size_t i;

    crypto_generichash_init(&st, NULL, 0, sizeof(r));
    crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain));
    for (i = 0; i < n; i++)
        id_field(&st, fields[i] ? fields[i] : "",
                 !fields[i] ? 0
                 : lens     ? lens[i]
                            : strlen(fields[i]));
    crypto_generichash_final(&st, r, sizeof(r));
    /* Name-based: version 8 says "not random", so nobody reads entropy
     * into it. */
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x80);
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    uuid_text(out, r);
}

void cishare_envelope_derive_id(cishare_envelope_t *env, const char *origin,
                                cishare_msgtype_t type, const char *subject,
                                size_t subject_len, const char *record_id,
                                const char *version, cishare_tlp_t tlp,
                                const char *audience)
{
    const char *f[7] = {origin,  cishare_msgtype_name(type), subject, record_id,
                        version, cishare_tlp_name(tlp),      audience};
    size_t lens[7];
    size_t i;

    for (i = 0; i < 7; i++)
        lens[i] = f[i] ? strlen(f[i]) : 0;
    lens[2] = subject ? subject_len : 0; /* a key may hold a NUL */
    cishare_uuid_name(env->id, CISHARE_MSGID_DOMAIN, f, lens, 7);
}

/* ------------------------------------------------------------------ */
/* Signature schemes                                                    */
/* ------------------------------------------------------------------ */

static cishare_err_t ed25519_sign(const uint8_t digest[CISHARE_DIGEST_BYTES],
                                  const cishare_keypair_t *kp, uint8_t *sig,
                                  size_t *sig_lenp)
{
    unsigned long long n = 0;

    if (crypto_sign_detached(sig, &n, digest, CISHARE_DIGEST_BYTES,
                             kp->ed25519_sk) != 0)
        return CISHARE_ERR_CRYPTO;
    *sig_lenp = (size_t)n;
    return CISHARE_OK;
}

static int ed25519_verify(const uint8_t digest[CISHARE_DIGEST_BYTES],
                          const uint8_t *sig, size_t sig_len,
                          const uint8_t pk[CISHARE_ED25519_PK_BYTES])
{
    if (sig_len != crypto_sign_BYTES)
        return -1;
    return crypto_sign_verify_detached(sig, digest, CISHARE_DIGEST_BYTES, pk) ==
                   0
               ? 0
               : -1;
}

/* ---- ed25519-merkle: one Ed25519 signature over a batch ---- */

#define MERKLE_LEAF_PREFIX "cishare/merkle/leaf/v1"
#define MERKLE_NODE_PREFIX "cishare/merkle/node/v1"
#define MERKLE_ROOT_PREFIX "cishare/merkle/root/v1"
#define MERKLE_PREFIX_LEN  22 /* all three */
/* Verified roots kept per thread: the messages of one batch reach a feed
 * through several partitions, chunk by chunk, so a batch's root comes
 * back after hundreds of others (a cache of 32 verified each root about
 * once per partition). 256 sets of 4, by the signature's first byte. */
#define MERKLE_CACHE_SETS 256
#define MERKLE_CACHE_WAYS 4

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static void merkle_leaf(const uint8_t d[CISHARE_DIGEST_BYTES],
                        uint8_t out[CISHARE_DIGEST_BYTES])
{
    uint8_t buf[MERKLE_PREFIX_LEN + CISHARE_DIGEST_BYTES];

    memcpy(buf, MERKLE_LEAF_PREFIX, MERKLE_PREFIX_LEN);
    memcpy(buf + MERKLE_PREFIX_LEN, d, CISHARE_DIGEST_BYTES);
    crypto_generichash(out, CISHARE_DIGEST_BYTES, buf, sizeof(buf), NULL, 0);
}

static void merkle_node(const uint8_t l[CISHARE_DIGEST_BYTES],
                        const uint8_t r[CISHARE_DIGEST_BYTES],
                        uint8_t out[CISHARE_DIGEST_BYTES])
{
    uint8_t buf[MERKLE_PREFIX_LEN + 2 * CISHARE_DIGEST_BYTES];

    memcpy(buf, MERKLE_NODE_PREFIX, MERKLE_PREFIX_LEN);
    memcpy(buf + MERKLE_PREFIX_LEN, l, CISHARE_DIGEST_BYTES);
    memcpy(buf + MERKLE_PREFIX_LEN + CISHARE_DIGEST_BYTES, r,
           CISHARE_DIGEST_BYTES);
    crypto_generichash(out, CISHARE_DIGEST_BYTES, buf, sizeof(buf), NULL, 0);
}

/* What the root signature signs: prefix || u32 n || root. */
#define MERKLE_ROOT_MSG_LEN (MERKLE_PREFIX_LEN + 4 + CISHARE_DIGEST_BYTES)
static void merkle_root_msg(uint32_t n,
                            const uint8_t root[CISHARE_DIGEST_BYTES],
                            uint8_t out[MERKLE_ROOT_MSG_LEN])
{
    memcpy(out, MERKLE_ROOT_PREFIX, MERKLE_PREFIX_LEN);
    be32_put(out + MERKLE_PREFIX_LEN, n);
    memcpy(out + MERKLE_PREFIX_LEN + 4, root, CISHARE_DIGEST_BYTES);
}

/* Largest power of two strictly below n (n >= 2). */
static size_t merkle_split(size_t n)
{
    size_t k = 1;

    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* Audit path length of leaf `index` in a tree of n leaves: the number of
 * steps of the RFC 9162 2.1.3.2 walk (index < n assumed). */
static size_t merkle_path_len(uint32_t index, uint32_t n)
{
    uint32_t fn = index, sn = n - 1;
    size_t len = 0;

    while (sn) {
        if ((fn & 1) || fn == sn)
            while (!(fn & 1) && fn)
                fn >>= 1, sn >>= 1;
        fn >>= 1;
        sn >>= 1;
        len++;
    }
    return len;
}

/* Hash of leaves [lo, hi); appends the sibling of each subtree to the
 * paths of the leaves under it, deepest first (post-order). */
typedef struct merkle_build_s {
    const uint8_t (*leaf)[CISHARE_DIGEST_BYTES];
    uint8_t *const *sigs; /* path of leaf i at sigs[i] + MIN + 32 * len[i] */
    size_t *len;
} merkle_build_t;

static void merkle_tree(merkle_build_t *b, size_t lo, size_t hi,
                        uint8_t out[CISHARE_DIGEST_BYTES])
{
    uint8_t l[CISHARE_DIGEST_BYTES], r[CISHARE_DIGEST_BYTES];
    size_t k, i;

    if (hi - lo == 1) {
        memcpy(out, b->leaf[lo], CISHARE_DIGEST_BYTES);
        return;
    }
    k = merkle_split(hi - lo);
    merkle_tree(b, lo, lo + k, l);
    merkle_tree(b, lo + k, hi, r);
    for (i = lo; i < hi; i++) {
        memcpy(b->sigs[i] + CISHARE_MERKLE_SIG_MIN +
                   CISHARE_DIGEST_BYTES * b->len[i],
               i < lo + k ? r : l, CISHARE_DIGEST_BYTES);
        b->len[i]++;
    }
    merkle_node(l, r, out);
}

static cishare_err_t
merkle_sign_batch(const uint8_t (*digests)[CISHARE_DIGEST_BYTES], size_t n,
                  const cishare_keypair_t *kp, uint8_t *const *sigs,
                  size_t *sig_lens)
{
    uint8_t root[CISHARE_DIGEST_BYTES], msg[MERKLE_ROOT_MSG_LEN], rsig[64];
    uint8_t(*leaf)[CISHARE_DIGEST_BYTES];
    merkle_build_t b;
    size_t i;

    if (n == 0 || n > CISHARE_MERKLE_MAX_LEAVES)
        return CISHARE_ERR_TOO_LARGE;
    if (!(leaf = malloc(n * sizeof(*leaf))))
        return CISHARE_ERR_NOMEM;
    for (i = 0; i < n; i++) {
        merkle_leaf(digests[i], leaf[i]);
        sig_lens[i] = 0; /* path length while building */
    }
    b.leaf = (const uint8_t(*)[CISHARE_DIGEST_BYTES])leaf;
    b.sigs = sigs;
    b.len = sig_lens;
    merkle_tree(&b, 0, n, root);
    free(leaf);
    merkle_root_msg((uint32_t)n, root, msg);
    if (crypto_sign_detached(rsig, NULL, msg, sizeof(msg), kp->ed25519_sk))
        return CISHARE_ERR_CRYPTO;
    for (i = 0; i < n; i++) {
        memcpy(sigs[i], rsig, 64);
        be32_put(sigs[i] + 64, (uint32_t)i);
        be32_put(sigs[i] + 68, (uint32_t)n);
        sig_lens[i] =
            CISHARE_MERKLE_SIG_MIN + CISHARE_DIGEST_BYTES * sig_lens[i];
    }
    return CISHARE_OK;
}

static cishare_err_t merkle_sign(const uint8_t digest[CISHARE_DIGEST_BYTES],
                                 const cishare_keypair_t *kp, uint8_t *sig,
                                 size_t *sig_lenp)
{
    uint8_t *const sigs[1] = {sig};

    return merkle_sign_batch((const uint8_t(*)[CISHARE_DIGEST_BYTES])digest, 1,
                             kp, sigs, sig_lenp);
}

/* Verified root signatures of this thread: (pk, n, root, signature), the
 * exact input of one successful Ed25519 verification, so a hit is the
 * same answer Ed25519 would give. Only successes enter. */
typedef struct merkle_cached_s {
    uint8_t pk[CISHARE_ED25519_PK_BYTES];
    uint8_t msg[MERKLE_ROOT_MSG_LEN]; /* prefix, n, root */
    uint8_t sig[64];
    bool used;
} merkle_cached_t;

static _Thread_local struct {
    merkle_cached_t e[MERKLE_CACHE_SETS][MERKLE_CACHE_WAYS];
    uint8_t next[MERKLE_CACHE_SETS];
    cishare_sig_stats_t stats;
    /* The set of a signature is a keyed hash of it (SipHash, a random key
     * per thread): a signer cannot choose signatures that all land in one
     * set and so evict other origins' roots (with sig[0] it could, by
     * grinding its own batches). */
    uint8_t key[crypto_shorthash_KEYBYTES];
    bool keyed;
} merkle_cache;

static unsigned merkle_cache_set(const uint8_t *sig)
{
    uint8_t h[crypto_shorthash_BYTES];

    if (!merkle_cache.keyed) {
        randombytes_buf(merkle_cache.key, sizeof(merkle_cache.key));
        merkle_cache.keyed = true;
    }
    crypto_shorthash(h, sig, 64, merkle_cache.key);
    return (unsigned)((h[0] | (unsigned)h[1] << 8) % MERKLE_CACHE_SETS);
}

static bool merkle_cache_find(const uint8_t *pk, const uint8_t *msg,
                              const uint8_t *sig)
{
    const merkle_cached_t *set = merkle_cache.e[merkle_cache_set(sig)];
    unsigned i;

    for (i = 0; i < MERKLE_CACHE_WAYS; i++) {
        const merkle_cached_t *c = &set[i];
        if (c->used && !memcmp(c->sig, sig, 64) &&
            !memcmp(c->msg, msg, MERKLE_ROOT_MSG_LEN) &&
            !memcmp(c->pk, pk, CISHARE_ED25519_PK_BYTES))
            return true;
    }
    return false;
}

static void merkle_cache_add(const uint8_t *pk, const uint8_t *msg,
                             const uint8_t *sig)
{
    unsigned s = merkle_cache_set(sig);
    merkle_cached_t *c = &merkle_cache.e[s][merkle_cache.next[s]];

    memcpy(c->pk, pk, CISHARE_ED25519_PK_BYTES);
    memcpy(c->msg, msg, MERKLE_ROOT_MSG_LEN);
    memcpy(c->sig, sig, 64);
    c->used = true;
    merkle_cache.next[s] =
        (uint8_t)((merkle_cache.next[s] + 1) % MERKLE_CACHE_WAYS);
}

/*
 * Authenticated nodes of this thread's last MERKLE_TREES verified trees,
 * by position (level, index), so that the next messages of a batch skip
 * most of their path: a leaf or node equal to the authentic one at its
 * position joins a tree whose root signature verified. The rest of the
 * message's path is then compared, hash by hash, with the authentic
 * siblings (none may differ: the blob stays exactly the signer's); where
 * one is unknown the walk goes on hashing as usual. In poll order a batch
 * costs about 2 hashes a message instead of 1 + L. A tree is found by
 * (key, n, root signature): only walks that ended at that verified root
 * record nodes.
 */
#define MERKLE_TREES      2
#define MERKLE_TREE_SLOTS (2 * CISHARE_MERKLE_MAX_LEAVES - 1)

typedef struct merkle_tree_s {
    uint8_t pk[CISHARE_ED25519_PK_BYTES];
    uint8_t sig[64];
    uint32_t n;
    bool used;
    uint64_t have[(MERKLE_TREE_SLOTS + 63) / 64];
    uint8_t h[MERKLE_TREE_SLOTS][CISHARE_DIGEST_BYTES];
} merkle_tree_t;

static _Thread_local struct {
    merkle_tree_t t[MERKLE_TREES];
    unsigned next;
} merkle_trees;

/* Level l holds CISHARE_MERKLE_MAX_LEAVES >> l positions, laid out one
 * level after another; SIZE_MAX when out of range. */
static size_t mt_slot(unsigned lvl, uint32_t idx)
{
    size_t max = CISHARE_MERKLE_MAX_LEAVES;
    if (lvl > 10 || idx >= (max >> lvl))
        return SIZE_MAX;
    return 2 * max - (2 * max >> lvl) + idx;
}

static const uint8_t *mt_get(const merkle_tree_t *t, unsigned lvl, uint32_t idx)
{
    size_t s = mt_slot(lvl, idx);
    return s != SIZE_MAX && (t->have[s / 64] >> (s % 64) & 1) ? t->h[s] : NULL;
}

static void mt_put(merkle_tree_t *t, unsigned lvl, uint32_t idx,
                   const uint8_t *h)
{
    size_t s = mt_slot(lvl, idx);
    if (s == SIZE_MAX)
        return;
    memcpy(t->h[s], h, CISHARE_DIGEST_BYTES);
    t->have[s / 64] |= (uint64_t)1 << (s % 64);
}

static merkle_tree_t *mt_find(const uint8_t *pk, uint32_t n, const uint8_t *sig)
{
    unsigned i;
    for (i = 0; i < MERKLE_TREES; i++) {
        merkle_tree_t *t = &merkle_trees.t[i];
        if (t->used && t->n == n && !memcmp(t->sig, sig, 64) &&
            !memcmp(t->pk, pk, CISHARE_ED25519_PK_BYTES))
            return t;
    }
    return NULL;
}

static merkle_tree_t *mt_new(const uint8_t *pk, uint32_t n, const uint8_t *sig)
{
    merkle_tree_t *t = &merkle_trees.t[merkle_trees.next];

    merkle_trees.next = (merkle_trees.next + 1) % MERKLE_TREES;
    memcpy(t->pk, pk, CISHARE_ED25519_PK_BYTES);
    memcpy(t->sig, sig, 64);
    t->n = n;
    t->used = true;
    memset(t->have, 0, sizeof(t->have));
    return t;
}

/* One step of the RFC 9162 walk from (lvl, fn, sn): where the sibling is
 * (promoting a right-edge node first), then the parent's position.
 * Returns whether the sibling is on the left. */
static bool mt_step(unsigned *lvl, uint32_t *fn, uint32_t *sn, uint32_t *sib)
{
    bool left = (*fn & 1) || *fn == *sn;

    if (left)
        while (!(*fn & 1) && *fn)
            *fn >>= 1, *sn >>= 1, ++*lvl;
    *sib = left ? *fn - 1 : *fn + 1;
    return left;
}

/* The rest of a path from the node at (lvl, fn, sn), against the tree:
 * 1 every sibling is the authentic one, -1 one differs (or the shape is
 * wrong), 0 one is not known yet. */
static int mt_suffix(const merkle_tree_t *t, unsigned lvl, uint32_t fn,
                     uint32_t sn, const uint8_t *p, size_t left)
{
    for (; left; left--, p += CISHARE_DIGEST_BYTES) {
        const uint8_t *a;
        uint32_t sib;
        if (sn == 0)
            return -1;
        mt_step(&lvl, &fn, &sn, &sib);
        if (!(a = mt_get(t, lvl, sib)))
            return 0;
        if (memcmp(a, p, CISHARE_DIGEST_BYTES))
            return -1;
        fn >>= 1, sn >>= 1, lvl++;
    }
    return sn == 0 ? 1 : -1;
}

void cishare_sig_stats(cishare_sig_stats_t *out)
{
    *out = merkle_cache.stats;
}

void cishare_sig_cache_clear(void)
{
    memset(&merkle_cache, 0, sizeof(merkle_cache));
    memset(&merkle_trees, 0, sizeof(merkle_trees));
}

static int merkle_verify(const uint8_t digest[CISHARE_DIGEST_BYTES],
                         const uint8_t *sig, size_t sig_len,
                         const uint8_t pk[CISHARE_ED25519_PK_BYTES])
{
    uint8_t r[CISHARE_DIGEST_BYTES], msg[MERKLE_ROOT_MSG_LEN];
    uint8_t node[11][CISHARE_DIGEST_BYTES];
    unsigned nlvl[11], slvl[10], lvl;
    uint32_t nidx[11], sib[10];
    merkle_tree_t *tree;
    const uint8_t *p;
    uint32_t index, n, fn, sn;
    size_t len, i, steps;

    /* every field bounded and exact before any hashing */
    if (sig_len < CISHARE_MERKLE_SIG_MIN || sig_len > CISHARE_MERKLE_SIG_MAX)
        return -1;
    index = be32_get(sig + 64);
    n = be32_get(sig + 68);
    if (n == 0 || n > CISHARE_MERKLE_MAX_LEAVES || index >= n)
        return -1;
    len = merkle_path_len(index, n);
    if (sig_len != CISHARE_MERKLE_SIG_MIN + CISHARE_DIGEST_BYTES * len)
        return -1;
    /* RFC 9162 2.1.3.2, with our leaf and node hashes; each step's
     * node and sibling are kept for the tree cache (at most 10 steps) */
    tree = mt_find(pk, n, sig);
    merkle_leaf(digest, r);
    merkle_cache.stats.path_hashes++;
    memcpy(node[0], r, CISHARE_DIGEST_BYTES);
    nlvl[0] = 0;
    nidx[0] = index;
    fn = index;
    sn = n - 1;
    lvl = 0;
    p = sig + CISHARE_MERKLE_SIG_MIN;
    for (i = 0;; i++, p += CISHARE_DIGEST_BYTES) {
        const uint8_t *a;
        int known;
        /* node i (the leaf, then each parent) against the tree */
        if (tree && (a = mt_get(tree, nlvl[i], nidx[i])) &&
            !memcmp(a, node[i], CISHARE_DIGEST_BYTES) &&
            (known = mt_suffix(tree, nlvl[i], fn, sn, p, len - i))) {
            if (known < 0)
                return -1;
            merkle_cache.stats.cache_hits++;
            steps = i;
            goto record;
        }
        if (i == len)
            break;
        if (sn == 0)
            return -1;
        if (mt_step(&lvl, &fn, &sn, &sib[i]))
            merkle_node(p, r, r);
        else
            merkle_node(r, p, r);
        merkle_cache.stats.path_hashes++;
        slvl[i] = lvl;
        fn >>= 1;
        sn >>= 1;
        lvl++;
        memcpy(node[i + 1], r, CISHARE_DIGEST_BYTES);
        nlvl[i + 1] = lvl;
        nidx[i + 1] = fn;
    }
    if (sn != 0)
        return -1;
    merkle_root_msg(n, r, msg);
    if (merkle_cache_find(pk, msg, sig)) {
        merkle_cache.stats.cache_hits++;
    } else {
        merkle_cache.stats.ed25519_verifies++;
        if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0)
            return -1;
        merkle_cache_add(pk, msg, sig);
    }
    steps = len;
    if (!tree)
        tree = mt_new(pk, n, sig);
record:
    /* everything this walk authenticated: its nodes and siblings */
    p = sig + CISHARE_MERKLE_SIG_MIN;
    for (i = 0; i <= steps; i++) {
        mt_put(tree, nlvl[i], nidx[i], node[i]);
        if (i < steps)
            mt_put(tree, slvl[i], sib[i], p + CISHARE_DIGEST_BYTES * i);
    }
    return 0;
}

static const cishare_sig_scheme_t sig_schemes[] = {
    {
        .name = CISHARE_SIG_ED25519,
        .max_sig_bytes = crypto_sign_BYTES,
        .sign = ed25519_sign,
        .verify = ed25519_verify,
    },
    {
        .name = CISHARE_SIG_ED25519_MERKLE,
        .max_sig_bytes = CISHARE_MERKLE_SIG_MAX,
        .sign = merkle_sign,
        .verify = merkle_verify,
        .sign_batch = merkle_sign_batch,
        .max_batch = CISHARE_MERKLE_MAX_LEAVES,
    },
};

const cishare_sig_scheme_t *cishare_sig_scheme_find(const char *name)
{
    size_t i;

    for (i = 0; name && i < sizeof(sig_schemes) / sizeof(sig_schemes[0]); i++)
        if (!strcmp(sig_schemes[i].name, name))
            return &sig_schemes[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Canonical signing input                                              */
/* ------------------------------------------------------------------ */

size_t cishare_envelope_signing_input(const cishare_envelope_t *env,
                                      const char *subject, size_t subject_len,
                                      const uint8_t *value, size_t value_len,
                                      uint8_t *buf, size_t size)
{
    wbuf_t w = {buf, size, 0};
    uint8_t vd[CISHARE_DIGEST_BYTES];

    crypto_generichash(vd, sizeof(vd), value, value_len, NULL, 0);
    put_bytes(&w, SIG_PREFIX, strlen(SIG_PREFIX));
    put_u8(&w, SIG_VERSION);
    put_str(&w, env->alg);
    put_str(&w, env->id);
    put_str(&w, cishare_msgtype_name(env->type));
    put_str(&w, cishare_tlp_name(env->tlp));
    put_str(&w, env->origin);
    put_str(&w, env->sector);
    put_str(&w, env->audience);
    put_u64(&w, env->schema_fp);
    put_u64(&w, (uint64_t)env->created_ms);
    put_u64(&w, (uint64_t)env->expires_ms);
    put_str(&w, env->key_id);
    put_str(&w, env->enc);
    put_field(&w, subject, subject_len);
    put_u64(&w, (uint64_t)value_len);
    put_bytes(&w, vd, sizeof(vd));
    return w.len;
}

/* Fixed upper bound of the signing input: every string is bounded. */
#define SIGNING_INPUT_MAX                                                      \
    (32 + 13 * 4 + CISHARE_SIG_ALG_LEN + CISHARE_MSG_ID_LEN + 16 + 16 +        \
     2 * CISHARE_ENV_NAME_LEN + CISHARE_AUDIENCE_TEXT_LEN + 3 * 8 +            \
     CISHARE_KEY_ID_LEN + CISHARE_ENC_LEN + CISHARE_SUBJECT_MAX_LEN + 8 + 32)

void cishare_envelope_digest(const cishare_envelope_t *env, const char *subject,
                             size_t subject_len, const uint8_t *value,
                             size_t value_len,
                             uint8_t digest[CISHARE_DIGEST_BYTES])
{
    uint8_t buf[SIGNING_INPUT_MAX];
    size_t n;

    n = cishare_envelope_signing_input(env, subject, subject_len, value,
                                       value_len, buf, sizeof(buf));
    /* Callers validate first, so n always fits. Were it ever not to, a
     * random digest fails closed: no signature made or checked over it
     * can match another message's. */
    if (n > sizeof(buf)) {
        randombytes_buf(digest, CISHARE_DIGEST_BYTES);
        return;
    }
    crypto_generichash(digest, CISHARE_DIGEST_BYTES, buf, n, NULL, 0);
}

cishare_err_t cishare_envelope_sign(cishare_envelope_t *env,
                                    const cishare_keypair_t *kp,
                                    const char *scheme, const char *subject,
                                    size_t subject_len, const uint8_t *value,
                                    size_t value_len, char *errstr,
                                    size_t errstr_size)
{
    const cishare_sig_scheme_t *s =
        cishare_sig_scheme_find(scheme ? scheme : CISHARE_SIG_ED25519);
    uint8_t d[CISHARE_DIGEST_BYTES];
    cishare_err_t err;

    if (!s)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "unknown signature scheme '%s'", scheme);
    if (subject_len > CISHARE_SUBJECT_MAX_LEN)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "subject longer than %d bytes",
                               CISHARE_SUBJECT_MAX_LEN);
    snprintf(env->alg, sizeof(env->alg), "%s", s->name);
    memcpy(env->key_id, kp->key_id, sizeof(env->key_id));
    env->sig_len = 0;
    env->relay_cnt = 0; /* a fresh origin signature starts a new chain */
    if ((err = cishare_envelope_validate(env, errstr, errstr_size)))
        return err;
    cishare_envelope_digest(env, subject, subject_len, value, value_len, d);
    if ((err = s->sign(d, kp, env->sig, &env->sig_len)))
        return cishare_err_set(err, errstr, errstr_size, "signing failed");
    return CISHARE_OK;
}

cishare_err_t cishare_envelope_sign_batch(
    cishare_envelope_t *const *envs, const char *const *subjects,
    const size_t *subject_lens, const uint8_t *const *values,
    const size_t *value_lens, size_t n, const cishare_keypair_t *kp,
    const char *scheme, char *errstr, size_t errstr_size)
{
    const cishare_sig_scheme_t *s =
        cishare_sig_scheme_find(scheme ? scheme : CISHARE_SIG_ED25519_MERKLE);
    uint8_t(*d)[CISHARE_DIGEST_BYTES] = NULL;
    uint8_t **sigs = NULL;
    size_t *lens = NULL, i;
    cishare_err_t err = CISHARE_OK;

    if (!s)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "unknown signature scheme '%s'", scheme);
    if (n == 0)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "empty signing batch");
    if (s->sign_batch && n > s->max_batch)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "signing batch of %zu messages: %s signs at "
                               "most %zu at once",
                               n, s->name, s->max_batch);
    if (!s->sign_batch) {
        for (i = 0; i < n; i++)
            if ((err = cishare_envelope_sign(
                     envs[i], kp, s->name, subjects[i], subject_lens[i],
                     values[i], value_lens[i], errstr, errstr_size)))
                break;
        goto out;
    }
    d = malloc(n * sizeof(*d));
    sigs = malloc(n * sizeof(*sigs));
    lens = malloc(n * sizeof(*lens));
    if (!d || !sigs || !lens) {
        err = CISHARE_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        cishare_envelope_t *env = envs[i];
        char why[256];
        if (subject_lens[i] > CISHARE_SUBJECT_MAX_LEN) {
            err = cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                                  "batch message %zu (%.36s): subject longer "
                                  "than %d bytes",
                                  i, env->id, CISHARE_SUBJECT_MAX_LEN);
            goto out;
        }
        snprintf(env->alg, sizeof(env->alg), "%s", s->name);
        memcpy(env->key_id, kp->key_id, sizeof(env->key_id));
        env->sig_len = 0;
        env->relay_cnt = 0;
        if ((err = cishare_envelope_validate(env, why, sizeof(why)))) {
            cishare_err_set(err, errstr, errstr_size,
                            "batch message %zu (%.36s): %s", i, env->id, why);
            goto out;
        }
        if (i && strcmp(env->origin, envs[0]->origin) != 0) {
            err = cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                                  "batch message %zu (%.36s): origin %s, the "
                                  "batch's is %s",
                                  i, env->id, env->origin, envs[0]->origin);
            goto out;
        }
        cishare_envelope_digest(env, subjects[i], subject_lens[i], values[i],
                                value_lens[i], d[i]);
        sigs[i] = env->sig;
    }
    if ((err = s->sign_batch((const uint8_t(*)[CISHARE_DIGEST_BYTES])d, n, kp,
                             sigs, lens))) {
        cishare_err_set(err, errstr, errstr_size, "batch signing failed");
        goto out;
    }
    for (i = 0; i < n; i++)
        envs[i]->sig_len = lens[i];
out:
    if (err)
        for (i = 0; i < n; i++)
            envs[i]->sig_len = 0;
    free(d);
    free(sigs);
    free(lens);
    return err;
}

cishare_err_t
cishare_envelope_verify(const cishare_envelope_t *env, const char *subject,
                        size_t subject_len, const uint8_t *value,
                        size_t value_len,
                        const uint8_t pk[CISHARE_ED25519_PK_BYTES],
                        char *errstr, size_t errstr_size)
{
    const cishare_sig_scheme_t *s;
    uint8_t d[CISHARE_DIGEST_BYTES];
    char key_id[CISHARE_KEY_ID_LEN + 1];

    if (!env || !pk || (value_len && !value) || (subject_len && !subject))
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "nothing to verify");
    if (env->sig_len == 0)
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "message %.36s: no signature", env->id);
    if (!(s = cishare_sig_scheme_find(env->alg)))
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "message %.36s: unknown signature scheme",
                               env->id);
    if (subject_len > CISHARE_SUBJECT_MAX_LEN ||
        env->sig_len > s->max_sig_bytes ||
        cishare_envelope_validate(env, NULL, 0) != CISHARE_OK)
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "message %.36s: malformed envelope", env->id);
    /* The key id must name the key we verify with. */
    cishare_key_id(pk, key_id);
    if (sodium_memcmp(key_id, env->key_id, CISHARE_KEY_ID_LEN) != 0)
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "message %.36s: key id %s is not the "
                               "verifying key %s",
                               env->id, env->key_id, key_id);
    cishare_envelope_digest(env, subject, subject_len, value, value_len, d);
    if (s->verify(d, env->sig, env->sig_len, pk) != 0)
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "message %.36s: signature does not verify",
                               env->id);
    return CISHARE_OK;
}

cishare_err_t cishare_sig_verify(const cishare_envelope_t *env,
                                 const char *subject, size_t subject_len,
                                 const uint8_t *value, size_t value_len,
                                 const uint8_t pk[CISHARE_ED25519_PK_BYTES],
                                 char *errstr, size_t errstr_size)
{
    return cishare_envelope_verify(env, subject, subject_len, value, value_len,
                                   pk, errstr, errstr_size);
}

/* ------------------------------------------------------------------ */
/* Relay chain                                                          */
/* ------------------------------------------------------------------ */

/* Digest a relay hop signs: prefix, D, hop index, previous signature,
 * the hop's fields. */
static void relay_digest(const cishare_envelope_t *env, size_t i,
                         const uint8_t d[CISHARE_DIGEST_BYTES],
                         uint8_t out[CISHARE_DIGEST_BYTES])
{
    const cishare_relay_hop_t *h = &env->relay[i];
    crypto_generichash_state st;
    uint8_t buf[128 + CISHARE_SIG_MAX_BYTES + CISHARE_AUDIENCE_TEXT_LEN +
                CISHARE_ENV_NAME_LEN + CISHARE_SIG_ALG_LEN];
    wbuf_t w = {buf, sizeof(buf), 0};

    put_bytes(&w, RELAY_PREFIX, strlen(RELAY_PREFIX));
    put_u8(&w, SIG_VERSION);
    put_bytes(&w, d, CISHARE_DIGEST_BYTES);
    put_u32(&w, (uint32_t)i);
    if (i == 0)
        put_field(&w, env->sig, env->sig_len);
    else
        put_field(&w, env->relay[i - 1].sig, env->relay[i - 1].sig_len);
    put_str(&w, h->by);
    put_str(&w, cishare_tlp_name(h->tlp));
    put_u64(&w, (uint64_t)h->created_ms);
    put_str(&w, h->key_id);
    put_str(&w, h->alg);
    put_str(&w, h->audience);
    if (w.len > sizeof(buf)) { /* cannot happen; fail closed as above */
        randombytes_buf(out, CISHARE_DIGEST_BYTES);
        return;
    }
    crypto_generichash_init(&st, NULL, 0, CISHARE_DIGEST_BYTES);
    crypto_generichash_update(&st, buf, w.len);
    crypto_generichash_final(&st, out, CISHARE_DIGEST_BYTES);
}

cishare_err_t cishare_envelope_relay_sign(
    cishare_envelope_t *env, const cishare_keypair_t *kp, const char *by,
    cishare_tlp_t tlp, const char *audience, int64_t now_ms,
    const char *subject, size_t subject_len, const uint8_t *value,
    size_t value_len, char *errstr, size_t errstr_size)
{
    const cishare_sig_scheme_t *s =
        cishare_sig_scheme_find(CISHARE_SIG_ED25519);
    cishare_relay_hop_t *h;
    uint8_t d[CISHARE_DIGEST_BYTES], rd[CISHARE_DIGEST_BYTES];
    cishare_err_t err;

    if (env->sig_len == 0)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "relay: message %.36s is not signed", env->id);
    if (env->relay_cnt >= CISHARE_RELAY_MAX)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "relay: message %.36s already has %d hops",
                               env->id, CISHARE_RELAY_MAX);
    if (subject_len > CISHARE_SUBJECT_MAX_LEN)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "subject too long");
    h = &env->relay[env->relay_cnt];
    memset(h, 0, sizeof(*h));
    snprintf(h->by, sizeof(h->by), "%s", by ? by : "");
    h->tlp = tlp;
    h->created_ms = now_ms;
    memcpy(h->key_id, kp->key_id, sizeof(h->key_id));
    snprintf(h->alg, sizeof(h->alg), "%s", s->name);
    if (!audience || strlen(audience) > CISHARE_AUDIENCE_TEXT_LEN)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "relay: audience missing or too long");
    snprintf(h->audience, sizeof(h->audience), "%s", audience);
    h->sig_len = 1; /* placeholder so validate checks the rest */
    env->relay_cnt++;
    if ((err = cishare_envelope_validate(env, errstr, errstr_size))) {
        env->relay_cnt--;
        return err;
    }
    cishare_envelope_digest(env, subject, subject_len, value, value_len, d);
    relay_digest(env, env->relay_cnt - 1, d, rd);
    if ((err = s->sign(rd, kp, h->sig, &h->sig_len))) {
        env->relay_cnt--;
        return cishare_err_set(err, errstr, errstr_size,
                               "relay signing failed");
    }
    return CISHARE_OK;
}

cishare_err_t
cishare_envelope_relay_verify(const cishare_envelope_t *env, size_t i,
                              const char *subject, size_t subject_len,
                              const uint8_t *value, size_t value_len,
                              const uint8_t pk[CISHARE_ED25519_PK_BYTES],
                              char *errstr, size_t errstr_size)
{
    const cishare_sig_scheme_t *s;
    uint8_t d[CISHARE_DIGEST_BYTES], rd[CISHARE_DIGEST_BYTES];
    char key_id[CISHARE_KEY_ID_LEN + 1];

    if (!env || !pk || i >= env->relay_cnt || env->sig_len == 0 ||
        subject_len > CISHARE_SUBJECT_MAX_LEN ||
        cishare_envelope_validate(env, NULL, 0) != CISHARE_OK ||
        /* relay hops are plain ed25519 (schemas/README.md) */
        strcmp(env->relay[i].alg, CISHARE_SIG_ED25519) ||
        !(s = cishare_sig_scheme_find(env->relay[i].alg)))
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "relay hop %zu: missing or malformed", i + 1);
    cishare_key_id(pk, key_id);
    if (sodium_memcmp(key_id, env->relay[i].key_id, CISHARE_KEY_ID_LEN) != 0)
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "relay hop %zu: key id is not the verifying "
                               "key",
                               i + 1);
    cishare_envelope_digest(env, subject, subject_len, value, value_len, d);
    relay_digest(env, i, d, rd);
    if (s->verify(rd, env->relay[i].sig, env->relay[i].sig_len, pk) != 0)
        return cishare_err_set(CISHARE_ERR_BAD_SIGNATURE, errstr, errstr_size,
                               "relay hop %zu (%s): signature does not "
                               "verify",
                               i + 1, env->relay[i].by);
    return CISHARE_OK;
}

/* ------------------------------------------------------------------ */
/* Encryption binding and fingerprint                                   */
/* ------------------------------------------------------------------ */

size_t cishare_envelope_seal_ad(const cishare_envelope_t *env,
                                const char *subject, size_t subject_len,
                                uint8_t *buf, size_t size)
{
    wbuf_t w = {buf, size, 0};

    put_bytes(&w, SEAL_AD_PREFIX, strlen(SEAL_AD_PREFIX));
    put_str(&w, env->id);
    put_str(&w, env->origin);
    put_str(&w, cishare_msgtype_name(env->type));
    put_str(&w, cishare_tlp_name(env->tlp));
    put_field(&w, subject, subject_len);
    put_u64(&w, env->schema_fp);
    return w.len;
}

cishare_err_t cishare_envelope_check_fingerprint(const cishare_envelope_t *env,
                                                 const uint8_t *value,
                                                 size_t value_len, char *errstr,
                                                 size_t errstr_size)
{
    uint64_t fp = 0;
    int i;

    if (!value || value_len < 10 || value[0] != 0xC3 || value[1] != 0x01)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message %.36s: value is not Avro "
                               "single-object encoded",
                               env->id);
    for (i = 7; i >= 0; i--)
        fp = (fp << 8) | value[2 + i];
    if (fp != env->schema_fp)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "message %.36s: value fingerprint %016llx "
                               "differs from header %016llx",
                               env->id, (unsigned long long)fp,
                               (unsigned long long)env->schema_fp);
    return CISHARE_OK;
}

/* ------------------------------------------------------------------ */
/* Header text forms                                                    */
/* ------------------------------------------------------------------ */

static size_t sig_b64(const uint8_t *sig, size_t len, char *buf, size_t size)
{
    size_t n;

    if (len == 0 || len > CISHARE_SIG_MAX_BYTES)
        return 0;
    n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    if (n > size) /* report the length, as snprintf does */
        return n - 1;
    sodium_bin2base64(buf, size, sig, len, sodium_base64_VARIANT_ORIGINAL);
    return n - 1;
}

/* snprintf(buf, size, "%s", s) without the format machinery (per header,
 * per message on the publish path). */
static size_t put_text(char *buf, size_t size, const char *s)
{
    size_t n = strlen(s);

    if (size) {
        size_t k = n < size ? n : size - 1;
        memcpy(buf, s, k);
        buf[k] = '\0';
    }
    return n;
}

/* Header fields by position: header_order[] and header_text_at() agree. */
enum {
    H_ID,
    H_TYPE,
    H_TLP,
    H_ORIGIN,
    H_SECTOR,
    H_AUDIENCE,
    H_SCHEMA,
    H_CREATED,
    H_EXPIRES,
    H_KID,
    H_ALG,
    H_SIG,
    H_ENC,
    H_RELAY,
    H__CNT
};

/* Header names written, in order (cishare.relay handled apart). */
static const char *const header_order[H__CNT] = {
    CISHARE_H_ID,      CISHARE_H_TYPE,     CISHARE_H_TLP,    CISHARE_H_ORIGIN,
    CISHARE_H_SECTOR,  CISHARE_H_AUDIENCE, CISHARE_H_SCHEMA, CISHARE_H_CREATED,
    CISHARE_H_EXPIRES, CISHARE_H_KID,      CISHARE_H_ALG,    CISHARE_H_SIG,
    CISHARE_H_ENC,     CISHARE_H_RELAY,
};

static size_t header_text_at(const cishare_envelope_t *env, int field,
                             size_t idx, char *buf, size_t size)
{
    static const char hexd[] = "0123456789abcdef";
    char t[CISHARE_TIME_TEXT_LEN + 1], fp[17];
    int i;

    if (size)
        buf[0] = '\0';
    switch (field) {
    case H_ID:
        return put_text(buf, size, env->id);
    case H_TYPE:
        return put_text(buf, size, cishare_msgtype_name(env->type));
    case H_TLP:
        return put_text(buf, size, cishare_tlp_name(env->tlp));
    case H_ORIGIN:
        return put_text(buf, size, env->origin);
    case H_SECTOR:
        return put_text(buf, size, env->sector);
    case H_AUDIENCE:
        return put_text(buf, size, env->audience);
    case H_SCHEMA:
        for (i = 0; i < 16; i++)
            fp[i] = hexd[(env->schema_fp >> (60 - 4 * i)) & 0xf];
        fp[16] = '\0';
        return put_text(buf, size, fp);
    case H_CREATED:
        cishare_envelope_time_format(env->created_ms, t);
        return put_text(buf, size, t);
    case H_EXPIRES:
        if (!env->expires_ms)
            return 0;
        cishare_envelope_time_format(env->expires_ms, t);
        return put_text(buf, size, t);
    case H_KID:
        return put_text(buf, size, env->key_id);
    case H_ALG:
        return put_text(buf, size, env->alg);
    case H_SIG:
        return sig_b64(env->sig, env->sig_len, buf, size);
    case H_ENC:
        return put_text(buf, size, env->enc);
    case H_RELAY:
        if (idx < env->relay_cnt) {
            const cishare_relay_hop_t *h = &env->relay[idx];
            char s[sodium_base64_ENCODED_LEN(CISHARE_SIG_MAX_BYTES,
                                             sodium_base64_VARIANT_ORIGINAL)];
            if (!sig_b64(h->sig, h->sig_len, s, sizeof(s)))
                s[0] = '\0';
            cishare_envelope_time_format(h->created_ms, t);
            return (size_t)snprintf(buf, size, "%s %s %s %s %s %s %s", h->by,
                                    cishare_tlp_name(h->tlp), t, h->key_id,
                                    h->alg, h->audience, s);
        }
        return 0;
    }
    return 0;
}

size_t cishare_envelope_header_text(const cishare_envelope_t *env,
                                    const char *name, size_t idx, char *buf,
                                    size_t size)
{
    int i;

    for (i = 0; i < H__CNT; i++)
        if (!strcmp(name, header_order[i]))
            return header_text_at(env, i, idx, buf, size);
    if (size)
        buf[0] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ */
/* Header layout version 2 (schemas/README.md, "Envelope headers")      */
/* ------------------------------------------------------------------ */

/*
 * cishare.env = tag 0x02 || 2 length bytes || COBS(body): no byte of the
 * value is 0x00, because kcat prints a header value only up to its first
 * NUL (and `cishare inspect` reads what kcat prints); the length (of the
 * COBS bytes, 14 bits, each byte 0x80 | 7 bits, most significant first)
 * makes the value self-delimiting in kcat's %h, where it may hold ',' or
 * a newline. COBS (Cheshire and Baker, 1999; no delimiter byte: the
 * length says where it ends) costs 1 byte per 254.
 */
#define V2_HEAD   3                /* tag, 2 length bytes */
#define V2_LENMAX 0x3fff           /* 14 bits */
#define V2_BODY   (2 + 16 + 8 + 6) /* scheme, flags, id, schema, created */

/* COBS: every 0x00 of in replaced by the distance to the next one, in
 * blocks of at most 254 data bytes. out has room for n + n / 254 + 1. */
static size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t code_at = 0, o = 1, i;
    uint8_t code = 1;

    for (i = 0; i < n; i++) {
        if (in[i]) {
            out[o++] = in[i];
            /* a full block ends here, unless the input does */
            if (++code < 0xff || i + 1 == n)
                continue;
        }
        out[code_at] = code;
        code_at = o++;
        code = 1;
    }
    out[code_at] = code;
    return o;
}

/* Strict COBS decode into out (room for `size`): 0 bytes, overruns, and
 * an empty last block after a full one (the same bytes as without it:
 * the encoder never writes it) are refused. Returns the decoded length,
 * or (size_t)-1. */
static size_t cobs_decode(const uint8_t *in, size_t n, uint8_t *out,
                          size_t size)
{
    size_t i = 0, o = 0;
    uint8_t prev = 0;

    if (n == 0)
        return (size_t)-1;
    while (i < n) {
        uint8_t code = in[i++];
        size_t k = (size_t)code - 1;
        if (code == 0 || k > n - i || k > size - o || memchr(in + i, 0, k) ||
            (code == 1 && prev == 0xff && i == n))
            return (size_t)-1;
        memcpy(out + o, in + i, k);
        o += k;
        i += k;
        if (i < n && code != 0xff) {
            if (o == size)
                return (size_t)-1;
            out[o++] = 0;
        }
        prev = code;
    }
    return o;
}

/* The COBS bytes of a cishare.env value (after its 3-byte head), or NULL
 * when the head is not a layout 2 one or the length is not exact. */
static const uint8_t *v2_frame(const uint8_t *p, size_t len, size_t *cobs_len)
{
    size_t n;

    if (len < V2_HEAD || p[0] != CISHARE_ENV_V2_TAG || !(p[1] & 0x80) ||
        !(p[2] & 0x80))
        return NULL;
    n = (size_t)(p[1] & 0x7f) << 7 | (p[2] & 0x7f);
    if (n != len - V2_HEAD)
        return NULL;
    *cobs_len = n;
    return p + V2_HEAD;
}

/* Scheme codes of body byte 0 (index = code; 0 is never written). */
static const char *const v2_algs[] = {NULL, CISHARE_SIG_ED25519,
                                      CISHARE_SIG_ED25519_MERKLE};
#define V2_ALG_CNT (sizeof(v2_algs) / sizeof(v2_algs[0]))
/* Flags (body byte 1): bit 0 expires present, bits 1-2 the encryption
 * code (0 plaintext, 1 x25519-xchacha20poly1305), bits 3-7 zero. */
#define V2_F_EXPIRES  0x01
#define V2_ENC_SHIFT  1
#define V2_ENC_MASK   0x06
#define V2_ENC_SEAL   1
#define V2_MERKLE_MIN (64 + 2 + 2) /* root signature, index, count */

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Lowercase hex text (dashes skipped) into n bytes; the text is valid. */
static void hex_to_bin(const char *t, uint8_t *out, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (*t == '-') {
            t++;
            continue;
        }
        out[i++] = (uint8_t)(hexval(t[0]) << 4 | hexval(t[1]));
        t += 2;
    }
}

/* 16 id bytes -> the 36-char UUID text (with the NUL). */
static void id_to_text(const uint8_t *b, char out[CISHARE_MSG_ID_LEN + 1])
{
    static const char hexd[] = "0123456789abcdef";
    size_t i;
    char *o = out;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hexd[b[i] >> 4];
        *o++ = hexd[b[i] & 15];
    }
    *o = '\0';
}

static void put_u16(wbuf_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put_bytes(w, b, 2);
}

/* Times: 6 bytes big-endian (every valid time is below 2^48 ms). */
static void put_u48(wbuf_t *w, uint64_t v)
{
    uint8_t b[6];
    int i;

    for (i = 5; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
    put_bytes(w, b, 6);
}

/* The two version 2 headers of a validated, signed envelope. */
static cishare_err_t v2_to_headers(const cishare_envelope_t *env,
                                   rd_kafka_headers_t *hdrs, char *errstr,
                                   size_t errstr_size)
{
    uint8_t body[CISHARE_HEADER_VALUE_MAX], buf[CISHARE_HEADER_VALUE_MAX + 32],
        b[16];
    char label[128];
    wbuf_t w = {body, sizeof(body), 0};
    size_t cl;
    size_t alg, sl = strlen(env->sector), al = strlen(env->audience);
    int n;

    for (alg = 1; alg < V2_ALG_CNT; alg++)
        if (!strcmp(env->alg, v2_algs[alg]))
            break;
    if (alg == V2_ALG_CNT || strlen(env->key_id) != CISHARE_KEY_ID_LEN)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "message %.36s: scheme '%s' has no code in "
                               "header layout 2 (write layout 1)",
                               env->id, env->alg);
    n = snprintf(label, sizeof(label), "%s %s %s",
                 cishare_msgtype_name(env->type), cishare_tlp_name(env->tlp),
                 env->origin);
    put_u8(&w, (uint8_t)alg);
    put_u8(&w, (uint8_t)((env->expires_ms ? V2_F_EXPIRES : 0) |
                         (env->enc[0] ? V2_ENC_SEAL << V2_ENC_SHIFT : 0)));
    hex_to_bin(env->id, b, 16);
    put_bytes(&w, b, 16);
    put_u64(&w, env->schema_fp);
    put_u48(&w, (uint64_t)env->created_ms);
    if (env->expires_ms)
        put_u48(&w, (uint64_t)env->expires_ms);
    hex_to_bin(env->key_id, b, 8);
    put_bytes(&w, b, 8);
    put_u8(&w, (uint8_t)sl);
    put_bytes(&w, env->sector, sl);
    put_u16(&w, (uint16_t)al);
    put_bytes(&w, env->audience, al);
    if (!strcmp(env->alg, CISHARE_SIG_ED25519)) {
        if (env->sig_len != crypto_sign_BYTES)
            goto badsig;
        put_bytes(&w, env->sig, env->sig_len);
    } else {
        /* v1's u32 index and count travel as u16 (n <= 1024) */
        uint32_t idx, cnt;
        if (env->sig_len < CISHARE_MERKLE_SIG_MIN)
            goto badsig;
        idx = be32_get(env->sig + 64);
        cnt = be32_get(env->sig + 68);
        if (cnt == 0 || cnt > CISHARE_MERKLE_MAX_LEAVES || idx >= cnt ||
            env->sig_len !=
                CISHARE_MERKLE_SIG_MIN +
                    CISHARE_DIGEST_BYTES * merkle_path_len(idx, cnt))
            goto badsig;
        put_bytes(&w, env->sig, 64);
        put_u16(&w, (uint16_t)idx);
        put_u16(&w, (uint16_t)cnt);
        put_bytes(&w, env->sig + CISHARE_MERKLE_SIG_MIN,
                  env->sig_len - CISHARE_MERKLE_SIG_MIN);
    }
    if (w.len > sizeof(body) ||
        (cl = cobs_encode(body, w.len, buf + V2_HEAD)) > V2_LENMAX)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "header %s too long", CISHARE_H_ENV);
    buf[0] = CISHARE_ENV_V2_TAG;
    buf[1] = (uint8_t)(0x80 | cl >> 7);
    buf[2] = (uint8_t)(0x80 | (cl & 0x7f));
    if (rd_kafka_header_add(hdrs, CISHARE_H_LABEL, -1, label, n) ||
        rd_kafka_header_add(hdrs, CISHARE_H_ENV, -1, buf,
                            (ssize_t)(V2_HEAD + cl)))
        return cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                               "cannot add header %s", CISHARE_H_ENV);
    return CISHARE_OK;
badsig:
    return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                           "message %.36s: %zu-byte signature is not a "
                           "well-formed %s signature",
                           env->id, env->sig_len, env->alg);
}

/* Bounded reader of an untrusted cishare.env value. */
typedef struct rbuf_s {
    const uint8_t *p;
    size_t left;
} rbuf_t;

static bool get_bytes(rbuf_t *r, void *out, size_t n)
{
    if (r->left < n)
        return false;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

/* n (6 or 8) bytes big-endian */
static bool get_uint(rbuf_t *r, size_t n, uint64_t *v)
{
    uint8_t b[8];
    size_t i;

    if (!get_bytes(r, b, n))
        return false;
    *v = 0;
    for (i = 0; i < n; i++)
        *v = *v << 8 | b[i];
    return true;
}

/* Length-prefixed text (1 or 2 length bytes) into dst: no NUL inside. */
static bool get_text(rbuf_t *r, size_t len_bytes, char *dst, size_t dst_size)
{
    uint8_t b[2] = {0, 0};
    size_t n;

    if (!get_bytes(r, b, len_bytes))
        return false;
    n = len_bytes == 1 ? b[0] : (size_t)b[0] << 8 | b[1];
    if (n >= dst_size || r->left < n || memchr(r->p, '\0', n))
        return false;
    return get_bytes(r, dst, n) && ((dst[n] = '\0'), true);
}

static cishare_err_t parse_env_v2(cishare_envelope_t *env, const uint8_t *v,
                                  size_t len, char *errstr, size_t errstr_size)
{
#define BADE(...)                                                              \
    return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,        \
                           "header " CISHARE_H_ENV ": " __VA_ARGS__)
    uint8_t body[CISHARE_HEADER_VALUE_MAX], hd[2], id[16], kid[8];
    rbuf_t r = {body, 0};
    const uint8_t *cobs;
    uint64_t u;
    size_t i, cl;

    if (len && v[0] != CISHARE_ENV_V2_TAG)
        BADE("layout version %u not supported (this release reads %u)",
             (unsigned)v[0], (unsigned)CISHARE_ENV_V2_TAG);
    if (!(cobs = v2_frame(v, len, &cl)))
        BADE("its length does not say its %zu bytes", len);
    if ((r.left = cobs_decode(cobs, cl, body, sizeof(body))) == (size_t)-1)
        BADE("malformed byte stuffing (COBS)");
    if (!get_bytes(&r, hd, 2))
        BADE("truncated");
    if (hd[0] == 0 || hd[0] >= V2_ALG_CNT)
        BADE("unknown signature scheme code %u", (unsigned)hd[0]);
    if (hd[1] & ~(V2_F_EXPIRES | V2_ENC_MASK) ||
        ((hd[1] & V2_ENC_MASK) >> V2_ENC_SHIFT) > V2_ENC_SEAL)
        BADE("unknown flags 0x%02x", (unsigned)hd[1]);
    /* constants that fit (no format machinery per message) */
    memcpy(env->alg, v2_algs[hd[0]], strlen(v2_algs[hd[0]]) + 1);
    if (hd[1] & V2_ENC_MASK)
        memcpy(env->enc, CISHARE_ENC_SEAL_V1, sizeof(CISHARE_ENC_SEAL_V1));
    if (!get_bytes(&r, id, 16) || !get_uint(&r, 8, &env->schema_fp) ||
        !get_uint(&r, 6, &u))
        BADE("truncated");
    id_to_text(id, env->id);
    env->created_ms = (int64_t)u;
    if (!valid_time(env->created_ms))
        BADE("created time out of range");
    if (hd[1] & V2_F_EXPIRES) {
        if (!get_uint(&r, 6, &u))
            BADE("truncated");
        env->expires_ms = (int64_t)u;
        if (env->expires_ms == 0 || !valid_time(env->expires_ms))
            BADE("expires time out of range");
    }
    if (!get_bytes(&r, kid, 8))
        BADE("truncated");
    for (i = 0; i < 8; i++) {
        static const char hexd[] = "0123456789abcdef";
        env->key_id[2 * i] = hexd[kid[i] >> 4];
        env->key_id[2 * i + 1] = hexd[kid[i] & 15];
    }
    env->key_id[16] = '\0';
    if (!get_text(&r, 1, env->sector, sizeof(env->sector)) ||
        !valid_name(env->sector, CISHARE_ENV_NAME_LEN, true))
        BADE("sector: truncated, too long or not a sector code");
    if (!get_text(&r, 2, env->audience, sizeof(env->audience)) ||
        !valid_audience(env->audience))
        BADE("audience: truncated, too long or not a canonical audience");
    /* the rest is the signature, of the exact length its scheme implies */
    if (hd[0] == 1) {
        if (r.left != crypto_sign_BYTES)
            BADE("ed25519 signature of %zu bytes (must be %d)", r.left,
                 crypto_sign_BYTES);
        memcpy(env->sig, r.p, r.left);
        env->sig_len = r.left;
    } else {
        uint32_t idx, cnt;
        size_t plen;
        if (r.left < V2_MERKLE_MIN)
            BADE("ed25519-merkle signature of %zu bytes (at least %d)", r.left,
                 V2_MERKLE_MIN);
        idx = (uint32_t)r.p[64] << 8 | r.p[65];
        cnt = (uint32_t)r.p[66] << 8 | r.p[67];
        if (cnt == 0 || cnt > CISHARE_MERKLE_MAX_LEAVES || idx >= cnt)
            BADE("batch index %u of %u out of range (1 <= n <= %d)",
                 (unsigned)idx, (unsigned)cnt, CISHARE_MERKLE_MAX_LEAVES);
        plen = merkle_path_len(idx, cnt) * CISHARE_DIGEST_BYTES;
        if (r.left != V2_MERKLE_MIN + plen)
            BADE("ed25519-merkle signature of %zu bytes (index %u of %u "
                 "needs %zu)",
                 r.left, (unsigned)idx, (unsigned)cnt, V2_MERKLE_MIN + plen);
        /* back to the signature bytes the scheme verifies (u32 fields) */
        memcpy(env->sig, r.p, 64);
        be32_put(env->sig + 64, idx);
        be32_put(env->sig + 68, cnt);
        memcpy(env->sig + CISHARE_MERKLE_SIG_MIN, r.p + V2_MERKLE_MIN, plen);
        env->sig_len = CISHARE_MERKLE_SIG_MIN + plen;
    }
    return CISHARE_OK;
#undef BADE
}

size_t cishare_envelope_env_len(const uint8_t *p, size_t avail)
{
    size_t n;

    if (avail < V2_HEAD || p[0] != CISHARE_ENV_V2_TAG || !(p[1] & 0x80) ||
        !(p[2] & 0x80))
        return 0;
    n = V2_HEAD + ((size_t)(p[1] & 0x7f) << 7 | (p[2] & 0x7f));
    return n <= avail ? n : 0;
}

void cishare_envelope_claims(const char *name, const void *val, size_t len,
                             char id[CISHARE_MSG_ID_LEN + 1],
                             char origin[CISHARE_ENV_NAME_LEN + 1])
{
    const char *v = val, *sp;
    size_t n;

    if (!val || strncmp(name, "cishare", 7) != 0)
        return;
    if (!strcmp(name, CISHARE_H_ID) || !strcmp(name, CISHARE_H_ORIGIN)) {
        char *dst = name[8] == 'i' ? id : origin;
        size_t max = name[8] == 'i' ? CISHARE_MSG_ID_LEN : CISHARE_ENV_NAME_LEN;
        snprintf(dst, max + 1, "%.*s", (int)(len < max ? len : max), v);
    } else if (!strcmp(name, CISHARE_H_ENV)) {
        uint8_t body[CISHARE_HEADER_VALUE_MAX];
        const uint8_t *c = v2_frame(val, len, &n);
        if (c && (n = cobs_decode(c, n, body, sizeof(body))) != (size_t)-1 &&
            n >= 2 + 16)
            id_to_text(body + 2, id);
    } else if (!strcmp(name, CISHARE_H_LABEL)) {
        /* the third field */
        if ((sp = memchr(v, ' ', len)) &&
            (sp = memchr(sp + 1, ' ', len - (size_t)(sp + 1 - v)))) {
            n = len - (size_t)(sp + 1 - v);
            snprintf(origin, CISHARE_ENV_NAME_LEN + 1, "%.*s",
                     (int)(n < CISHARE_ENV_NAME_LEN ? n : CISHARE_ENV_NAME_LEN),
                     sp + 1);
        }
    }
}

cishare_err_t cishare_envelope_to_headers(const cishare_envelope_t *env,
                                          rd_kafka_headers_t *hdrs,
                                          char *errstr, size_t errstr_size)
{
    char buf[CISHARE_HEADER_VALUE_MAX + 1];
    cishare_err_t err;
    size_t i, n;
    int f;

    if (env->sig_len == 0)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "message %.36s: not signed", env->id);
    if ((err = cishare_envelope_validate(env, errstr, errstr_size)))
        return err;
    if (env->wire_version != CISHARE_ENV_WIRE_V1) {
        if (env->wire_version != 0 && env->wire_version != CISHARE_ENV_WIRE_V2)
            return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                                   "message %.36s: unknown header layout "
                                   "version %u",
                                   env->id, (unsigned)env->wire_version);
        if ((err = v2_to_headers(env, hdrs, errstr, errstr_size)))
            return err;
        goto relay;
    }
    for (f = 0; f < H_RELAY; f++) {
        n = header_text_at(env, f, 0, buf, sizeof(buf));
        if (n == 0 && (f == H_EXPIRES || f == H_ENC))
            continue; /* optional, absent */
        if (n >= sizeof(buf))
            return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                                   "header %s too long", header_order[f]);
        if (rd_kafka_header_add(hdrs, header_order[f], -1, buf, (ssize_t)n))
            return cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                                   "cannot add header %s", header_order[f]);
    }
relay:
    for (i = 0; i < env->relay_cnt; i++) {
        n = header_text_at(env, H_RELAY, i, buf, sizeof(buf));
        if (n == 0 || n >= sizeof(buf))
            return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                                   "header %s too long", CISHARE_H_RELAY);
        if (rd_kafka_header_add(hdrs, CISHARE_H_RELAY, -1, buf, (ssize_t)n))
            return cishare_err_set(CISHARE_ERR_KAFKA, errstr, errstr_size,
                                   "cannot add header %s", CISHARE_H_RELAY);
    }
    return CISHARE_OK;
}

/* ------------------------------------------------------------------ */
/* Header parsing (untrusted)                                           */
/* ------------------------------------------------------------------ */

static cishare_err_t parse_sig(const char *text, size_t len, uint8_t *sig,
                               size_t *sig_lenp)
{
    const char *end = NULL;
    size_t n = 0;

    if (len == 0 ||
        len > sodium_base64_ENCODED_LEN(CISHARE_SIG_MAX_BYTES,
                                        sodium_base64_VARIANT_ORIGINAL))
        return CISHARE_ERR_TOO_LARGE;
    if (sodium_base642bin(sig, CISHARE_SIG_MAX_BYTES, text, len, NULL, &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text + len || n == 0)
        return CISHARE_ERR_PARSE;
    *sig_lenp = n;
    return CISHARE_OK;
}

static bool copy_text(char *dst, size_t dst_size, const char *v, size_t len)
{
    if (len >= dst_size)
        return false;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return true;
}

/* "<by> <tlp> <created> <kid> <alg> <audience> <sig>" */
static bool parse_relay(const char *v, size_t len, cishare_relay_hop_t *h)
{
    const char *f[7];
    size_t fl[7], k = 0, i, start = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || v[i] == ' ') {
            if (k == 7)
                return false;
            f[k] = v + start;
            fl[k++] = i - start;
            start = i + 1;
        }
    }
    if (k != 7)
        return false;
    memset(h, 0, sizeof(*h));
    {
        char tlp[16];
        if (!copy_text(h->by, sizeof(h->by), f[0], fl[0]) ||
            !copy_text(tlp, sizeof(tlp), f[1], fl[1]))
            return false;
        for (h->tlp = 0; h->tlp < CISHARE_TLP__CNT; h->tlp++)
            if (!strcmp(tlp, cishare_tlp_name(h->tlp)))
                break;
        if (h->tlp >= CISHARE_TLP__CNT)
            return false;
    }
    if (!cishare_envelope_time_parse(f[2], fl[2], &h->created_ms) ||
        !copy_text(h->key_id, sizeof(h->key_id), f[3], fl[3]) ||
        !copy_text(h->alg, sizeof(h->alg), f[4], fl[4]) ||
        !copy_text(h->audience, sizeof(h->audience), f[5], fl[5]) ||
        parse_sig(f[6], fl[6], h->sig, &h->sig_len) != CISHARE_OK)
        return false;
    return true;
}

enum {
    F_ID = 1 << 0,
    F_TYPE = 1 << 1,
    F_TLP = 1 << 2,
    F_ORIGIN = 1 << 3,
    F_SECTOR = 1 << 4,
    F_AUDIENCE = 1 << 5,
    F_SCHEMA = 1 << 6,
    F_CREATED = 1 << 7,
    F_EXPIRES = 1 << 8,
    F_KID = 1 << 9,
    F_ALG = 1 << 10,
    F_SIG = 1 << 11,
    F_ENC = 1 << 12,
    F_V2_LABEL = 1 << 13, /* cishare */
    F_V2_ENV = 1 << 14,   /* cishare.env */
    F_V2 = F_V2_LABEL | F_V2_ENV,
    F_V1 = (1 << 13) - 1,
    F_REQUIRED = F_ID | F_TYPE | F_TLP | F_ORIGIN | F_SECTOR | F_AUDIENCE |
                 F_SCHEMA | F_CREATED | F_KID | F_ALG,
};

static const struct {
    const char *name;
    unsigned flag;
} header_flags[] = {
    {CISHARE_H_ID, F_ID},           {CISHARE_H_TYPE, F_TYPE},
    {CISHARE_H_TLP, F_TLP},         {CISHARE_H_ORIGIN, F_ORIGIN},
    {CISHARE_H_SECTOR, F_SECTOR},   {CISHARE_H_AUDIENCE, F_AUDIENCE},
    {CISHARE_H_SCHEMA, F_SCHEMA},   {CISHARE_H_CREATED, F_CREATED},
    {CISHARE_H_EXPIRES, F_EXPIRES}, {CISHARE_H_KID, F_KID},
    {CISHARE_H_ALG, F_ALG},         {CISHARE_H_SIG, F_SIG},
    {CISHARE_H_ENC, F_ENC},         {CISHARE_H_ENV, F_V2_ENV},
};

static cishare_err_t parse_one(cishare_envelope_t *env, unsigned flag,
                               const char *v, size_t len, char *errstr,
                               size_t errstr_size, const char *name)
{
#define BADV(...)                                                              \
    return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,        \
                           "header " __VA_ARGS__)
    char tmp[32];
    size_t i;

    switch (flag) {
    case F_ID:
        if (!copy_text(env->id, sizeof(env->id), v, len) || !valid_id(env->id))
            BADV("%s: not a lowercase UUID", name);
        break;
    case F_TYPE:
        if (!copy_text(tmp, sizeof(tmp), v, len) ||
            !cishare_msgtype_parse(tmp, &env->type) ||
            strcmp(tmp, cishare_msgtype_name(env->type)) != 0)
            BADV("%s: not a message type", name);
        break;
    case F_TLP:
        /* Exactly the header form: no aliases, no case folding. */
        if (!copy_text(tmp, sizeof(tmp), v, len))
            BADV("%s: not a TLP label", name);
        for (i = 0; i < CISHARE_TLP__CNT; i++)
            if (!strcmp(tmp, cishare_tlp_name((cishare_tlp_t)i)))
                break;
        if (i == CISHARE_TLP__CNT)
            BADV("%s: not a TLP label", name);
        env->tlp = (cishare_tlp_t)i;
        break;
    case F_ORIGIN:
        if (!copy_text(env->origin, sizeof(env->origin), v, len) ||
            !valid_name(env->origin, CISHARE_ENV_NAME_LEN, false))
            BADV("%s: not a participant id", name);
        break;
    case F_SECTOR:
        if (!copy_text(env->sector, sizeof(env->sector), v, len) ||
            !valid_name(env->sector, CISHARE_ENV_NAME_LEN, true))
            BADV("%s: not a sector code", name);
        break;
    case F_AUDIENCE:
        if (!copy_text(env->audience, sizeof(env->audience), v, len) ||
            !valid_audience(env->audience))
            BADV("%s: not a canonical audience", name);
        break;
    case F_SCHEMA: {
        unsigned long long fp = 0;
        if (len != 16 || !copy_text(tmp, sizeof(tmp), v, len) ||
            !valid_hex(tmp, 16))
            BADV("%s: not 16 lowercase hex digits", name);
        for (i = 0; i < 16; i++)
            fp = (fp << 4) |
                 (unsigned)(tmp[i] <= '9' ? tmp[i] - '0' : tmp[i] - 'a' + 10);
        env->schema_fp = fp;
        break;
    }
    case F_CREATED:
        if (!cishare_envelope_time_parse(v, len, &env->created_ms))
            BADV("%s: not YYYY-MM-DDTHH:MM:SS.sssZ", name);
        break;
    case F_EXPIRES:
        if (!cishare_envelope_time_parse(v, len, &env->expires_ms) ||
            env->expires_ms == 0)
            BADV("%s: not YYYY-MM-DDTHH:MM:SS.sssZ", name);
        break;
    case F_KID:
        if (!copy_text(env->key_id, sizeof(env->key_id), v, len) ||
            !valid_hex(env->key_id, CISHARE_KEY_ID_LEN))
            BADV("%s: not 16 lowercase hex digits", name);
        break;
    case F_ALG:
        if (!copy_text(env->alg, sizeof(env->alg), v, len) ||
            !valid_alg(env->alg))
            BADV("%s: not a scheme id", name);
        break;
    case F_SIG:
        if (parse_sig(v, len, env->sig, &env->sig_len) != CISHARE_OK)
            BADV("%s: not base64 of at most %d bytes", name,
                 CISHARE_SIG_MAX_BYTES);
        break;
    case F_ENC:
        if (!copy_text(env->enc, sizeof(env->enc), v, len) ||
            strcmp(env->enc, CISHARE_ENC_SEAL_V1) != 0)
            BADV("%s: unknown encryption", name);
        break;
    }
    return CISHARE_OK;
#undef BADV
}

/* Header cishare (layout 2): "<type> <tlp> <origin>", one space each. */
static cishare_err_t parse_label_v2(cishare_envelope_t *env, const char *v,
                                    size_t len, char *errstr,
                                    size_t errstr_size)
{
    static const unsigned flags[3] = {F_TYPE, F_TLP, F_ORIGIN};
    size_t i, start = 0, k = 0;
    cishare_err_t err;

    for (i = 0; i <= len && k < 3; i++) {
        if (i < len && v[i] != ' ')
            continue;
        if (k < 2 && i == len)
            break;
        if (k == 2 && i != len)
            break; /* a fourth field */
        if ((err = parse_one(env, flags[k], v + start, i - start, errstr,
                             errstr_size, CISHARE_H_LABEL)))
            return err;
        k++;
        start = i + 1;
    }
    if (k != 3)
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "header %s: not \"<type> <tlp> <origin>\"",
                               CISHARE_H_LABEL);
    return CISHARE_OK;
}

cishare_err_t cishare_envelope_from_headers(const rd_kafka_headers_t *hdrs,
                                            cishare_envelope_t *env,
                                            char *errstr, size_t errstr_size)
{
    unsigned seen = 0;
    size_t idx, i;
    cishare_err_t err;

    cishare_envelope_init(env);
    for (idx = 0; hdrs; idx++) {
        const char *name;
        const void *val;
        size_t size;
        unsigned flag = 0;

        if (rd_kafka_header_get_all(hdrs, idx, &name, &val, &size) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (idx >= CISHARE_ENV_MAX_HEADERS) {
            err = cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                                  "more than %d headers",
                                  CISHARE_ENV_MAX_HEADERS);
            goto fail;
        }
        if (strncmp(name, "cishare", 7) != 0 ||
            (name[7] != '.' && name[7] != '\0'))
            continue; /* other tools' headers: not ours, not trusted */
        if (!val || size > CISHARE_HEADER_VALUE_MAX ||
            memchr(val, '\0', size)) { /* cishare.env too: COBS */
            err = cishare_err_set(
                !val                              ? CISHARE_ERR_PARSE
                : size > CISHARE_HEADER_VALUE_MAX ? CISHARE_ERR_TOO_LARGE
                                                  : CISHARE_ERR_PARSE,
                errstr, errstr_size, "header %.40s: %s", name,
                !val                              ? "null value"
                : size > CISHARE_HEADER_VALUE_MAX ? "value too long"
                                                  : "NUL byte in value");
            goto fail;
        }
        if (!strcmp(name, CISHARE_H_RELAY)) {
            if (env->relay_cnt >= CISHARE_RELAY_MAX) {
                err =
                    cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                                    "header %s: more than %d relay hops",
                                    CISHARE_H_RELAY, CISHARE_RELAY_MAX);
                goto fail;
            }
            if (!parse_relay(val, size, &env->relay[env->relay_cnt])) {
                err =
                    cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                    "header %s #%zu: malformed relay hop",
                                    CISHARE_H_RELAY, env->relay_cnt + 1);
                goto fail;
            }
            env->relay_cnt++;
            continue;
        }
        if (name[7] == '\0')
            flag = F_V2_LABEL;
        else
            for (i = 0; i < sizeof(header_flags) / sizeof(header_flags[0]); i++)
                if (!strcmp(name + 8, header_flags[i].name + 8)) {
                    flag = header_flags[i].flag;
                    break;
                }
        if (!flag) {
            err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                  "header %.40s: unknown cishare header", name);
            goto fail;
        }
        if (seen & flag) {
            err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                  "header %s: duplicate", name);
            goto fail;
        }
        if ((flag & F_V2) ? (seen & F_V1) : (seen & F_V2)) {
            /* one layout per message: never a field from each */
            err = cishare_err_set(
                CISHARE_ERR_VALIDATION, errstr, errstr_size,
                "header %s: layout %d header in a message with layout %d "
                "headers",
                name, (flag & F_V2) ? 2 : 1, (flag & F_V2) ? 1 : 2);
            goto fail;
        }
        seen |= flag;
        if (flag == F_V2_LABEL)
            err = parse_label_v2(env, val, size, errstr, errstr_size);
        else if (flag == F_V2_ENV)
            err = parse_env_v2(env, val, size, errstr, errstr_size);
        else
            err = parse_one(env, flag, val, size, errstr, errstr_size, name);
        if (err)
            goto fail;
    }
    if (seen & F_V2) {
        if (!(seen & F_V2_LABEL) || !(seen & F_V2_ENV)) {
            err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                  "header %s: missing",
                                  (seen & F_V2_LABEL) ? CISHARE_H_ENV
                                                      : CISHARE_H_LABEL);
            goto fail;
        }
        env->wire_version = CISHARE_ENV_WIRE_V2;
    } else {
        for (i = 0; i < sizeof(header_flags) / sizeof(header_flags[0]); i++)
            if ((F_REQUIRED & header_flags[i].flag) &&
                !(seen & header_flags[i].flag)) {
                err =
                    cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                    "header %s: missing", header_flags[i].name);
                goto fail;
            }
        env->wire_version = CISHARE_ENV_WIRE_V1;
    }
    if ((err = cishare_envelope_validate(env, errstr, errstr_size)))
        goto fail;
    return CISHARE_OK;
fail:
    cishare_envelope_init(env);
    return err;
}

/* ------------------------------------------------------------------ */
/* JSON view                                                            */
/* ------------------------------------------------------------------ */

static json_t *audience_json(const char *text)
{
    json_t *a = json_array();
    const char *p = text, *c;

    while (a && *p) {
        c = strchr(p, ',');
        json_array_append_new(a,
                              json_stringn(p, c ? (size_t)(c - p) : strlen(p)));
        if (!c)
            break;
        p = c + 1;
    }
    return a;
}

json_t *cishare_envelope_to_json(const cishare_envelope_t *env)
{
    char t[CISHARE_TIME_TEXT_LEN + 1], fp[17];
    json_t *o = json_object();
    size_t i;

    if (!o)
        return NULL;
    snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)env->schema_fp);
    json_object_set_new(o, "message_id", json_string(env->id));
    json_object_set_new(o, "type",
                        json_string(cishare_msgtype_name(env->type)));
    json_object_set_new(o, "tlp", json_string(cishare_tlp_name(env->tlp)));
    json_object_set_new(o, "origin", json_string(env->origin));
    json_object_set_new(o, "sector", json_string(env->sector));
    json_object_set_new(o, "audience", audience_json(env->audience));
    json_object_set_new(o, "schema", json_string(fp));
    cishare_envelope_time_format(env->created_ms, t);
    json_object_set_new(o, "created", json_string(t));
    if (env->expires_ms) {
        cishare_envelope_time_format(env->expires_ms, t);
        json_object_set_new(o, "expires", json_string(t));
    }
    json_object_set_new(o, "key_id", json_string(env->key_id));
    json_object_set_new(o, "sig_alg", json_string(env->alg));
    json_object_set_new(o, "encrypted", json_boolean(env->enc[0] != '\0'));
    if (env->relay_cnt) {
        json_t *by = json_array(), *hops = json_array();
        for (i = 0; i < env->relay_cnt && i < CISHARE_RELAY_MAX; i++) {
            const cishare_relay_hop_t *h = &env->relay[i];
            json_t *ho = json_object();
            json_array_append_new(by, json_string(h->by));
            cishare_envelope_time_format(h->created_ms, t);
            json_object_set_new(ho, "by", json_string(h->by));
            json_object_set_new(ho, "tlp",
                                json_string(cishare_tlp_name(h->tlp)));
            json_object_set_new(ho, "audience", audience_json(h->audience));
            json_object_set_new(ho, "created", json_string(t));
            json_object_set_new(ho, "key_id", json_string(h->key_id));
            json_array_append_new(hops, ho);
        }
        json_object_set_new(o, "relayed_by", by);
        json_object_set_new(o, "relay", hops);
    }
    return o;
}
