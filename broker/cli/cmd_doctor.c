/*
 * cishare doctor: why a participant's feed stays empty. Nine checks, in
 * order, one line each (ok, warn or fail with a reason code, and for a
 * failure what to do). It changes nothing: no trust state is written
 * (the directory is decided with cishare_dirstate_check(), never
 * _accept()), no consumer group is joined or committed to (partitions
 * are assigned, not subscribed), nothing is produced, the state folder is
 * only looked at.
 */
#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/dirstate.h"
#include "cishare/dirtopic.h"
#include "cishare/identity.h"
#include "cishare/keys.h"
#include "cishare/routing.h"
#include "cishare/tls.h"
#include "cishare/topics.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* The checks, in the order they are printed. */
enum {
    C_CONFIG,
    C_DIRECTORY,
    C_ENTRY,
    C_CERT,
    C_CLOCK,
    C_REACH,
    C_ACL,
    C_LAG,
    C_STATE,
    C__CNT
};
static const char *const check_names[C__CNT] = {
    "config",       "directory", "entry", "certificate", "clock",
    "reachability", "acl",       "lag",   "state"};

typedef enum { ST_OK, ST_WARN, ST_FAIL } status_t;
static const char *const status_names[] = {"ok", "warn", "fail"};

typedef struct check_s {
    bool done;
    status_t st;
    char reason[40]; /* kebab-case code; "" when ok */
    char detail[2048];
    char fix[512];
} check_t;

typedef struct doctor_s {
    cishare_config_t *conf;
    const char *pid;
    char state_dir[4096];
    int timeout_ms;
    int64_t max_lag;
    int warn_days;       /* certificate */
    char principal[160]; /* the certificate's; "": the directory's */
    uint64_t min_free;
    check_t c[C__CNT];
    /* the directory (check 2) and its trust state */
    cishare_directory_t *dir;
    const cishare_participant_t *me;
    cishare_dirstate_t st;
    uint8_t pinned[CISHARE_ED25519_PK_BYTES];
    bool tls;      /* security.protocol SSL or SASL_SSL */
    int reachable; /* bootstrap servers that answered */
    /* the Kafka probe */
    rd_kafka_t *rk;
    char klog[512];    /* librdkafka's last error, for details */
    int64_t newest_ts; /* newest LogAppendTime seen, ms; 0: none */
    char newest_at[CISHARE_TOPIC_MAX + 32];
    char *dirtopic_val; /* last version on the directory topic */
    size_t dirtopic_len;
    int64_t dirtopic_off;
} doctor_t;

static void set(doctor_t *d, int c, status_t st, const char *reason,
                const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Record check c's outcome (the first fail wins over later oks/warns). */
static void set(doctor_t *d, int c, status_t st, const char *reason,
                const char *fix, const char *fmt, ...)
{
    check_t *k = &d->c[c];
    va_list ap;

    if (k->done && k->st > st)
        return;
    k->done = true;
    k->st = st;
    snprintf(k->reason, sizeof(k->reason), "%s", reason ? reason : "");
    snprintf(k->fix, sizeof(k->fix), "%s", fix ? fix : "");
    va_start(ap, fmt);
    vsnprintf(k->detail, sizeof(k->detail), fmt, ap);
    va_end(ap);
}

static void not_checked(doctor_t *d, int c, const char *why)
{
    if (!d->c[c].done)
        set(d, c, ST_WARN, "not-checked", NULL, "not checked: %s", why);
}

static void fmt_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- 1. config ---- */

static const char *const required_keys[] = {
    CISHARE_CONF_PARTICIPANT, CISHARE_CONF_DIRECTORY, CISHARE_CONF_KEY};

static bool check_config(doctor_t *d, const cishare_cli_conf_t *cc)
{
    char errstr[1024];
    rd_kafka_conf_t *kc;
    const char *topic;
    size_t i;

    if (cishare_config_load(d->conf, cc->path, errstr, sizeof(errstr))) {
        set(d, C_CONFIG, ST_FAIL, "config-invalid",
            "correct or remove that key ('cishare feed --help' lists the "
            "cishare.* keys)",
            "%s", errstr);
        return false;
    }
    for (i = 0; i < cc->nx; i++)
        if (cishare_config_set_kv(d->conf, cc->xs[i], errstr, sizeof(errstr))) {
            set(d, C_CONFIG, ST_FAIL, "config-invalid", "correct the -X option",
                "-X %s: %s", cc->xs[i], errstr);
            return false;
        }
    for (i = 0; i < sizeof(required_keys) / sizeof(required_keys[0]); i++) {
        const char *v = cishare_config_get(d->conf, required_keys[i]);
        if (!v || !*v) {
            set(d, C_CONFIG, ST_FAIL, "config-missing-key",
                "add the key to the config file", "%s: %s is not set", cc->path,
                required_keys[i]);
            return false;
        }
    }
    if (!cishare_config_get_kafka(d->conf, "bootstrap.servers")) {
        set(d, C_CONFIG, ST_FAIL, "config-missing-key",
            "add the key to the config file",
            "%s: bootstrap.servers is not set", cc->path);
        return false;
    }
    topic = cishare_config_get(d->conf, CISHARE_CONF_DIRECTORY_TOPIC);
    if (topic && cishare_topic_directory_check(topic, errstr, sizeof(errstr))) {
        set(d, C_CONFIG, ST_FAIL, "config-invalid", "correct the key", "%s",
            errstr);
        return false;
    }
    if (!(kc = cishare_config_kafka_conf(d->conf, errstr, sizeof(errstr)))) {
        set(d, C_CONFIG, ST_FAIL, "config-invalid", "correct the key", "%s",
            errstr);
        return false;
    }
    rd_kafka_conf_destroy(kc);
    d->pid = cishare_config_get(d->conf, CISHARE_CONF_PARTICIPANT);
    {
        const char *p = cishare_config_get_kafka(d->conf, "security.protocol");
        d->tls = p && (!strcasecmp(p, "ssl") || !strcasecmp(p, "sasl_ssl"));
    }
    set(d, C_CONFIG, ST_OK, NULL, NULL,
        "%s: every cishare.* key known and valid, participant %s", cc->path,
        d->pid);
    return true;
}

/* ---- 2. directory ---- */

static const char *fix_directory =
    "use the signed directory file of the coordination office "
    "(cishare.directory) with the root key it is signed by "
    "(cishare.root-key, default root.pub beside it)";

/* Decide on the file at path (or the kept copy) against the trust state,
 * reading and writing nothing else. */
static void check_directory(doctor_t *d)
{
    const char *path = cishare_config_get(d->conf, CISHARE_CONF_DIRECTORY);
    const char *root = cishare_config_get(d->conf, CISHARE_CONF_ROOT_KEY);
    char spath[4200], kpath[4200], errstr[1024], e2[512], when[32];
    char *buf = NULL, *kbuf = NULL;
    size_t len = 0, klen = 0;
    cishare_dirstate_t next;
    cishare_directory_t *kept = NULL, *plain = NULL;
    int64_t now = cishare_time_now_ms();
    const char *note = "";

    snprintf(spath, sizeof(spath), "%s/%s", d->state_dir,
             CISHARE_DIRSTATE_FILE);
    snprintf(kpath, sizeof(kpath), "%s/%s", d->state_dir,
             CISHARE_DIRSTATE_KEPT_FILE);
    if (cishare_directory_root_pub_load(path, root, d->pinned, errstr,
                                        sizeof(errstr))) {
        set(d, C_DIRECTORY, ST_FAIL, "directory-root-key", fix_directory, "%s",
            errstr);
        return;
    }
    if (cishare_dirstate_read(spath, &d->st, errstr, sizeof(errstr))) {
        set(d, C_DIRECTORY, ST_FAIL, "directory-state",
            "restore the state file from a backup, or ask the coordination "
            "office before removing it (it guards against rollback)",
            "%s", errstr);
        return;
    }
    if (cishare_directory_read_file(path, &buf, &len, errstr, sizeof(errstr))) {
        set(d, C_DIRECTORY, ST_FAIL, "directory-unreadable", fix_directory,
            "%s", errstr);
        return;
    }
    /* the kept copy of the last accepted version, as a feed uses it */
    if (access(kpath, F_OK) == 0 &&
        !cishare_directory_read_file(kpath, &kbuf, &klen, e2, sizeof(e2)) &&
        cishare_dirstate_check(&d->st, d->pinned, kpath, kbuf, klen, now, spath,
                               &kept, &next, e2, sizeof(e2)))
        kept = NULL;
    if (!cishare_dirstate_check(&d->st, d->pinned, path, buf, len, now, spath,
                                &d->dir, &next, errstr, sizeof(errstr))) {
        if (kept &&
            cishare_directory_serial(kept) > cishare_directory_serial(d->dir)) {
            cishare_directory_destroy(d->dir);
            d->dir = kept;
            kept = NULL;
            note = " (the kept copy in the state folder: newer than the file)";
        }
    } else if (kept &&
               !cishare_directory_load(path, root, &plain, e2, sizeof(e2)) &&
               cishare_directory_serial(plain) <
                   cishare_directory_serial(kept)) {
        /* an older genuine file: a feed uses the kept copy */
        d->dir = kept;
        kept = NULL;
        note = " (the kept copy in the state folder: the file is older)";
    } else {
        const char *reason = "directory-refused";
        cishare_directory_destroy(plain);
        plain = NULL;
        if (cishare_directory_load(path, root, &plain, e2, sizeof(e2)))
            reason = strstr(e2, "sign") ? "directory-signature"
                                        : "directory-invalid";
        else if (cishare_directory_check_expiry(plain, path, now, e2,
                                                sizeof(e2)))
            reason = "directory-expired";
        else if (d->st.serial && cishare_directory_serial(plain) < d->st.serial)
            reason = "directory-rollback";
        set(d, C_DIRECTORY, ST_FAIL, reason, fix_directory, "%s", errstr);
        goto out;
    }
    fmt_time(cishare_directory_expires_ms(d->dir), when, sizeof(when));
    if (cishare_directory_expires_ms(d->dir) - now < 7LL * 86400 * 1000)
        set(d, C_DIRECTORY, ST_WARN, "directory-expiring",
            "ask the coordination office for the next signed version",
            "serial %" PRIu64 " signed by root key %s, expires %s (in less "
            "than 7 days)%s",
            cishare_directory_serial(d->dir),
            cishare_directory_signer_key_id(d->dir), when, note);
    else
        set(d, C_DIRECTORY, ST_OK, NULL, NULL,
            "serial %" PRIu64 " signed by root key %s, expires %s%s",
            cishare_directory_serial(d->dir),
            cishare_directory_signer_key_id(d->dir), when, note);
out:
    cishare_directory_destroy(kept);
    cishare_directory_destroy(plain);
    free(buf);
    free(kbuf);
}

/* The newest version on the directory topic, decided as a feed would. */
static void check_directory_topic(doctor_t *d)
{
    const char *topic =
        cishare_config_get(d->conf, CISHARE_CONF_DIRECTORY_TOPIC);
    char name[CISHARE_TOPIC_MAX + 32], errstr[1024];
    cishare_directory_t *nd = NULL;
    cishare_dirstate_t next;
    check_t *k = &d->c[C_DIRECTORY];
    size_t n = strlen(k->detail);

    if (!d->dir || !d->dirtopic_val)
        return;
    if (!topic)
        topic = CISHARE_DIRTOPIC_DEFAULT;
    snprintf(name, sizeof(name), "%s@%" PRId64, topic, d->dirtopic_off);
    switch (cishare_dirtopic_decide(&d->st, d->pinned, d->dir, name,
                                    d->dirtopic_val, d->dirtopic_len,
                                    cishare_time_now_ms(), d->state_dir, &nd,
                                    &next, errstr, sizeof(errstr))) {
    case CISHARE_DIRTOPIC_APPLY:
        snprintf(k->detail + n, sizeof(k->detail) - n,
                 "; %s holds serial %" PRIu64 " (newer: a feed applies it "
                 "at start)",
                 name, cishare_directory_serial(nd));
        break;
    case CISHARE_DIRTOPIC_SAME:
        snprintf(k->detail + n, sizeof(k->detail) - n, "; %s holds the same",
                 name);
        break;
    case CISHARE_DIRTOPIC_REFUSE:
        set(d, C_DIRECTORY, ST_WARN, "directory-topic-refused",
            "tell the coordination office: the directory topic's newest "
            "version is refused",
            "%s; %s", k->detail, errstr);
        break;
    }
    cishare_directory_destroy(nd);
}

/* ---- 3. own entry and keys ---- */

static void check_entry(doctor_t *d)
{
    const char *key = cishare_config_get(d->conf, CISHARE_CONF_KEY);
    const cishare_signing_key_t *k;
    cishare_keypair_t kp;
    char errstr[1024], why[512];
    int64_t now = cishare_time_now_ms();

    if (!(d->me = cishare_directory_find(d->dir, d->pid))) {
        set(d, C_ENTRY, ST_FAIL, "entry-missing",
            "correct cishare.participant, or ask the coordination office to "
            "add this participant to the directory",
            "participant '%s' is not in directory serial %" PRIu64, d->pid,
            cishare_directory_serial(d->dir));
        return;
    }
    if (cishare_keypair_load(&kp, key, errstr, sizeof(errstr))) {
        set(d, C_ENTRY, ST_FAIL, "key-unreadable",
            "point cishare.key at this participant's secret key file", "%s",
            errstr);
        return;
    }
    k = cishare_directory_signing_key(d->dir, kp.key_id);
    if (!k || k->owner != d->me ||
        memcmp(kp.ed25519_pk, k->ed25519_pk, CISHARE_ED25519_PK_BYTES) ||
        (k->current &&
         memcmp(kp.x25519_pk, d->me->x25519_pk, CISHARE_X25519_PK_BYTES)))
        set(d, C_ENTRY, ST_FAIL, "key-mismatch",
            "use the key file whose public keys the directory holds, or send "
            "the new public keys to the coordination office",
            "%s: key %s is not a key of '%s' in the directory (its current "
            "key is %s)",
            key, kp.key_id, d->pid, d->me->key_id);
    else if (cishare_key_check(k, now, now, why, sizeof(why)))
        set(d, C_ENTRY, ST_FAIL, "key-invalid",
            "use the current key of the participant", "%s: %s", key, why);
    else if (!k->current)
        set(d, C_ENTRY, ST_WARN, "key-previous",
            "switch cishare.key to the current key before the overlap ends",
            "%s: key %s is a previous key of '%s' (current: %s)", key,
            kp.key_id, d->pid, d->me->key_id);
    else
        set(d, C_ENTRY, ST_OK, NULL, NULL,
            "'%s' (%s) is in the directory; %s is its current key %s", d->pid,
            d->me->principal, key, kp.key_id);
    cishare_keypair_wipe(&kp);
}

/* ---- 4. certificate ---- */

static const char *fix_renew =
    "renew it: deploy/pki/cishare-ca request, then sign by the cluster CA "
    "(deploy/pki/README.md), and set ssl.certificate.location/"
    "ssl.key.location";

static void name_entry(X509_NAME *n, int nid, char *buf, size_t size)
{
    buf[0] = '\0';
    if (X509_NAME_get_text_by_NID(n, nid, buf, (int)size) < 0)
        buf[0] = '\0';
}

/* RFC 2253, as tls.c and deploy/pki name subjects */
static void name_rfc2253(X509_NAME *n, char *buf, size_t size)
{
    BIO *b = BIO_new(BIO_s_mem());
    int len = 0;

    buf[0] = '\0';
    if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
        (len = BIO_read(b, buf, (int)size - 1)) > 0)
        buf[len] = '\0';
    BIO_free(b);
}

static void check_cert(doctor_t *d)
{
    const char *crt =
        cishare_config_get_kafka(d->conf, "ssl.certificate.location");
    const char *ca = cishare_config_get_kafka(d->conf, "ssl.ca.location");
    char errstr[1024], subj[256] = "", iss[256] = "", cn[128], ou[64];
    cishare_tls_info_t info;
    X509 *x = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    BIO *bio;
    int days = 0, secs = 0;

    memset(&info, 0, sizeof(info));
    if (!d->tls) {
        bool w = cishare_tls_plaintext_warn(d->conf, &info);
        set(d, C_CERT, w ? ST_WARN : ST_OK, w ? "tls-plaintext" : NULL,
            "set security.protocol=SSL and the certificate keys",
            "security.protocol is plaintext: no certificate presented");
        return;
    }
    if (crt) {
        if (!(bio = BIO_new_file(crt, "r")) ||
            !(x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
            BIO_free(bio);
            set(d, C_CERT, ST_FAIL, "cert-unreadable", fix_renew,
                "ssl.certificate.location %s: not a readable PEM certificate",
                crt);
            return;
        }
        BIO_free(bio);
        name_rfc2253(X509_get_subject_name(x), subj, sizeof(subj));
        name_rfc2253(X509_get_issuer_name(x), iss, sizeof(iss));
        if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
            set(d, C_CERT, ST_FAIL, "cert-not-yet-valid",
                "check this machine's clock, or wait until the certificate "
                "is valid",
                "%s (%s) is not valid yet", crt, subj);
            goto out;
        }
        if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
            BIO *b = BIO_new(BIO_s_mem());
            char end[64] = "";
            int l;
            if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) &&
                (l = BIO_read(b, end, sizeof(end) - 1)) > 0)
                end[l] = '\0';
            BIO_free(b);
            ASN1_TIME_diff(&days, &secs, X509_get0_notAfter(x), NULL);
            set(d, C_CERT, ST_FAIL, "cert-expired", fix_renew,
                "%s (%s) expired on %s (%d days ago)", crt, subj, end, days);
            goto out;
        }
        /* the issuer, without the dates (reported above) */
        if (ca) {
            store = X509_STORE_new();
            ctx = X509_STORE_CTX_new();
            if (!store || !ctx || X509_STORE_load_file(store, ca) != 1) {
                set(d, C_CERT, ST_FAIL, "cert-ca-unreadable",
                    "point ssl.ca.location at the cluster CA certificate",
                    "ssl.ca.location %s: not a readable PEM certificate", ca);
                goto out;
            }
            X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME);
            if (X509_STORE_CTX_init(ctx, store, x, NULL) != 1 ||
                X509_verify_cert(ctx) != 1) {
                set(d, C_CERT, ST_FAIL, "cert-issuer",
                    "use a certificate issued by the cluster CA, or set "
                    "ssl.ca.location to the cluster's CA",
                    "%s was issued by %s, not by the CA of %s (%s)", crt, iss,
                    ca,
                    X509_verify_cert_error_string(
                        X509_STORE_CTX_get_error(ctx)));
                goto out;
            }
        }
        name_entry(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
        name_entry(X509_get_subject_name(x), NID_organizationalUnitName, ou,
                   sizeof(ou));
        /* the principal the broker sees, for the acl check's detail */
        snprintf(d->principal, sizeof(d->principal), "User:%s%s", cn,
                 strcmp(ou, "participant") ? "@cluster" : "");
        if (strcmp(cn, d->pid) || strcmp(ou, "participant")) {
            set(d, C_CERT, ST_FAIL, "cert-name",
                "use a certificate with subject CN=<participant "
                "id>,OU=participant,O=cishare (deploy/pki/README.md)",
                "%s is for %s, but this client is participant '%s' "
                "(CN=%s,OU=participant)",
                crt, subj, d->pid, d->pid);
            goto out;
        }
    }
    /* the rest (key matches, usage, directory principal): tls.c */
    if (cishare_tls_preflight(d->conf, d->dir, d->pid, 0, &info, errstr,
                              sizeof(errstr))) {
        set(d, C_CERT, ST_FAIL, "cert-refused", fix_renew, "%s", errstr);
        goto out;
    }
    if (x)
        ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
    if (x && days < d->warn_days)
        set(d, C_CERT, ST_WARN, "cert-expiring", fix_renew,
            "%s expires %s, in %d days (less than %d)", info.subject,
            info.not_after_str, days, d->warn_days);
    else
        set(d, C_CERT, ST_OK, NULL, NULL,
            "%s issued by %s, valid until %s (%d days)", info.subject,
            info.issuer, info.not_after_str, days);
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(x);
}

/* ---- 6. reachability ---- */

/* Connect to host:port within timeout_ms: the socket, or -1 (why set). */
static int tcp_connect(const char *host, const char *port, int timeout_ms,
                       char *why, size_t why_size)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    int fd = -1, rc;

    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(host, port, &hints, &res))) {
        snprintf(why, why_size, "cannot resolve %s: %s", host,
                 gai_strerror(rc));
        return -1;
    }
    snprintf(why, why_size, "no address");
    for (ai = res; ai; ai = ai->ai_next) {
        struct pollfd p;
        int err = 0;
        socklen_t el = sizeof(err);

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            p.fd = fd;
            p.events = POLLOUT;
            rc = poll(&p, 1, timeout_ms);
            if (rc == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) &&
                !err)
                break;
            snprintf(why, why_size, "%s",
                     rc == 0 ? "no answer (timed out)" : strerror(err));
        } else
            snprintf(why, why_size, "%s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Wait for fd to be readable/writable as SSL asks; false on timeout. */
static bool ssl_wait(int fd, int sslerr, int64_t deadline)
{
    struct pollfd p = {
        .fd = fd, .events = sslerr == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};
    int64_t left = deadline - cishare_time_now_ms();
    return left > 0 && poll(&p, 1, (int)left) == 1;
}

static void ssl_errstr(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "connection closed");
    ERR_clear_error();
}

/* A TLS handshake as librdkafka does it (this CA, this certificate, the
 * broker's name checked unless ssl.endpoint.identification.algorithm is
 * none), then a short wait for the alert a TLS 1.3 server sends after
 * the handshake when it refuses the client certificate. 0, or -1 with
 * why and *reason set. */
static int tls_probe(doctor_t *d, int fd, const char *host, const char **reason,
                     char *why, size_t why_size)
{
    const cishare_config_t *c = d->conf;
    const char *ca = cishare_config_get_kafka(c, "ssl.ca.location");
    const char *crt = cishare_config_get_kafka(c, "ssl.certificate.location");
    const char *key = cishare_config_get_kafka(c, "ssl.key.location");
    const char *pw = cishare_config_get_kafka(c, "ssl.key.password");
    const char *eia =
        cishare_config_get_kafka(c, "ssl.endpoint.identification.algorithm");
    int64_t deadline = cishare_time_now_ms() + d->timeout_ms;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    int rc = -1, r;
    char e[256];

    *reason = "tls-error";
    if (!ctx)
        goto out;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (pw)
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)pw);
    if ((ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) ||
        (!ca && SSL_CTX_set_default_verify_paths(ctx) != 1) ||
        (crt && SSL_CTX_use_certificate_chain_file(ctx, crt) != 1) ||
        (key && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)) {
        ssl_errstr(e, sizeof(e));
        snprintf(why, why_size, "TLS settings refused: %s", e);
        goto out;
    }
    if (!(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, fd) != 1)
        goto out;
    if (!eia || strcasecmp(eia, "none")) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        if (!X509_VERIFY_PARAM_set1_ip_asc(vp, host)) {
            SSL_set1_host(ssl, host);
            SSL_set_tlsext_host_name(ssl, host);
        }
    }
    while ((r = SSL_connect(ssl)) != 1) {
        int se = SSL_get_error(ssl, r);
        if ((se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) &&
            ssl_wait(fd, se, deadline))
            continue;
        if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
            snprintf(why, why_size, "TLS handshake timed out");
        else if (SSL_get_verify_result(ssl) != X509_V_OK) {
            *reason = "broker-untrusted";
            snprintf(why, why_size, "broker certificate refused: %s",
                     X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
        } else {
            ssl_errstr(e, sizeof(e));
            snprintf(why, why_size, "TLS handshake failed: %s", e);
        }
        goto out;
    }
    /* TLS 1.3: the server judges our certificate after its Finished */
    deadline =
        cishare_time_now_ms() + (d->timeout_ms < 1000 ? d->timeout_ms : 1000);
    for (;;) {
        char b[64];
        int se;
        r = SSL_read(ssl, b, sizeof(b));
        se = SSL_get_error(ssl, r);
        if (r > 0 || (se == SSL_ERROR_WANT_READ && ssl_wait(fd, se, deadline)))
            continue;
        if (se == SSL_ERROR_WANT_READ) { /* quiet: accepted */
            rc = 0;
            snprintf(why, why_size, "%s", SSL_get_version(ssl));
            break;
        }
        ssl_errstr(e, sizeof(e));
        *reason = "client-refused";
        snprintf(why, why_size,
                 "the broker refused the client certificate "
                 "after the handshake: %s",
                 e);
        break;
    }
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return rc;
}

static void check_reach(doctor_t *d)
{
    const char *bs = cishare_config_get_kafka(d->conf, "bootstrap.servers");
    char *list = strdup(bs), *save = NULL, *s;
    char detail[2048] = "", why[512];
    const char *bad_reason = NULL;
    size_t n = 0;
    int total = 0;

    if (!list)
        return;
    for (s = strtok_r(list, ", ", &save); s; s = strtok_r(NULL, ", ", &save)) {
        char *host = s, *port, *p = strstr(s, "://");
        const char *reason = NULL;
        bool tcp_failed = false;
        int fd;

        if (p)
            host = p + 3;
        if (*host == '[' && (p = strchr(host, ']'))) { /* [v6]:port */
            *p = '\0';
            host++;
            port = p[1] == ':' ? p + 2 : "9092";
        } else if ((p = strrchr(host, ':'))) {
            *p = '\0';
            port = p + 1;
        } else
            port = "9092";
        total++;
        fd = tcp_connect(host, port, d->timeout_ms, why, sizeof(why));
        if (fd < 0) {
            reason = "broker-unreachable";
            tcp_failed = true;
        } else if (d->tls && tls_probe(d, fd, host, &reason, why, sizeof(why)))
            ;
        else {
            reason = NULL;
            d->reachable++;
            n += (size_t)snprintf(detail + n, sizeof(detail) - n,
                                  "%s%s:%s tcp ok, %s %s", n ? "; " : "", host,
                                  port, d->tls ? "tls ok" : "plaintext",
                                  d->tls ? why : "");
        }
        if (fd >= 0)
            close(fd);
        if (reason) {
            if (!bad_reason || tcp_failed)
                bad_reason = reason;
            n += (size_t)snprintf(
                detail + n, sizeof(detail) - n, "%s%s:%s %s: %s", n ? "; " : "",
                host, port, tcp_failed ? "tcp failed" : "tcp ok, tls failed",
                why);
        }
        if (n >= sizeof(detail))
            n = sizeof(detail) - 1;
    }
    free(list);
    if (!bad_reason)
        set(d, C_REACH, ST_OK, NULL, NULL, "%s", detail);
    else
        set(d, C_REACH, d->reachable ? ST_WARN : ST_FAIL, bad_reason,
            !strcmp(bad_reason, "broker-unreachable")
                ? "check bootstrap.servers, the network path and firewall, "
                  "and that the brokers run"
                : "check the certificate (check 4), ssl.ca.location and that "
                  "the broker's certificate names this address",
            "%d of %d bootstrap servers: %s", total - d->reachable, total,
            detail);
}

/* ---- 7, 8, 5: the Kafka probe (ACLs, lag, clock) ---- */

static void probe_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
    doctor_t *d = rd_kafka_opaque(rk);
    (void)fac;
    if (level <= 4) /* keep the last warning for a detail; print nothing */
        snprintf(d->klog, sizeof(d->klog), "%s", buf);
}

static void probe_error_cb(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
    doctor_t *d = opaque;
    (void)rk;
    (void)err;
    snprintf(d->klog, sizeof(d->klog), "%s", reason);
}

static cishare_err_t probe_open(doctor_t *d, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc =
        cishare_config_kafka_conf(d->conf, errstr, errstr_size);
    char group[CISHARE_TOPIC_MAX], v[32];

    if (!kc)
        return CISHARE_ERR_CONFIG;
    if (!cishare_config_get_kafka(d->conf, "group.id")) {
        cishare_topic_feed_group(d->pid, group, sizeof(group));
        rd_kafka_conf_set(kc, "group.id", group, NULL, 0);
    }
    snprintf(v, sizeof(v), "%d", d->timeout_ms);
    /* nothing is committed, nothing joined: assign() only */
    if (rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "allow.auto.create.topics", "false", errstr,
                          errstr_size) ||
        rd_kafka_conf_set(kc, "socket.timeout.ms", v, errstr, errstr_size)) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_CONFIG;
    }
    rd_kafka_conf_set_opaque(kc, d);
    rd_kafka_conf_set_log_cb(kc, probe_log_cb);
    rd_kafka_conf_set_error_cb(kc, probe_error_cb);
    if (!(d->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CISHARE_ERR_KAFKA;
    }
    rd_kafka_poll_set_consumer(d->rk);
    return CISHARE_OK;
}

/* One topic's state after the probe. */
typedef struct ptopic_s {
    const char *name;
    bool read, write; /* needed by the feed / allowed to publish */
    bool optional;    /* the directory topic: a feed runs without it */
    rd_kafka_resp_err_t meta_err;
    int partitions;
    rd_kafka_resp_err_t fetch_err;
    int pending; /* partitions not yet answered */
} ptopic_t;

static ptopic_t *ptopic_find(ptopic_t *t, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

/* Append "name, name, ..." of the topics matching pred to buf. */
static size_t list_topics(char *buf, size_t size, const ptopic_t *t, size_t n,
                          bool (*pred)(const ptopic_t *))
{
    size_t i, len = 0, cnt = 0;
    buf[0] = '\0';
    for (i = 0; i < n; i++)
        if (pred(&t[i])) {
            if (len < size)
                len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                        cnt ? ", " : "", t[i].name);
            cnt++;
        }
    return cnt;
}

static bool p_missing(const ptopic_t *t)
{
    return !t->optional &&
           t->meta_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}
static bool p_optional_bad(const ptopic_t *t)
{
    return t->optional && (t->meta_err || t->fetch_err);
}
static bool p_read_denied(const ptopic_t *t)
{
    return t->read && !t->optional && !p_missing(t) &&
           (t->meta_err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
            t->fetch_err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
}
static bool p_read_other(const ptopic_t *t)
{
    return t->read && !t->optional && !p_missing(t) && !p_read_denied(t) &&
           (t->meta_err || t->fetch_err || t->pending);
}
static bool p_write_denied(const ptopic_t *t)
{
    return t->write &&
           t->meta_err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
}
static bool p_write_unconfirmed(const ptopic_t *t)
{
    return t->write && t->read && !t->meta_err;
}

/* Gather the topics: the feed's (READ) and those the ACL model lets this
 * participant write (the publish routes), plus the directory topic. */
static cishare_err_t probe_topics(doctor_t *d, cishare_strlist_t *feed,
                                  cishare_strlist_t *all,
                                  cishare_acl_set_t *acls, char *errstr,
                                  size_t errstr_size)
{
    const char *dt = cishare_config_get(d->conf, CISHARE_CONF_DIRECTORY_TOPIC);
    cishare_err_t err;

    if ((err = cishare_routing_feed_topics(d->me, feed)) ||
        (err = cishare_strlist_add(feed, dt ? dt : CISHARE_DIRTOPIC_DEFAULT)) ||
        (err =
             cishare_topics_for_directory(d->dir, all, errstr, errstr_size)) ||
        (err = cishare_acls_for_participant(d->dir, d->me, acls)))
        return err;
    cishare_strlist_sort(feed);
    return CISHARE_OK;
}

static void probe(doctor_t *d)
{
    cishare_strlist_t feed = {0}, all = {0};
    cishare_acl_set_t acls = {0};
    ptopic_t *t = NULL;
    size_t n = 0, i;
    int j, pending = 0;
    char errstr[1024];
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t kerr;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t deadline;

    if (probe_topics(d, &feed, &all, &acls, errstr, sizeof(errstr)) ||
        !(t = calloc(feed.cnt + all.cnt, sizeof(*t)))) {
        set(d, C_ACL, ST_FAIL, "internal", NULL, "topics: %s", errstr);
        goto out;
    }
    for (i = 0; i < feed.cnt; i++) {
        t[n].name = feed.items[i];
        t[n].optional = !strncmp(feed.items[i], CISHARE_TOPIC_DIRECTORY,
                                 strlen(CISHARE_TOPIC_DIRECTORY));
        t[n++].read = true;
    }
    for (i = 0; i < all.cnt; i++)
        if (cishare_acl_allows(&acls, d->me->principal, RD_KAFKA_RESOURCE_TOPIC,
                               all.items[i], RD_KAFKA_ACL_OPERATION_WRITE)) {
            ptopic_t *p = ptopic_find(t, n, all.items[i]);
            if (!p) {
                p = &t[n++];
                p->name = all.items[i];
            }
            p->write = true;
        }
    if (probe_open(d, errstr, sizeof(errstr))) {
        set(d, C_ACL, ST_FAIL, "kafka-client", NULL, "%s", errstr);
        goto out;
    }
    /* Metadata of every topic this principal may DESCRIBE (READ and WRITE
     * imply it); one of ours missing there is asked for by name, which
     * tells a missing topic from a refused one. */
    if ((kerr = rd_kafka_metadata(d->rk, 1, NULL, &md, d->timeout_ms))) {
        set(d, C_ACL, ST_FAIL, "broker-unreachable",
            "see the reachability check", "metadata: %s%s%s",
            rd_kafka_err2str(kerr), d->klog[0] ? "; " : "", d->klog);
        goto out;
    }
    for (i = 0; i < n; i++) {
        t[i].meta_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        for (j = 0; j < md->topic_cnt; j++)
            if (!strcmp(md->topics[j].topic, t[i].name)) {
                t[i].meta_err = md->topics[j].err;
                t[i].partitions = md->topics[j].partition_cnt;
            }
    }
    rd_kafka_metadata_destroy(md);
    md = NULL;
    for (i = 0; i < n; i++) {
        rd_kafka_topic_t *rkt;
        if (t[i].meta_err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        if (!(rkt = rd_kafka_topic_new(d->rk, t[i].name, NULL)))
            continue;
        if (!rd_kafka_metadata(d->rk, 0, rkt, &md, d->timeout_ms) &&
            md->topic_cnt == 1)
            t[i].meta_err = md->topics[0].err;
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        rd_kafka_topic_destroy(rkt);
    }

    /* READ: fetch the last record of each partition (its LogAppendTime
     * is the broker's clock). Assigned, not subscribed: no group. */
    parts = rd_kafka_topic_partition_list_new(16);
    for (i = 0; i < n; i++) {
        if (!t[i].read || t[i].meta_err)
            continue;
        for (j = 0; j < t[i].partitions; j++)
            rd_kafka_topic_partition_list_add(parts, t[i].name, j)->offset =
                RD_KAFKA_OFFSET_TAIL(1);
        t[i].pending = t[i].partitions;
        pending += t[i].partitions;
    }
    if (parts->cnt && (kerr = rd_kafka_assign(d->rk, parts))) {
        set(d, C_ACL, ST_FAIL, "kafka-client", NULL, "assign: %s",
            rd_kafka_err2str(kerr));
        goto out;
    }
    deadline = cishare_time_now_ms() + 2 * d->timeout_ms;
    while (pending > 0 && cishare_time_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->rk, 100);
        ptopic_t *p;
        if (!m)
            continue;
        p = m->rkt ? ptopic_find(t, n, rd_kafka_topic_name(m->rkt)) : NULL;
        if (p && m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (!p->fetch_err) {
                p->fetch_err = m->err;
                pending -= p->pending;
                p->pending = 0;
            }
        } else if (p && p->pending > 0) {
            rd_kafka_timestamp_type_t tst;
            int64_t ts = rd_kafka_message_timestamp(m, &tst);
            p->pending--;
            pending--;
            if (!m->err && tst == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME &&
                ts > d->newest_ts) {
                d->newest_ts = ts;
                snprintf(d->newest_at, sizeof(d->newest_at),
                         "%s [%" PRId32 "] @%" PRId64, p->name, m->partition,
                         m->offset);
            }
            if (!m->err && !strncmp(p->name, CISHARE_TOPIC_DIRECTORY,
                                    strlen(CISHARE_TOPIC_DIRECTORY))) {
                free(d->dirtopic_val);
                if ((d->dirtopic_val = malloc(m->len + 1))) {
                    memcpy(d->dirtopic_val, m->payload, m->len);
                    d->dirtopic_val[m->len] = '\0';
                    d->dirtopic_len = m->len;
                    d->dirtopic_off = m->offset;
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    {
        char b1[1024], b2[1024];
        size_t nmiss, nrd, nro, nwd, nwu, nread = 0, nwrite = 0;
        for (i = 0; i < n; i++) {
            nread += t[i].read;
            nwrite += t[i].write;
        }
        if ((nmiss = list_topics(b1, sizeof(b1), t, n, p_missing)))
            set(d, C_ACL, ST_FAIL, "topic-unknown",
                "ask the cluster administrator to run 'cishare provision' "
                "with the current directory",
                "%zu topics do not exist: %s", nmiss, b1);
        else if ((nwd = list_topics(b1, sizeof(b1), t, n, p_write_denied)) +
                     (nrd = list_topics(b2, sizeof(b2), t, n, p_read_denied)) >
                 0) {
            char msg[2200];
            size_t m = 0;
            if (nrd)
                m += (size_t)snprintf(msg, sizeof(msg), "READ refused on %s",
                                      b2);
            if (nwd)
                snprintf(msg + m, sizeof(msg) - m, "%sWRITE refused on %s",
                         m ? "; " : "", b1);
            set(d, C_ACL, ST_FAIL, nrd ? "acl-read-denied" : "acl-write-denied",
                "ask the cluster administrator to run 'cishare provision' "
                "(it grants the ACLs of deploy/TOPICS.md from the directory)",
                "%s as %s", msg,
                d->principal[0] ? d->principal : d->me->principal);
        } else if ((nro = list_topics(b1, sizeof(b1), t, n, p_read_other)))
            set(d, C_ACL, ST_WARN, "acl-read-unknown",
                "run again; if it stays, look at the broker's log",
                "%zu topics gave no answer in time or another error: %s%s%s",
                nro, b1, d->klog[0] ? "; " : "", d->klog);
        else {
            nwu = list_topics(b1, sizeof(b1), t, n, p_write_unconfirmed);
            if (nwu)
                set(d, C_ACL, ST_OK, NULL, NULL,
                    "READ on the feed's %zu topics (fetched); WRITE on %zu "
                    "topics (described; %zu of them also readable, where "
                    "WRITE cannot be told from READ without writing)",
                    nread, nwrite, nwu);
            else
                set(d, C_ACL, ST_OK, NULL, NULL,
                    "READ on the feed's %zu topics (fetched); WRITE on %zu "
                    "topics (described)",
                    nread, nwrite);
            /* a feed goes on without the directory topic (dirtopic.h) */
            if (list_topics(b1, sizeof(b1), t, n, p_optional_bad)) {
                size_t l = strlen(d->c[C_ACL].detail);
                snprintf(b2, sizeof(b2), "%.*s", (int)l, d->c[C_ACL].detail);
                set(d, C_ACL, ST_WARN, "directory-topic-unreadable",
                    "ask the cluster administrator to run 'cishare "
                    "provision' (feeds learn of a new directory only at a "
                    "restart meanwhile)",
                    "%s; but the directory topic %s cannot be read", b2, b1);
            }
        }
    }

    /* 8. lag: the group's committed offsets against the high watermarks */
    {
        rd_kafka_topic_partition_list_t *c =
            rd_kafka_topic_partition_list_new(parts->cnt);
        char group[CISHARE_TOPIC_MAX];
        const char *g = cishare_config_get_kafka(d->conf, "group.id");
        int64_t lag = 0;
        int committed = 0;

        if (!g) {
            cishare_topic_feed_group(d->pid, group, sizeof(group));
            g = group;
        }
        for (j = 0; j < parts->cnt; j++)
            if (strncmp(parts->elems[j].topic, CISHARE_TOPIC_DIRECTORY,
                        strlen(CISHARE_TOPIC_DIRECTORY)))
                rd_kafka_topic_partition_list_add(c, parts->elems[j].topic,
                                                  parts->elems[j].partition);
        /* a coordinator still loading (a fresh cluster) answers so at
         * first: ask again, within the time of one step */
        for (j = 0; j < 5; j++) {
            kerr = c->cnt ? rd_kafka_committed(d->rk, c, d->timeout_ms)
                          : RD_KAFKA_RESP_ERR_NO_ERROR;
            if (kerr != RD_KAFKA_RESP_ERR_NOT_COORDINATOR &&
                kerr != RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS &&
                kerr != RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE)
                break;
            usleep((useconds_t)d->timeout_ms * 200);
        }
        if (kerr == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
            set(d, C_LAG, ST_FAIL, "acl-group-denied",
                "ask the cluster administrator to run 'cishare provision'",
                "group %s: %s", g, rd_kafka_err2str(kerr));
        else if (kerr)
            set(d, C_LAG, ST_WARN, "lag-unknown", NULL,
                "group %s: committed offsets: %s", g, rd_kafka_err2str(kerr));
        else {
            for (j = 0; j < c->cnt; j++)
                committed += c->elems[j].offset >= 0;
            /* once the group has committed, a partition it has not (no
             * record there until now) is read from its beginning: all of
             * it is lag */
            for (j = 0; committed && j < c->cnt; j++) {
                int64_t lo, hi, from;
                if (rd_kafka_query_watermark_offsets(d->rk, c->elems[j].topic,
                                                     c->elems[j].partition, &lo,
                                                     &hi, d->timeout_ms))
                    continue;
                from = c->elems[j].offset >= 0 ? c->elems[j].offset : lo;
                if (hi > from)
                    lag += hi - from;
            }
            if (!committed)
                set(d, C_LAG, ST_OK, NULL, NULL,
                    "group %s has committed nothing yet (a feed starting "
                    "reads every partition from its beginning)",
                    g);
            else if (lag > d->max_lag)
                set(d, C_LAG, ST_WARN, "lag-high",
                    "check that the feed runs (and keeps up: "
                    "cishare feed --threads)",
                    "group %s is %" PRId64 " messages behind on %d partitions "
                    "(more than %" PRId64 ")",
                    g, lag, c->cnt, d->max_lag);
            else
                set(d, C_LAG, ST_OK, NULL, NULL,
                    "group %s is %" PRId64 " messages behind on %d "
                    "partitions",
                    g, lag, c->cnt);
        }
        rd_kafka_topic_partition_list_destroy(c);
    }
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    free(t);
    cishare_strlist_clear(&feed);
    cishare_strlist_clear(&all);
    cishare_acl_set_clear(&acls);
}

/* ---- 5. clock ---- */

/* Kafka has no time API. The one broker clock a client can read without
 * writing is the LogAppendTime of a record (the feed topics have it): the
 * broker's time when the newest record arrived, a lower bound of the
 * broker's time now. So a clock behind shows; one ahead cannot. */
static void check_clock(doctor_t *d)
{
    int64_t now = cishare_time_now_ms();
    char when[32];

    if (!d->newest_ts) {
        if (!d->c[C_CLOCK].done)
            set(d, C_CLOCK, ST_WARN, "clock-unmeasured",
                "compare with NTP (timedatectl, chronyc tracking)",
                "cannot measure: no broker-stamped record readable (empty or "
                "unreadable topics)");
        return;
    }
    fmt_time(d->newest_ts, when, sizeof(when));
    if (now + 2000 < d->newest_ts)
        set(d, C_CLOCK, ST_FAIL, "clock-behind",
            "synchronise this machine's clock (NTP: timedatectl, chronyc)",
            "this clock is at least %.1f s behind the broker's: it stamped "
            "%s at %s",
            (double)(d->newest_ts - now) / 1000.0, d->newest_at, when);
    else
        set(d, C_CLOCK, ST_OK, NULL, NULL,
            "not behind the broker (its newest stamp: %s at %s, %.0f s "
            "ago); a clock ahead cannot be seen from a client",
            d->newest_at, when, (double)(now - d->newest_ts) / 1000.0);
}

/* ---- 9. state folder ---- */

static void check_state(doctor_t *d)
{
    struct stat sb;
    struct statvfs vfs;
    char up[4096];
    const char *at = d->state_dir;
    uint64_t avail;

    snprintf(up, sizeof(up), "%s", d->state_dir);
    /* a missing folder: judged by the nearest existing one (feed creates
     * it) */
    while (stat(up, &sb) != 0) {
        char *s = strrchr(up, '/');
        if (!s || s == up) {
            snprintf(up, sizeof(up), "/");
            break;
        }
        *s = '\0';
        at = up;
    }
    if (stat(up, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        set(d, C_STATE, ST_FAIL, "state-not-dir",
            "set cishare.state-dir (or --state) to a folder",
            "%s: not a folder", up);
        return;
    }
    if (statvfs(up, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        set(d, C_STATE, ST_FAIL, "state-readonly",
            "mount it read-write, or set cishare.state-dir to a writable "
            "folder (a systemd unit: StateDirectory=)",
            "%s is on a read-only file system", at);
        return;
    }
    if (access(up, W_OK | X_OK) != 0) {
        set(d, C_STATE, ST_FAIL,
            errno == EROFS ? "state-readonly" : "state-not-writable",
            "give the service's user write access (chown/chmod), or set "
            "cishare.state-dir",
            "%s: %s", at, strerror(errno));
        return;
    }
    avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < d->min_free)
        set(d, C_STATE, ST_WARN, "state-low-space",
            "free space on that file system",
            "%s: %" PRIu64 " MiB free (less "
            "than %" PRIu64 " MiB)",
            at, avail >> 20, d->min_free >> 20);
    else
        set(d, C_STATE, ST_OK, NULL, NULL,
            "%s%s: writable, %" PRIu64 " MiB free", d->state_dir,
            at == d->state_dir ? "" : " (not created yet)", avail >> 20);
}

/* ---- output ---- */

static int report(doctor_t *d, bool json)
{
    int i, rc = CISHARE_EXIT_OK;

    for (i = 0; i < C__CNT; i++) {
        const check_t *k = &d->c[i];
        if (k->st == ST_FAIL)
            rc = CISHARE_EXIT_FAIL;
        if (json) {
            json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s}", "n", i + 1, "check",
                                  check_names[i], "status", status_names[k->st],
                                  "reason", k->reason, "detail", k->detail);
            char *s;
            if (o && k->fix[0] && k->st != ST_OK)
                json_object_set_new(o, "fix", json_string(k->fix));
            if (o && (s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII))) {
                printf("%s\n", s);
                free(s);
            }
            json_decref(o);
            continue;
        }
        printf("%-4s %s: %s%s%s%s\n", status_names[k->st], check_names[i],
               k->reason[0] ? "[" : "", k->reason, k->reason[0] ? "] " : "",
               k->detail);
        if (k->st != ST_OK && k->fix[0])
            printf("  fix: %s\n", k->fix);
    }
    fflush(stdout);
    return rc;
}

static void doctor_usage(FILE *fp)
{
    fputs(
        "Usage: cishare doctor -c CONFIG [--json] [--state DIR] [--timeout "
        "MS]\n"
        "                      [--max-lag N] [--min-free MIB] [--warn-days N]\n"
        "                      [-X key=value]...\n"
        "\n"
        "Find out why a participant's feed stays empty. Runs nine checks in "
        "order and\n"
        "prints one line each: 'ok|warn|fail <check>: [reason] detail', and "
        "after a\n"
        "warning or failure a line '  fix: ...' saying what to do. It changes "
        "nothing:\n"
        "no trust state is written, no consumer group joined or committed to, "
        "nothing\n"
        "produced, no file created.\n"
        "\n"
        "  1 config        the file's keys (unknown or invalid cishare.* keys, "
        "and\n"
        "                  librdkafka's)\n"
        "  2 directory     signature, trust state (rollback), expiry; the "
        "newest\n"
        "                  version on the directory topic, decided as a feed "
        "would\n"
        "  3 entry         cishare.participant is in the directory, "
        "cishare.key is\n"
        "                  its key\n"
        "  4 certificate   validity (warn under --warn-days), issuer =\n"
        "                  ssl.ca.location, subject "
        "CN=<participant>,OU=participant;\n"
        "                  then the rest of the TLS preflight (key matches, "
        "usage)\n"
        "  5 clock         against the broker. Kafka has no time API: the "
        "newest\n"
        "                  LogAppendTime on the records read in check 7 (the\n"
        "                  broker's clock when each arrived) is a lower bound "
        "of the\n"
        "                  broker's time now. A clock behind it fails; a clock "
        "AHEAD\n"
        "                  cannot be seen from a client (clock-unmeasured: no "
        "record\n"
        "                  readable)\n"
        "  6 reachability  TCP, then the TLS handshake (this certificate and "
        "CA) to\n"
        "                  each bootstrap server; fail when none answers, warn "
        "when\n"
        "                  only some do\n"
        "  7 acl           READ: the last record of every partition the feed "
        "reads\n"
        "                  (and of the directory topic) is fetched, without a "
        "group.\n"
        "                  WRITE: each topic the ACL model (deploy/TOPICS.md) "
        "lets\n"
        "                  this participant publish to must be described by "
        "the\n"
        "                  broker (WRITE implies DESCRIBE). Without writing, "
        "WRITE\n"
        "                  cannot be told from READ on a topic it also reads "
        "(the\n"
        "                  detail says how many); DescribeAcls needs admin "
        "rights\n"
        "  8 lag           the feed group's committed offsets against the "
        "high\n"
        "                  watermarks\n"
        "  9 state         the state folder: not on a read-only file system,\n"
        "                  writable (access(2): no file is created), free "
        "space\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE  client configuration (required)\n"
        "      --json         one JSON object per line and check: n, check, "
        "status,\n"
        "                     reason, detail, fix\n"
        "      --state DIR    the state folder (default cishare.state-dir, "
        "else\n"
        "                     $XDG_STATE_HOME/cishare/<participant>); for a "
        "feed\n"
        "                     without cishare.state-dir: its --out folder\n"
        "      --timeout MS   per network step (default 3000): a stopped "
        "broker fails\n"
        "                     within a few seconds\n"
        "      --max-lag N    warn above N messages of lag (default 10000)\n"
        "      --min-free MIB warn below MIB MiB free in the state folder "
        "(default 100)\n"
        "      --warn-days N  warn when the certificate ends within N days "
        "(default 30)\n"
        "  -X key=value       set a configuration key\n"
        "  -h, --help         show this help\n"
        "\n"
        "Reason codes (stable; in the text in [brackets], in --json as "
        "\"reason\"):\n"
        "  config-invalid config-missing-key\n"
        "  directory-root-key directory-state directory-unreadable "
        "directory-signature\n"
        "  directory-invalid directory-expired directory-rollback "
        "directory-refused\n"
        "  directory-expiring directory-topic-refused\n"
        "  entry-missing key-unreadable key-mismatch key-invalid key-previous\n"
        "  tls-plaintext cert-unreadable cert-not-yet-valid cert-expired\n"
        "  cert-ca-unreadable cert-issuer cert-name cert-refused "
        "cert-expiring\n"
        "  clock-behind clock-unmeasured\n"
        "  broker-unreachable broker-untrusted client-refused tls-error (as in "
        "logs)\n"
        "  topic-unknown acl-read-denied acl-write-denied acl-read-unknown\n"
        "  directory-topic-unreadable\n"
        "  acl-group-denied lag-unknown lag-high\n"
        "  state-not-dir state-readonly state-not-writable state-low-space\n"
        "  not-checked (a check it depends on failed, or the config is "
        "refused)\n"
        "\n"
        "Exit status: 0 no check failed (warnings allowed), 1 a check failed, "
        "2 bad\n"
        "usage or an unreadable CONFIG.\n",
        fp);
}

int cishare_cmd_doctor(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"state", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"max-lag", required_argument, NULL, 'l'},
        {"min-free", required_argument, NULL, 'm'},
        {"warn-days", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_cli_conf_t cc = {0};
    doctor_t d = {0};
    const char *state = NULL;
    bool json = false;
    char errstr[1024];
    int c, rc;

    cc.xs = calloc((size_t)argc + 1, sizeof(*cc.xs));
    if (!cc.xs)
        return CISHARE_EXIT_FAIL;
    d.timeout_ms = 3000;
    d.max_lag = 10000;
    d.warn_days = 30;
    d.min_free = 100ull << 20;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:h", longopts, NULL)) != -1) {
        char *end;
        long long v;
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case 'j':
            json = true;
            break;
        case 's':
            state = optarg;
            break;
        case 't':
        case 'l':
        case 'm':
        case 'w':
            errno = 0;
            v = strtoll(optarg, &end, 10);
            if (errno || *end || end == optarg || v < (c == 't' ? 1 : 0) ||
                (c == 't' && v > 600000)) {
                free(cc.xs);
                return cishare_cli_usage_error(
                    "doctor", "--%s: '%s' is not a %s",
                    c == 't'   ? "timeout"
                    : c == 'l' ? "max-lag"
                    : c == 'w' ? "warn-days"
                               : "min-free",
                    optarg,
                    c == 't' ? "number of milliseconds (1..600000)"
                             : "non-negative number");
            }
            if (c == 't')
                d.timeout_ms = (int)v;
            else if (c == 'l')
                d.max_lag = v;
            else if (c == 'w')
                d.warn_days = v > 36500 ? 36500 : (int)v;
            else
                d.min_free = (uint64_t)v << 20;
            break;
        case 'h':
            doctor_usage(stdout);
            free(cc.xs);
            return CISHARE_EXIT_OK;
        default:
            free(cc.xs);
            return cishare_cli_usage_error("doctor", "unknown option");
        }
    }
    if ((rc = cishare_cli_conf_args(&cc, "doctor", argc, argv))) {
        free(cc.xs);
        return rc;
    }
    if (access(cc.path, R_OK) != 0) {
        cishare_cli_error("doctor: %s: %s", cc.path, strerror(errno));
        free(cc.xs);
        return CISHARE_EXIT_USAGE;
    }
    if (!(d.conf = cishare_config_new())) {
        free(cc.xs);
        return CISHARE_EXIT_FAIL;
    }
    if (check_config(&d, &cc)) {
        if (state)
            snprintf(d.state_dir, sizeof(d.state_dir), "%s", state);
        else if (cishare_identity_state_dir(d.conf, d.state_dir,
                                            sizeof(d.state_dir), errstr,
                                            sizeof(errstr)))
            set(&d, C_STATE, ST_FAIL, "state-not-dir", "set cishare.state-dir",
                "%s", errstr);
        check_directory(&d);
        if (d.dir) {
            check_entry(&d);
            check_cert(&d);
        } else {
            not_checked(&d, C_ENTRY, "no directory (check 2)");
            /* the certificate stands alone but for the directory part */
            check_cert(&d);
        }
        check_reach(&d);
        if (d.reachable && d.me)
            probe(&d);
        else {
            not_checked(&d, C_ACL,
                        d.reachable ? "no directory entry (checks 2, 3)"
                                    : "no broker reachable (check 6)");
            not_checked(&d, C_LAG, "the acl check did not run");
        }
        check_directory_topic(&d);
        if (d.rk)
            check_clock(&d);
        else
            not_checked(&d, C_CLOCK, "the acl check did not run");
        if (d.state_dir[0])
            check_state(&d);
    }
    for (c = 0; c < C__CNT; c++)
        not_checked(&d, c, "the config is refused (check 1)");
    rc = report(&d, json);

    if (d.rk) {
        rd_kafka_consumer_close(d.rk);
        rd_kafka_destroy(d.rk);
    }
    free(d.dirtopic_val);
    cishare_directory_destroy(d.dir);
    cishare_config_destroy(d.conf);
    free(cc.xs);
    return rc;
}
