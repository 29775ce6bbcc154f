/*
 * cishare - which topics a message goes to, and which topics a feed reads
 * (the topic layout contract of topics.h applied to one message or one
 * participant).
 *
 * Publishing (cishare_routing_topics):
 *   all               -> cishare.<tlp>.all
 *   sector:<s>        -> cishare.<tlp>.<s>
 *   role:<r>          -> CLEAR, GREEN: cishare.<tlp>.all (roles span
 *                        sectors); AMBER and stricter: the inbox of each
 *                        participant of role r (.all is readable by all)
 *   participant:<id>  -> cishare.inbox.<id>, unless a topic above already
 *                        reaches <id> (one of its sectors, or .all)
 *   RED               -> inboxes only (its audience is participant items)
 * and the origin's own inbox when no topic above reaches the origin, so
 * that "the origin always receives its own messages" holds in its feed.
 *
 * A feed of participant P reads (cishare_routing_feed_topics): the four
 * non-RED labels of each of P's sectors and of .all, and P's inbox. Every
 * topic a message for P can be routed to is in that set.
 */
#ifndef CISHARE_ROUTING_H
#define CISHARE_ROUTING_H

#include "cishare/directory.h"
#include "cishare/policy.h"
#include "cishare/topics.h"

/**
 * Append the topics message (tlp, audience) from origin goes to, sorted
 * and without duplicates, to *out (caller clears). The audience must be
 * resolved (policy.h). CISHARE_ERR_POLICY when the audience reaches no
 * topic (cannot happen for a resolved audience).
 */
cishare_err_t cishare_routing_topics(const cishare_directory_t *dir,
                                     const cishare_participant_t *origin,
                                     cishare_tlp_t tlp,
                                     const cishare_audience_t *aud,
                                     cishare_strlist_t *out, char *errstr,
                                     size_t errstr_size);

/** Append the topics P's feed subscribes to, sorted, to *out. */
cishare_err_t cishare_routing_feed_topics(const cishare_participant_t *p,
                                          cishare_strlist_t *out);

#endif
