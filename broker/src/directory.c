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
    cishare_sector_t *sectors;
    size_t sector_cnt;
    cishare_participant_t *participants;
    size_t participant_cnt;
    /* Sorted views for bsearch; entries point into participants[]. */
    const cishare_participant_t **by_id;
    const cishare_participant_t **by_key;
    char signer_key_id[CISHARE_KEY_ID_LEN + 1];
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

/*
 * Split buf into content and a trailing signature line. The signature line
 * must be the last line (optionally followed by one '\n'). Sets *content_len
 * to the length of the signed bytes; *sig and *sig_len to the line (without
 * newline), or NULL when the file is unsigned.
 */
static void sig_split(const char *buf, size_t len, size_t *content_len,
                      const char **sig, size_t *sig_len)
{
    size_t end = len, start;

    *sig = NULL;
    *sig_len = 0;
    *content_len = len;
    if (end > 0 && buf[end - 1] == '\n')
        end--;
    start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    if (end - start >= strlen(CISHARE_DIRECTORY_SIG_PREFIX) &&
        !memcmp(buf + start, CISHARE_DIRECTORY_SIG_PREFIX,
                strlen(CISHARE_DIRECTORY_SIG_PREFIX))) {
        *sig = buf + start;
        *sig_len = end - start;
        *content_len = start;
    }
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
    char key_id[CISHARE_KEY_ID_LEN + 1], root_id[CISHARE_KEY_ID_LEN + 1];
    uint8_t sig[crypto_sign_BYTES];
    const char *line;
    size_t content_len, line_len;

    if (cishare_crypto_init())
        return CISHARE_ERR_CRYPTO;
    sig_split(buf, len, &content_len, &line, &line_len);
    if (!line)
        return cishare_err_set(
            CISHARE_ERR_DIRECTORY, errstr, errstr_size,
            "%s: not signed (the last line must be '%sed25519 <key id> "
            "<signature>'; sign it with 'cishare directory sign')",
            name, CISHARE_DIRECTORY_SIG_PREFIX);
    if (sig_parse(line, line_len, key_id, sig))
        return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                               "%s: malformed signature line", name);
    cishare_key_id(root_pk, root_id);
    if (strcmp(key_id, root_id))
        return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                               "%s: signed by key %s, not by the pinned root "
                               "key %s",
                               name, key_id, root_id);
    if (crypto_sign_verify_detached(sig, (const unsigned char *)buf,
                                    content_len, root_pk) != 0)
        return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                               "%s: signature does not verify against root "
                               "key %s (the file was altered after signing, "
                               "or signed by another key)",
                               name, root_id);
    return CISHARE_OK;
}

cishare_err_t cishare_directory_sign_buf(const char *buf, size_t len,
                                         const cishare_keypair_t *root,
                                         char **outp, size_t *out_lenp,
                                         char *errstr, size_t errstr_size)
{
    uint8_t sig[crypto_sign_BYTES];
    char b64[SIG_B64_LEN + 1];
    const char *line;
    size_t content_len, line_len, need, n;
    char *out;
    int add_nl;

    *outp = NULL;
    if (cishare_crypto_init())
        return CISHARE_ERR_CRYPTO;
    if (len > CISHARE_DIRECTORY_MAX_SIZE)
        return cishare_err_set(CISHARE_ERR_TOO_LARGE, errstr, errstr_size,
                               "directory larger than %u bytes",
                               CISHARE_DIRECTORY_MAX_SIZE);
    sig_split(buf, len, &content_len, &line, &line_len);
    add_nl = content_len > 0 && buf[content_len - 1] != '\n';
    need = content_len + (size_t)add_nl + strlen(CISHARE_DIRECTORY_SIG_PREFIX) +
           strlen(SIG_ALG) + 1 + CISHARE_KEY_ID_LEN + 1 + SIG_B64_LEN + 2;
    out = malloc(need);
    if (!out)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    memcpy(out, buf, content_len);
    n = content_len;
    if (add_nl)
        out[n++] = '\n';
    crypto_sign_detached(sig, NULL, (const unsigned char *)out, n,
                         root->ed25519_sk);
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
                      sodium_base64_VARIANT_ORIGINAL);
    n += (size_t)snprintf(out + n, need - n, "%s%s %s %s\n",
                          CISHARE_DIRECTORY_SIG_PREFIX, SIG_ALG, root->key_id,
                          b64);
    *outp = out;
    if (out_lenp)
        *out_lenp = n;
    return CISHARE_OK;
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

static int id_valid(const char *s)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > CISHARE_ID_MAX_LEN)
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    for (i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return 0;
    }
    return 1;
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
static const char *const participant_keys[] = {
    "id",        "name",    "role",
    "sectors",   "ceptoar", "core-infrastructure",
    "principal", "key-id",  "ed25519",
    "x25519",    NULL};
static const char *const top_keys[] = {"version", "sectors", "participants",
                                       NULL};

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
    if (p->id && !id_valid(p->id))
        errs_add(ps->errs,
                 "%s: id: must be 1-%d characters of a-z, 0-9, '.', '_' "
                 "and '-', starting with a letter or digit",
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
    if (ed) {
        err = cishare_base64_decode_exact(ed, p->ed25519_pk,
                                          CISHARE_ED25519_PK_BYTES, detail,
                                          sizeof(detail));
        if (err)
            errs_add(ps->errs, "%s: ed25519: %s", label, detail);
        else if (crypto_core_ed25519_is_valid_point(p->ed25519_pk) != 1)
            errs_add(ps->errs, "%s: ed25519: not a valid Ed25519 public key",
                     label);
        else
            cishare_key_id(p->ed25519_pk, p->key_id);
    }
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
            if (p->key_id[0] && q->key_id[0] &&
                !memcmp(p->ed25519_pk, q->ed25519_pk, sizeof(p->ed25519_pk)))
                errs_add(ps->errs,
                         "%s: ed25519: same key as participant '%s' (line %d)",
                         label, q->id ? q->id : "?", q->line);
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

static int cmp_by_id(const void *a, const void *b)
{
    return strcmp((*(const cishare_participant_t *const *)a)->id,
                  (*(const cishare_participant_t *const *)b)->id);
}

static int cmp_by_key(const void *a, const void *b)
{
    return strcmp((*(const cishare_participant_t *const *)a)->key_id,
                  (*(const cishare_participant_t *const *)b)->key_id);
}

static int build_index(cishare_directory_t *dir)
{
    size_t i, n = dir->participant_cnt;

    dir->by_id = calloc(n + 1, sizeof(*dir->by_id));
    dir->by_key = calloc(n + 1, sizeof(*dir->by_key));
    if (!dir->by_id || !dir->by_key)
        return -1;
    for (i = 0; i < n; i++)
        dir->by_id[i] = dir->by_key[i] = &dir->participants[i];
    qsort(dir->by_id, n, sizeof(*dir->by_id), cmp_by_id);
    qsort(dir->by_key, n, sizeof(*dir->by_key), cmp_by_key);
    return 0;
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
    return 0;
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
    const char *sig;
    size_t content_len, sig_len;
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
    sig_split(buf, len, &content_len, &sig, &sig_len);
    if (memchr(buf, '\0', content_len))
        return cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                               "%s: contains a NUL byte", name);

    dir = calloc(1, sizeof(*dir));
    if (!dir)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    if (root_pk)
        cishare_key_id(root_pk, dir->signer_key_id);

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

cishare_err_t cishare_directory_load(const char *path,
                                     const char *root_pub_path,
                                     cishare_directory_t **dirp, char *errstr,
                                     size_t errstr_size)
{
    uint8_t root_pk[CISHARE_ED25519_PK_BYTES];
    char *buf = NULL, *rootp = NULL;
    size_t len = 0;
    cishare_err_t err;

    *dirp = NULL;
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
    if (err)
        return err == CISHARE_ERR_NOMEM ? err : CISHARE_ERR_DIRECTORY;
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
                  (*(const cishare_participant_t *const *)elem)->key_id);
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

const cishare_participant_t *
cishare_directory_find_key(const cishare_directory_t *dir, const char *key_id)
{
    const cishare_participant_t **pp;

    if (!dir || !key_id || !dir->by_key)
        return NULL;
    pp = bsearch(key_id, dir->by_key, dir->participant_cnt,
                 sizeof(*dir->by_key), cmp_key_keyid);
    return pp ? *pp : NULL;
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
