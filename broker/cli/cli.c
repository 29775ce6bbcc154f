#include "cishare/cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int cishare_cli_stop = 0;

void cishare_cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("% ERROR: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cishare_cli_info(const char *fmt, ...)
{
    va_list ap;

    fputs("% ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cishare_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%% ERROR: cishare %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%% Try 'cishare %s --help'.\n", cmd);
    return CISHARE_EXIT_USAGE;
}

void cishare_cli_error_lines(const char *prefix, const char *text)
{
    const char *p = text, *nl;

    for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
        nl = strchr(p, '\n');
        cishare_cli_error("%s%.*s", prefix,
                          (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
    }
}

int cishare_cli_read_file(const char *path, size_t max_size, char **bufp,
                          size_t *lenp, char *errstr, size_t errstr_size)
{
    FILE *fp;
    char *buf = NULL;
    size_t len = 0, cap = 0, r;
    int is_stdin = !strcmp(path, "-");

    fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                goto fail;
            }
            buf = nbuf;
            cap = ncap;
        }
        r = fread(buf + len, 1, cap - len - 1, fp);
        len += r;
        if (len > max_size) {
            snprintf(errstr, errstr_size,
                     "%s: larger than the limit of %zu bytes", path, max_size);
            goto fail;
        }
        if (r == 0) {
            if (ferror(fp)) {
                snprintf(errstr, errstr_size, "%s: read error: %s", path,
                         strerror(errno));
                goto fail;
            }
            break;
        }
    }
    buf[len] = '\0';
    if (!is_stdin)
        fclose(fp);
    *bufp = buf;
    if (lenp)
        *lenp = len;
    return 0;
fail:
    free(buf);
    if (!is_stdin)
        fclose(fp);
    return -1;
}

bool cishare_cli_conf_opt(cishare_cli_conf_t *cc, int c, char *arg)
{
    if (c == 'c')
        cc->path = arg;
    else if (c == 'X')
        cc->xs[cc->nx++] = arg;
    else
        return false;
    return true;
}

int cishare_cli_conf_args(const cishare_cli_conf_t *cc, const char *cmd,
                          int argc, char **argv)
{
    if (optind < argc)
        return cishare_cli_usage_error(cmd, "unexpected argument '%s'",
                                       argv[optind]);
    if (!cc->path)
        return cishare_cli_usage_error(cmd, "-c CONFIG is required");
    return CISHARE_EXIT_OK;
}

int cishare_cli_conf_load(const cishare_cli_conf_t *cc, cishare_config_t *conf,
                          const char *cmd)
{
    char errstr[1024] = "";
    size_t i;

    if (!cc->path)
        return cishare_cli_usage_error(cmd, "-c CONFIG is required");
    if (cishare_config_load(conf, cc->path, errstr, sizeof(errstr))) {
        cishare_cli_error("%s: %s", cmd, errstr);
        return CISHARE_EXIT_USAGE;
    }
    for (i = 0; i < cc->nx; i++)
        if (cishare_config_set_kv(conf, cc->xs[i], errstr, sizeof(errstr))) {
            cishare_cli_error("%s: -X %s: %s", cmd, cc->xs[i], errstr);
            return CISHARE_EXIT_USAGE;
        }
    return CISHARE_EXIT_OK;
}

static void on_signal(int sig)
{
    (void)sig;
    cishare_cli_stop = 1;
}

void cishare_cli_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cishare_cli_run_exit(const char *cmd, cishare_err_t err, const char *errstr)
{
    if (!err)
        return CISHARE_EXIT_OK;
    cishare_cli_error("%s: %s", cmd, errstr);
    return err == CISHARE_ERR_CONFIG || err == CISHARE_ERR_DIRECTORY
               ? CISHARE_EXIT_USAGE
               : CISHARE_EXIT_FAIL;
}
