/*
 * cishare - the participant directory: signature check, YAML parsing
 * (libyaml document API, so every node keeps its line number for errors)
 * and validation. See cishare/directory.h for the file layout.
 *
 * Order of trust: the signature is verified over the raw bytes *before*
 * the YAML parser sees them, so a refused file never reaches the parser.
 * Validation then collects every error it finds (not just the first), one
 * line each, so an editor fixes the whole file in one round.
 */
#include "cishare/directory.h"
#include "cishare/codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define SIG_ALG     "ed25519"
#define SIG_B64_LEN 88 /* base64 of 64 bytes, with padding */

struct cishare_directory_s {
    uint64_t serial;
    int64_t expires_ms;
    uint8_t root_pk[CISHARE_ED25519_PK_BYTES]; /* valid when has_root */
    bool has_root;
    uint8_t hash[CISHARE_DIRECTORY_HASH_BYTES]; /* of the signed content */
    cishare_sector_t *sectors;
    size_t sector_cnt;
    cishare_participant_t *participants;
    size_t participant_cnt;
    /* Sorted views for bsearch; entries point into participants[]. */
    const cishare_participant_t **by_id;
    const cishare_signing_key_t **by_key; /* every key of every participant */
    size_t key_cnt;
    char signer_key_id[CISHARE_KEY_ID_LEN + 1];
    /* reporting: deadlines of mandatory incident reports (0: none) */
    int64_t deadline_ms[CISHARE_DEADLINE__CNT];
};

/*
 * Error collector: appends "<name>: <msg>\n" lines into the caller's
 * errstr until it is full, then only counts.
 */
typedef struct errs_s {
    const char *name;
    char *buf;
    size_t size, len;
    int cnt, dropped;
} errs_t;

__attribute__((format(printf, 2, 3))) static void errs_add(errs_t *e,
                                                           const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    e->cnt++;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (!e->buf || e->size == 0) {
        e->dropped++;
        return;
    }
    n = snprintf(e->buf + e->len, e->size - e->len, "%s%s: %s",
                 e->len ? "\n" : "", e->name, line);
    if (n < 0 || (size_t)n >= e->size - e->len) {
        e->buf[e->len] = '\0'; /* keep whole lines only */
        e->dropped++;
        return;
    }
    e->len += (size_t)n;
}

static void errs_finish(errs_t *e)
{
    if (e->dropped && e->buf && e->size > e->len)
        snprintf(e->buf + e->len, e->size - e->len, "%s... and %d more",
                 e->len ? "\n" : "", e->dropped);
}

/* ---------------------------------------------------------------------
 * Signature line
 * ------------------------------------------------------------------ */

/* More signature lines than this are refused: two roots during a
 * rotation is the real need, the bound keeps verification cheap. */
#define SIG_MAX_LINES 8

/*
 * Split buf into content and the trailing signature lines: the longest
 * run of lines at the end (the last one optionally followed by one '\n')
 * that start with the signature prefix. Sets *content_len to the length
 * of the signed bytes (the start of that run; len when unsigned).
 */
static void sig_split(const char *buf, size_t len, size_t *content_len)
{
    size_t end = len, start;

    *content_len = len;
    if (end > 0 && buf[end - 1] == '\n')
        end--;
    for (;;) {
        start = end;
        while (start > 0 && buf[start - 1] != '\n')
            start--;
        if (end - start < strlen(CISHARE_DIRECTORY_SIG_PREFIX) ||
            memcmp(buf + start, CISHARE_DIRECTORY_SIG_PREFIX,
                   strlen(CISHARE_DIRECTORY_SIG_PREFIX)))
            return;
        *content_len = start;
        if (start == 0)
            return;
        end = start - 1; /* the '\n' ending the line before */
    }
}

/* Next line of the signature block [*off, len): 0, or -1 at the end. */
static int sig_next(const char *blk, size_t len, size_t *off, const char **line,
                    size_t *line_len)
{
    const char *nl;

    if (*off >= len)
        return -1;
    *line = blk + *off;
    nl = memchr(*line, '\n', len - *off);
    *line_len = nl ? (size_t)(nl - *line) : len - *off;
    *off += *line_len + (nl ? 1 : 0);
    return 0;
}

/* Parse "# cishare-signature: ed25519 <keyid> <b64>" strictly. */
static int sig_parse(const char *line, size_t len,
                     char key_id[CISHARE_KEY_ID_LEN + 1],
                     uint8_t sig[crypto_sign_BYTES])
{
    char b64[SIG_B64_LEN + 1];
    const char *p = line + strlen(CISHARE_DIRECTORY_SIG_PREFIX);
    const char *end = line + len;
    size_t got = 0, i;
    const char *b64_end = NULL;

    if ((size_t)(end - p) !=
            strlen(SIG_ALG) + 1 + CISHARE_KEY_ID_LEN + 1 + SIG_B64_LEN ||
        memcmp(p, SIG_ALG " ", strlen(SIG_ALG) + 1))
        return -1;
    p += strlen(SIG_ALG) + 1;
    for (i = 0; i < CISHARE_KEY_ID_LEN; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return -1;
        key_id[i] = p[i];
    }
    key_id[CISHARE_KEY_ID_LEN] = '\0';
    p += CISHARE_KEY_ID_LEN;
    if (*p++ != ' ')
        return -1;
    memcpy(b64, p, SIG_B64_LEN);
    b64[SIG_B64_LEN] = '\0';
    if (sodium_base642bin(sig, crypto_sign_BYTES, b64, SIG_B64_LEN, NULL, &got,
                          &b64_end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != crypto_sign_BYTES || (b64_end && *b64_end))
        return -1;
    return 0;
}

cishare_err_t
cishare_directory_verify_buf(const char *name, const char *buf, size_t len,
                             const uint8_t root_pk[CISHARE_ED25519_PK_BYTES],
                             char *errstr, size_t errstr_size)
{
    char ids[SIG_MAX_LINES][CISHARE_KEY_ID_LEN + 1];
    char root_id[CISHARE_KEY_ID_LEN + 1], others[SIG_MAX_LINES * 18 + 1];
    uint8_t sig[crypto_sign_BYTES], root_sig[crypto_sign_BYTES];
    const char *line;
    size_t content_len, line_len, off = 0, n = 0, i, olen = 0;
    int found = 0;

    if (cishare_crypto_init())
        return CISHARE_ERR_CRYPTO;
    sig_split(buf, len, &content_len);
    if (content_len == len)
        return cishare_err_set(
            CISHARE_ERR_DIRECTORY, errstr, errstr_size,
            "%s: not signed (the last line must be '%sed25519 <key id> "
            "<signature>'; sign it with 'cishare directory sign')",
            name, CISHARE_DIRECTORY_SIG_PREFIX);
    cishare_key_id(root_pk, root_id);
    /* Every line must be well formed and name a different key: a file
     * that carries garbage after its content is refused, not skipped. */
    while (!sig_next(buf + content_len, len - content_len, &off, &line,
                     &line_len)) {
        if (n == SIG_MAX_LINES)
            return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                                   "%s: more than %d signature lines", name,
                                   SIG_MAX_LINES);
        if (sig_parse(line, line_len, ids[n], sig))
            return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                                   "%s: malformed signature line %zu", name,
                                   n + 1);
        for (i = 0; i < n; i++)
            if (!strcmp(ids[i], ids[n]))
                return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr,
                                       errstr_size,
                                       "%s: malformed signature lines: key "
                                       "%s signed twice",
                                       name, ids[n]);
        if (!strcmp(ids[n], root_id)) {
            memcpy(root_sig, sig, sizeof(sig));
            found = 1;
        } else {
            olen += (size_t)snprintf(others + olen, sizeof(others) - olen,
                                     "%s%s", olen ? ", " : "", ids[n]);
        }
        n++;
    }
    if (!found)
        return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                               "%s: signed by key %s, not by the root key %s",
                               name, others, root_id);
    if (crypto_sign_verify_detached(root_sig, (const unsigned char *)buf,
                                    content_len, root_pk) != 0)
        return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                               "%s: signature does not verify against root "
                               "key %s (the file was altered after signing, "
                               "or signed by another key)",
                               name, root_id);
    return CISHARE_OK;
}

/* Sign content with key; keep_others: keep the existing lines of other
 * keys (co-signing), else replace them all. */
static cishare_err_t sign_common(const char *buf, size_t len,
                                 const cishare_keypair_t *key, int keep_others,
                                 char **outp, size_t *out_lenp, char *errstr,
                                 size_t errstr_size)
{
    uint8_t sig[crypto_sign_BYTES], other[crypto_sign_BYTES];
    char b64[SIG_B64_LEN + 1], kid[CISHARE_KEY_ID_LEN + 1];
    const char *line;
    size_t content_len, line_len, need, n, off = 0, cnt = 0;
    char *out;
    int add_nl;

    *outp = NULL;
    if (cishare_crypto_init())
        return CISHARE_ERR_CRYPTO;
    if (len > CISHARE_DIRECTORY_MAX_SIZE)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "directory larger than %u bytes",
                               CISHARE_DIRECTORY_MAX_SIZE);
    sig_split(buf, len, &content_len);
    add_nl = content_len > 0 && buf[content_len - 1] != '\n';
    need = len + 1 + strlen(CISHARE_DIRECTORY_SIG_PREFIX) + strlen(SIG_ALG) +
           1 + CISHARE_KEY_ID_LEN + 1 + SIG_B64_LEN + 2;
    out = malloc(need);
    if (!out)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    memcpy(out, buf, content_len);
    n = content_len;
    if (add_nl)
        out[n++] = '\n';
    crypto_sign_detached(sig, NULL, (const unsigned char *)out, n,
                         key->ed25519_sk);
    while (keep_others && !sig_next(buf + content_len, len - content_len, &off,
                                    &line, &line_len)) {
        if (sig_parse(line, line_len, kid, other) || ++cnt >= SIG_MAX_LINES) {
            free(out);
            return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                                   "cannot add a signature: signature line "
                                   "%zu is malformed or one too many",
                                   cnt + 1);
        }
        if (!strcmp(kid, key->key_id))
            continue; /* replaced by the fresh one */
        memcpy(out + n, line, line_len);
        n += line_len;
        out[n++] = '\n';
    }
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
                      sodium_base64_VARIANT_ORIGINAL);
    n += (size_t)snprintf(out + n, need - n, "%s%s %s %s\n",
                          CISHARE_DIRECTORY_SIG_PREFIX, SIG_ALG, key->key_id,
                          b64);
    *outp = out;
    if (out_lenp)
        *out_lenp = n;
    return CISHARE_OK;
}

cishare_err_t cishare_directory_sign_buf(const char *buf, size_t len,
                                         const cishare_keypair_t *root,
                                         char **outp, size_t *out_lenp,
                                         char *errstr, size_t errstr_size)
{
    return sign_common(buf, len, root, 0, outp, out_lenp, errstr, errstr_size);
}

cishare_err_t cishare_directory_cosign_buf(const char *buf, size_t len,
                                           const cishare_keypair_t *key,
                                           char **outp, size_t *out_lenp,
                                           char *errstr, size_t errstr_size)
{
    return sign_common(buf, len, key, 1, outp, out_lenp, errstr, errstr_size);
}

/* ---------------------------------------------------------------------
 * YAML helpers
 * ------------------------------------------------------------------ */

typedef struct parse_s {
    yaml_document_t *doc;
    errs_t *errs;
    unsigned char *seen; /* one flag per node: aliases are refused */
    size_t node_cnt;
    int alias_reported;
} parse_t;

static int node_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

/*
 * Mark a node as visited. A node reached twice came through a YAML alias;
 * aliases are refused so that a small file cannot expand into a huge (or
 * cyclic) tree.
 */
static int node_visit(parse_t *ps, yaml_node_t *n)
{
    size_t i = (size_t)(n - ps->doc->nodes.start);

    if (i >= ps->node_cnt)
        return -1;
    if (ps->seen[i]) {
        if (!ps->alias_reported)
            errs_add(ps->errs, "line %d: YAML aliases are not allowed",
                     node_line(n));
        ps->alias_reported = 1;
        return -1;
    }
    ps->seen[i] = 1;
    return 0;
}

static yaml_node_t *node_get(parse_t *ps, int idx)
{
    yaml_node_t *n = yaml_document_get_node(ps->doc, idx);

    if (!n || node_visit(ps, n))
        return NULL;
    return n;
}

/* Scalar text, or NULL if n is not a scalar or holds NUL/control bytes. */
static const char *scalar_text(const yaml_node_t *n, const char **why)
{
    const char *s;
    size_t i;

    if (!n || n->type != YAML_SCALAR_NODE) {
        *why = "expected a single value";
        return NULL;
    }
    s = (const char *)n->data.scalar.value;
    for (i = 0; i < n->data.scalar.length; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            *why = "control characters are not allowed";
            return NULL;
        }
    }
    return s;
}

bool cishare_directory_id_valid(const char *s)
{
    size_t i, len;

    if (!s || (len = strlen(s)) == 0 || len > CISHARE_ID_MAX_LEN)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static int sector_code_valid(const char *s)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > CISHARE_ID_MAX_LEN)
        return 0;
    for (i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              (s[i] == '-' && i > 0)))
            return 0;
    return 1;
}

/* ---------------------------------------------------------------------
 * Directory building
 * ------------------------------------------------------------------ */

static void sector_free(cishare_sector_t *s)
{
    free(s->code);
    free(s->name_en);
    free(s->name_ja);
}

static void participant_free(cishare_participant_t *p)
{
    size_t i;

    free(p->id);
    free(p->name);
    for (i = 0; i < p->sector_cnt; i++)
        free(p->sectors[i]);
    free(p->sectors);
    free(p->ceptoar);
    free(p->principal);
    free(p->keys);
}

void cishare_directory_destroy(cishare_directory_t *dir)
{
    size_t i;

    if (!dir)
        return;
    for (i = 0; i < dir->sector_cnt; i++)
        sector_free(&dir->sectors[i]);
    for (i = 0; i < dir->participant_cnt; i++)
        participant_free(&dir->participants[i]);
    free(dir->sectors);
    free(dir->participants);
    free(dir->by_id);
    free(dir->by_key);
    free(dir);
}

/* Context string for errors about one entry: "participant 'x' (line N)". */
static void entry_label(char *out, size_t size, const char *kind,
                        const char *id, size_t index, int line)
{
    if (id && *id)
        snprintf(out, size, "%s '%s' (line %d)", kind, id, line);
    else
        snprintf(out, size, "%s #%zu (line %d)", kind, index + 1, line);
}

/* Find the value node of key `key` in mapping n, NULL if absent. */
static yaml_node_t *map_lookup(parse_t *ps, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *pair;

    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(ps->doc, pair->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(ps->doc, pair->value);
    }
    return NULL;
}

/*
 * Check that every key of mapping `map` is scalar, known (in `known`) and
 * not repeated; marks key nodes visited.
 */
static void map_check_keys(parse_t *ps, yaml_node_t *map,
                           const char *const *known, const char *label)
{
    yaml_node_pair_t *pair, *q;
    size_t i;

    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = node_get(ps, pair->key);
        const char *why = NULL, *ks;
        if (!k)
            continue;
        ks = scalar_text(k, &why);
        if (!ks) {
            errs_add(ps->errs, "%s: line %d: key: %s", label, node_line(k),
                     why);
            continue;
        }
        for (i = 0; known[i]; i++)
            if (!strcmp(ks, known[i]))
                break;
        if (!known[i])
            errs_add(ps->errs, "%s: %s: unknown field (line %d)", label, ks,
                     node_line(k));
        for (q = map->data.mapping.pairs.start; q < pair; q++) {
            yaml_node_t *k2 = yaml_document_get_node(ps->doc, q->key);
            if (k2 && k2->type == YAML_SCALAR_NODE &&
                !strcmp((const char *)k2->data.scalar.value, ks)) {
                errs_add(ps->errs, "%s: %s: field given twice (line %d)", label,
                         ks, node_line(k));
                break;
            }
        }
    }
}

/*
 * Fetch a string field. Returns a malloc()ed copy, or NULL when absent or
 * bad (then an error was added if `required` or the value is bad).
 * *nomem is set on allocation failure.
 */
static char *field_str(parse_t *ps, yaml_node_t *map, const char *key,
                       int required, const char *label, int *nomem)
{
    yaml_node_t *v = map_lookup(ps, map, key);
    const char *why = NULL, *s;
    char *copy;

    if (!v || (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0 &&
               v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
        if (v)
            node_visit(ps, v);
        if (required)
            errs_add(ps->errs, "%s: %s: missing", label, key);
        return NULL;
    }
    if (node_visit(ps, v))
        return NULL;
    s = scalar_text(v, &why);
    if (!s) {
        errs_add(ps->errs, "%s: %s: %s (line %d)", label, key, why,
                 node_line(v));
        return NULL;
    }
    if (!*s) {
        if (required)
            errs_add(ps->errs, "%s: %s: empty", label, key);
        return NULL;
    }
    copy = strdup(s);
    if (!copy)
        *nomem = 1;
    return copy;
}

static const char *const sector_keys[] = {"code", "name-en", "name-ja", NULL};
static const char *const participant_keys[] = {"id",
                                               "name",
                                               "role",
                                               "sectors",
                                               "ceptoar",
                                               "core-infrastructure",
                                               "principal",
                                               "key-id",
                                               "ed25519",
                                               "key-valid-from",
                                               "key-valid-until",
                                               "key-revoked",
                                               "previous-keys",
                                               "x25519",
                                               NULL};
static const char *const prev_key_keys[] = {
    "key-id", "ed25519", "valid-from", "valid-until", "revoked", NULL};
static const char *const top_keys[] = {"version",   "serial",  "expires",
                                       "root-key",  "sectors", "participants",
                                       "reporting", NULL};
static const char *const reporting_keys[] = {"preliminary-within",
                                             "detailed-within", NULL};

#define TIME_EXAMPLE "2030-12-31T00:00:00Z"

/*
 * An optional (or required) RFC 3339 time field into *msp; *msp is left
 * alone when the field is absent or bad (an error is then added).
 */
static void field_time(parse_t *ps, yaml_node_t *map, const char *key,
                       int required, const char *label, int64_t *msp,
                       int *nomem)
{
    char *s = field_str(ps, map, key, required, label, nomem);
    int64_t ms;

    if (!s)
        return;
    if (!cishare_time_parse(s, &ms))
        errs_add(ps->errs,
                 "%s: %s: expected an RFC 3339 time such as %s, not '%s'",
                 label, key, TIME_EXAMPLE, s);
    else
        *msp = ms;
    free(s);
}

/* Decode a base64 Ed25519 public key; 0, or -1 with the reason added. */
static int ed25519_decode(parse_t *ps, const char *text, const char *label,
                          const char *key, uint8_t pk[CISHARE_ED25519_PK_BYTES])
{
    char detail[128];

    if (cishare_base64_decode_exact(text, pk, CISHARE_ED25519_PK_BYTES, detail,
                                    sizeof(detail))) {
        errs_add(ps->errs, "%s: %s: %s", label, key, detail);
        return -1;
    }
    if (crypto_core_ed25519_is_valid_point(pk) != 1) {
        errs_add(ps->errs, "%s: %s: not a valid Ed25519 public key", label,
                 key);
        return -1;
    }
    return 0;
}

/* valid-from must come before valid-until, and revocation is within. */
static void check_key_times(parse_t *ps, const cishare_signing_key_t *k,
                            const char *label, const char *from_key,
                            const char *until_key)
{
    char a[32], b[32];

    if (k->valid_from_ms != CISHARE_KEY_NO_START &&
        k->valid_until_ms != CISHARE_KEY_NO_END &&
        k->valid_from_ms >= k->valid_until_ms) {
        cishare_time_format(k->valid_from_ms, a);
        cishare_time_format(k->valid_until_ms, b);
        errs_add(ps->errs, "%s: %s: %s is not before %s %s", label, until_key,
                 b, from_key, a);
    }
}

static int parse_sectors(parse_t *ps, yaml_node_t *seq,
                         cishare_directory_t *dir)
{
    yaml_node_item_t *it;
    size_t n = 0, i;
    int nomem = 0;

    dir->sectors = calloc((size_t)(seq->data.sequence.items.top -
                                   seq->data.sequence.items.start) +
                              1,
                          sizeof(*dir->sectors));
    if (!dir->sectors)
        return -1;
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *m = node_get(ps, *it);
        cishare_sector_t *s;
        char label[160];
        yaml_node_t *codev;

        if (!m)
            continue;
        if (m->type != YAML_MAPPING_NODE) {
            errs_add(ps->errs,
                     "sectors: line %d: expected a mapping with "
                     "code, name-en, name-ja",
                     node_line(m));
            continue;
        }
        codev = map_lookup(ps, m, "code");
        entry_label(label, sizeof(label), "sector",
                    codev && codev->type == YAML_SCALAR_NODE
                        ? (const char *)codev->data.scalar.value
                        : NULL,
                    n, node_line(m));
        map_check_keys(ps, m, sector_keys, label);
        s = &dir->sectors[n];
        s->code = field_str(ps, m, "code", 1, label, &nomem);
        s->name_en = field_str(ps, m, "name-en", 1, label, &nomem);
        s->name_ja = field_str(ps, m, "name-ja", 0, label, &nomem);
        if (!s->name_ja && !nomem && !(s->name_ja = strdup("")))
            nomem = 1;
        if (nomem) {
            sector_free(s);
            return -1;
        }
        if (!s->code || !s->name_en) {
            sector_free(s);
            continue;
        }
        if (!sector_code_valid(s->code)) {
            errs_add(ps->errs,
                     "%s: code: must be 1-%d characters of a-z, 0-9 and '-'",
                     label, CISHARE_ID_MAX_LEN);
            sector_free(s);
            continue;
        }
        for (i = 0; i < n; i++)
            if (!strcmp(dir->sectors[i].code, s->code))
                break;
        if (i < n) {
            errs_add(ps->errs, "%s: code: duplicate sector '%s'", label,
                     s->code);
            sector_free(s);
            continue;
        }
        n++;
    }
    dir->sector_cnt = n;
    return 0;
}

/* One entry of previous-keys into p->keys (room was made by the caller). */
static void parse_prev_key(parse_t *ps, yaml_node_t *km, const char *klabel,
                           cishare_participant_t *p, int *nomem)
{
    cishare_signing_key_t k = {.valid_from_ms = CISHARE_KEY_NO_START,
                               .valid_until_ms = CISHARE_KEY_NO_END,
                               .revoked_ms = CISHARE_KEY_NO_END,
                               .line = node_line(km)};
    char *ed, *kid;
    int ok;

    map_check_keys(ps, km, prev_key_keys, klabel);
    ed = field_str(ps, km, "ed25519", 1, klabel, nomem);
    ok = ed && !ed25519_decode(ps, ed, klabel, "ed25519", k.ed25519_pk);
    if (ok)
        cishare_key_id(k.ed25519_pk, k.key_id);
    kid = field_str(ps, km, "key-id", 0, klabel, nomem);
    if (kid && ok && strcmp(kid, k.key_id))
        errs_add(ps->errs,
                 "%s: key-id: '%s' does not match the ed25519 key (its id is "
                 "%s)",
                 klabel, kid, k.key_id);
    field_time(ps, km, "valid-from", 0, klabel, &k.valid_from_ms, nomem);
    /* Required: a previous key without an end would never retire. */
    field_time(ps, km, "valid-until", 1, klabel, &k.valid_until_ms, nomem);
    field_time(ps, km, "revoked", 0, klabel, &k.revoked_ms, nomem);
    check_key_times(ps, &k, klabel, "valid-from", "valid-until");
    if (ok)
        p->keys[p->key_cnt++] = k;
    free(ed);
    free(kid);
}

/*
 * The current key's validity and previous-keys into p->keys (keys[0] is
 * the current key when it parsed). -1 on NOMEM only.
 */
static int parse_keys(parse_t *ps, yaml_node_t *m, const char *label,
                      cishare_participant_t *p, int *nomem)
{
    cishare_signing_key_t cur = {.valid_from_ms = CISHARE_KEY_NO_START,
                                 .valid_until_ms = CISHARE_KEY_NO_END,
                                 .revoked_ms = CISHARE_KEY_NO_END,
                                 .current = true,
                                 .line = p->line};
    yaml_node_t *v = map_lookup(ps, m, "previous-keys");
    yaml_node_item_t *it;
    size_t cap = 1, i = 0;

    field_time(ps, m, "key-valid-from", 0, label, &cur.valid_from_ms, nomem);
    field_time(ps, m, "key-valid-until", 0, label, &cur.valid_until_ms, nomem);
    field_time(ps, m, "key-revoked", 0, label, &cur.revoked_ms, nomem);
    check_key_times(ps, &cur, label, "key-valid-from", "key-valid-until");
    if (v && v->type == YAML_SEQUENCE_NODE)
        cap +=
            (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (!(p->keys = calloc(cap, sizeof(*p->keys))))
        return -1;
    if (p->key_id[0]) {
        memcpy(cur.ed25519_pk, p->ed25519_pk, sizeof(cur.ed25519_pk));
        memcpy(cur.key_id, p->key_id, sizeof(cur.key_id));
        p->keys[p->key_cnt++] = cur;
    }
    if (!v || node_visit(ps, v))
        return *nomem ? -1 : 0;
    if (v->type != YAML_SEQUENCE_NODE) {
        if (!(v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0 &&
              v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE))
            errs_add(ps->errs,
                     "%s: previous-keys: expected a list of mappings with "
                     "ed25519 and valid-until (line %d)",
                     label, node_line(v));
        return *nomem ? -1 : 0;
    }
    for (it = v->data.sequence.items.start;
         !*nomem && it < v->data.sequence.items.top; it++, i++) {
        yaml_node_t *km = node_get(ps, *it);
        char klabel[240];
        if (!km)
            continue;
        snprintf(klabel, sizeof(klabel), "%s: previous-keys #%zu (line %d)",
                 label, i + 1, node_line(km));
        if (km->type != YAML_MAPPING_NODE) {
            errs_add(ps->errs,
                     "%s: expected a mapping with ed25519 and valid-until",
                     klabel);
            continue;
        }
        parse_prev_key(ps, km, klabel, p, nomem);
    }
    return *nomem ? -1 : 0;
}

/* Parse one participant mapping into p. Returns -1 on NOMEM only. */
static int parse_participant(parse_t *ps, yaml_node_t *m, size_t index,
                             cishare_directory_t *dir, cishare_participant_t *p,
                             int *ok)
{
    char label[160], detail[128];
    yaml_node_t *idv, *v;
    char *role = NULL, *core = NULL, *ed = NULL, *x = NULL, *kid = NULL;
    int nomem = 0, role_ok, errs_before = ps->errs->cnt;
    cishare_err_t err;

    memset(p, 0, sizeof(*p));
    p->line = node_line(m);
    idv = map_lookup(ps, m, "id");
    entry_label(label, sizeof(label), "participant",
                idv && idv->type == YAML_SCALAR_NODE
                    ? (const char *)idv->data.scalar.value
                    : NULL,
                index, p->line);
    map_check_keys(ps, m, participant_keys, label);

    p->id = field_str(ps, m, "id", 1, label, &nomem);
    if (p->id && !cishare_directory_id_valid(p->id))
        errs_add(ps->errs,
                 "%s: id: must be 1-%d characters of a-z, 0-9 and '-', "
                 "starting with a letter or digit (ids end topic and group "
                 "names: cishare.inbox.<id>, cishare-feed-<id>.*)",
                 label, CISHARE_ID_MAX_LEN);
    p->name = field_str(ps, m, "name", 1, label, &nomem);
    role = field_str(ps, m, "role", 1, label, &nomem);
    role_ok = role && cishare_role_parse(role, &p->role);
    if (!role_ok)
        p->role = CISHARE_ROLE__CNT; /* matches no role-based rule */
    if (role && !role_ok)
        errs_add(ps->errs,
                 "%s: role: unknown role '%s' (expected operator, ceptoar, "
                 "ceptoar-council, ministry, coordination-office or "
                 "security-org)",
                 label, role);

    v = map_lookup(ps, m, "sectors");
    if (v && !node_visit(ps, v)) {
        if (v->type == YAML_SEQUENCE_NODE) {
            yaml_node_item_t *it;
            size_t cap = (size_t)(v->data.sequence.items.top -
                                  v->data.sequence.items.start);
            p->sectors = calloc(cap + 1, sizeof(char *));
            if (!p->sectors)
                nomem = 1;
            for (it = v->data.sequence.items.start;
                 !nomem && it < v->data.sequence.items.top; it++) {
                yaml_node_t *sn = node_get(ps, *it);
                const char *why = NULL, *code;
                size_t i;
                if (!sn)
                    continue;
                code = scalar_text(sn, &why);
                if (!code) {
                    errs_add(ps->errs, "%s: sectors: %s (line %d)", label, why,
                             node_line(sn));
                    continue;
                }
                if (!cishare_directory_sector_find(dir, code)) {
                    errs_add(ps->errs, "%s: sectors: unknown sector '%s'",
                             label, code);
                    continue;
                }
                for (i = 0; i < p->sector_cnt; i++)
                    if (!strcmp(p->sectors[i], code))
                        break;
                if (i < p->sector_cnt) {
                    errs_add(ps->errs, "%s: sectors: '%s' listed twice", label,
                             code);
                    continue;
                }
                if (!(p->sectors[p->sector_cnt] = strdup(code)))
                    nomem = 1;
                else
                    p->sector_cnt++;
            }
        } else if (!(v->type == YAML_SCALAR_NODE &&
                     v->data.scalar.length == 0 &&
                     v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
            errs_add(ps->errs,
                     "%s: sectors: expected a list, e.g. [gas] "
                     "(line %d)",
                     label, node_line(v));
        }
    }

    p->ceptoar = field_str(ps, m, "ceptoar", 0, label, &nomem);
    core = field_str(ps, m, "core-infrastructure", 0, label, &nomem);
    if (core) {
        if (!strcmp(core, "true"))
            p->core_infrastructure = true;
        else if (strcmp(core, "false"))
            errs_add(ps->errs,
                     "%s: core-infrastructure: expected true or false, not "
                     "'%s'",
                     label, core);
    }
    p->principal = field_str(ps, m, "principal", 1, label, &nomem);
    if (p->principal && (strncmp(p->principal, "User:", 5) ||
                         !p->principal[5] || strchr(p->principal, ' ')))
        errs_add(ps->errs,
                 "%s: principal: expected a Kafka principal 'User:<name>', "
                 "not '%s'",
                 label, p->principal);

    ed = field_str(ps, m, "ed25519", 1, label, &nomem);
    if (ed && !ed25519_decode(ps, ed, label, "ed25519", p->ed25519_pk))
        cishare_key_id(p->ed25519_pk, p->key_id);
    x = field_str(ps, m, "x25519", 1, label, &nomem);
    if (x) {
        err = cishare_base64_decode_exact(
            x, p->x25519_pk, CISHARE_X25519_PK_BYTES, detail, sizeof(detail));
        if (err)
            errs_add(ps->errs, "%s: x25519: %s", label, detail);
        else if (sodium_is_zero(p->x25519_pk, CISHARE_X25519_PK_BYTES))
            errs_add(ps->errs, "%s: x25519: all-zero key", label);
    }
    kid = field_str(ps, m, "key-id", 0, label, &nomem);
    if (kid && p->key_id[0] && strcmp(kid, p->key_id))
        errs_add(ps->errs,
                 "%s: key-id: '%s' does not match the ed25519 key (its id is "
                 "%s)",
                 label, kid, p->key_id);
    if (parse_keys(ps, m, label, p, &nomem))
        nomem = 1;

    /* Role-dependent checks only once the role is known. */
    if (role_ok && p->role != CISHARE_ROLE_OPERATOR) {
        if (p->ceptoar)
            errs_add(ps->errs,
                     "%s: ceptoar: only operators have a parent CEPTOAR",
                     label);
        if (p->core_infrastructure)
            errs_add(ps->errs,
                     "%s: core-infrastructure: only operators can be "
                     "designated core infrastructure",
                     label);
    }
    if (role_ok && p->sector_cnt == 0 &&
        (p->role == CISHARE_ROLE_OPERATOR || p->role == CISHARE_ROLE_CEPTOAR ||
         p->role == CISHARE_ROLE_MINISTRY) &&
        !(v && v->type == YAML_SEQUENCE_NODE &&
          v->data.sequence.items.top > v->data.sequence.items.start))
        errs_add(ps->errs, "%s: sectors: a%s %s needs at least one sector",
                 label, p->role == CISHARE_ROLE_OPERATOR ? "n" : "",
                 cishare_role_name(p->role));
    if (role_ok && p->role == CISHARE_ROLE_OPERATOR && !p->ceptoar)
        errs_add(ps->errs,
                 "%s: ceptoar: missing (an operator names the CEPTOAR of its "
                 "sector)",
                 label);

    free(role);
    free(core);
    free(ed);
    free(x);
    free(kid);
    if (nomem)
        return -1;
    *ok = ps->errs->cnt == errs_before && p->id && p->name && p->principal &&
          p->key_id[0];
    return 0;
}

/* Checks that need the whole participant list. */
static void cross_check(parse_t *ps, cishare_directory_t *dir)
{
    size_t i, j, k;
    char label[160];

    for (i = 0; i < dir->participant_cnt; i++) {
        cishare_participant_t *p = &dir->participants[i];
        entry_label(label, sizeof(label), "participant", p->id, i, p->line);
        for (j = 0; j < i; j++) {
            cishare_participant_t *q = &dir->participants[j];
            if (p->id && q->id && !strcmp(p->id, q->id))
                errs_add(ps->errs,
                         "%s: id: duplicate of the participant on "
                         "line %d",
                         label, q->line);
            if (p->principal && q->principal &&
                !strcmp(p->principal, q->principal))
                errs_add(ps->errs,
                         "%s: principal: '%s' is also used by participant "
                         "'%s' (line %d)",
                         label, p->principal, q->id ? q->id : "?", q->line);
        }
        if (p->role == CISHARE_ROLE_OPERATOR && p->ceptoar) {
            const cishare_participant_t *c = NULL;
            for (j = 0; j < dir->participant_cnt; j++)
                if (dir->participants[j].id &&
                    !strcmp(dir->participants[j].id, p->ceptoar)) {
                    c = &dir->participants[j];
                    break;
                }
            if (!c) {
                errs_add(ps->errs,
                         "%s: ceptoar: no participant '%s' in the directory",
                         label, p->ceptoar);
            } else if (c->role != CISHARE_ROLE_CEPTOAR) {
                errs_add(ps->errs, "%s: ceptoar: '%s' has role %s, not ceptoar",
                         label, p->ceptoar, cishare_role_name(c->role));
            } else {
                for (k = 0; k < p->sector_cnt; k++)
                    if (cishare_participant_in_sector(c, p->sectors[k]))
                        break;
                if (p->sector_cnt && k == p->sector_cnt)
                    errs_add(ps->errs,
                             "%s: ceptoar: '%s' does not serve any sector of "
                             "this operator",
                             label, p->ceptoar);
            }
        }
    }
}

/* A key with its place, for the uniqueness check. */
typedef struct keyref_s {
    const cishare_signing_key_t *k;
    const cishare_participant_t *p;
    size_t pi, ki;
} keyref_t;

static int cmp_keyref(const void *a, const void *b)
{
    const keyref_t *x = a, *y = b;
    int c = strcmp(x->k->key_id, y->k->key_id);

    if (c)
        return c;
    if (x->pi != y->pi)
        return x->pi < y->pi ? -1 : 1;
    return x->ki < y->ki ? -1 : x->ki > y->ki;
}

/*
 * Key ids are unique across every key of every participant: a message's
 * key id must name one key, so one owner and one validity. Reports the
 * later entry of each clash, as the other cross checks do. -1 on NOMEM.
 */
static int check_unique_keys(parse_t *ps, const cishare_directory_t *dir)
{
    keyref_t *r;
    size_t i, j, n = 0;
    char label[160];

    for (i = 0; i < dir->participant_cnt; i++)
        n += dir->participants[i].key_cnt;
    if (!(r = calloc(n + 1, sizeof(*r))))
        return -1;
    n = 0;
    for (i = 0; i < dir->participant_cnt; i++)
        for (j = 0; j < dir->participants[i].key_cnt; j++)
            r[n++] = (keyref_t){.k = &dir->participants[i].keys[j],
                                .p = &dir->participants[i],
                                .pi = i,
                                .ki = j};
    qsort(r, n, sizeof(*r), cmp_keyref);
    for (i = 1; i < n; i++) {
        const keyref_t *a = &r[i - 1], *b = &r[i];
        if (strcmp(a->k->key_id, b->k->key_id))
            continue;
        entry_label(label, sizeof(label), "participant", b->p->id, b->pi,
                    b->p->line);
        if (a->p == b->p)
            errs_add(ps->errs, "%s: previous-keys: key %s is listed twice",
                     label, b->k->key_id);
        else if (a->k->current && b->k->current)
            errs_add(ps->errs,
                     "%s: ed25519: same key as participant '%s' (line %d)",
                     label, a->p->id ? a->p->id : "?", a->p->line);
        else
            errs_add(ps->errs,
                     "%s: %s: key %s is also a key of participant '%s' "
                     "(line %d)",
                     label, b->k->current ? "ed25519" : "previous-keys",
                     b->k->key_id, a->p->id ? a->p->id : "?", a->p->line);
    }
    free(r);
    return 0;
}

static int cmp_by_id(const void *a, const void *b)
{
    return strcmp((*(const cishare_participant_t *const *)a)->id,
                  (*(const cishare_participant_t *const *)b)->id);
}

static int cmp_by_key(const void *a, const void *b)
{
    return strcmp((*(const cishare_signing_key_t *const *)a)->key_id,
                  (*(const cishare_signing_key_t *const *)b)->key_id);
}

static int build_index(cishare_directory_t *dir)
{
    size_t i, j, n = dir->participant_cnt;

    for (i = 0; i < n; i++)
        dir->key_cnt += dir->participants[i].key_cnt;
    dir->by_id = calloc(n + 1, sizeof(*dir->by_id));
    dir->by_key = calloc(dir->key_cnt + 1, sizeof(*dir->by_key));
    if (!dir->by_id || !dir->by_key)
        return -1;
    dir->key_cnt = 0;
    for (i = 0; i < n; i++) {
        cishare_participant_t *p = &dir->participants[i];
        dir->by_id[i] = p;
        for (j = 0; j < p->key_cnt; j++) {
            p->keys[j].owner = p; /* participants[] no longer moves */
            dir->by_key[dir->key_cnt++] = &p->keys[j];
        }
    }
    qsort(dir->by_id, n, sizeof(*dir->by_id), cmp_by_id);
    qsort(dir->by_key, dir->key_cnt, sizeof(*dir->by_key), cmp_by_key);
    return 0;
}

/* serial, expires and root-key: what dirstate.h decides on. */
static int parse_version_fields(parse_t *ps, yaml_node_t *root,
                                cishare_directory_t *dir)
{
    yaml_node_t *v;
    const char *why = NULL, *s;
    char *t;
    size_t i;
    int nomem = 0;

    v = map_lookup(ps, root, "serial");
    if (!v) {
        errs_add(ps->errs, "serial: missing (expected 'serial: <integer >= "
                           "1>', raised with every new version)");
    } else if (!node_visit(ps, v)) {
        uint64_t n = 0;
        s = scalar_text(v, &why);
        /* digits only, no leading zero (YAML 1.1 would read it as
         * octal), no overflow */
        for (i = 0; s && s[i]; i++) {
            if (s[i] < '0' || s[i] > '9' || (i == 0 && s[i] == '0') ||
                n > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) {
                n = 0;
                break;
            }
            n = n * 10 + (uint64_t)(s[i] - '0');
        }
        if (!n)
            errs_add(ps->errs,
                     "line %d: serial: expected an integer >= 1, not '%s'",
                     node_line(v), s ? s : why);
        dir->serial = n;
    }

    v = map_lookup(ps, root, "expires");
    if (!v)
        errs_add(ps->errs,
                 "expires: missing (expected 'expires: <RFC 3339 time>', "
                 "e.g. %s)",
                 TIME_EXAMPLE);
    else
        field_time(ps, root, "expires", 1, "top level", &dir->expires_ms,
                   &nomem);

    t = field_str(ps, root, "root-key", 0, "top level", &nomem);
    if (t && !ed25519_decode(ps, t, "top level", "root-key", dir->root_pk))
        dir->has_root = true;
    free(t);
    return nomem ? -1 : 0;
}

int64_t cishare_duration_parse(const char *s)
{
    int64_t n = 0, unit;
    const char *p = s;

    if (!s || *s < '1' || *s > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > 1000000)
            return -1;
        n = n * 10 + (*p - '0');
    }
    unit = !strcmp(p, "m")   ? 60000
           : !strcmp(p, "h") ? 3600000
           : !strcmp(p, "d") ? 86400000
                             : 0;
    return unit ? n * unit : -1;
}

/* reporting: the deadlines of mandatory incident reports, after
 * detection; optional (no section: no deadlines). */
static void parse_reporting(parse_t *ps, yaml_node_t *root,
                            cishare_directory_t *dir)
{
    yaml_node_t *m = map_lookup(ps, root, "reporting");
    int nomem = 0, d;

    if (!m || node_visit(ps, m))
        return;
    if (m->type != YAML_MAPPING_NODE) {
        errs_add(ps->errs,
                 "reporting: line %d: expected a mapping with "
                 "preliminary-within and detailed-within",
                 node_line(m));
        return;
    }
    map_check_keys(ps, m, reporting_keys, "reporting");
    for (d = 0; d < CISHARE_DEADLINE__CNT; d++) {
        char *t = field_str(ps, m, reporting_keys[d], 0, "reporting", &nomem);
        int64_t ms = t ? cishare_duration_parse(t) : 0;
        if (ms < 0)
            errs_add(ps->errs,
                     "reporting: %s: expected a duration such as 24h, 30d "
                     "or 90m, not '%s'",
                     reporting_keys[d], t);
        else
            dir->deadline_ms[d] = ms;
        free(t);
    }
    if (dir->deadline_ms[CISHARE_DEADLINE_PRELIMINARY] &&
        dir->deadline_ms[CISHARE_DEADLINE_DETAILED] &&
        dir->deadline_ms[CISHARE_DEADLINE_DETAILED] <
            dir->deadline_ms[CISHARE_DEADLINE_PRELIMINARY])
        errs_add(ps->errs, "reporting: detailed-within is shorter than "
                           "preliminary-within");
}

int64_t cishare_directory_deadline_ms(const cishare_directory_t *dir,
                                      cishare_deadline_t which)
{
    return (unsigned)which < CISHARE_DEADLINE__CNT ? dir->deadline_ms[which]
                                                   : 0;
}

/* Walk the document: top-level keys, sectors, then participants. */
static int parse_document(parse_t *ps, cishare_directory_t *dir)
{
    yaml_node_t *root = yaml_document_get_root_node(ps->doc), *v;
    yaml_node_item_t *it;
    const char *why = NULL, *s;
    size_t n = 0;
    int nomem = 0;

    if (!root) {
        errs_add(ps->errs, "empty document");
        return 0;
    }
    node_visit(ps, root);
    if (root->type != YAML_MAPPING_NODE) {
        errs_add(ps->errs,
                 "line %d: expected a mapping with version, "
                 "sectors, participants",
                 node_line(root));
        return 0;
    }
    map_check_keys(ps, root, top_keys, "top level");

    v = map_lookup(ps, root, "version");
    if (!v) {
        errs_add(ps->errs, "version: missing (expected 'version: 1')");
    } else if (!node_visit(ps, v)) {
        s = scalar_text(v, &why);
        if (!s || strcmp(s, "1"))
            errs_add(ps->errs, "line %d: version: unsupported, expected 1",
                     node_line(v));
    }

    if (parse_version_fields(ps, root, dir))
        return -1;
    parse_reporting(ps, root, dir);

    v = map_lookup(ps, root, "sectors");
    if (!v || v->type != YAML_SEQUENCE_NODE) {
        errs_add(ps->errs, "sectors: missing or not a list (line %d)",
                 node_line(v ? v : root));
    } else if (!node_visit(ps, v) && parse_sectors(ps, v, dir)) {
        return -1;
    }

    v = map_lookup(ps, root, "participants");
    if (!v || v->type != YAML_SEQUENCE_NODE) {
        errs_add(ps->errs, "participants: missing or not a list (line %d)",
                 node_line(v ? v : root));
        return 0;
    }
    if (node_visit(ps, v))
        return 0;
    dir->participants = calloc(
        (size_t)(v->data.sequence.items.top - v->data.sequence.items.start) + 1,
        sizeof(*dir->participants));
    if (!dir->participants)
        return -1;
    for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, n++) {
        yaml_node_t *m = node_get(ps, *it);
        cishare_participant_t *p = &dir->participants[dir->participant_cnt];
        int ok = 0;
        if (!m)
            continue;
        if (m->type != YAML_MAPPING_NODE) {
            errs_add(ps->errs, "participants: line %d: expected a mapping",
                     node_line(m));
            continue;
        }
        if (parse_participant(ps, m, n, dir, p, &ok)) {
            nomem = 1;
            participant_free(p);
            break;
        }
        /* Keep entries with an id for the cross checks even when they had
         * errors (a duplicate is still worth reporting); drop the rest. */
        if (p->id)
            dir->participant_cnt++;
        else
            participant_free(p);
    }
    if (nomem)
        return -1;
    cross_check(ps, dir);
    return check_unique_keys(ps, dir);
}

/* Reject a signature line anywhere but last: it would look signed. */
static void check_stray_sig(parse_t *ps, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    int line = 1;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l >= strlen(CISHARE_DIRECTORY_SIG_PREFIX) &&
            !memcmp(p, CISHARE_DIRECTORY_SIG_PREFIX,
                    strlen(CISHARE_DIRECTORY_SIG_PREFIX)))
            errs_add(ps->errs,
                     "line %d: a signature line is only allowed as the last "
                     "line",
                     line);
        if (!nl)
            break;
        p = nl + 1;
        line++;
    }
}

cishare_err_t
cishare_directory_load_buf(const char *name, const char *buf, size_t len,
                           const uint8_t root_pk[CISHARE_ED25519_PK_BYTES],
                           cishare_directory_t **dirp, char *errstr,
                           size_t errstr_size)
{
    errs_t errs = {.name = name, .buf = errstr, .size = errstr_size};
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    parse_t ps;
    cishare_directory_t *dir;
    size_t content_len;
    cishare_err_t err;
    int bad;

    *dirp = NULL;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (len > CISHARE_DIRECTORY_MAX_SIZE)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "%s: larger than the limit of %u bytes", name,
                               CISHARE_DIRECTORY_MAX_SIZE);
    if (root_pk) {
        err = cishare_directory_verify_buf(name, buf, len, root_pk, errstr,
                                           errstr_size);
        if (err)
            return err;
    }
    sig_split(buf, len, &content_len);
    if (memchr(buf, '\0', content_len))
        return cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                               "%s: contains a NUL byte", name);

    dir = calloc(1, sizeof(*dir));
    if (!dir)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    if (root_pk)
        cishare_key_id(root_pk, dir->signer_key_id);
    crypto_generichash(dir->hash, sizeof(dir->hash), (const unsigned char *)buf,
                       content_len, NULL, 0);

    if (!yaml_parser_initialize(&parser)) {
        free(dir);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf,
                                 content_len);
    if (!yaml_parser_load(&parser, &doc)) {
        err = cishare_err_set(
            CISHARE_ERR_PARSE, errstr, errstr_size,
            "%s: line %zu column %zu: YAML: %s%s%s", name,
            parser.problem_mark.line + 1, parser.problem_mark.column + 1,
            parser.problem ? parser.problem : "syntax error",
            parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        free(dir);
        return err;
    }
    /* Exactly one document. */
    if (yaml_parser_load(&parser, &extra)) {
        bad = yaml_document_get_root_node(&extra) != NULL;
        yaml_document_delete(&extra);
    } else {
        bad = 1;
    }
    yaml_parser_delete(&parser);

    memset(&ps, 0, sizeof(ps));
    ps.doc = &doc;
    ps.errs = &errs;
    ps.node_cnt = (size_t)(doc.nodes.top - doc.nodes.start);
    ps.seen = calloc(ps.node_cnt + 1, 1);
    if (!ps.seen) {
        yaml_document_delete(&doc);
        cishare_directory_destroy(dir);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    if (bad)
        errs_add(&errs, "more than one YAML document (or trailing garbage)");
    check_stray_sig(&ps, buf, content_len);
    if (parse_document(&ps, dir)) {
        free(ps.seen);
        yaml_document_delete(&doc);
        cishare_directory_destroy(dir);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "%s: out of memory", name);
    }
    free(ps.seen);
    yaml_document_delete(&doc);
    if (errs.cnt) {
        errs_finish(&errs);
        cishare_directory_destroy(dir);
        return CISHARE_ERR_VALIDATION;
    }
    if (build_index(dir)) {
        cishare_directory_destroy(dir);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    *dirp = dir;
    return CISHARE_OK;
}

/* Read a whole file, refusing more than CISHARE_DIRECTORY_MAX_SIZE. */
static cishare_err_t read_bounded(const char *path, char **bufp, size_t *lenp,
                                  char *errstr, size_t errstr_size)
{
    FILE *fp;
    char *buf;
    size_t len;
    struct stat st;

    *bufp = NULL;
    fp = fopen(path, "rb");
    if (!fp)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                               path, strerror(errno));
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: is a directory", path);
    }
    buf = malloc(CISHARE_DIRECTORY_MAX_SIZE + 2);
    if (!buf) {
        fclose(fp);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    len = fread(buf, 1, CISHARE_DIRECTORY_MAX_SIZE + 1, fp);
    if (ferror(fp)) {
        fclose(fp);
        free(buf);
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: read error", path);
    }
    fclose(fp);
    if (len > CISHARE_DIRECTORY_MAX_SIZE) {
        free(buf);
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "%s: larger than the limit of %u bytes", path,
                               CISHARE_DIRECTORY_MAX_SIZE);
    }
    buf[len] = '\0';
    *bufp = buf;
    *lenp = len;
    return CISHARE_OK;
}

cishare_err_t cishare_directory_read_file(const char *path, char **bufp,
                                          size_t *lenp, char *errstr,
                                          size_t errstr_size)
{
    return read_bounded(path, bufp, lenp, errstr, errstr_size);
}

cishare_err_t
cishare_directory_root_pub_load(const char *path, const char *root_pub_path,
                                uint8_t root_pk[CISHARE_ED25519_PK_BYTES],
                                char *errstr, size_t errstr_size)
{
    char *rootp = NULL;
    cishare_err_t err;

    if (!root_pub_path) {
        const char *slash = strrchr(path, '/');
        int dlen = slash ? (int)(slash - path) : 1;
        if (asprintf(&rootp, "%.*s/root.pub", dlen, slash ? path : ".") < 0)
            return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                   "out of memory");
        root_pub_path = rootp;
    }
    err = cishare_pubkey_load(root_pub_path, root_pk, errstr, errstr_size);
    free(rootp);
    return err == CISHARE_OK || err == CISHARE_ERR_NOMEM
               ? err
               : CISHARE_ERR_DIRECTORY;
}

cishare_err_t cishare_directory_load(const char *path,
                                     const char *root_pub_path,
                                     cishare_directory_t **dirp, char *errstr,
                                     size_t errstr_size)
{
    uint8_t root_pk[CISHARE_ED25519_PK_BYTES];
    char *buf = NULL;
    size_t len = 0;
    cishare_err_t err;

    *dirp = NULL;
    err = cishare_directory_root_pub_load(path, root_pub_path, root_pk, errstr,
                                          errstr_size);
    if (err)
        return err;
    err = read_bounded(path, &buf, &len, errstr, errstr_size);
    if (!err)
        err = cishare_directory_load_buf(path, buf, len, root_pk, dirp, errstr,
                                         errstr_size);
    free(buf);
    return err;
}

cishare_err_t cishare_directory_load_unsigned(const char *path,
                                              cishare_directory_t **dirp,
                                              char *errstr, size_t errstr_size)
{
    char *buf = NULL;
    size_t len = 0;
    cishare_err_t err;

    *dirp = NULL;
    err = read_bounded(path, &buf, &len, errstr, errstr_size);
    if (!err)
        err = cishare_directory_load_buf(path, buf, len, NULL, dirp, errstr,
                                         errstr_size);
    free(buf);
    return err;
}

/* ---------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------ */

const char *cishare_directory_signer_key_id(const cishare_directory_t *dir)
{
    return dir->signer_key_id;
}

uint64_t cishare_directory_serial(const cishare_directory_t *dir)
{
    return dir->serial;
}

int64_t cishare_directory_expires_ms(const cishare_directory_t *dir)
{
    return dir->expires_ms;
}

const uint8_t *cishare_directory_root_key(const cishare_directory_t *dir)
{
    return dir->has_root ? dir->root_pk : NULL;
}

const uint8_t *cishare_directory_content_hash(const cishare_directory_t *dir)
{
    return dir->hash;
}

cishare_err_t cishare_directory_check_expiry(const cishare_directory_t *dir,
                                             const char *name, int64_t now_ms,
                                             char *errstr, size_t errstr_size)
{
    char exp[32], now[32];

    if (now_ms < dir->expires_ms)
        return CISHARE_OK;
    cishare_time_format(dir->expires_ms, exp);
    cishare_time_format(now_ms, now);
    return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                           "%s: directory serial %llu expired at %s (now %s): "
                           "an expired directory is refused, so a frozen "
                           "copy cannot be kept alive; get the current "
                           "version from the coordination office",
                           name, (unsigned long long)dir->serial, exp, now);
}

size_t cishare_directory_participant_cnt(const cishare_directory_t *dir)
{
    return dir ? dir->participant_cnt : 0;
}

const cishare_participant_t *
cishare_directory_participant(const cishare_directory_t *dir, size_t i)
{
    return dir && i < dir->participant_cnt ? &dir->participants[i] : NULL;
}

static int cmp_key_id(const void *key, const void *elem)
{
    return strcmp((const char *)key,
                  (*(const cishare_participant_t *const *)elem)->id);
}

static int cmp_key_keyid(const void *key, const void *elem)
{
    return strcmp((const char *)key,
                  (*(const cishare_signing_key_t *const *)elem)->key_id);
}

const cishare_participant_t *
cishare_directory_find(const cishare_directory_t *dir, const char *id)
{
    const cishare_participant_t **pp;

    if (!dir || !id || !dir->by_id)
        return NULL;
    pp = bsearch(id, dir->by_id, dir->participant_cnt, sizeof(*dir->by_id),
                 cmp_key_id);
    return pp ? *pp : NULL;
}

const cishare_signing_key_t *
cishare_directory_signing_key(const cishare_directory_t *dir,
                              const char *key_id)
{
    const cishare_signing_key_t **kp;

    if (!dir || !key_id || !dir->by_key)
        return NULL;
    kp = bsearch(key_id, dir->by_key, dir->key_cnt, sizeof(*dir->by_key),
                 cmp_key_keyid);
    return kp ? *kp : NULL;
}

const cishare_participant_t *
cishare_directory_find_key(const cishare_directory_t *dir, const char *key_id)
{
    const cishare_signing_key_t *k = cishare_directory_signing_key(dir, key_id);

    return k ? k->owner : NULL;
}

cishare_err_t cishare_key_check(const cishare_signing_key_t *key,
                                int64_t created_ms, int64_t now_ms,
                                char *errstr, size_t errstr_size)
{
    const char *who = key->owner && key->owner->id ? key->owner->id : "?";
    char t[32], c[32];

    cishare_time_format(created_ms, c);
    if (key->revoked_ms != CISHARE_KEY_NO_END && created_ms > key->revoked_ms) {
        cishare_time_format(key->revoked_ms, t);
        return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                               "key %s of '%s' was revoked (compromised) at "
                               "%s; message created %s",
                               key->key_id, who, t, c);
    }
    /* now, not the created time: the signer chooses that one */
    if (key->valid_until_ms != CISHARE_KEY_NO_END &&
        now_ms > key->valid_until_ms) {
        cishare_time_format(key->valid_until_ms, t);
        cishare_time_format(now_ms, c);
        return cishare_err_set(
            CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
            "key %s of '%s' expired at %s (%s); now %s", key->key_id, who, t,
            key->current ? "end of its validity" : "rotation overlap ended", c);
    }
    if (key->valid_from_ms != CISHARE_KEY_NO_START &&
        created_ms < key->valid_from_ms) {
        cishare_time_format(key->valid_from_ms, t);
        return cishare_err_set(CISHARE_ERR_UNKNOWN_KEY, errstr, errstr_size,
                               "key %s of '%s' is valid only from %s; message "
                               "created %s",
                               key->key_id, who, t, c);
    }
    return CISHARE_OK;
}

size_t cishare_directory_sector_cnt(const cishare_directory_t *dir)
{
    return dir ? dir->sector_cnt : 0;
}

const cishare_sector_t *cishare_directory_sector(const cishare_directory_t *dir,
                                                 size_t i)
{
    return dir && i < dir->sector_cnt ? &dir->sectors[i] : NULL;
}

const cishare_sector_t *
cishare_directory_sector_find(const cishare_directory_t *dir, const char *code)
{
    size_t i;

    for (i = 0; dir && code && i < dir->sector_cnt; i++)
        if (!strcmp(dir->sectors[i].code, code))
            return &dir->sectors[i];
    return NULL;
}

bool cishare_participant_in_sector(const cishare_participant_t *p,
                                   const char *code)
{
    size_t i;

    for (i = 0; p && code && i < p->sector_cnt; i++)
        if (!strcmp(p->sectors[i], code))
            return true;
    return false;
}
