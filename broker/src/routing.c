#include "cishare/routing.h"

#include <string.h>

/* True when P's feed reads `topic`: P's sectors and .all at any label, or
 * P's inbox. Mirrors cishare_routing_feed_topics(). */
static bool feed_reads(const cishare_participant_t *p, cishare_tlp_t tlp,
                       const cishare_strlist_t *topics)
{
    char t[CISHARE_TOPIC_MAX];
    size_t i;

    if (tlp == CISHARE_TLP_RED)
        return false;
    if (!cishare_topic_sector(tlp, CISHARE_TOPIC_ALL, t, sizeof(t)) &&
        cishare_strlist_has(topics, t))
        return true;
    for (i = 0; i < p->sector_cnt; i++)
        if (!cishare_topic_sector(tlp, p->sectors[i], t, sizeof(t)) &&
            cishare_strlist_has(topics, t))
            return true;
    return false;
}

static cishare_err_t add_inbox(cishare_strlist_t *out, const char *id)
{
    char t[CISHARE_TOPIC_MAX];
    cishare_err_t err = cishare_topic_inbox(id, t, sizeof(t));

    return err ? err : cishare_strlist_add(out, t);
}

cishare_err_t cishare_routing_topics(const cishare_directory_t *dir,
                                     const cishare_participant_t *origin,
                                     cishare_tlp_t tlp,
                                     const cishare_audience_t *aud,
                                     cishare_strlist_t *out, char *errstr,
                                     size_t errstr_size)
{
    cishare_strlist_t shared = {0};
    char t[CISHARE_TOPIC_MAX];
    cishare_err_t err = CISHARE_OK;
    size_t i;

    /* Shared topics first: participant items need them to decide. */
    for (i = 0; !err && tlp != CISHARE_TLP_RED && i < aud->cnt; i++) {
        const cishare_aud_item_t *it = &aud->items[i];
        if (it->kind == CISHARE_AUD_PARTICIPANT ||
            (it->kind == CISHARE_AUD_ROLE && tlp >= CISHARE_TLP_AMBER))
            continue;
        err = cishare_topic_sector(
            tlp, it->kind == CISHARE_AUD_SECTOR ? it->value : CISHARE_TOPIC_ALL,
            t, sizeof(t));
        if (!err && !cishare_strlist_has(&shared, t))
            err = cishare_strlist_add(&shared, t);
    }
    for (i = 0; !err && i < shared.cnt; i++)
        err = cishare_strlist_add(out, shared.items[i]);
    for (i = 0; !err && i < aud->cnt; i++) {
        const cishare_aud_item_t *it = &aud->items[i];
        const cishare_participant_t *p;
        size_t k;
        if (it->kind == CISHARE_AUD_ROLE && tlp >= CISHARE_TLP_AMBER) {
            /* Every participant reads the .all topics, so an AMBER role
             * item goes to each member's inbox: the ACLs then keep
             * non-members out on their own. */
            for (k = 0; !err && k < cishare_directory_participant_cnt(dir);
                 k++) {
                p = cishare_directory_participant(dir, k);
                if (!strcmp(cishare_role_name(p->role), it->value) &&
                    !feed_reads(p, tlp, &shared))
                    err = add_inbox(out, p->id);
            }
            continue;
        }
        if (it->kind != CISHARE_AUD_PARTICIPANT)
            continue;
        p = cishare_directory_find(dir, it->value);
        if (!p) {
            err = cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                                  "audience names unknown participant '%s'",
                                  it->value);
            break;
        }
        if (!feed_reads(p, tlp, &shared))
            err = add_inbox(out, p->id);
    }
    if (!err && !feed_reads(origin, tlp, &shared))
        err = add_inbox(out, origin->id);
    cishare_strlist_clear(&shared);
    if (err)
        return err;
    cishare_strlist_sort(out); /* also drops an inbox named twice */
    if (!out->cnt)
        return cishare_err_set(CISHARE_ERR_POLICY, errstr, errstr_size,
                               "the audience reaches no topic");
    return CISHARE_OK;
}

cishare_err_t cishare_routing_feed_topics(const cishare_participant_t *p,
                                          cishare_strlist_t *out)
{
    char t[CISHARE_TOPIC_MAX];
    cishare_err_t err;
    int tlp;
    size_t i;

    for (tlp = CISHARE_TLP_CLEAR; tlp < CISHARE_TLP_RED; tlp++) {
        err = cishare_topic_sector((cishare_tlp_t)tlp, CISHARE_TOPIC_ALL, t,
                                   sizeof(t));
        if (!err)
            err = cishare_strlist_add(out, t);
        for (i = 0; !err && i < p->sector_cnt; i++) {
            err = cishare_topic_sector((cishare_tlp_t)tlp, p->sectors[i], t,
                                       sizeof(t));
            if (!err)
                err = cishare_strlist_add(out, t);
        }
        if (err)
            return err;
    }
    err = add_inbox(out, p->id);
    if (!err)
        cishare_strlist_sort(out);
    return err;
}
