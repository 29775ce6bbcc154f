/*
 * cishare - de-duplication store and commit log (see dedup.h for the
 * invariant and the log format).
 */
#include "dedup.h"
#include "idset.h"
#include "sinks/sink.h"

#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAGIC  "CSDEDUP1"
#define BATCH_MAGIC 0x48435442u /* "BTCH" little-endian */
#define BATCH_HDR   16
#define MARK_REC    (CISHARE_DEDUP_MARK_NAME + 8)
/* Untrusted-size bound: one batch cannot claim more ids than this. */
#define MAX_BATCH_IDS (1u << 26)

typedef struct mark_s {
    char name[CISHARE_DEDUP_MARK_NAME];
    uint64_t value;
} mark_t;

struct cishare_dedup_s {
    char *path;
    int fd;
    cishare_idset_t *ids; /* committed and pending ids (idset.h) */
    /* The pending batch. */
    uint8_t (*pending)[CISHARE_DEDUP_ID_BYTES];
    size_t pending_cnt, pending_cap;
    bool marks_dirty;
    mark_t marks[CISHARE_DEDUP_MAX_MARKS];
    size_t mark_cnt;
    uint64_t batches; /* batches in the log file */
    uint64_t log_size;
    uint64_t torn;
};

static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
    uint32_t i, j, c;

    if (crc32c_table[1])
        return;
    for (i = 0; i < 256; i++) {
        c = i;
        for (j = 0; j < 8; j++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
}

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = (v >> 24) & 0xff;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

bool cishare_dedup_seen(const cishare_dedup_t *d,
                        const uint8_t id[CISHARE_DEDUP_ID_BYTES])
{
    return cishare_idset_has(d->ids, id);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void cishare_dedup_key(const char *origin, const char *id,
                       uint8_t key[CISHARE_DEDUP_ID_BYTES])
{
    static const char tag[] = "cishare/dedup/v1";
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, CISHARE_DEDUP_ID_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
    crypto_generichash_update(&st, (const uint8_t *)origin,
                              strlen(origin) + 1); /* with its NUL */
    crypto_generichash_update(&st, (const uint8_t *)id, strlen(id));
    crypto_generichash_final(&st, key, CISHARE_DEDUP_ID_BYTES);
}

void cishare_dedup_record_key(const char *topic, int32_t partition,
                              int64_t offset,
                              uint8_t key[CISHARE_DEDUP_ID_BYTES])
{
    static const char tag[] = "cishare/dedup/record/v1";
    crypto_generichash_state st;
    uint8_t po[12];
    int i;

    for (i = 0; i < 4; i++)
        po[i] = (uint8_t)((uint32_t)partition >> (24 - 8 * i));
    for (i = 0; i < 8; i++)
        po[4 + i] = (uint8_t)((uint64_t)offset >> (56 - 8 * i));
    crypto_generichash_init(&st, NULL, 0, CISHARE_DEDUP_ID_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)tag, sizeof(tag) - 1);
    crypto_generichash_update(&st, (const uint8_t *)topic, strlen(topic) + 1);
    crypto_generichash_update(&st, po, sizeof(po));
    crypto_generichash_final(&st, key, CISHARE_DEDUP_ID_BYTES);
}

void cishare_dedup_id_from_text(const char *text,
                                uint8_t id[CISHARE_DEDUP_ID_BYTES])
{
    size_t len = strlen(text), i, n = 0;
    bool uuid = len == 36 && text[8] == '-' && text[13] == '-' &&
                text[18] == '-' && text[23] == '-';
    uint8_t buf[CISHARE_DEDUP_ID_BYTES];

    if (uuid || len == 32) {
        for (i = 0; i < len && n < 32; i++) {
            int v;
            if (uuid && (i == 8 || i == 13 || i == 18 || i == 23))
                continue;
            if ((v = hexval((unsigned char)text[i])) < 0)
                break;
            if (n % 2 == 0)
                buf[n / 2] = (uint8_t)(v << 4);
            else
                buf[n / 2] |= (uint8_t)v;
            n++;
        }
        if (n == 32 && i == len) {
            memcpy(id, buf, sizeof(buf));
            return;
        }
    }
    crypto_generichash(id, CISHARE_DEDUP_ID_BYTES, (const uint8_t *)text, len,
                       NULL, 0);
}

static void mark_set(cishare_dedup_t *d, const char *name, uint64_t value)
{
    size_t i;

    for (i = 0; i < d->mark_cnt; i++)
        if (!strncmp(d->marks[i].name, name, CISHARE_DEDUP_MARK_NAME)) {
            d->marks[i].value = value;
            return;
        }
    if (d->mark_cnt < CISHARE_DEDUP_MAX_MARKS) {
        memset(d->marks[d->mark_cnt].name, 0, CISHARE_DEDUP_MARK_NAME);
        memcpy(d->marks[d->mark_cnt].name, name,
               strnlen(name, CISHARE_DEDUP_MARK_NAME - 1));
        d->marks[d->mark_cnt++].value = value;
    }
}

cishare_err_t cishare_dedup_set_mark(cishare_dedup_t *d, const char *name,
                                     uint64_t value)
{
    size_t i;

    if (!name || !*name || strlen(name) >= CISHARE_DEDUP_MARK_NAME)
        return CISHARE_ERR_INVALID_ARG;
    for (i = 0; i < d->mark_cnt; i++)
        if (!strcmp(d->marks[i].name, name))
            break;
    if (i == d->mark_cnt && d->mark_cnt == CISHARE_DEDUP_MAX_MARKS)
        return CISHARE_ERR_TOO_LARGE;
    if (i < d->mark_cnt && d->marks[i].value == value)
        return CISHARE_OK; /* unchanged: an idle feed's commit writes and
                              fdatasyncs nothing */
    mark_set(d, name, value);
    d->marks_dirty = true;
    return CISHARE_OK;
}

bool cishare_dedup_get_mark(const cishare_dedup_t *d, const char *name,
                            uint64_t *valuep)
{
    size_t i;

    for (i = 0; i < d->mark_cnt; i++)
        if (!strcmp(d->marks[i].name, name)) {
            *valuep = d->marks[i].value;
            return true;
        }
    return false;
}

cishare_err_t cishare_dedup_add(cishare_dedup_t *d,
                                const uint8_t id[CISHARE_DEDUP_ID_BYTES])
{
    bool added;
    cishare_err_t err;

    if ((err = cishare_idset_add(d->ids, id, &added)) || !added)
        return err;
    if (d->pending_cnt == d->pending_cap) {
        size_t ncap = d->pending_cap ? d->pending_cap * 2 : 256;
        void *np = realloc(d->pending, ncap * CISHARE_DEDUP_ID_BYTES);
        if (!np)
            return CISHARE_ERR_NOMEM;
        d->pending = np;
        d->pending_cap = ncap;
    }
    memcpy(d->pending[d->pending_cnt++], id, CISHARE_DEDUP_ID_BYTES);
    return CISHARE_OK;
}

/* Serialise one batch of ids (plus all marks) into a malloc()ed buffer. */
static uint8_t *batch_build(const cishare_dedup_t *d,
                            const uint8_t (*ids)[CISHARE_DEDUP_ID_BYTES],
                            size_t n, size_t *lenp)
{
    size_t len =
               BATCH_HDR + n * CISHARE_DEDUP_ID_BYTES + d->mark_cnt * MARK_REC,
           i;
    uint8_t *buf = malloc(len), *p;
    uint32_t crc;

    if (!buf)
        return NULL;
    put32(buf, BATCH_MAGIC);
    put32(buf + 4, (uint32_t)n);
    put32(buf + 8, (uint32_t)d->mark_cnt);
    p = buf + BATCH_HDR;
    if (n)
        memcpy(p, ids, n * CISHARE_DEDUP_ID_BYTES);
    p += n * CISHARE_DEDUP_ID_BYTES;
    for (i = 0; i < d->mark_cnt; i++) {
        memcpy(p, d->marks[i].name, CISHARE_DEDUP_MARK_NAME);
        put64(p + CISHARE_DEDUP_MARK_NAME, d->marks[i].value);
        p += MARK_REC;
    }
    crc = crc32c(0, buf, 12);
    crc = crc32c(crc, buf + BATCH_HDR, len - BATCH_HDR);
    put32(buf + 12, crc);
    *lenp = len;
    return buf;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

cishare_err_t cishare_dedup_commit(cishare_dedup_t *d, char *errstr,
                                   size_t errstr_size)
{
    uint8_t *buf;
    size_t len;

    if (!d->pending_cnt && !d->marks_dirty)
        return CISHARE_OK;
    if (!(buf = batch_build(d, (const uint8_t(*)[16])d->pending, d->pending_cnt,
                            &len)))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "%s: out of memory", d->path);
    if (write_all(d->fd, buf, len) || fdatasync(d->fd)) {
        int e = errno;
        free(buf);
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot write: %s", d->path, strerror(e));
    }
    free(buf);
    d->log_size += len;
    d->batches++;
    d->pending_cnt = 0;
    d->marks_dirty = false;
    if (d->pending_cap > 65536) {
        /* A huge batch (a replay) should not pin its buffer. */
        free(d->pending);
        d->pending = NULL;
        d->pending_cap = 0;
    }
    /* Batch headers and marks cost more than the ids: compact. */
    if (d->batches > 64 &&
        d->batches * (BATCH_HDR + d->mark_cnt * MARK_REC) >
            cishare_idset_count(d->ids) * CISHARE_DEDUP_ID_BYTES)
        return cishare_dedup_compact(d, errstr, errstr_size);
    return CISHARE_OK;
}

/*
 * Write n ids of the table, from walk position *posp on, as one batch
 * (with the marks when `marks`), through buf (COMPACT_CHUNK bytes): one
 * walk for the CRC, which the header carries, one to write the ids. So
 * compacting holds no copy of the ids next to the table.
 */
#define COMPACT_CHUNK (1u << 16)

static int compact_batch(cishare_dedup_t *d, int fd, size_t *posp, size_t n,
                         bool marks, uint8_t *buf, uint64_t *lenp)
{
    uint8_t h[BATCH_HDR], mk[CISHARE_DEDUP_MAX_MARKS * MARK_REC];
    size_t m = marks ? d->mark_cnt : 0, pos = *posp, i, k = 0;
    const uint8_t *id;
    uint32_t crc;

    put32(h, BATCH_MAGIC);
    put32(h + 4, (uint32_t)n);
    put32(h + 8, (uint32_t)m);
    for (i = 0; i < m; i++) {
        memcpy(mk + i * MARK_REC, d->marks[i].name, CISHARE_DEDUP_MARK_NAME);
        put64(mk + i * MARK_REC + CISHARE_DEDUP_MARK_NAME, d->marks[i].value);
    }
    crc = crc32c(0, h, 12);
    for (i = 0; i < n && cishare_idset_next(d->ids, &pos, &id); i++)
        crc = crc32c(crc, id, CISHARE_DEDUP_ID_BYTES);
    if (i != n) {
        errno = EINVAL; /* cannot happen: the count is the walk's */
        return -1;
    }
    put32(h + 12, crc32c(crc, mk, m * MARK_REC));
    if (write_all(fd, h, BATCH_HDR))
        return -1;
    for (pos = *posp, i = 0; i < n && cishare_idset_next(d->ids, &pos, &id);
         i++) {
        memcpy(buf + k, id, CISHARE_DEDUP_ID_BYTES);
        if ((k += CISHARE_DEDUP_ID_BYTES) == COMPACT_CHUNK) {
            if (write_all(fd, buf, k))
                return -1;
            k = 0;
        }
    }
    if (write_all(fd, buf, k) || write_all(fd, mk, m * MARK_REC))
        return -1;
    *posp = pos;
    *lenp += BATCH_HDR + (uint64_t)n * CISHARE_DEDUP_ID_BYTES + m * MARK_REC;
    return 0;
}

/* Ids per batch when compacting: what the loader accepts in one. */
#ifndef COMPACT_BATCH_IDS
#define COMPACT_BATCH_IDS MAX_BATCH_IDS
#endif

cishare_err_t cishare_dedup_compact(cishare_dedup_t *d, char *errstr,
                                    size_t errstr_size)
{
    size_t left = cishare_idset_count(d->ids), pos = 0, n;
    uint64_t len = 8, batches = 0;
    uint8_t *buf = NULL;
    char *tmp = NULL;
    int fd = -1;
    cishare_err_t err = CISHARE_ERR_IO;

    if (d->pending_cnt)
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "%s: commit before compacting", d->path);
    if (!(buf = malloc(COMPACT_CHUNK)))
        goto nomem;
    if (asprintf(&tmp, "%s.tmp", d->path) < 0) {
        tmp = NULL;
        goto nomem;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, (const uint8_t *)FILE_MAGIC, 8))
        goto io;
    /* One batch, or more when there are more ids than a batch may hold;
     * the marks go in the last. */
    do {
        n = left < COMPACT_BATCH_IDS ? left : COMPACT_BATCH_IDS;
        left -= n;
        if (compact_batch(d, fd, &pos, n, !left, buf, &len))
            goto io;
        batches++;
    } while (left);
    if (fsync(fd) || rename(tmp, d->path) || cishare_fsync_parent(d->path))
        goto io;
    close(d->fd);
    d->fd = fd;
    d->batches = batches;
    d->log_size = len;
    err = CISHARE_OK;
    goto out;
io:
    cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                    "%s: cannot compact: %s", d->path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    goto out;
nomem:
    err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                          "%s: out of memory", d->path);
out:
    free(buf);
    free(tmp);
    return err;
}

/* Stream the bytes [off, off+len) of the log through a fixed buffer:
 * each chunk goes to fn. Returns false on a read error. */
#define LOAD_CHUNK (1u << 20)

typedef struct load_s {
    cishare_dedup_t *d;
    uint8_t *buf;      /* LOAD_CHUNK bytes */
    uint32_t crc;      /* pass 1 */
    cishare_err_t err; /* pass 2 */
} load_t;

static bool load_stream(load_t *l, uint64_t off, uint64_t len, bool insert)
{
    while (len) {
        size_t n = len < LOAD_CHUNK ? (size_t)len : LOAD_CHUNK, i;
        if (insert)
            n -= n % CISHARE_DEDUP_ID_BYTES; /* whole ids per chunk */
        if (pread(l->d->fd, l->buf, n, (off_t)off) != (ssize_t)n)
            return false;
        if (!insert) {
            l->crc = crc32c(l->crc, l->buf, n);
        } else {
            for (i = 0; i + CISHARE_DEDUP_ID_BYTES <= n && !l->err;
                 i += CISHARE_DEDUP_ID_BYTES) {
                l->err = cishare_idset_add(l->d->ids, l->buf + i, NULL);
            }
        }
        off += n;
        len -= n;
    }
    return true;
}

/*
 * Whether a whole, valid batch (magic, counts, CRC) starts anywhere in
 * [from, size): batches start 8 bytes past a multiple of 16 (the file
 * header is 8 bytes, a batch a multiple of 16), so only those offsets
 * are looked at. Used only when a batch did not load, to tell a torn
 * tail (nothing committed after it) from damage with committed batches
 * behind it. *atp receives the offset found.
 */
static bool later_batch(load_t *l, uint64_t from, uint64_t size, uint64_t *atp)
{
    uint64_t off = from + ((24 - from % 16) % 16);
    uint8_t h[BATCH_HDR];

    for (; off + BATCH_HDR <= size; off += 16) {
        uint32_t n, m;
        uint64_t body;

        if (pread(l->d->fd, h, BATCH_HDR, (off_t)off) != BATCH_HDR)
            return false;
        n = get32(h + 4);
        m = get32(h + 8);
        if (get32(h) != BATCH_MAGIC || n > MAX_BATCH_IDS ||
            m > CISHARE_DEDUP_MAX_MARKS)
            continue;
        body = (uint64_t)n * CISHARE_DEDUP_ID_BYTES + (uint64_t)m * MARK_REC;
        if (off + BATCH_HDR + body > size)
            continue;
        l->crc = crc32c(0, h, 12);
        if (load_stream(l, off + BATCH_HDR, body, false) &&
            l->crc == get32(h + 12)) {
            *atp = off;
            return true;
        }
    }
    return false;
}

/*
 * Load the log; cut a torn tail. Two passes through a 1 MiB buffer, so
 * that loading never holds the log in memory next to the table (the peak
 * of a feed with a long history is the table alone): pass 1 checks every
 * batch's CRC and counts the ids of the good prefix, the table is sized
 * once for them, pass 2 inserts the ids and applies the marks.
 */
static cishare_err_t dedup_load(cishare_dedup_t *d, char *errstr,
                                size_t errstr_size)
{
    struct stat st;
    uint64_t size, off = 8, good = 8, ids = 0;
    uint8_t h[BATCH_HDR], magic[8];
    load_t l = {.d = d};
    cishare_err_t err = CISHARE_OK;
    int pass;

    if (fstat(d->fd, &st))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                               d->path, strerror(errno));
    size = (uint64_t)st.st_size;
    if (size < 8) {
        /* New (or torn before the magic was durable). */
        if (ftruncate(d->fd, 0) || lseek(d->fd, 0, SEEK_SET) < 0 ||
            write_all(d->fd, (const uint8_t *)FILE_MAGIC, 8) || fsync(d->fd) ||
            cishare_fsync_parent(d->path))
            return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                                   "%s: cannot create: %s", d->path,
                                   strerror(errno));
        d->log_size = 8;
        return CISHARE_OK;
    }
    if (pread(d->fd, magic, 8, 0) != 8)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot read: %s", d->path, strerror(errno));
    if (memcmp(magic, FILE_MAGIC, 8))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "%s: not a cishare dedup log", d->path);
    if (!(l.buf = malloc(LOAD_CHUNK)))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "%s: out of memory", d->path);
    for (pass = 1; pass <= 2; pass++) {
        uint64_t end = pass == 1 ? size : good;
        off = 8;
        while (off + BATCH_HDR <= end) {
            uint32_t n, m, i;
            uint64_t body;

            if (pread(d->fd, h, BATCH_HDR, (off_t)off) != BATCH_HDR)
                goto io;
            n = get32(h + 4);
            m = get32(h + 8);
            if (get32(h) != BATCH_MAGIC || n > MAX_BATCH_IDS ||
                m > CISHARE_DEDUP_MAX_MARKS)
                break;
            body =
                (uint64_t)n * CISHARE_DEDUP_ID_BYTES + (uint64_t)m * MARK_REC;
            if (off + BATCH_HDR + body > end)
                break;
            if (pass == 1) {
                l.crc = crc32c(0, h, 12);
                if (!load_stream(&l, off + BATCH_HDR, body, false))
                    goto io;
                if (l.crc != get32(h + 12))
                    break;
                ids += n;
                d->batches++;
                good = off + BATCH_HDR + body;
            } else {
                uint8_t r[MARK_REC];
                if (!load_stream(&l, off + BATCH_HDR,
                                 (uint64_t)n * CISHARE_DEDUP_ID_BYTES, true))
                    goto io;
                if (l.err) {
                    err = cishare_err_set(l.err, errstr, errstr_size,
                                          "%s: out of memory", d->path);
                    goto out;
                }
                for (i = 0; i < m; i++) {
                    char name[CISHARE_DEDUP_MARK_NAME];
                    if (pread(d->fd, r, MARK_REC,
                              (off_t)(off + BATCH_HDR +
                                      (uint64_t)n * CISHARE_DEDUP_ID_BYTES +
                                      (uint64_t)i * MARK_REC)) != MARK_REC)
                        goto io;
                    memcpy(name, r, sizeof(name));
                    name[sizeof(name) - 1] = '\0';
                    if (*name)
                        mark_set(d, name, get64(r + CISHARE_DEDUP_MARK_NAME));
                }
            }
            off += BATCH_HDR + body;
        }
        if (pass == 1 && ids &&
            cishare_idset_reserve(d->ids, ids > SIZE_MAX / 2 ? SIZE_MAX / 2
                                                             : (size_t)ids)) {
            /* one table of the final size (load 0.8): no rehash while
             * loading, so the peak is that table alone */
            err = cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                                  "%s: out of memory", d->path);
            goto out;
        }
    }
    if (good < size) {
        uint64_t at = 0;
        /* Batches are appended one at a time, each made durable before
         * the next is written: only the last can be torn. A batch that
         * does not load with a valid one behind it is damage, and cutting
         * there would forget committed batches (their messages would be
         * delivered again): refuse, and leave the file as it is. */
        if (later_batch(&l, good, size, &at)) {
            err = cishare_err_set(
                CISHARE_ERR_VALIDATION, errstr, errstr_size,
                "%s: the batch at byte %llu is damaged, and a committed "
                "batch follows it at byte %llu: not cutting the log there "
                "(repair or remove the file)",
                d->path, (unsigned long long)good, (unsigned long long)at);
            goto out;
        }
        /* Torn tail: never committed (its fsync did not complete). */
        d->torn = size - good;
        if (ftruncate(d->fd, (off_t)good) || fsync(d->fd)) {
            err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                                  "%s: cannot cut torn tail: %s", d->path,
                                  strerror(errno));
            goto out;
        }
    }
    d->log_size = good;
    if (lseek(d->fd, 0, SEEK_END) < 0)
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                              d->path, strerror(errno));
    goto out;
io:
    err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                          "%s: cannot read: %s", d->path, strerror(errno));
out:
    free(l.buf);
    return err;
}

cishare_err_t cishare_dedup_open(const char *path, cishare_dedup_t **dp,
                                 char *errstr, size_t errstr_size)
{
    cishare_dedup_t *d;
    cishare_err_t err;
    uint8_t key[16];

    *dp = NULL;
    crc32c_init();
    if (sodium_init() < 0)
        return cishare_err_set(CISHARE_ERR_CRYPTO, errstr, errstr_size,
                               "libsodium init failed");
    if (!(d = calloc(1, sizeof(*d))))
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    /* Keyed per store: where ids land in the table cannot be aimed at. */
    randombytes_buf(key, sizeof(key));
    d->fd = -1;
    if (!(d->path = strdup(path)) || !(d->ids = cishare_idset_new(key))) {
        cishare_dedup_close(d);
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    d->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (d->fd < 0) {
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot open: %s", path, strerror(errno));
        cishare_dedup_close(d);
        return err;
    }
    if ((err = dedup_load(d, errstr, errstr_size))) {
        cishare_dedup_close(d);
        return err;
    }
    *dp = d;
    return CISHARE_OK;
}

void cishare_dedup_close(cishare_dedup_t *d)
{
    if (!d)
        return;
    if (d->fd >= 0)
        close(d->fd);
    cishare_idset_destroy(d->ids);
    free(d->pending);
    free(d->path);
    free(d);
}

size_t cishare_dedup_count(const cishare_dedup_t *d)
{
    return cishare_idset_count(d->ids);
}

size_t cishare_dedup_memory(const cishare_dedup_t *d)
{
    return sizeof(*d) + strlen(d->path) + 1 +
           cishare_idset_capacity(d->ids) * CISHARE_DEDUP_ID_BYTES +
           d->pending_cap * CISHARE_DEDUP_ID_BYTES;
}

uint64_t cishare_dedup_torn_bytes(const cishare_dedup_t *d)
{
    return d->torn;
}
