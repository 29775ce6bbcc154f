/*
 * cishare - the publication journal: what this participant published,
 * so that `cishare revoke` can send a revocation to exactly the audience,
 * and at exactly the label, of the message it withdraws.
 *
 * File: <cishare.state-dir>/published.jsonl (identity.h names the default
 * state folder), one JSON object per line, appended by the publisher after
 * the broker acknowledged every topic copy of a message (never for a
 * dry run, a refused or an undelivered record):
 *
 *   {"at":"2026-11-26T07:00:00Z","audience":"participant:op-power-a",
 *    "expires":"2026-12-31T00:00:00Z","origin":"op-power-b",
 *    "subject":"indicator--...","tlp":"amber","type":"indicator"}
 *
 * ("expires" only when the message expires). Indicators, incidents and
 * alerts are recorded; sightings (whose subject is another origin's) and
 * revocations are not. Lines are written whole with O_APPEND (one write
 * never splits a line), so publishers sharing the folder do not mix
 * their lines, then fsynced. A line that does not parse is skipped (and
 * counted) when reading.
 *
 * Why a journal: the audience of a message is chosen at publish time
 * (--audience, the record, or the label's default) and is nowhere else
 * this participant can read it cheaply; re-reading its own topics would
 * need every topic it ever wrote and the keys to RED messages it kept.
 * The journal is local: a subject published from another machine (or
 * before the journal existed) is unknown, and revoke then asks for
 * --tlp and --audience.
 */
#ifndef CISHARE_PUBJOURNAL_H
#define CISHARE_PUBJOURNAL_H

#include "cishare/config.h"
#include "cishare/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CISHARE_PUBJOURNAL_FILE "published.jsonl"

/** One publication to record (borrowed strings). */
typedef struct cishare_pubjournal_rec_s {
    const char *origin; /**< the publishing participant */
    const char *subject;
    const char *type;     /**< message type name, e.g. "indicator" */
    const char *tlp;      /**< label name as published */
    const char *audience; /**< canonical audience text as published */
    int64_t expires_ms;   /**< 0: never */
} cishare_pubjournal_rec_t;

/** One distinct way a subject was published (owned by the lookup). */
typedef struct cishare_pubjournal_entry_s {
    char *type;
    char *tlp;
    char *audience;
    int64_t expires_ms; /**< latest of its publications; 0: one never
                           expires */
} cishare_pubjournal_entry_t;

/** <state-dir of conf>/published.jsonl into out. */
cishare_err_t cishare_pubjournal_path(const cishare_config_t *conf, char *out,
                                      size_t out_size, char *errstr,
                                      size_t errstr_size);

/**
 * Append n records at now_ms to the journal at path (created 0600 when
 * missing; its folder must exist) and fsync it. Records with a NULL
 * field, or a type other than indicator, incident or alert, are left out.
 *
 * @returns CISHARE_OK, CISHARE_ERR_IO (errstr names the file),
 *          CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_pubjournal_append(const char *path,
                                        const cishare_pubjournal_rec_t *recs,
                                        size_t n, int64_t now_ms, char *errstr,
                                        size_t errstr_size);

/**
 * Every distinct (label, audience) under which origin published subject,
 * in the order first published (lines of other origins, which share the
 * state folder only when cishare.state-dir says so, are not looked at). A
 * missing journal is an empty answer. *entriesp (caller frees with
 * cishare_pubjournal_entries_free()) and *cntp; *badp (may be NULL) receives
 * the number of lines skipped because they did not parse.
 *
 * @returns CISHARE_OK, CISHARE_ERR_IO, CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_pubjournal_lookup(const char *path, const char *origin,
                                        const char *subject,
                                        cishare_pubjournal_entry_t **entriesp,
                                        size_t *cntp, size_t *badp,
                                        char *errstr, size_t errstr_size);

void cishare_pubjournal_entries_free(cishare_pubjournal_entry_t *entries,
                                     size_t cnt);

#endif
