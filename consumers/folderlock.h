/*
 * cishare - one running feed (or relay) per state folder: an exclusive
 * flock() on <state-dir>/feed.lock, taken before anything else in the
 * folder is opened and held until the process ends.
 *
 * Why: two feeds on one folder would interleave their sink writes and
 * seen-id log, and each would cut the other's uncommitted batch on start
 * (dedup.h, "THE INVARIANT"). A second instance either refuses (exit 2,
 * naming the holder) or, as a hot standby, waits for the lock and then
 * starts normally: the folder's committed offsets and seen set are
 * exactly where the first one stopped, so nothing is lost or repeated.
 *
 * The kernel releases a flock when its holder dies, kill -9 included, so
 * a standby takes over at once; the lock file is never removed (removing
 * it would let a third process lock a new file while a standby waits on
 * the old one). The holder writes its pid into the file, for the message
 * of the one that is refused or waits. flock locks belong to the open
 * file, so two feeds in one process also exclude each other.
 */
#ifndef CISHARE_FOLDERLOCK_H
#define CISHARE_FOLDERLOCK_H

#include "cishare/err.h"

#include <stdbool.h>
#include <stddef.h>

/** The lock file's name in a state folder. */
#define CISHARE_FOLDER_LOCK "feed.lock"

/** How often a standby tries the lock again (ms). */
#define CISHARE_FOLDER_LOCK_POLL_MS 200

/**
 * Lock <dir>/feed.lock (dir must exist).
 * @param what     names the holder in messages, e.g. "feed"
 * @param wait     false: held by another process -> CISHARE_ERR_CONFIG,
 *                 errstr names the lock file and the holder's pid; true:
 *                 log "standby: another <what> holds <path> (pid N);
 *                 waiting" once and try again every
 *                 CISHARE_FOLDER_LOCK_POLL_MS until it is free or *stop
 * @param stop     non-zero ends a wait (SIGINT/SIGTERM); may be NULL
 * @param fdp      the locked descriptor (close it to unlock; it is
 *                 close-on-exec); -1 when the wait was stopped
 * @returns CISHARE_OK (locked, or stopped: *fdp == -1),
 *          CISHARE_ERR_CONFIG (held, not waiting), CISHARE_ERR_IO.
 */
cishare_err_t cishare_folder_lock(const char *dir, const char *what, bool wait,
                                  volatile int *stop,
                                  void (*log)(void *opaque, const char *line),
                                  void *log_opaque, int *fdp, char *errstr,
                                  size_t errstr_size);

#endif
