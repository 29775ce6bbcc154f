/*
 * cishare - incidents over their life, read from the feed's archive
 * (archive.h): one incident is one (origin, incident id) across its
 * notices (preliminary 速報 -> detailed 詳報 -> updates -> closed), with
 * the reporting deadlines of the signed directory (`reporting:`) judged
 * for mandatory ones. What `cishare incidents` lists and `cishare report`
 * counts.
 *
 * Deadlines (mandatory incidents only; directory.h cishare_deadline_t):
 *   due       detected_at (the earliest any notice of the incident gives)
 *             plus preliminary-within / detailed-within
 *   filed     the first notice at that stage or a later one, at the
 *             broker's append time of that notice (the filing time on
 *             the broker's clock, not the reporter's word)
 *   evidence  - the participant that received the notice: its own copy's
 *               append time ("broker");
 *             - the origin (the operator itself): the receipt of a
 *               competent ministry of the incident's sector, carrying
 *               the append time that ministry read ("receipt from
 *               <ministry>"); without one yet the report counts as filed
 *               but UNCONFIRMED (never as overdue).
 *   status    MET (filed <= due), LATE (filed > due), OVERDUE (not filed,
 *             due < now), PENDING (not filed, due >= now), UNCONFIRMED
 *             (above), NA (voluntary, or no deadline in the directory).
 *
 * Who judges what: every participant lists and judges the incidents it
 * knows: an operator its own (its feed receives its own notices) and
 * those shared with it, a ministry those of its sectors sent to it, the
 * coordination office every one sent to it.
 *
 * Reporter: the origin when it is an operator (relayed copies keep the
 * origin); a notice whose origin is not an operator is an anonymised copy
 * published by a relay, shown as "anonymised".
 *
 * Threading: as the archive handle.
 */
#ifndef CISHARE_INCIDENTS_H
#define CISHARE_INCIDENTS_H

#include "archive.h"

#include "cishare/directory.h"
#include "cishare/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CISHARE_DL_NA = 0,
    CISHARE_DL_PENDING,
    CISHARE_DL_MET,
    CISHARE_DL_LATE,
    CISHARE_DL_OVERDUE,
    CISHARE_DL_UNCONFIRMED,
    CISHARE_DL__CNT
} cishare_dl_status_t;

/** "n/a", "pending", "met", "late", "overdue", "unconfirmed". */
const char *cishare_dl_status_name(cishare_dl_status_t s);

typedef struct cishare_incident_deadline_s {
    cishare_dl_status_t status;
    int64_t due_ms;    /**< 0 when NA */
    int64_t filed_ms;  /**< 0 when not filed */
    char evidence[96]; /**< "broker", "receipt from min-meti", "" */
} cishare_incident_deadline_t;

typedef struct cishare_incident_notice_s {
    char *message_id, *stage;
    int64_t created_ms;   /**< envelope created (the reporter's clock) */
    int64_t appended_ms;  /**< broker append time; 0 unknown */
    int64_t delivered_ms; /**< this participant's feed delivered it */
    int64_t reported_ms;  /**< payload reported_at */
    char *flag;           /**< archive flag ("out-of-order: ..."), or NULL */
} cishare_incident_notice_t;

typedef struct cishare_incident_s {
    char *origin, *incident_id, *title, *sector;
    char *stage; /**< the furthest stage reached (closed > update > ...) */
    char *category, *impact, *mode, *legal_basis; /**< of the latest notice */
    char *reporter; /**< the origin, or "anonymised" */
    bool mine;      /**< the origin is this participant */
    bool mandatory; /**< any notice says legal_basis mandatory */
    bool flagged;   /**< some notice carries an archive flag */
    int64_t detected_ms;
    cishare_incident_notice_t *notices; /**< in delivery order */
    size_t notice_cnt;
    cishare_incident_deadline_t deadline[CISHARE_DEADLINE__CNT];
    /** When the coordination office received the first notice: its
     *  receipt's delivered_at (origin view), its own delivery (the
     *  office's view); 0 when unknown. */
    int64_t nco_received_ms;
} cishare_incident_t;

typedef struct cishare_incident_list_s {
    cishare_incident_t *items;
    size_t cnt;
} cishare_incident_list_t;

/**
 * Every incident of the archive that `me` knows (see above), judged at
 * now_ms against dir's deadlines, ordered by detection time. With
 * from_ms < to_ms only incidents whose first notice was created in
 * [from_ms, to_ms). A revoked notice is left out.
 *
 * @returns CISHARE_OK, CISHARE_ERR_IO (SQLite), CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_incidents_load(cishare_archive_t *a,
                                     const cishare_directory_t *dir,
                                     const char *me, int64_t now_ms,
                                     int64_t from_ms, int64_t to_ms,
                                     cishare_incident_list_t *out, char *errstr,
                                     size_t errstr_size);

/** True when a deadline of inc is OVERDUE. */
bool cishare_incident_overdue(const cishare_incident_t *inc);
/** True when inc has not reached the closed stage. */
bool cishare_incident_open(const cishare_incident_t *inc);

void cishare_incident_list_clear(cishare_incident_list_t *l);

#endif
