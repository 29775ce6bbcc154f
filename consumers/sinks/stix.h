/*
 * cishare - the STIX 2.1 mapping of one delivered message, shared by the
 * STIX sink (stix.c, stix/bundle.json) and the TAXII server (taxii.c,
 * cishare serve), so that both serve the same objects under the same ids.
 * The mapping itself is described at the top of stix.c.
 */
#ifndef CISHARE_STIX_H
#define CISHARE_STIX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/** "<type>--<uuid>" derived from (type, origin, subject); out >= 100. */
void cishare_stix_id(const char *type, const char *origin, const char *subject,
                     char *out, size_t out_size);

/** The TLP 2.0 marking-definition id of label tlp ("clear", "green",
 *  "amber", "amber+strict", "red"); NULL for anything else. */
const char *cishare_stix_marking_id(const char *tlp);

/**
 * Append to `out` the STIX objects of message msg (the feed's JSON:
 * type, origin, tlp, created, payload) of subject `subject`: the origin's
 * identity first, then what its type maps to. A sighting becomes a
 * sighting of `sighting_target` (an indicator id; NULL: nothing, as the
 * sink leaves out a sighting of an indicator it does not hold).
 * Revocations, receipts and unknown types append nothing. Objects of one
 * call have distinct ids. Returns the number appended.
 */
size_t cishare_stix_map(const json_t *msg, const char *subject,
                        const char *sighting_target, json_t *out);

/** Append the marking-definition of label tlp (false: not a TLP 2.0
 *  label). */
bool cishare_stix_marking(const char *tlp, json_t *out);

/** Append the TLP 2.0 extension-definition the markings refer to. */
void cishare_stix_tlp_extension(json_t *out);

#endif
