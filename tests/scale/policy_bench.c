/*
 * cishare_policy_bench - policy decisions per second over a directory
 * (docs/PERFORMANCE.md, "3 000 participants").
 *
 *   cishare_policy_bench [--unsigned] [--seconds S] DIRECTORY
 *
 * Loads DIRECTORY (signature checked against root.pub beside it unless
 * --unsigned) and times cishare_policy_decide() for a mix of messages
 * (GREEN to all, AMBER to a sector, AMBER+STRICT to a role, RED to three
 * named participants) from rotating origins against every participant in
 * turn: what a feed's filter does per message and recipient, and what
 * provisioning and encryption do per message over the whole directory.
 * Prints the load time and
 *   RESULT policy_decisions <n> per_second
 *   RESULT directory_load <ms> ms
 * Exit status: 0 ok, 1 failure, 2 usage.
 */
#include "cishare/directory.h"
#include "cishare/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(FILE *fp, int rc)
{
    fprintf(fp, "Usage: cishare_policy_bench [--unsigned] [--seconds S] "
                "DIRECTORY\n");
    return rc;
}

int main(int argc, char **argv)
{
    static const struct {
        cishare_tlp_t tlp;
        const char *audience;
    } mix[] = {
        {CISHARE_TLP_GREEN, "all"},
        {CISHARE_TLP_AMBER, "sector:finance"},
        {CISHARE_TLP_AMBER_STRICT, "role:ceptoar,sector:electricity"},
        {CISHARE_TLP_RED, NULL}, /* three named participants */
    };
    cishare_audience_t aud[4] = {{0}};
    cishare_directory_t *dir = NULL;
    const char *path = NULL;
    char errstr[512], red[512];
    double seconds = 3, t0, t1, elapsed, load_ms;
    unsigned long long n = 0, delivered = 0;
    size_t pcnt, i, m;
    int unsigned_ = 0, a, rc = 1;
    cishare_err_t err;

    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--unsigned"))
            unsigned_ = 1;
        else if (!strcmp(argv[a], "--seconds") && a + 1 < argc)
            seconds = atof(argv[++a]);
        else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help"))
            return usage(stdout, 0);
        else if (argv[a][0] != '-' && !path)
            path = argv[a];
        else
            return usage(stderr, 2);
    }
    if (!path || seconds <= 0)
        return usage(stderr, 2);
    t0 = now_s();
    err = unsigned_ ? cishare_directory_load_unsigned(path, &dir, errstr,
                                                      sizeof(errstr))
                    : cishare_directory_load(path, NULL, &dir, errstr,
                                             sizeof(errstr));
    t1 = now_s();
    if (err) {
        fprintf(stderr, "cishare_policy_bench: %s: %s\n", path, errstr);
        return 1;
    }
    load_ms = (t1 - t0) * 1e3;
    pcnt = cishare_directory_participant_cnt(dir);
    if (pcnt < 4) {
        fprintf(stderr,
                "cishare_policy_bench: %s: fewer than 4 "
                "participants\n",
                path);
        goto done;
    }
    snprintf(red, sizeof(red), "participant:%s,participant:%s,participant:%s",
             cishare_directory_participant(dir, 1)->id,
             cishare_directory_participant(dir, pcnt / 2)->id,
             cishare_directory_participant(dir, pcnt - 1)->id);
    for (m = 0; m < 4; m++)
        if (cishare_audience_parse(mix[m].audience ? mix[m].audience : red,
                                   &aud[m], errstr, sizeof(errstr))) {
            fprintf(stderr, "cishare_policy_bench: audience: %s\n", errstr);
            goto done;
        }
    printf("directory %s: %zu participants, loaded in %.1f ms\n", path, pcnt,
           load_ms);
    t0 = now_s();
    do {
        /* one message per mix entry, against every participant */
        for (m = 0; m < 4; m++) {
            cishare_policy_msg_t msg = {0};
            msg.tlp = mix[m].tlp;
            msg.origin =
                cishare_directory_participant(dir, (n / pcnt) % pcnt)->id;
            msg.audience = &aud[m];
            for (i = 0; i < pcnt; i++) {
                cishare_decision_t d = cishare_policy_decide(
                    dir, &msg, cishare_directory_participant(dir, i),
                    1700000000000LL);
                delivered += d.deliver;
            }
            n += pcnt;
        }
        elapsed = now_s() - t0;
    } while (elapsed < seconds);
    printf("%llu decisions (%llu delivered) in %.2f s\n", n, delivered,
           elapsed);
    printf("RESULT policy_decisions %.0f per_second\n", (double)n / elapsed);
    printf("RESULT directory_load %.1f ms\n", load_ms);
    rc = 0;
done:
    for (m = 0; m < 4; m++)
        cishare_audience_clear(&aud[m]);
    cishare_directory_destroy(dir);
    return rc;
}
