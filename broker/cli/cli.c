#include "cishare/cli.h"
#include "cishare/log.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int cishare_cli_stop = 0;

/* fmt and ap as a malloc()ed string, NULL without memory. */
static char *vformat(const char *fmt, va_list ap)
{
    va_list aq;
    char *s;
    int n;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0 || !(s = malloc((size_t)n + 1)))
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

/* Every diagnostic goes through log.h: "% ..." text, or JSON. */
static void cli_vlog(cishare_log_level_t level, const char *prefix,
                     const char *fmt, va_list ap)
{
    char *msg = vformat(fmt, ap);

    cishare_log_line(level, prefix, msg ? msg : "out of memory");
    free(msg);
}

void cishare_cli_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_vlog(CISHARE_LOG_ERROR, "% ERROR: ", fmt, ap);
    va_end(ap);
}

/* cishare_log_with() takes a line for a callback: this one. */
static void error_line(void *opaque, const char *line)
{
    (void)opaque;
    cishare_log_line(CISHARE_LOG_ERROR, "% ERROR: ", line);
}

void cishare_cli_error_with(const cishare_log_fields_t *lf, const char *fmt,
                            ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = vformat(fmt, ap);
    va_end(ap);
    cishare_log_with(lf, error_line, NULL, msg ? msg : "out of memory");
    free(msg);
}

void cishare_cli_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cli_vlog(CISHARE_LOG_INFO, "% ", fmt, ap);
    va_end(ap);
}

int cishare_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char *msg, hint[160];
    va_list ap;

    va_start(ap, fmt);
    msg = vformat(fmt, ap);
    va_end(ap);
    snprintf(hint, sizeof(hint), "Try 'cishare %s --help'.", cmd);
    if (cishare_log_format() == CISHARE_LOG_JSON)
        /* one object: the error and its hint together */
        cishare_cli_error("cishare %s: %s (%s)", cmd,
                          msg ? msg : "out of memory", hint);
    else {
        cishare_cli_error("cishare %s: %s", cmd, msg ? msg : "out of memory");
        cishare_cli_info("%s", hint);
    }
    free(msg);
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
    cishare_cli_log_config(conf);
    return CISHARE_EXIT_OK;
}

void cishare_cli_log_config(const cishare_config_t *conf)
{
    const char *v = cishare_config_get(conf, "cishare.log.format");
    cishare_log_format_t fmt;

    /* the config checked the value when it was set */
    if (!cishare_log_format_parse(v, &fmt))
        cishare_log_set_format(fmt, CISHARE_LOG_SRC_CONFIG);
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

int cishare_cli_metrics_start(const char *cmd, const char *listen,
                              const char *component, cishare_metrics_t **mp)
{
    char errstr[512];
    cishare_err_t err;

    *mp = NULL;
    if (!listen)
        return CISHARE_EXIT_OK;
    /* A bad address is the user's to fix (2); a busy port is not (1). */
    if ((err = cishare_metrics_start(listen, component, mp, errstr,
                                     sizeof(errstr)))) {
        if (err == CISHARE_ERR_VALIDATION)
            return cishare_cli_usage_error(cmd, "--metrics: %s", errstr);
        cishare_cli_error("%s: %s", cmd, errstr); /* "metrics: ..." */
        return CISHARE_EXIT_FAIL;
    }
    cishare_cli_info("%s: metrics at http://%s/metrics", cmd,
                     cishare_metrics_address(*mp));
    return CISHARE_EXIT_OK;
}
