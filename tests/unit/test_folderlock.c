/*
 * One feed (or relay) per state folder (consumers/folderlock.h): a second
 * locker is refused naming the holder's pid, or waits as a standby until
 * the holder dies (kill -9 included) or it is told to stop.
 */
#include "folderlock.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

static char logged[1024];

static void log_line(void *opaque, const char *line)
{
    (void)opaque;
    snprintf(logged, sizeof(logged), "%s", line);
}

static void test_refuse_and_stop(void **state)
{
    char dir[256], err[1024] = "", want[512];
    volatile int stop = 1;
    int fd1, fd2;

    (void)state;
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "flock"), 0);
    assert_int_equal(cishare_folder_lock(dir, "feed", false, NULL, NULL, NULL,
                                         &fd1, err, sizeof(err)),
                     CISHARE_OK);
    assert_true(fd1 >= 0);
    /* a second open of the same file in this process is another locker */
    assert_int_equal(cishare_folder_lock(dir, "feed", false, NULL, NULL, NULL,
                                         &fd2, err, sizeof(err)),
                     CISHARE_ERR_CONFIG);
    assert_int_equal(fd2, -1);
    snprintf(want, sizeof(want), "another feed holds %s/feed.lock (pid %ld)",
             dir, (long)getpid());
    assert_non_null(strstr(err, want));
    /* a standby told to stop returns without the lock, after saying so */
    logged[0] = '\0';
    assert_int_equal(cishare_folder_lock(dir, "feed", true, &stop, log_line,
                                         NULL, &fd2, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(fd2, -1);
    assert_non_null(strstr(logged, "standby: another feed holds"));
    assert_non_null(strstr(logged, "; waiting"));
    /* released: the next one gets it */
    close(fd1);
    assert_int_equal(cishare_folder_lock(dir, "feed", false, NULL, NULL, NULL,
                                         &fd2, err, sizeof(err)),
                     CISHARE_OK);
    close(fd2);
    assert_int_equal(test_tmpdir_remove(dir), 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A holder killed with SIGKILL: the standby takes over within a poll. */
static void test_standby_takes_over(void **state)
{
    char dir[256], err[1024] = "";
    int pipefd[2], fd;
    pid_t child;
    char c;
    int64_t t0;

    (void)state;
    assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "flock"), 0);
    assert_int_equal(pipe(pipefd), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int cfd;
        if (cishare_folder_lock(dir, "feed", false, NULL, NULL, NULL, &cfd, err,
                                sizeof(err)))
            _exit(1);
        if (write(pipefd[1], "x", 1) != 1)
            _exit(1);
        pause(); /* until killed */
        _exit(0);
    }
    close(pipefd[1]);
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    {
        /* kill the holder shortly after the standby starts waiting */
        pid_t killer = fork();
        assert_true(killer >= 0);
        if (killer == 0) {
            struct timespec ts = {0, 300 * 1000000L};
            nanosleep(&ts, NULL);
            kill(child, SIGKILL);
            _exit(0);
        }
        logged[0] = '\0';
        t0 = now_ms();
        assert_int_equal(cishare_folder_lock(dir, "feed", true, NULL, log_line,
                                             NULL, &fd, err, sizeof(err)),
                         CISHARE_OK);
        /* the kill after 300 ms, then at most a poll (200 ms); slack for
         * a loaded machine */
        assert_true(now_ms() - t0 < 3000);
        assert_true(fd >= 0);
        assert_non_null(strstr(logged, "standby: took over"));
        waitpid(killer, NULL, 0);
    }
    waitpid(child, NULL, 0);
    close(fd);
    assert_int_equal(test_tmpdir_remove(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuse_and_stop),
        cmocka_unit_test(test_standby_takes_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
