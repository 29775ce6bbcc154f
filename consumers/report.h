/*
 * cishare - the yearly evaluation report: the figures of a period, read
 * from the feed's archive (archive.h), as one JSON object, and that
 * object rendered as text, CSV or a self-contained HTML page.
 *
 * The period is [from, to) in ms (UTC). A message belongs to it by its
 * envelope `created` time; an incident by the created time of its first
 * notice (incidents.h); a sighting by its `created`.
 *
 * JSON shape (--format json; every count an integer, times in ms):
 *
 *   {
 *     "participant": {"id", "name", "role"},   (name, role "" when the
 *                                               id is not in the directory)
 *     "period": {"from": RFC 3339, "to": RFC 3339 (exclusive)},
 *     "generated_at": RFC 3339 (the "now" deadlines were judged at),
 *     "messages": {
 *       "received": SIDE, "sent": SIDE,        (sent: origin is this
 *                                               participant)
 *       "revoked": n                           (later revoked by origin)
 *     },
 *     "incidents": {
 *       "total", "mine", "received", "mandatory", "anonymised",
 *       "flagged": n,                          (out-of-order notices)
 *       "by_category": {category: n},          ("unknown" when absent)
 *       "by_impact": {impact: n},
 *       "by_mode": {mode: n},
 *       "by_impact_mode": {"<impact>/<mode>": n},
 *       "by_stage": {"preliminary", "detailed", "update", "closed": n},
 *                                              (the furthest stage reached)
 *       "to_preliminary": STAT,  deadline[PRELIMINARY].filed_ms -
 *                                detected_ms, incidents with both known
 *       "to_nco_receipt": STAT,  nco_received_ms - detected_ms, idem
 *       "deadlines": {"preliminary": DL, "detailed": DL}
 *     },
 *     "relayed": {
 *       "received_via_relay": n,               (received, relayed_by set)
 *       "by_relay": {relay id: n},             (the last relay)
 *       "anonymised_copies": n,                (incident notices whose
 *       "anonymised_by_origin": {id: n}         origin is not an operator)
 *     },
 *     "sightings": {
 *       "total", "sent", "received", "false_positives": n,
 *       "by_origin_sector": {sector: {"sightings": n, "false_positives": n,
 *                                     "fp_rate": false_positives/sightings}}
 *     }
 *   }
 *   SIDE = {"total": n,
 *           "by_type": {every message type: n},
 *           "by_label": {every TLP label: n},
 *           "by_sector": {envelope sector: n},  ("none" for an empty one)
 *           "by_month": {"YYYY-MM": n}}         (every month the period
 *                                                touches, up to 240; then
 *                                                only months with messages)
 *   STAT = {"n": n, "median_ms": ms, "p90_ms": ms}   (0, 0 when n is 0)
 *   DL   = {"n/a", "pending", "met", "late", "overdue", "unconfirmed": n}
 *          (cishare_dl_status_name(); every incident counted once)
 *
 * Percentiles are nearest-rank on the values sorted ascending: the p-th
 * percentile of n values is the value at rank ceil(p * n / 100) (1-based),
 * so the median (p = 50) of an even count is the lower middle value and
 * every reported figure is one of the measured times.
 *
 * Sightings count messages (one sighting message is one, whatever its
 * `count`). The originating sector is the first sector of the sighted
 * subject's origin (sighting_of_origin) in the directory; "none" for a
 * participant without a sector, "unknown" when the origin is absent or
 * not in the directory. Empty period: every count is 0, not an error.
 *
 * Threading: as the archive handle.
 */
#ifndef CISHARE_REPORT_H
#define CISHARE_REPORT_H

#include "archive.h"

#include "cishare/directory.h"
#include "cishare/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CISHARE_REPORT_TEXT = 0,
    CISHARE_REPORT_JSON,
    CISHARE_REPORT_CSV,
    CISHARE_REPORT_HTML
} cishare_report_format_t;

/** "text", "json", "csv", "html" -> *fmtp; false for anything else. */
bool cishare_report_format_parse(const char *s, cishare_report_format_t *fmtp);

/**
 * A command-line date: "YYYY-MM-DD" (UTC midnight of that day; with
 * end_of_day, midnight of the next day, so that a --to date includes its
 * whole day) or an RFC 3339 time (that instant). False when s is neither
 * (a date that does not exist, such as 2025-02-29, included).
 */
bool cishare_report_date_parse(const char *s, bool end_of_day, int64_t *msp);

/**
 * The figures of [from_ms, to_ms) for participant `me`, incident
 * deadlines judged at now_ms against dir (which also gives roles and
 * sectors). *outp receives a new object of the shape above; the caller
 * owns it (json_decref).
 *
 * Errors: CISHARE_ERR_INVALID_ARG (from_ms > to_ms), CISHARE_ERR_IO
 * (SQLite; errstr names the archive), CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_report_build(cishare_archive_t *a,
                                   const cishare_directory_t *dir,
                                   const char *me, int64_t from_ms,
                                   int64_t to_ms, int64_t now_ms, json_t **outp,
                                   char *errstr, size_t errstr_size);

/**
 * Write a report object (from cishare_report_build()) to fp:
 *   json  the object, indented, keys in the order above
 *   text  sections and aligned tables for a terminal
 *   csv   "section,group,key,value" rows (RFC 4180 quoting), one per
 *         figure, in the order of the JSON
 *   html  one self-contained page: inline CSS, bar charts as inline SVG,
 *         tables; no script, no font, image or link to load
 * Returns 0, or -1 when writing failed (errno set by stdio).
 */
int cishare_report_render(const json_t *rep, cishare_report_format_t fmt,
                          FILE *fp);

#endif
