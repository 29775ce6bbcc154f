/*
 * cishare - the participant directory.
 *
 * One YAML file, signed by the coordination office's root key, lists the
 * sectors (as data: sectors are configuration, not code) and the
 * participants. Every participant pins the root public key (root.pub) and
 * refuses a directory that is unsigned, altered or signed by another key;
 * dirstate.h adds versions (rollback, freeze) and root rotation on top.
 *
 * File layout (all keys shown; unknown keys are an error):
 *
 *   version: 1                     # format version
 *   serial: 7                      # this version, integer >= 1; a client
 *                                  # never goes back to a lower one
 *   expires: 2030-12-31T00:00:00Z  # RFC 3339; refused from then on
 *   root-key: <base64 32 bytes>    # optional: the root this version
 *                                  # establishes (rotation, see dirstate.h)
 *   sectors:
 *     - code: electricity          # [a-z0-9-], unique
 *       name-en: Electric power
 *       name-ja: 電力              # optional
 *   reporting:                     # optional: mandatory incident report
 *     preliminary-within: 24h      # deadlines after detection (m, h, d);
 *     detailed-within: 30d         # absent: no deadline
 *   participants:
 *     - id: op-power-a             # [a-z0-9][a-z0-9-]*, <= 63, unique
 *       name: Power Company A
 *       role: operator             # see cishare_role_name()
 *       sectors: [electricity]     # operator, ceptoar, ministry: >= 1
 *       ceptoar: ceptoar-electricity  # operators only, required
 *       core-infrastructure: true  # operators only, default false
 *       principal: User:op-power-a # Kafka principal, unique
 *       key-id: 0123456789abcdef   # optional; checked against ed25519
 *       ed25519: <base64 32 bytes> # current signing key
 *       key-valid-from: <time>     # optional validity of the current key
 *       key-valid-until: <time>
 *       key-revoked: <time>        # compromised at that time
 *       previous-keys:             # optional: keys being rotated out
 *         - key-id: ...            # optional; checked against ed25519
 *           ed25519: <base64>      # required
 *           valid-from: <time>     # optional
 *           valid-until: <time>    # required: end of the rotation overlap
 *           revoked: <time>        # optional: compromise time
 *       x25519: <base64 32 bytes>  # encryption key (current only)
 *   # cishare-signature: ed25519 <key id> <base64 64-byte signature>
 *   # cishare-signature: ed25519 <key id> <base64 ...>   (co-signature)
 *
 * The signature lines close the file; each signs every byte before the
 * first of them (Ed25519, detached), so signatures can be added without
 * invalidating the others (a root rotation needs the old and the new
 * root). They are YAML comments, so the file stays one plain YAML
 * document that any tool can read.
 *
 * Key ids are unique across every key of every participant, so a key id
 * in a message names exactly one key. A signing key verifies a message
 * created at C, checked at N, iff C >= valid-from, N <= valid-until (after
 * the overlap the key signs nothing, whatever C it claims; C is chosen by
 * the signer) and, when revoked at T, C <= T. See cishare_key_check().
 *
 * Threading: a loaded directory is immutable; any number of threads may
 * read it concurrently. Pointers returned by the accessors are owned by the
 * directory and valid until cishare_directory_destroy().
 */
#ifndef CISHARE_DIRECTORY_H
#define CISHARE_DIRECTORY_H

#include "cishare/err.h"
#include "cishare/keys.h"
#include "cishare/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Untrusted input bound: a directory file larger than this is refused. */
#define CISHARE_DIRECTORY_MAX_SIZE (4u * 1024u * 1024u)
/** Longest participant id or sector code (without NUL). */
#define CISHARE_ID_MAX_LEN 63
/**
 * Is s a valid participant id: 1..CISHARE_ID_MAX_LEN characters of a-z,
 * 0-9 and '-', the first a letter or digit? Ids end topic and consumer
 * group names (cishare.inbox.<id>, cishare-feed-<id>, and the PREFIXED
 * group binding cishare-feed-<id>.), so they never contain '.': no id's
 * names can start another id's (topics.h). Upper case, '_' and anything
 * else are refused too. The directory loader refuses other ids, naming
 * the id and this rule.
 */
bool cishare_directory_id_valid(const char *s);

/** Prefix of the embedded signature line. */
#define CISHARE_DIRECTORY_SIG_PREFIX "# cishare-signature: "

typedef struct cishare_sector_s {
    char *code;    /**< e.g. "electricity" */
    char *name_en; /**< e.g. "Electric power" */
    char *name_ja; /**< e.g. "電力"; "" when absent */
} cishare_sector_t;

/** Unset validity bounds (the check treats them as open). */
#define CISHARE_KEY_NO_START INT64_MIN
#define CISHARE_KEY_NO_END   INT64_MAX

struct cishare_participant_s;

/** One Ed25519 signing key of a participant, current or previous. */
typedef struct cishare_signing_key_s {
    uint8_t ed25519_pk[CISHARE_ED25519_PK_BYTES];
    char key_id[CISHARE_KEY_ID_LEN + 1];
    int64_t valid_from_ms;  /**< ms since the epoch, or CISHARE_KEY_NO_START */
    int64_t valid_until_ms; /**< or CISHARE_KEY_NO_END */
    int64_t revoked_ms;     /**< compromise time, or CISHARE_KEY_NO_END */
    bool current;           /**< the participant's current key */
    const struct cishare_participant_s *owner; /**< in the same directory */
    int line;                                  /**< line in the file */
} cishare_signing_key_t;

typedef struct cishare_participant_s {
    char *id;
    char *name;
    cishare_role_t role;
    char **sectors; /**< codes, in file order; sectors[0] is the "first
                       sector" used for default AMBER audiences */
    size_t sector_cnt;
    char *ceptoar; /**< parent CEPTOAR id (operators), else NULL */
    bool core_infrastructure;
    char *principal; /**< Kafka principal, e.g. "User:op-power-a" */
    uint8_t ed25519_pk[CISHARE_ED25519_PK_BYTES];
    uint8_t x25519_pk[CISHARE_X25519_PK_BYTES];
    char key_id[CISHARE_KEY_ID_LEN + 1]; /**< of ed25519_pk */
    int line;                            /**< line in the file (1-based) */
    /** Signing keys: keys[0] is the current key (ed25519_pk above, with
     *  its validity), then previous-keys in file order. */
    cishare_signing_key_t *keys;
    size_t key_cnt;
} cishare_participant_t;

/** Opaque: sectors, participants, signer. */
typedef struct cishare_directory_s cishare_directory_t;

/**
 * Load a directory file, verify its embedded signature against the pinned
 * root public key, then parse and validate it. Stateless: neither the
 * serial nor the expiry is checked here (dirstate.h decides on those).
 *
 * @param path           the directory file (<= CISHARE_DIRECTORY_MAX_SIZE)
 * @param root_pub_path  root public key file (root.pub format of keys.h);
 *                       NULL means "root.pub" in the directory's folder
 * @param dirp           on success receives a new directory; the caller
 *                       owns it and frees it with cishare_directory_destroy()
 * @param errstr         on failure: every problem found, one per line
 *                       ("<path>: participant 'x' (line N): field: ..."),
 *                       truncated to errstr_size
 *
 * @returns CISHARE_OK; CISHARE_ERR_DIRECTORY when the signature is missing,
 *          does not verify or is by another key; CISHARE_ERR_PARSE or
 *          CISHARE_ERR_VALIDATION for bad content; CISHARE_ERR_IO,
 *          CISHARE_ERR_TOO_LARGE for unreadable or oversized files.
 *          *dirp is NULL on failure.
 */
cishare_err_t cishare_directory_load(const char *path,
                                     const char *root_pub_path,
                                     cishare_directory_t **dirp, char *errstr,
                                     size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * The pinned root public key for directory file `path`: root_pub_path,
 * or root.pub in the directory's folder when it is NULL. Errors are
 * CISHARE_ERR_DIRECTORY (missing or bad key file) or CISHARE_ERR_NOMEM.
 */
cishare_err_t
cishare_directory_root_pub_load(const char *path, const char *root_pub_path,
                                uint8_t root_pk[CISHARE_ED25519_PK_BYTES],
                                char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Read a directory file into a malloc()ed NUL-terminated buffer (caller
 * frees *bufp), refusing more than CISHARE_DIRECTORY_MAX_SIZE bytes.
 */
cishare_err_t cishare_directory_read_file(const char *path, char **bufp,
                                          size_t *lenp, char *errstr,
                                          size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Same as cishare_directory_load() but checks content only: the signature
 * line, if any, is ignored. For `directory validate --unsigned` and for
 * preparing a file before signing; never use it to trust a directory.
 */
cishare_err_t cishare_directory_load_unsigned(const char *path,
                                              cishare_directory_t **dirp,
                                              char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Parse a directory held in memory. `name` labels error messages. When
 * root_pk is not NULL the embedded signature must verify against it; when
 * it is NULL the signature is not checked (content only). The buffer is
 * only read during the call.
 */
cishare_err_t cishare_directory_load_buf(
    const char *name, const char *buf, size_t len,
    const uint8_t root_pk[CISHARE_ED25519_PK_BYTES], cishare_directory_t **dirp,
    char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/**
 * Verify that one of the signature lines of a directory text is a valid
 * signature by root_pk. CISHARE_OK or CISHARE_ERR_DIRECTORY (unsigned,
 * altered, not signed by that key, a malformed signature line) with the
 * reason in errstr. Does not parse the YAML.
 */
cishare_err_t
cishare_directory_verify_buf(const char *name, const char *buf, size_t len,
                             const uint8_t root_pk[CISHARE_ED25519_PK_BYTES],
                             char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Sign a directory text with the root key (root->ed25519_sk): removes the
 * existing trailing signature lines, makes sure the content ends with a
 * newline, appends a fresh signature line. *outp receives a malloc()ed
 * NUL-terminated text the caller frees; *out_lenp its length (may be
 * NULL). Does not validate the content (callers validate first).
 */
cishare_err_t cishare_directory_sign_buf(const char *buf, size_t len,
                                         const cishare_keypair_t *root,
                                         char **outp, size_t *out_lenp,
                                         char *errstr, size_t errstr_size);

/**
 * Add a signature by `key` to a directory text, keeping the signature
 * lines it has (a line by the same key is replaced). Same ownership as
 * cishare_directory_sign_buf(). Used for root rotation: the old root signs,
 * then the new root co-signs (or the other way round).
 */
cishare_err_t cishare_directory_cosign_buf(const char *buf, size_t len,
                                           const cishare_keypair_t *key,
                                           char **outp, size_t *out_lenp,
                                           char *errstr, size_t errstr_size);

/**
 * Refuse a directory that has expired at now_ms (now_ms >= expires):
 * CISHARE_ERR_DIRECTORY naming `name`, the expiry and now.
 */
cishare_err_t cishare_directory_check_expiry(const cishare_directory_t *dir,
                                             const char *name, int64_t now_ms,
                                             char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Free a directory. NULL is a no-op. */
void cishare_directory_destroy(cishare_directory_t *dir);

/** Key id of the key that signed the directory ("" when loaded unsigned). */
const char *cishare_directory_signer_key_id(const cishare_directory_t *dir);

/** The deadlines of a mandatory incident report (directory `reporting:`),
 *  counted from the incident's detection. */
typedef enum {
    CISHARE_DEADLINE_PRELIMINARY = 0, /**< preliminary-within (速報) */
    CISHARE_DEADLINE_DETAILED,        /**< detailed-within (詳報) */
    CISHARE_DEADLINE__CNT
} cishare_deadline_t;
/** The deadline in ms after detection; 0 when the directory sets none. */
int64_t cishare_directory_deadline_ms(const cishare_directory_t *dir,
                                      cishare_deadline_t which);
/** "<n>m", "<n>h" or "<n>d" (n >= 1) in ms; -1 when s is not one. */
int64_t cishare_duration_parse(const char *s);

/** The `serial:` of the directory (>= 1). */
uint64_t cishare_directory_serial(const cishare_directory_t *dir);
/** The `expires:` time, ms since the epoch. */
int64_t cishare_directory_expires_ms(const cishare_directory_t *dir);
/** The `root-key:` public key, or NULL when the file names none. */
const uint8_t *cishare_directory_root_key(const cishare_directory_t *dir);
/** BLAKE2b-256 of the signed content (every byte before the signature
 *  lines): identifies a version whatever signatures it carries. */
const uint8_t *cishare_directory_content_hash(const cishare_directory_t *dir);
#define CISHARE_DIRECTORY_HASH_BYTES 32

size_t cishare_directory_participant_cnt(const cishare_directory_t *dir);
/** i < participant_cnt, file order; NULL when out of range. */
const cishare_participant_t *
cishare_directory_participant(const cishare_directory_t *dir, size_t i);
/** Participant by id, or NULL. */
const cishare_participant_t *
cishare_directory_find(const cishare_directory_t *dir, const char *id);
/** Participant owning the Ed25519 key id (16 hex chars; current or
 *  previous key), or NULL. Says nothing about the key's validity. */
const cishare_participant_t *
cishare_directory_find_key(const cishare_directory_t *dir, const char *key_id);

/**
 * Signing key by key id, across the current and previous keys of every
 * participant (key->owner is its participant), or NULL. Check it with
 * cishare_key_check() before trusting a signature made with it.
 */
const cishare_signing_key_t *
cishare_directory_signing_key(const cishare_directory_t *dir,
                              const char *key_id);

/**
 * May `key` vouch for something created at created_ms, seen at now_ms?
 * Accepts iff created >= valid-from, now <= valid-until and, when the key
 * was revoked at T, created <= T. CISHARE_OK, or CISHARE_ERR_UNKNOWN_KEY
 * with the reason (key id, participant, times) in errstr.
 */
cishare_err_t cishare_key_check(const cishare_signing_key_t *key,
                                int64_t created_ms, int64_t now_ms,
                                char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

size_t cishare_directory_sector_cnt(const cishare_directory_t *dir);
const cishare_sector_t *cishare_directory_sector(const cishare_directory_t *dir,
                                                 size_t i);
/** Sector by code, or NULL. */
const cishare_sector_t *
cishare_directory_sector_find(const cishare_directory_t *dir, const char *code);

/** True if p lists sector `code`. */
bool cishare_participant_in_sector(const cishare_participant_t *p,
                                   const char *code);

#endif
