/*
 * cishare - a stream of records into one publisher (see pubstream.h).
 *
 * The entries wait in a queue, oldest first:
 *
 *   [first, held)   submitted records, issues and marks: waiting for
 *                   their outcome (issues and marks have it already, but
 *                   are handed back in order)
 *   [held, cnt)     added, not submitted yet (records, issues, marks)
 *
 * Only records are submitted; an issue or mark behind a held record
 * waits with it. The queue is compacted when its first half is done.
 */
#include "pubstream.h"

#include "cishare/codec.h"

#include <stdlib.h>
#include <string.h>

typedef enum { ENT_REC, ENT_ISSUE, ENT_MARK } ent_kind_t;

typedef struct ent_s {
    ent_kind_t kind;
    uint64_t tag;
    json_t *msg;  /* ENT_REC, until submitted */
    char *record; /* ENT_REC, ENT_ISSUE */
    size_t idx;   /* ENT_REC: the publisher's record, once submitted */
    cishare_pubstream_status_t status; /* ENT_ISSUE */
    char *reason, *detail;             /* ENT_ISSUE */
} ent_t;

struct cishare_pubstream_s {
    cishare_publisher_t *pub;
    int tlp_override;
    char *audience;
    size_t batch;
    int max_delay_ms;
    ent_t *v;
    size_t first, held, cnt, size;
    size_t held_recs;       /* records in [held, cnt) */
    int64_t oldest_held_ms; /* when the first of them was added */
    size_t forget_upto;     /* publisher records handed back */
};

static int64_t now_ms(void)
{
    return cishare_time_mono_us() / 1000;
}

static void ent_free(ent_t *e)
{
    json_decref(e->msg);
    free(e->record);
    free(e->reason);
    free(e->detail);
    memset(e, 0, sizeof(*e));
}

cishare_pubstream_t *cishare_pubstream_new(cishare_publisher_t *pub,
                                           int tlp_override,
                                           const char *audience, size_t batch,
                                           int max_delay_ms)
{
    cishare_pubstream_t *ps = calloc(1, sizeof(*ps));

    if (!ps)
        return NULL;
    ps->pub = pub;
    ps->tlp_override = tlp_override;
    ps->batch = batch ? batch : 1;
    ps->max_delay_ms = max_delay_ms < 0 ? 0 : max_delay_ms;
    if (audience && !(ps->audience = strdup(audience))) {
        free(ps);
        return NULL;
    }
    return ps;
}

void cishare_pubstream_destroy(cishare_pubstream_t *ps)
{
    size_t i;

    if (!ps)
        return;
    for (i = ps->first; i < ps->cnt; i++)
        ent_free(&ps->v[i]);
    free(ps->v);
    free(ps->audience);
    free(ps);
}

/* A new entry at the end; NULL when out of memory. */
static ent_t *ent_new(cishare_pubstream_t *ps, ent_kind_t kind, uint64_t tag)
{
    ent_t *e;

    if (ps->first && ps->first >= ps->cnt / 2) {
        /* compact: the done half goes */
        memmove(ps->v, ps->v + ps->first,
                (ps->cnt - ps->first) * sizeof(*ps->v));
        ps->cnt -= ps->first;
        ps->held -= ps->first;
        ps->first = 0;
    }
    if (ps->cnt == ps->size) {
        size_t ns = ps->size ? ps->size * 2 : 64;
        ent_t *n = realloc(ps->v, ns * sizeof(*n));
        if (!n)
            return NULL;
        ps->v = n;
        ps->size = ns;
    }
    e = &ps->v[ps->cnt++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->tag = tag;
    return e;
}

cishare_err_t cishare_pubstream_add_issue(cishare_pubstream_t *ps, uint64_t tag,
                                          cishare_pubstream_status_t status,
                                          const char *record,
                                          const char *reason,
                                          const char *detail)
{
    ent_t *e = ent_new(ps, ENT_ISSUE, tag);

    if (!e)
        return CISHARE_ERR_NOMEM;
    e->status = status;
    if (!(e->record = strdup(record ? record : "")) ||
        !(e->reason = strdup(reason ? reason : "")) ||
        !(e->detail = strdup(detail ? detail : "")))
        return CISHARE_ERR_NOMEM; /* freed with the stream */
    return CISHARE_OK;
}

cishare_err_t cishare_pubstream_add_mark(cishare_pubstream_t *ps, uint64_t tag)
{
    return ent_new(ps, ENT_MARK, tag) ? CISHARE_OK : CISHARE_ERR_NOMEM;
}

cishare_err_t cishare_pubstream_add_import(cishare_pubstream_t *ps,
                                           uint64_t tag,
                                           cishare_import_result_t *imp)
{
    cishare_err_t err = CISHARE_OK;
    size_t i;

    for (i = 0; !err && i < imp->rejected_cnt; i++)
        err = cishare_pubstream_add_issue(
            ps, tag, CISHARE_PUBSTREAM_REJECTED, imp->rejected[i].record,
            imp->rejected[i].reason, imp->rejected[i].detail);
    for (i = 0; !err && i < imp->cnt; i++) {
        ent_t *e = ent_new(ps, ENT_REC, tag);
        if (!e) {
            err = CISHARE_ERR_NOMEM;
            break;
        }
        e->msg = imp->recs[i].msg;
        imp->recs[i].msg = NULL;
        e->record = imp->recs[i].record;
        imp->recs[i].record = NULL;
        if (!ps->held_recs++)
            ps->oldest_held_ms = now_ms();
    }
    for (i = 0; !err && i < imp->skipped_cnt; i++)
        err = cishare_pubstream_add_issue(
            ps, tag, CISHARE_PUBSTREAM_SKIPPED, imp->skipped[i].record,
            imp->skipped[i].reason, imp->skipped[i].detail);
    cishare_import_result_clear(imp);
    return err;
}

/* Submit every held entry's record. */
static cishare_err_t submit_held(cishare_pubstream_t *ps)
{
    for (; ps->held < ps->cnt; ps->held++) {
        ent_t *e = &ps->v[ps->held];
        if (e->kind != ENT_REC)
            continue;
        e->idx = cishare_publisher_cnt(ps->pub);
        if (cishare_publisher_submit(ps->pub, e->msg, e->record,
                                     ps->tlp_override, ps->audience))
            return CISHARE_ERR_NOMEM;
        json_decref(e->msg); /* the publisher holds its own reference */
        e->msg = NULL;
    }
    ps->held_recs = 0;
    return CISHARE_OK;
}

/* Hand back every submitted entry whose outcome is final, in order. */
static void hand_back(cishare_pubstream_t *ps, cishare_pubstream_cb *fn,
                      void *opaque)
{
    while (ps->first < ps->held) {
        ent_t *e = &ps->v[ps->first];
        cishare_pubstream_outcome_t o = {.tag = e->tag,
                                         .record = e->record ? e->record : ""};

        if (e->kind == ENT_REC) {
            const cishare_pub_rec_t *r = cishare_publisher_rec(ps->pub, e->idx);
            if (r && r->pending)
                break; /* its deliveries are outstanding */
            if (!r) {
                o.status = CISHARE_PUBSTREAM_FAILED;
                o.reason = "outcome unknown";
                o.detail = "the record's outcome was lost";
            } else if (r->failed) {
                o.status = r->not_delivered ? CISHARE_PUBSTREAM_FAILED
                                            : CISHARE_PUBSTREAM_REJECTED;
                o.reason = r->reason ? r->reason : "failed";
                o.detail = r->detail ? r->detail : "";
            } else {
                o.status = CISHARE_PUBSTREAM_OK;
                o.subject = r->subject ? r->subject : "";
                o.msg_id = r->msg_id ? r->msg_id : "";
                o.tlp = r->tlp ? r->tlp : "";
            }
            ps->forget_upto = e->idx + 1;
        } else if (e->kind == ENT_ISSUE) {
            o.status = e->status;
            o.reason = e->reason;
            o.detail = e->detail;
        } else {
            o.status = CISHARE_PUBSTREAM_MARK;
        }
        if (fn)
            fn(opaque, &o);
        ent_free(e);
        ps->first++;
    }
    cishare_publisher_forget(ps->pub, ps->forget_upto);
}

cishare_err_t cishare_pubstream_run(cishare_pubstream_t *ps, bool flush,
                                    cishare_pubstream_cb *fn, void *opaque,
                                    int *next_ms)
{
    int64_t now = now_ms();
    cishare_err_t err;

    if (ps->held < ps->cnt &&
        (flush || !ps->held_recs || ps->held_recs >= ps->batch ||
         now - ps->oldest_held_ms >= ps->max_delay_ms) &&
        (err = submit_held(ps)))
        return err;
    cishare_publisher_poll(ps->pub, 0);
    hand_back(ps, fn, opaque);
    if (ps->held_recs) {
        int64_t left = ps->oldest_held_ms + ps->max_delay_ms - now_ms();
        *next_ms = left < 0 ? 0 : (int)left;
    } else if (ps->first < ps->cnt) {
        *next_ms = 5; /* delivery reports to collect */
    } else {
        *next_ms = -1;
    }
    return CISHARE_OK;
}

size_t cishare_pubstream_outstanding(const cishare_pubstream_t *ps)
{
    return ps->cnt - ps->first;
}

cishare_err_t cishare_pubstream_finish(cishare_pubstream_t *ps, int timeout_ms,
                                       cishare_pubstream_cb *fn, void *opaque)
{
    cishare_err_t err;

    if ((err = submit_held(ps)))
        return err;
    cishare_publisher_flush(ps->pub, timeout_ms);
    hand_back(ps, fn, opaque);
    return CISHARE_OK;
}
