/*
 * cishare - what the blocklist sink reports besides its lists: the values
 * it refused (cishare/indicator.h), counted by reason.
 */
#ifndef CISHARE_SINK_BLOCKLIST_H
#define CISHARE_SINK_BLOCKLIST_H

#include "sinks/sink.h"

#include "cishare/indicator.h"

#include <stdint.h>

/**
 * Values refused by blocklist sink `sink` since it was opened, by reason:
 * by_reason[r] for each cishare_indicator_reason_t r (by_reason[0], "ok",
 * is 0). A message delivered again after a crash counts again.
 * @param by_reason  optional (NULL: total only); caller-owned.
 * @returns the total; 0 (and by_reason zeroed) for a NULL sink or one
 *          that is not a blocklist sink.
 * @locality the thread that calls the sink.
 */
uint64_t
cishare_sink_blocklist_refused(const cishare_sink_t *sink,
                               uint64_t by_reason[CISHARE_INDICATOR__CNT]);

#endif
