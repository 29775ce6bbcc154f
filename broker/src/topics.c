/*
 * The topic layout and the ACL model: see topics.h (the reasoning) and
 * deploy/TOPICS.md (the contract for operators).
 */
#include "cishare/topics.h"

#include "cishare/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The labels that have topics, least restrictive first (RED: inboxes). */
static const cishare_tlp_t topic_labels[] = {
    CISHARE_TLP_CLEAR, CISHARE_TLP_GREEN, CISHARE_TLP_AMBER,
    CISHARE_TLP_AMBER_STRICT};
#define TOPIC_LABEL_CNT (sizeof(topic_labels) / sizeof(topic_labels[0]))

static cishare_err_t fmt_name(char *buf, size_t size, const char *a,
                              const char *b, const char *c)
{
    size_t la, lb, lc;

    if (!buf || !b || !*b || (lb = strlen(b)) > CISHARE_ID_MAX_LEN)
        return CISHARE_ERR_INVALID_ARG;
    la = strlen(a);
    lc = strlen(c);
    if (la + lb + lc >= size)
        return CISHARE_ERR_INVALID_ARG;
    /* by hand: routing names topics several times per message */
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb);
    memcpy(buf + la + lb, c, lc + 1);
    return CISHARE_OK;
}

/* Topic prefix of one label: "cishare.amber." (the dot keeps amber apart
 * from amber-strict). By hand: routing names topics several times per
 * message. */
static void label_prefix(cishare_tlp_t tlp, char *buf, size_t size)
{
    const char *n = cishare_tlp_topic_name(tlp);
    size_t l = strlen(n);

    if (l + sizeof("cishare..") > size) {
        buf[0] = '\0';
        return;
    }
    memcpy(buf, "cishare.", 8);
    memcpy(buf + 8, n, l);
    memcpy(buf + 8 + l, ".", 2);
}

cishare_err_t cishare_topic_sector(cishare_tlp_t tlp, const char *sector,
                                   char *buf, size_t size)
{
    char pfx[32];

    if ((unsigned)tlp >= CISHARE_TLP__CNT || tlp == CISHARE_TLP_RED)
        return CISHARE_ERR_INVALID_ARG;
    label_prefix(tlp, pfx, sizeof(pfx));
    return fmt_name(buf, size, pfx, sector, "");
}

/* Names ending in a participant id take only ids the directory admits
 * (no '.'): the PREFIXED group binding cishare-feed-<id>. then matches no
 * other participant's groups. */
cishare_err_t cishare_topic_inbox(const char *id, char *buf, size_t size)
{
    if (!cishare_directory_id_valid(id))
        return CISHARE_ERR_INVALID_ARG;
    return fmt_name(buf, size, CISHARE_TOPIC_INBOX, id, "");
}

cishare_err_t cishare_topic_feed_group(const char *id, char *buf, size_t size)
{
    if (!cishare_directory_id_valid(id))
        return CISHARE_ERR_INVALID_ARG;
    return fmt_name(buf, size, CISHARE_FEED_GROUP_PREFIX, id, "");
}

cishare_err_t cishare_topic_directory_check(const char *name, char *errstr,
                                            size_t errstr_size)
{
    static const char base[] = CISHARE_TOPIC_DIRECTORY;
    const size_t blen = sizeof(base) - 1;
    const char *p;

    if (!name)
        name = "";
    /* exactly "cishare.directory", or "cishare.directory." and a name */
    if (!strncmp(name, base, blen) &&
        (!name[blen] || (name[blen] == '.' && name[blen + 1])) &&
        strlen(name) <= CISHARE_TOPIC_NAME_MAX_LEN) {
        for (p = name + blen; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
                  *p == '-'))
                break;
        if (!*p)
            return CISHARE_OK;
    }
    return cishare_err_set(
        CISHARE_ERR_CONFIG, errstr, errstr_size,
        "%s: '%s' is not allowed: the directory topic must be '%s' or "
        "'%s.<name>' (<name>: letters, digits, '.', '_', '-'; at most %d "
        "characters in all), because every participant may read it and it "
        "must not be or overlap a topic of the layout "
        "(cishare.<tlp>.<sector>, cishare.<tlp>.all, cishare.inbox.<id>)",
        CISHARE_CONF_DIRECTORY_TOPIC, name, base, base,
        CISHARE_TOPIC_NAME_MAX_LEN);
}

/* ---- string list ---- */

cishare_err_t cishare_strlist_add(cishare_strlist_t *l, const char *s)
{
    char *copy;

    if (l->cnt == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **n = realloc(l->items, cap * sizeof(*n));
        if (!n)
            return CISHARE_ERR_NOMEM;
        l->items = n;
        l->cap = cap;
    }
    if (!(copy = strdup(s)))
        return CISHARE_ERR_NOMEM;
    l->items[l->cnt++] = copy;
    return CISHARE_OK;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cishare_strlist_sort(cishare_strlist_t *l)
{
    size_t i, o = 0;

    if (!l->cnt)
        return;
    qsort(l->items, l->cnt, sizeof(*l->items), strp_cmp);
    for (i = 0; i < l->cnt; i++) {
        if (o && !strcmp(l->items[o - 1], l->items[i]))
            free(l->items[i]);
        else
            l->items[o++] = l->items[i];
    }
    l->cnt = o;
}

bool cishare_strlist_has(const cishare_strlist_t *l, const char *s)
{
    size_t i;

    for (i = 0; i < l->cnt; i++)
        if (!strcmp(l->items[i], s))
            return true;
    return false;
}

void cishare_strlist_clear(cishare_strlist_t *l)
{
    size_t i;

    if (!l)
        return;
    for (i = 0; i < l->cnt; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

cishare_err_t cishare_topics_for_directory(const cishare_directory_t *dir,
                                           cishare_strlist_t *out, char *errstr,
                                           size_t errstr_size)
{
    char name[CISHARE_TOPIC_MAX];
    size_t i, t, sc = cishare_directory_sector_cnt(dir);
    cishare_err_t err;

    for (i = 0; i < sc; i++)
        if (!strcmp(cishare_directory_sector(dir, i)->code, CISHARE_TOPIC_ALL))
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "sector code 'all' is reserved: it would "
                                   "share the cross-sector topics");
    for (t = 0; t < TOPIC_LABEL_CNT; t++) {
        for (i = 0; i <= sc; i++) {
            const char *s = i < sc ? cishare_directory_sector(dir, i)->code
                                   : CISHARE_TOPIC_ALL;
            if ((err = cishare_topic_sector(topic_labels[t], s, name,
                                            sizeof(name))) ||
                (err = cishare_strlist_add(out, name)))
                return cishare_err_set(err, errstr, errstr_size,
                                       "topic for sector '%s': %s", s,
                                       cishare_err_str(err));
        }
    }
    for (i = 0; i < cishare_directory_participant_cnt(dir); i++) {
        const char *id = cishare_directory_participant(dir, i)->id;
        if ((err = cishare_topic_inbox(id, name, sizeof(name))) ||
            (err = cishare_strlist_add(out, name)))
            return cishare_err_set(err, errstr, errstr_size,
                                   "inbox of participant '%s': %s", id,
                                   cishare_err_str(err));
    }
    cishare_strlist_sort(out);
    return CISHARE_OK;
}

/* ---- ACL sets ---- */

cishare_err_t cishare_acl_set_add(cishare_acl_set_t *set,
                                  rd_kafka_ResourceType_t restype,
                                  rd_kafka_ResourcePatternType_t pattern,
                                  const char *name, const char *principal,
                                  rd_kafka_AclOperation_t op)
{
    cishare_acl_t *a;

    if (set->cnt == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        cishare_acl_t *n = realloc(set->items, cap * sizeof(*n));
        if (!n)
            return CISHARE_ERR_NOMEM;
        set->items = n;
        set->cap = cap;
    }
    a = &set->items[set->cnt];
    a->restype = restype;
    a->pattern = pattern;
    a->op = op;
    a->name = strdup(name);
    a->principal = strdup(principal);
    if (!a->name || !a->principal) {
        free(a->name);
        free(a->principal);
        return CISHARE_ERR_NOMEM;
    }
    set->cnt++;
    return CISHARE_OK;
}

int cishare_acl_cmp(const cishare_acl_t *a, const cishare_acl_t *b)
{
    int r;

    if ((r = strcmp(a->principal, b->principal)))
        return r;
    if (a->restype != b->restype)
        return a->restype < b->restype ? -1 : 1;
    if ((r = strcmp(a->name, b->name)))
        return r;
    if (a->pattern != b->pattern)
        return a->pattern < b->pattern ? -1 : 1;
    if (a->op != b->op)
        return a->op < b->op ? -1 : 1;
    return 0;
}

static int acl_qcmp(const void *a, const void *b)
{
    return cishare_acl_cmp(a, b);
}

void cishare_acl_set_sort(cishare_acl_set_t *set)
{
    size_t i, o = 0;

    if (!set->cnt)
        return;
    qsort(set->items, set->cnt, sizeof(*set->items), acl_qcmp);
    for (i = 0; i < set->cnt; i++) {
        if (o && !cishare_acl_cmp(&set->items[o - 1], &set->items[i])) {
            free(set->items[i].name);
            free(set->items[i].principal);
        } else {
            set->items[o++] = set->items[i];
        }
    }
    set->cnt = o;
}

bool cishare_acl_set_has(const cishare_acl_set_t *set, const cishare_acl_t *acl)
{
    return set->cnt &&
           bsearch(acl, set->items, set->cnt, sizeof(*set->items), acl_qcmp);
}

void cishare_acl_set_clear(cishare_acl_set_t *set)
{
    size_t i;

    if (!set)
        return;
    for (i = 0; i < set->cnt; i++) {
        free(set->items[i].name);
        free(set->items[i].principal);
    }
    free(set->items);
    memset(set, 0, sizeof(*set));
}

#define TOPIC    RD_KAFKA_RESOURCE_TOPIC
#define GROUP    RD_KAFKA_RESOURCE_GROUP
#define LITERAL  RD_KAFKA_RESOURCE_PATTERN_LITERAL
#define PREFIXED RD_KAFKA_RESOURCE_PATTERN_PREFIXED
#define READ     RD_KAFKA_ACL_OPERATION_READ
#define WRITE    RD_KAFKA_ACL_OPERATION_WRITE

cishare_err_t cishare_acls_for_participant(const cishare_directory_t *dir,
                                           const cishare_participant_t *p,
                                           cishare_acl_set_t *out)
{
    const char *pr = p->principal;
    char name[CISHARE_TOPIC_MAX];
    size_t s, t;
    cishare_err_t err = CISHARE_OK;

    (void)dir;
#define ADD(rt, pt, n, o)                                                      \
    do {                                                                       \
        if ((err = cishare_acl_set_add(out, rt, pt, n, pr, o)))                \
            return err;                                                        \
    } while (0)
#define ADD_TOPIC(tlp, sec, pt, o)                                             \
    do {                                                                       \
        if ((err = cishare_topic_sector(tlp, sec, name, sizeof(name))))        \
            return err;                                                        \
        ADD(TOPIC, pt, name, o);                                               \
    } while (0)

    /* READ: CLEAR and GREEN of the whole community. */
    label_prefix(CISHARE_TLP_CLEAR, name, sizeof(name));
    ADD(TOPIC, PREFIXED, name, READ);
    label_prefix(CISHARE_TLP_GREEN, name, sizeof(name));
    ADD(TOPIC, PREFIXED, name, READ);
    /* READ: AMBER and AMBER+STRICT of .all and of its own sectors. */
    ADD_TOPIC(CISHARE_TLP_AMBER, CISHARE_TOPIC_ALL, LITERAL, READ);
    ADD_TOPIC(CISHARE_TLP_AMBER_STRICT, CISHARE_TOPIC_ALL, LITERAL, READ);
    for (s = 0; s < p->sector_cnt; s++) {
        ADD_TOPIC(CISHARE_TLP_AMBER, p->sectors[s], LITERAL, READ);
        ADD_TOPIC(CISHARE_TLP_AMBER_STRICT, p->sectors[s], LITERAL, READ);
    }
    /* READ: its own inbox, and its own feed groups. */
    if ((err = cishare_topic_inbox(p->id, name, sizeof(name))))
        return err;
    ADD(TOPIC, LITERAL, name, READ);
    if ((err = cishare_topic_feed_group(p->id, name, sizeof(name))))
        return err;
    ADD(GROUP, LITERAL, name, READ);
    strcat(name, "."); /* fits: CISHARE_TOPIC_MAX is longer */
    ADD(GROUP, PREFIXED, name, READ);

    /* WRITE: every inbox. */
    ADD(TOPIC, PREFIXED, CISHARE_TOPIC_INBOX, WRITE);
    if (p->role == CISHARE_ROLE_COORDINATION_OFFICE) {
        /* Alerts to all sectors or to selected ones. */
        for (t = 0; t < TOPIC_LABEL_CNT; t++) {
            label_prefix(topic_labels[t], name, sizeof(name));
            ADD(TOPIC, PREFIXED, name, WRITE);
        }
        return CISHARE_OK;
    }
    /* WRITE: its own sectors' feeds, every label. */
    for (s = 0; s < p->sector_cnt; s++)
        for (t = 0; t < TOPIC_LABEL_CNT; t++)
            ADD_TOPIC(topic_labels[t], p->sectors[s], LITERAL, WRITE);
    /* WRITE: community information across sectors. CLEAR and GREEN
     * default to the audience `all`, which routes to the .all topics, and
     * every participant may read them anyway. */
    ADD_TOPIC(CISHARE_TLP_CLEAR, CISHARE_TOPIC_ALL, LITERAL, WRITE);
    ADD_TOPIC(CISHARE_TLP_GREEN, CISHARE_TOPIC_ALL, LITERAL, WRITE);
#undef ADD
#undef ADD_TOPIC
    return CISHARE_OK;
}

cishare_err_t cishare_acls_for_directory(const cishare_directory_t *dir,
                                         cishare_acl_set_t *out)
{
    size_t i;
    cishare_err_t err;

    for (i = 0; i < cishare_directory_participant_cnt(dir); i++)
        if ((err = cishare_acls_for_participant(
                 dir, cishare_directory_participant(dir, i), out)))
            return err;
    cishare_acl_set_sort(out);
    return CISHARE_OK;
}

cishare_err_t cishare_acls_for_directory_topic(const cishare_directory_t *dir,
                                               const char *topic,
                                               cishare_acl_set_t *out)
{
    size_t i;
    cishare_err_t err;

    /* Exactly this topic: a PREFIXED binding on a configurable name could
     * open every AMBER topic or every inbox ("cishare.amber"). */
    if (cishare_topic_directory_check(topic, NULL, 0))
        return CISHARE_ERR_CONFIG;
    for (i = 0; i < cishare_directory_participant_cnt(dir); i++)
        if ((err = cishare_acl_set_add(
                 out, TOPIC, LITERAL, topic,
                 cishare_directory_participant(dir, i)->principal, READ)))
            return err;
    cishare_acl_set_sort(out);
    return CISHARE_OK;
}

bool cishare_acl_is_managed(rd_kafka_ResourceType_t restype, const char *name)
{
    if (!name)
        return false;
    if (restype == TOPIC)
        return !strncmp(name, CISHARE_TOPIC_PREFIX,
                        strlen(CISHARE_TOPIC_PREFIX));
    if (restype == GROUP)
        return !strncmp(name, CISHARE_FEED_GROUP_PREFIX,
                        strlen(CISHARE_FEED_GROUP_PREFIX));
    return false;
}

int cishare_acl_format(const cishare_acl_t *acl, char *buf, size_t size)
{
    return snprintf(buf, size, "%s %s %s %s%s", acl->principal,
                    rd_kafka_AclOperation_name(acl->op),
                    acl->restype == GROUP ? "group" : "topic",
                    acl->pattern == PREFIXED ? "prefix " : "", acl->name);
}

bool cishare_acl_allows(const cishare_acl_set_t *set, const char *principal,
                        rd_kafka_ResourceType_t restype, const char *name,
                        rd_kafka_AclOperation_t op)
{
    size_t i;

    for (i = 0; i < set->cnt; i++) {
        const cishare_acl_t *a = &set->items[i];
        if (a->restype != restype || strcmp(a->principal, principal))
            continue;
        if (op != RD_KAFKA_ACL_OPERATION_DESCRIBE && a->op != op)
            continue;
        if (a->pattern == LITERAL ? !strcmp(a->name, name)
                                  : !strncmp(a->name, name, strlen(a->name)))
            return true;
    }
    return false;
}
