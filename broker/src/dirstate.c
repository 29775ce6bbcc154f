/*
 * cishare - directory trust state: rollback and freeze protection and root
 * rotation on top of the signed directory. See cishare/dirstate.h.
 */
#include "cishare/dirstate.h"
#include "cishare/codec.h"
#include "sinks/sink.h" /* cishare_atomic_*, cishare_mkdirs */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define STATE_MAGIC   "cishare-directory-state 1"
#define STATE_MAX_LEN 1024 /* a valid state is about 200 bytes */

/* ---------------------------------------------------------------------
 * State file
 * ------------------------------------------------------------------ */

static int hex_decode(const char *hex, uint8_t *out, size_t n)
{
    size_t bin_len = 0;
    const char *end = NULL;

    return strlen(hex) == 2 * n &&
                   sodium_hex2bin(out, n, hex, 2 * n, NULL, &bin_len, &end) ==
                       0 &&
                   bin_len == n
               ? 0
               : -1;
}

static cishare_err_t state_corrupt(const char *path, int line, char *errstr,
                                   size_t errstr_size)
{
    return cishare_err_set(CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                           "%s: directory state file is damaged (line %d); "
                           "restore it from a backup, or remove it to trust "
                           "the pinned root again (rollback protection then "
                           "restarts from the next directory accepted)",
                           path, line);
}

cishare_err_t cishare_dirstate_read(const char *path, cishare_dirstate_t *st,
                                    char *errstr, size_t errstr_size)
{
    char buf[STATE_MAX_LEN + 1], *line, *save = NULL;
    FILE *fp;
    size_t len;
    int n = 0, have_serial = 0, have_hash = 0;

    memset(st, 0, sizeof(*st));
    if (!(fp = fopen(path, "rb"))) {
        if (errno == ENOENT)
            return CISHARE_OK;
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                               path, strerror(errno));
    }
    len = fread(buf, 1, STATE_MAX_LEN + 1, fp);
    if (ferror(fp)) {
        fclose(fp);
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: read error", path);
    }
    fclose(fp);
    if (len > STATE_MAX_LEN || memchr(buf, '\0', len))
        return state_corrupt(path, 1, errstr, errstr_size);
    buf[len] = '\0';
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *val = strchr(line, ' ');
        n++;
        if (n == 1) {
            if (strcmp(line, STATE_MAGIC))
                return state_corrupt(path, n, errstr, errstr_size);
            continue;
        }
        if (!val)
            return state_corrupt(path, n, errstr, errstr_size);
        *val++ = '\0';
        if (!strcmp(line, "serial") && !have_serial) {
            char *end = NULL;
            errno = 0;
            st->serial = strtoull(val, &end, 10);
            if (errno || !end || *end || *val < '1' || *val > '9')
                return state_corrupt(path, n, errstr, errstr_size);
            have_serial = 1;
        } else if (!strcmp(line, "content-blake2b") && !have_hash) {
            if (hex_decode(val, st->hash, sizeof(st->hash)))
                return state_corrupt(path, n, errstr, errstr_size);
            have_hash = 1;
        } else if (!strcmp(line, "root-ed25519") && !st->has_root) {
            if (cishare_base64_decode_exact(val, st->root_pk,
                                            sizeof(st->root_pk), NULL, 0))
                return state_corrupt(path, n, errstr, errstr_size);
            st->has_root = true;
        } else {
            return state_corrupt(path, n, errstr, errstr_size);
        }
    }
    if (n == 0 || !have_serial || !have_hash || !st->has_root)
        return state_corrupt(path, n ? n : 1, errstr, errstr_size);
    return CISHARE_OK;
}

/* Write len bytes to path atomically (sinks/sink.h: temp file, fsync,
 * rename, fsync of the folder). `what` names the file in errors. */
static cishare_err_t write_atomic(const char *path, const void *data,
                                  size_t len, const char *what, char *errstr,
                                  size_t errstr_size)
{
    cishare_atomic_t af;
    int e;

    if (cishare_atomic_begin(&af, path))
        goto fail;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        e = errno;
        cishare_atomic_abort(&af);
        errno = e;
        goto fail;
    }
    if (cishare_atomic_commit(&af))
        goto fail;
    return CISHARE_OK;
fail:
    return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                           "%s: cannot write the %s: %s", path, what,
                           strerror(errno));
}

cishare_err_t cishare_dirstate_write(const char *path,
                                     const cishare_dirstate_t *st, char *errstr,
                                     size_t errstr_size)
{
    char hex[2 * CISHARE_DIRECTORY_HASH_BYTES + 1], b64[CISHARE_PK_B64_SIZE];
    char text[STATE_MAX_LEN];
    int n;

    sodium_bin2hex(hex, sizeof(hex), st->hash, sizeof(st->hash));
    cishare_pk_to_base64(st->root_pk, b64, sizeof(b64));
    n = snprintf(text, sizeof(text),
                 STATE_MAGIC "\nserial %llu\ncontent-blake2b %s\n"
                             "root-ed25519 %s\n",
                 (unsigned long long)st->serial, hex, b64);
    if (n < 0 || (size_t)n >= sizeof(text))
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "%s: state too long", path);
    return write_atomic(path, text, (size_t)n, "directory state", errstr,
                        errstr_size);
}

/* ---------------------------------------------------------------------
 * Decision
 * ------------------------------------------------------------------ */

cishare_err_t
cishare_dirstate_check(const cishare_dirstate_t *st,
                       const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES],
                       const char *name, const char *buf, size_t len,
                       int64_t now_ms, const char *state_label,
                       cishare_directory_t **dirp, cishare_dirstate_t *next,
                       char *errstr, size_t errstr_size)
{
    const uint8_t *trusted = st->has_root ? st->root_pk : pinned_root;
    const uint8_t *newroot;
    char tid[CISHARE_KEY_ID_LEN + 1], nid[CISHARE_KEY_ID_LEN + 1];
    char why[1024];
    cishare_directory_t *dir = NULL;
    cishare_err_t err;
    size_t n;

    *dirp = NULL;
    cishare_key_id(trusted, tid);
    /* The signature by the trusted root comes first: nothing of an
     * unauthenticated file reaches the YAML parser. */
    err = cishare_directory_load_buf(name, buf, len, trusted, &dir, errstr,
                                     errstr_size);
    if (err) {
        if (err == CISHARE_ERR_DIRECTORY && st->has_root && errstr &&
            sodium_memcmp(st->root_pk, pinned_root, CISHARE_ED25519_PK_BYTES)) {
            n = strlen(errstr);
            snprintf(errstr + n, errstr_size - n,
                     " (the trusted root is %s, recorded in %s after a root "
                     "rotation, not the pinned root.pub)",
                     tid, state_label);
        }
        return err;
    }
    newroot = cishare_directory_root_key(dir);
    if (newroot && sodium_memcmp(newroot, trusted, CISHARE_ED25519_PK_BYTES)) {
        cishare_key_id(newroot, nid);
        if (cishare_directory_verify_buf(name, buf, len, newroot, why,
                                         sizeof(why))) {
            cishare_directory_destroy(dir);
            return cishare_err_set(
                CISHARE_ERR_DIRECTORY, errstr, errstr_size,
                "%s: names a new root key %s: a root rotation must be signed "
                "by the current root %s and by the new root; %s",
                name, nid, tid, why);
        }
    } else {
        newroot = trusted;
    }
    if ((err = cishare_directory_check_expiry(dir, name, now_ms, errstr,
                                              errstr_size)))
        goto refuse;
    if (st->serial && cishare_directory_serial(dir) < st->serial) {
        err = cishare_err_set(
            CISHARE_ERR_DIRECTORY, errstr, errstr_size,
            "%s: directory serial %llu is older than serial %llu, already "
            "accepted (state %s): refused as a rollback",
            name, (unsigned long long)cishare_directory_serial(dir),
            (unsigned long long)st->serial, state_label);
        goto refuse;
    }
    if (st->serial && cishare_directory_serial(dir) == st->serial &&
        sodium_memcmp(cishare_directory_content_hash(dir), st->hash,
                      sizeof(st->hash))) {
        err = cishare_err_set(
            CISHARE_ERR_DIRECTORY, errstr, errstr_size,
            "%s: directory serial %llu has other content than the serial "
            "%llu accepted before (state %s): a changed directory needs a "
            "higher serial",
            name, (unsigned long long)cishare_directory_serial(dir),
            (unsigned long long)st->serial, state_label);
        goto refuse;
    }
    memset(next, 0, sizeof(*next));
    next->serial = cishare_directory_serial(dir);
    memcpy(next->hash, cishare_directory_content_hash(dir), sizeof(next->hash));
    memcpy(next->root_pk, newroot, sizeof(next->root_pk));
    next->has_root = true;
    *dirp = dir;
    return CISHARE_OK;
refuse:
    cishare_directory_destroy(dir);
    return err;
}

/* mkdir -p of the folder holding path. */
static cishare_err_t make_parent(const char *path, char *errstr,
                                 size_t errstr_size)
{
    char *copy = strdup(path);
    cishare_err_t err = CISHARE_OK;

    if (!copy)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    if (cishare_mkdirs(dirname(copy)))
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot create the state folder: %s", path,
                              strerror(errno));
    free(copy);
    return err;
}

/* The kept copy beside the state file: <folder of state_path>/KEPT. */
static cishare_err_t kept_path_of(const char *state_path, char **outp,
                                  char *errstr, size_t errstr_size)
{
    const char *slash = strrchr(state_path, '/');
    int n = slash ? asprintf(outp, "%.*s/%s", (int)(slash - state_path),
                             state_path, CISHARE_DIRSTATE_KEPT_FILE)
                  : asprintf(outp, "%s", CISHARE_DIRSTATE_KEPT_FILE);

    if (n < 0) {
        *outp = NULL;
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    }
    return CISHARE_OK;
}

/* Create the state folder and take the exclusive lock: *fdp is the lock's
 * descriptor, closing it releases the lock. */
static cishare_err_t lock_state(const char *state_path, int *fdp, char *errstr,
                                size_t errstr_size)
{
    char *lock = NULL;
    cishare_err_t err;
    int fd;

    *fdp = -1;
    if ((err = make_parent(state_path, errstr, errstr_size)))
        return err;
    if (asprintf(&lock, "%s.lock", state_path) < 0)
        return cishare_err_set(CISHARE_ERR_NOMEM, errstr, errstr_size,
                               "out of memory");
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        err = cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                              "%s: cannot lock: %s", lock, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(lock);
        return err;
    }
    free(lock);
    *fdp = fd;
    return CISHARE_OK;
}

static bool state_differs(const cishare_dirstate_t *a,
                          const cishare_dirstate_t *b)
{
    return a->serial != b->serial || a->has_root != b->has_root ||
           memcmp(a->root_pk, b->root_pk, sizeof(a->root_pk)) ||
           memcmp(a->hash, b->hash, sizeof(a->hash));
}

/*
 * Record an accepted version (lock held): its bytes as the kept copy
 * when keep is set, then the state when it changed. The copy goes first:
 * a crash in between leaves a copy newer than the state, which the next
 * start accepts, never a state that no copy on disk reaches.
 */
static cishare_err_t record(const char *state_path, const char *kept, bool keep,
                            const cishare_dirstate_t *st,
                            const cishare_dirstate_t *next, const char *buf,
                            size_t len, char *errstr, size_t errstr_size)
{
    cishare_err_t err;

    if (keep && (err = write_atomic(kept, buf, len,
                                    "kept copy of the accepted directory",
                                    errstr, errstr_size)))
        return err;
    if (state_differs(st, next))
        return cishare_dirstate_write(state_path, next, errstr, errstr_size);
    return CISHARE_OK;
}

cishare_err_t cishare_dirstate_accept(
    const char *state_path, const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES],
    const char *name, const char *buf, size_t len, int64_t now_ms,
    cishare_directory_t **dirp, char *errstr, size_t errstr_size)
{
    cishare_dirstate_t st, next;
    char *kept = NULL;
    int fd;
    cishare_err_t err;

    *dirp = NULL;
    if ((err = kept_path_of(state_path, &kept, errstr, errstr_size)))
        return err;
    if ((err = lock_state(state_path, &fd, errstr, errstr_size))) {
        free(kept);
        return err;
    }
    err = cishare_dirstate_read(state_path, &st, errstr, errstr_size);
    if (!err)
        err = cishare_dirstate_check(&st, pinned_root, name, buf, len, now_ms,
                                     state_path, dirp, &next, errstr,
                                     errstr_size);
    /* write only what changed: most runs see the version they saw before */
    if (!err) {
        bool keep = state_differs(&st, &next) || access(kept, F_OK) != 0;
        err = record(state_path, kept, keep, &st, &next, buf, len, errstr,
                     errstr_size);
        if (err) {
            cishare_directory_destroy(*dirp);
            *dirp = NULL;
        }
    }
    close(fd); /* releases the lock */
    free(kept);
    return err;
}

/*
 * The serial of a directory text signed by the trusted root or, failing
 * that, by the pinned root (a version from before a root rotation); false
 * when neither signed it or its content is bad (nothing is parsed before
 * the signature is verified).
 */
static bool genuine_serial(const cishare_dirstate_t *st,
                           const uint8_t pinned_root[CISHARE_ED25519_PK_BYTES],
                           const char *name, const char *buf, size_t len,
                           uint64_t *serial)
{
    cishare_directory_t *dir = NULL;
    char why[512];

    if (cishare_directory_load_buf(name, buf, len,
                                   st->has_root ? st->root_pk : pinned_root,
                                   &dir, why, sizeof(why)) &&
        (!st->has_root ||
         cishare_directory_load_buf(name, buf, len, pinned_root, &dir, why,
                                    sizeof(why))))
        return false;
    *serial = cishare_directory_serial(dir);
    cishare_directory_destroy(dir);
    return true;
}

/* Append "; <what>: <why>" to errstr, as far as it fits. */
static void err_append(char *errstr, size_t errstr_size, const char *what,
                       const char *why)
{
    size_t n;

    if (!errstr || !errstr_size)
        return;
    n = strlen(errstr);
    if (n < errstr_size)
        snprintf(errstr + n, errstr_size - n, "; %s: %s", what, why);
}

cishare_err_t cishare_dirstate_accept_file(
    const char *state_path, const char *path, const char *root_pub_path,
    int64_t now_ms, bool use_kept_copy, cishare_directory_t **dirp, char *note,
    size_t note_size, char *errstr, size_t errstr_size)
{
    uint8_t pinned[CISHARE_ED25519_PK_BYTES];
    cishare_dirstate_t st, fnext, knext;
    cishare_directory_t *fdir = NULL, *kdir = NULL;
    char *buf = NULL, *kbuf = NULL, *kept = NULL, kwhy[1024] = "";
    size_t len = 0, klen = 0;
    uint64_t fserial = 0, kserial;
    bool have_kept = false, use_kept = false, fknown;
    cishare_err_t err, kerr = CISHARE_ERR_DIRECTORY;
    int fd = -1;

    *dirp = NULL;
    if (note && note_size)
        note[0] = '\0';
    if ((err = cishare_directory_root_pub_load(path, root_pub_path, pinned,
                                               errstr, errstr_size)) ||
        (err = cishare_directory_read_file(path, &buf, &len, errstr,
                                           errstr_size)) ||
        (err = kept_path_of(state_path, &kept, errstr, errstr_size)) ||
        (err = lock_state(state_path, &fd, errstr, errstr_size)) ||
        (err = cishare_dirstate_read(state_path, &st, errstr, errstr_size)))
        goto out;
    /* the kept copy, checked like any candidate */
    if (access(kept, F_OK) == 0 && use_kept_copy) {
        have_kept = true;
        kerr =
            cishare_directory_read_file(kept, &kbuf, &klen, kwhy, sizeof(kwhy));
        if (!kerr)
            kerr = cishare_dirstate_check(&st, pinned, kept, kbuf, klen, now_ms,
                                          state_path, &kdir, &knext, kwhy,
                                          sizeof(kwhy));
    }
    err =
        cishare_dirstate_check(&st, pinned, path, buf, len, now_ms, state_path,
                               &fdir, &fnext, errstr, errstr_size);
    if (!kerr) {
        /* The kept copy replaces the file only when the file is a genuine
         * older version: a newer, tampered or conflicting file gets its
         * own verdict. */
        kserial = cishare_directory_serial(kdir);
        fknown = fdir ? (fserial = cishare_directory_serial(fdir), true)
                      : genuine_serial(&st, pinned, path, buf, len, &fserial);
        use_kept = fknown && fserial < kserial;
    } else if (err && have_kept) {
        err_append(errstr, errstr_size, "the kept copy is refused too", kwhy);
    }
    if (use_kept) {
        cishare_directory_destroy(fdir);
        fdir = NULL;
        if ((err = record(state_path, kept, false, &st, &knext, kbuf, klen,
                          errstr, errstr_size)))
            goto out;
        if (note && note_size)
            snprintf(note, note_size,
                     "using directory serial %llu accepted before and kept "
                     "in %s (the file %s holds serial %llu)",
                     (unsigned long long)kserial, kept, path,
                     (unsigned long long)fserial);
        *dirp = kdir;
        kdir = NULL;
        err = CISHARE_OK;
    } else if (!err) {
        /* the file: kept as well when the copy is not this version */
        bool keep;
        if (!use_kept_copy) /* not read: rewritten when the state moves */
            keep = state_differs(&st, &fnext) || access(kept, F_OK) != 0;
        else if (kerr) /* missing or refused: replaced */
            keep = true;
        else
            keep = state_differs(&st, &fnext) ||
                   memcmp(cishare_directory_content_hash(kdir),
                          cishare_directory_content_hash(fdir),
                          CISHARE_DIRECTORY_HASH_BYTES);
        if ((err = record(state_path, kept, keep, &st, &fnext, buf, len, errstr,
                          errstr_size)))
            goto out;
        *dirp = fdir;
        fdir = NULL;
    }
out:
    if (fd >= 0)
        close(fd); /* releases the lock */
    cishare_directory_destroy(fdir);
    cishare_directory_destroy(kdir);
    free(buf);
    free(kbuf);
    free(kept);
    return err;
}

cishare_err_t cishare_dirstate_check_in_force(const cishare_directory_t *dir,
                                              int64_t now_ms, char *errstr,
                                              size_t errstr_size)
{
    char exp[32], now[32];

    if (now_ms < cishare_directory_expires_ms(dir))
        return CISHARE_OK;
    cishare_time_format(cishare_directory_expires_ms(dir), exp);
    cishare_time_format(now_ms, now);
    return cishare_err_set(
        CISHARE_ERR_DIRECTORY, errstr, errstr_size,
        "directory serial %llu in use expired at %s (now %s) and no newer "
        "version arrived: an expired directory is not used; get the current "
        "version from the coordination office",
        (unsigned long long)cishare_directory_serial(dir), exp, now);
}
