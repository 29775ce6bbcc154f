/*
 * cishare - one running feed per state folder (folderlock.h).
 */
#include "folderlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* The holder's pid as it wrote it ("?" when it cannot be read yet). */
static void holder(int fd, char *out, size_t size)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long pid;
    char *end;

    snprintf(out, size, "?");
    if (n <= 0)
        return;
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (pid > 0 && end != buf)
        snprintf(out, size, "%ld", pid);
}

cishare_err_t cishare_folder_lock(const char *dir, const char *what, bool wait,
                                  volatile int *stop,
                                  void (*log)(void *opaque, const char *line),
                                  void *log_opaque, int *fdp, char *errstr,
                                  size_t errstr_size)
{
    char path[4096], pid[32], line[4300];
    int fd;

    *fdp = -1;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
                         CISHARE_FOLDER_LOCK) >= sizeof(path))
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: path too long", dir);
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: cannot open: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB)) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                            "%s: cannot lock: %s", path, strerror(errno));
            close(fd);
            return CISHARE_ERR_IO;
        }
        if (!wait) {
            holder(fd, pid, sizeof(pid));
            close(fd);
            return cishare_err_set(
                CISHARE_ERR_CONFIG, errstr, errstr_size,
                "another %s holds %s (pid %s): one %s per state folder; "
                "stop it, use another folder (cishare.state-dir), or run "
                "this one with --standby to wait as its hot standby",
                what, path, pid, what);
        }
        if (*fdp == -1 && log) {
            holder(fd, pid, sizeof(pid));
            snprintf(line, sizeof(line),
                     "standby: another %s holds %s (pid %s); waiting", what,
                     path, pid);
            log(log_opaque, line);
        }
        *fdp = -2; /* said so once */
        if (stop && *stop) {
            close(fd);
            *fdp = -1;
            return CISHARE_OK;
        }
        {
            struct timespec ts = {0, CISHARE_FOLDER_LOCK_POLL_MS * 1000000L};
            nanosleep(&ts, NULL); /* a signal ends it early: fine */
        }
    }
    if (*fdp == -2 && log) {
        snprintf(line, sizeof(line), "standby: took over %s", path);
        log(log_opaque, line);
    }
    /* ours now: the pid, for the messages of the next one */
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0) {
        /* only the message of a refused instance loses its pid */
    }
    *fdp = fd;
    return CISHARE_OK;
}
