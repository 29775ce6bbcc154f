/*
 * cishare - who received what this participant sent: the signed receipts
 * in its archive (archive.h), set against who the policy delivers each
 * message to (what `cishare receipts` shows; library part, prints
 * nothing).
 *
 * Which messages (sent by me, archive messages.sent = 1, not receipts):
 * those that call for receipts (feed.h, "Receipts": TLP:RED,
 * TLP:AMBER+STRICT, a mandatory incident notice) and those that got a
 * receipt anyway (TLP:AMBER with cishare.feed.receipts-amber=1 at a
 * recipient).
 *
 * Expected recipients: every participant of the directory in use, other
 * than me, that cishare_policy_decide() delivers the message to (its
 * stored label and audience, as signed). A receipt counts when its
 * receipt_of is the message's id and its receipt_of_origin is me; its
 * signer (the receipt's origin, verified by the feed) is the recipient.
 * Receipts from participants not expected are listed apart ("unexpected":
 * the directory changed since, or a relay passed the message on).
 */
#ifndef CISHARE_RECEIPTS_H
#define CISHARE_RECEIPTS_H

#include "archive.h"

#include "cishare/directory.h"
#include "cishare/err.h"

#include <jansson.h>
#include <stdint.h>

/**
 * The receipts report of participant `me` from archive `a`, as one JSON
 * document (times RFC 3339 UTC, null when unknown):
 *
 *   {"participant": me, "archive": path, "pending": <missing receipts>,
 *    "messages": [{"message_id", "type", "subject", "tlp", "sent"
 *        (created), "sent_appended_at", "receipts_due" (bool),
 *        "pending" (missing receipts of this message),
 *        "recipients": [{"participant", "received" (bool),
 *                        "delivered_at", "appended_at", "receipt_id"}],
 *        "unexpected": [{"participant", "delivered_at", "appended_at",
 *                        "receipt_id"}]}]}
 *
 * Messages in the order they were sent; expected recipients in the
 * directory's order, unexpected ones by id.
 *
 * @param message_id  NULL: every message above; else only that message
 *                    id (sent by me, whatever its label): unknown ids are
 *                    CISHARE_ERR_NOT_FOUND, errstr naming it
 * @param docp        on success a new document (caller decrefs)
 * @returns CISHARE_OK, CISHARE_ERR_NOT_FOUND, CISHARE_ERR_IO (SQLite,
 *          errstr names the file), CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_receipts_report(cishare_archive_t *a,
                                      const cishare_directory_t *dir,
                                      const cishare_participant_t *me,
                                      const char *message_id, int64_t now_ms,
                                      json_t **docp, char *errstr,
                                      size_t errstr_size);

#endif
