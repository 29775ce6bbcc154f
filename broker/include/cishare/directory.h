/*
 * cishare - the participant directory.
 *
 * One YAML file, signed by the coordination office's root key, lists the
 * sectors (as data: sectors are configuration, not code) and the
 * participants. Every participant pins the root public key (root.pub) and
 * refuses a directory that is unsigned, altered or signed by another key.
 *
 * File layout (all keys shown; unknown keys are an error):
 *
 *   version: 1
 *   sectors:
 *     - code: electricity          # [a-z0-9-], unique
 *       name-en: Electric power
 *       name-ja: 電力              # optional
 *   participants:
 *     - id: op-power-a             # [a-z0-9][a-z0-9._-]*, <= 63, unique
 *       name: Power Company A
 *       role: operator             # see cishare_role_name()
 *       sectors: [electricity]     # operator, ceptoar, ministry: >= 1
 *       ceptoar: ceptoar-electricity  # operators only, required
 *       core-infrastructure: true  # operators only, default false
 *       principal: User:op-power-a # Kafka principal, unique
 *       key-id: 0123456789abcdef   # optional; checked against ed25519
 *       ed25519: <base64 32 bytes> # as 'cishare keys generate' prints
 *       x25519: <base64 32 bytes>
 *   # cishare-signature: ed25519 <root key id> <base64 64-byte signature>
 *
 * The signature line is the last line of the file and signs every byte
 * before it (Ed25519, detached). It is a YAML comment, so the file stays
 * one plain YAML document that any tool can read.
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
/** Prefix of the embedded signature line. */
#define CISHARE_DIRECTORY_SIG_PREFIX "# cishare-signature: "

typedef struct cishare_sector_s {
    char *code;    /**< e.g. "electricity" */
    char *name_en; /**< e.g. "Electric power" */
    char *name_ja; /**< e.g. "電力"; "" when absent */
} cishare_sector_t;

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
} cishare_participant_t;

/** Opaque: sectors, participants, signer. */
typedef struct cishare_directory_s cishare_directory_t;

/**
 * Load a directory file, verify its embedded signature against the pinned
 * root public key, then parse and validate it.
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
 * Verify the embedded signature of a directory text against root_pk.
 * CISHARE_OK or CISHARE_ERR_DIRECTORY (unsigned, altered, other key) with
 * the reason in errstr. Does not parse the YAML.
 */
cishare_err_t
cishare_directory_verify_buf(const char *name, const char *buf, size_t len,
                             const uint8_t root_pk[CISHARE_ED25519_PK_BYTES],
                             char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Sign a directory text with the root key (root->ed25519_sk): removes an
 * existing trailing signature line, makes sure the content ends with a
 * newline, appends a fresh signature line. *outp receives a malloc()ed
 * NUL-terminated text the caller frees; *out_lenp its length (may be
 * NULL). Does not validate the content (callers validate first).
 */
cishare_err_t cishare_directory_sign_buf(const char *buf, size_t len,
                                         const cishare_keypair_t *root,
                                         char **outp, size_t *out_lenp,
                                         char *errstr, size_t errstr_size);

/** Free a directory. NULL is a no-op. */
void cishare_directory_destroy(cishare_directory_t *dir);

/** Key id of the key that signed the directory ("" when loaded unsigned). */
const char *cishare_directory_signer_key_id(const cishare_directory_t *dir);

size_t cishare_directory_participant_cnt(const cishare_directory_t *dir);
/** i < participant_cnt, file order; NULL when out of range. */
const cishare_participant_t *
cishare_directory_participant(const cishare_directory_t *dir, size_t i);
/** Participant by id, or NULL. */
const cishare_participant_t *
cishare_directory_find(const cishare_directory_t *dir, const char *id);
/** Participant by Ed25519 key id (16 hex chars), or NULL. */
const cishare_participant_t *
cishare_directory_find_key(const cishare_directory_t *dir, const char *key_id);

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
