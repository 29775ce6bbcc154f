/*
 * cishare - the topic layout and the ACL model (contract; documented in
 * deploy/TOPICS.md).
 *
 *   cishare.<tlp>.<sector>   sector feeds   tlp: clear|green|amber|amber-strict
 *   cishare.<tlp>.all        cross-sector
 *   cishare.inbox.<id>       one participant: RED, direct reports, relay
 *                            intake, sightings back to the originator
 *
 * Every sector of the directory gets its four sector topics (a sector
 * without participants yet costs four empty topics, and a participant
 * added later needs no new topics but its inbox). There is no RED topic:
 * RED goes to inboxes only.
 *
 * THE ACL MODEL: read exactly where the policy can deliver something.
 * Publishing routes a message to the sector topics of its `sector:`
 * items, to the .all topic for `all`, and to the inbox of every other
 * recipient. So a participant P can only ever be delivered a message
 * found on (a) a sector topic of one of P's sectors, (b) a .all topic,
 * (c) P's inbox; plus (d) CLEAR and GREEN anywhere, which TLP lets the
 * whole community see (the per-message policy narrows the feed, the ACL
 * boundary at GREEN is the community). Hence P may READ:
 *   topic prefix  cishare.clear.   cishare.green.
 *   topic         cishare.amber.all  cishare.amber-strict.all
 *   topic         cishare.amber.<s>  cishare.amber-strict.<s>   s in P's
 *                 sectors
 *   topic         cishare.inbox.<P>
 *   group         cishare-feed-<P>   and prefix cishare-feed-<P>.
 * (A ministry, CEPTOAR or operator of sector s reads s's AMBER topics
 * because it has sector s; the coordination office receives AMBER only
 * where it is named or has the sector, so it needs no more.) Participant
 * ids are [a-z0-9][a-z0-9-]* (cishare_directory_id_valid()): with no '.'
 * in ids, the prefix cishare-feed-<P>. matches only P's own groups, and
 * cishare.inbox.<P> names exactly one participant.
 *
 * WRITE:
 *   every participant     topic prefix cishare.inbox.  (direct reports to
 *                         the ministry/NCO, sightings to the originator,
 *                         relay intake, RED to named recipients)
 *   a participant with    topics cishare.{clear,green,amber,amber-strict}.<s>
 *   sectors (operator,    for each of its sectors s (an operator's sector
 *   ceptoar, ministry)    feed; a CEPTOAR's or ministry's re-share to it)
 *   coordination-office   topic prefixes cishare.clear. cishare.green.
 *                         cishare.amber. cishare.amber-strict. (alerts to
 *                         all sectors or selected ones)
 *   every participant     topics cishare.clear.all cishare.green.all
 *                         (community information; GREEN defaults to `all`)
 * The directory topic (cishare.directory, compacted, one partition): every
 * participant READs exactly that topic (a LITERAL binding on the
 * configured name, never a prefix: a prefix such as "cishare.amber" would
 * open every AMBER topic); only the admin writes it. Its name is
 * "cishare.directory" or "cishare.directory.<name>"
 * (cishare_topic_directory_check()), which no topic of the layout can be:
 * the layout's second part is a label or "inbox".
 * WRITE and READ imply DESCRIBE in Kafka; an idempotent producer needs
 * WRITE on one topic (KIP-679), no cluster ACL.
 *
 * Provision owns every ALLOW ACL on topics starting "cishare." and groups
 * starting "cishare-feed-": any other ALLOW binding there is stale and
 * removed. DENY bindings are left alone (removing one would widen access).
 */
#ifndef CISHARE_TOPICS_H
#define CISHARE_TOPICS_H

#include "cishare/directory.h"
#include "cishare/err.h"
#include "cishare/types.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#define CISHARE_TOPIC_PREFIX      "cishare."
#define CISHARE_TOPIC_INBOX       "cishare.inbox."
#define CISHARE_TOPIC_ALL         "all"
#define CISHARE_FEED_GROUP_PREFIX "cishare-feed-"
/** The directory topic's default name, and the start of any other. */
#define CISHARE_TOPIC_DIRECTORY "cishare.directory"
/** Kafka's limit on a topic name's length. */
#define CISHARE_TOPIC_NAME_MAX_LEN 249
/** Enough for any topic or group name built here (with NUL). */
#define CISHARE_TOPIC_MAX (sizeof("cishare.amber-strict.") + CISHARE_ID_MAX_LEN)

/**
 * Topic of label tlp for a sector code, or for "all" (CISHARE_TOPIC_ALL).
 * CISHARE_ERR_INVALID_ARG for RED (no RED topic), an empty or too long
 * sector, or a buffer shorter than needed.
 */
cishare_err_t cishare_topic_sector(cishare_tlp_t tlp, const char *sector,
                                   char *buf, size_t size);
/** cishare.inbox.<id>. CISHARE_ERR_INVALID_ARG for an id that
 *  cishare_directory_id_valid() refuses. */
cishare_err_t cishare_topic_inbox(const char *id, char *buf, size_t size);
/** The feed's consumer group of participant id: cishare-feed-<id>. A
 *  participant may also use cishare-feed-<id>.<name> groups (a PREFIXED
 *  binding on "cishare-feed-<id>."; ids have no '.', so that prefix
 *  matches no other participant's groups). CISHARE_ERR_INVALID_ARG for an
 *  id that cishare_directory_id_valid() refuses. */
cishare_err_t cishare_topic_feed_group(const char *id, char *buf, size_t size);

/**
 * Is `name` allowed as the directory topic (config key
 * cishare.directory.topic)? Only "cishare.directory" or
 * "cishare.directory.<name>" (<name>: letters, digits, '.', '_', '-';
 * the whole at most CISHARE_TOPIC_NAME_MAX_LEN characters). Every
 * participant may read the directory topic, so it must never be, or
 * overlap, a topic of the layout (cishare.<tlp>.<sector>,
 * cishare.<tlp>.all, cishare.inbox.<id>).
 *
 * @returns CISHARE_OK, or CISHARE_ERR_CONFIG with one line in errstr
 *          naming the key, the value and the rule.
 */
cishare_err_t cishare_topic_directory_check(const char *name, char *errstr,
                                            size_t errstr_size)
    __attribute__((warn_unused_result));

/** A growable list of strings, sorted and unique after _sort(). Owns all. */
typedef struct cishare_strlist_s {
    char **items;
    size_t cnt, cap;
} cishare_strlist_t;

cishare_err_t cishare_strlist_add(cishare_strlist_t *l, const char *s);
void cishare_strlist_sort(cishare_strlist_t *l);
bool cishare_strlist_has(const cishare_strlist_t *l, const char *s);
void cishare_strlist_clear(cishare_strlist_t *l);

/**
 * Every topic of the layout for dir: four labels x (each sector + all),
 * plus one inbox per participant; sorted. Appends to *out (the caller
 * clears it). CISHARE_ERR_VALIDATION if a sector is named "all".
 */
cishare_err_t cishare_topics_for_directory(const cishare_directory_t *dir,
                                           cishare_strlist_t *out, char *errstr,
                                           size_t errstr_size);

/** One ALLOW binding for any host ("*"). Strings owned by the set. */
typedef struct cishare_acl_s {
    rd_kafka_ResourceType_t restype;        /**< TOPIC or GROUP */
    rd_kafka_ResourcePatternType_t pattern; /**< LITERAL or PREFIXED */
    char *name;
    char *principal;            /**< e.g. "User:op-power-a" */
    rd_kafka_AclOperation_t op; /**< READ or WRITE */
} cishare_acl_t;

typedef struct cishare_acl_set_s {
    cishare_acl_t *items;
    size_t cnt, cap;
} cishare_acl_set_t;

/** Append one binding (strings copied). Duplicates are removed by _sort. */
cishare_err_t cishare_acl_set_add(cishare_acl_set_t *set,
                                  rd_kafka_ResourceType_t restype,
                                  rd_kafka_ResourcePatternType_t pattern,
                                  const char *name, const char *principal,
                                  rd_kafka_AclOperation_t op);
/** Sort and remove duplicates. */
void cishare_acl_set_sort(cishare_acl_set_t *set);
/** True if set (sorted) holds a binding equal to acl. */
bool cishare_acl_set_has(const cishare_acl_set_t *set,
                         const cishare_acl_t *acl);
void cishare_acl_set_clear(cishare_acl_set_t *set);
int cishare_acl_cmp(const cishare_acl_t *a, const cishare_acl_t *b);

/** Append the bindings of one participant (the model above). */
cishare_err_t cishare_acls_for_participant(const cishare_directory_t *dir,
                                           const cishare_participant_t *p,
                                           cishare_acl_set_t *out);
/** Every participant's bindings, sorted and unique. */
cishare_err_t cishare_acls_for_directory(const cishare_directory_t *dir,
                                         cishare_acl_set_t *out);

/**
 * The directory topic's bindings (dirtopic.h): READ (which implies
 * DESCRIBE) for every participant of dir on exactly the topic `topic`
 * (LITERAL; the configured cishare.directory.topic). Only the admin, a
 * super user, writes it: no WRITE binding. Appends; sorted and unique
 * after. CISHARE_ERR_CONFIG, and nothing appended, when `topic` fails
 * cishare_topic_directory_check().
 */
cishare_err_t cishare_acls_for_directory_topic(const cishare_directory_t *dir,
                                               const char *topic,
                                               cishare_acl_set_t *out);

/** True if provision manages ACLs on this resource ("cishare." topics,
 *  "cishare-feed-" groups; any pattern type). */
bool cishare_acl_is_managed(rd_kafka_ResourceType_t restype, const char *name);

/**
 * One line: "User:op-power-a READ topic cishare.amber.electricity" or
 * "... READ topic prefix cishare.green.". snprintf semantics.
 */
int cishare_acl_format(const cishare_acl_t *acl, char *buf, size_t size);

/**
 * Does set allow principal op on the resource? Matches literal and
 * prefixed bindings as Kafka does (WRITE/READ only; DESCRIBE is implied
 * by either). Lets publish and feed explain a refusal, and tests
 * cross-check the broker against the model.
 */
bool cishare_acl_allows(const cishare_acl_set_t *set, const char *principal,
                        rd_kafka_ResourceType_t restype, const char *name,
                        rd_kafka_AclOperation_t op);

#endif
