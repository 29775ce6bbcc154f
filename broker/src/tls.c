/*
 * Preflight check of a client's TLS configuration, with libcrypto: see
 * tls.h. Every refusal is one line naming the config key or file and the
 * problem; the checks run in the order a user fixes them (configured,
 * readable, key matches, valid now, right CA, right subject, right
 * participant).
 */
#include "cishare/tls.h"
#include "cishare/codec.h" /* cishare_time_format */

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CISHARE_TLS_ORG "cishare"

/* What the check holds while it runs; freed by tls_clear(). */
typedef struct tls_s {
    X509 *cert;
    EVP_PKEY *pkey;
    STACK_OF(X509) * cas;   /* the cluster CA file's certificates */
    STACK_OF(X509) * chain; /* intermediates from a PKCS#12 keystore */
    const char *cert_name;  /* the file, or the config key of inline PEM */
    const char *key_name;
    const char *ca_name;
} tls_t;

static void tls_clear(tls_t *t)
{
    X509_free(t->cert);
    EVP_PKEY_free(t->pkey);
    sk_X509_pop_free(t->cas, X509_free);
    sk_X509_pop_free(t->chain, X509_free);
}

/* The first reason on libcrypto's error queue, or `dflt`; clears it. */
static const char *crypto_reason(const char *dflt)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return r ? r : dflt;
}

/*
 * A BIO on the file `path` or, when path is NULL, on the inline PEM text
 * `pem`. NULL with errstr set when the file cannot be opened. `what`
 * names the file in messages ("client certificate").
 */
static BIO *open_input(const char *what, const char *path, const char *pem,
                       char *errstr, size_t errstr_size)
{
    BIO *bio;

    if (!path)
        return BIO_new_mem_buf(pem, -1);
    errno = 0;
    if (!(bio = BIO_new_file(path, "rb")))
        cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                        "%s %s cannot be read: %s", what, path,
                        errno ? strerror(errno) : crypto_reason("unknown"));
    ERR_clear_error();
    return bio;
}

/* The RFC 2253 form of a name ("CN=x,OU=participant,O=cishare"). */
static void name_rfc2253(const X509_NAME *name, char *buf, size_t size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    buf[0] = '\0';
    if (!bio)
        return;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0 &&
        (n = BIO_get_mem_data(bio, &p)) > 0)
        snprintf(buf, size, "%.*s", (int)n, p);
    BIO_free(bio);
}

/* An ASN.1 time as RFC 3339 UTC (cishare_time_format); *tp (if not
 * NULL) gets it in seconds. */
static void time_rfc3339(const ASN1_TIME *at, char out[32], time_t *tp)
{
    struct tm tm;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (!ASN1_TIME_to_tm(at, &tm)) {
        snprintf(out, 32, "(unreadable date)");
        if (tp)
            *tp = 0;
        return;
    }
    t = timegm(&tm);
    cishare_time_format((int64_t)t * 1000, out);
    if (tp)
        *tp = t;
}

/* The single value of attribute nid in name, into buf; the number of
 * such attributes (only 1 is usable). */
static int name_entry(const X509_NAME *name, int nid, char *buf, size_t size)
{
    int i = X509_NAME_get_index_by_NID(name, nid, -1), cnt = 0, last = i;
    const ASN1_STRING *s;

    buf[0] = '\0';
    while (i >= 0) {
        cnt++;
        last = i;
        i = X509_NAME_get_index_by_NID(name, nid, i);
    }
    if (cnt != 1)
        return cnt;
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
    snprintf(buf, size, "%.*s", ASN1_STRING_length(s),
             (const char *)ASN1_STRING_get0_data(s));
    return 1;
}

static int key_password_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pw = u;
    int n;

    (void)rwflag;
    if (!pw)
        return 0;
    n = (int)strlen(pw);
    if (n > size)
        n = size;
    memcpy(buf, pw, (size_t)n);
    return n;
}

/* The client certificate and key from a PKCS#12 keystore. */
static cishare_err_t load_keystore(const cishare_config_t *conf, tls_t *t,
                                   char *errstr, size_t errstr_size)
{
    const char *path = cishare_config_get_kafka(conf, "ssl.keystore.location");
    const char *pw = cishare_config_get_kafka(conf, "ssl.keystore.password");
    BIO *bio = open_input("keystore", path, NULL, errstr, errstr_size);
    PKCS12 *p12;
    int ok;

    if (!bio)
        return CISHARE_ERR_CONFIG;
    t->cert_name = t->key_name = path;
    p12 = d2i_PKCS12_bio(bio, NULL);
    BIO_free(bio);
    if (!p12)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "keystore %s is not a PKCS#12 file (%s)", path,
                               crypto_reason("unreadable"));
    ok = PKCS12_parse(p12, pw ? pw : "", &t->pkey, &t->cert, &t->chain);
    PKCS12_free(p12);
    if (!ok || !t->cert || !t->pkey)
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "keystore %s cannot be opened: %s (check ssl.keystore.password)",
            path, ok ? "no certificate and key in it" : crypto_reason("error"));
    return CISHARE_OK;
}

/* The client certificate and its private key (PEM files or inline PEM). */
static cishare_err_t load_cert_key(const cishare_config_t *conf, tls_t *t,
                                   char *errstr, size_t errstr_size)
{
    const char *cpath =
        cishare_config_get_kafka(conf, "ssl.certificate.location");
    const char *cpem = cishare_config_get_kafka(conf, "ssl.certificate.pem");
    const char *kpath = cishare_config_get_kafka(conf, "ssl.key.location");
    const char *kpem = cishare_config_get_kafka(conf, "ssl.key.pem");
    const char *kpw = cishare_config_get_kafka(conf, "ssl.key.password");
    BIO *bio;

    if (!cpath && !cpem &&
        cishare_config_get_kafka(conf, "ssl.keystore.location"))
        return load_keystore(conf, t, errstr, errstr_size);
    if (!cpath && !cpem)
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "no client certificate configured (ssl.certificate.location): "
            "the cluster accepts only clients that present a certificate "
            "issued by its CA");
    if (!kpath && !kpem)
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "no private key configured for the client certificate "
            "(ssl.key.location): the cluster accepts only clients that "
            "present a certificate issued by its CA, with its key");
    t->cert_name = cpath ? cpath : "ssl.certificate.pem";
    t->key_name = kpath ? kpath : "ssl.key.pem";

    if (!(bio = open_input("client certificate", cpath, cpem, errstr,
                           errstr_size)))
        return CISHARE_ERR_CONFIG;
    t->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!t->cert)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "client certificate %s is not a PEM "
                               "certificate",
                               t->cert_name);

    if (!(bio = open_input("private key", kpath, kpem, errstr, errstr_size)))
        return CISHARE_ERR_CONFIG;
    t->pkey = PEM_read_bio_PrivateKey(bio, NULL, key_password_cb, (void *)kpw);
    BIO_free(bio);
    ERR_clear_error();
    if (!t->pkey)
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "private key %s cannot be read: it is not a PEM private key, or "
            "it is encrypted and ssl.key.password is missing or wrong",
            t->key_name);
    return CISHARE_OK;
}

/* Every certificate of the cluster CA file (or ssl.ca.pem). */
static cishare_err_t load_cas(const cishare_config_t *conf, tls_t *t,
                              char *errstr, size_t errstr_size)
{
    const char *path = cishare_config_get_kafka(conf, "ssl.ca.location");
    const char *pem = cishare_config_get_kafka(conf, "ssl.ca.pem");
    X509 *x;
    BIO *bio;

    if (!path && !pem)
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "no cluster CA configured (ssl.ca.location): the broker's "
            "certificate and this client's are checked against the "
            "cluster CA certificate");
    t->ca_name = path ? path : "ssl.ca.pem";
    if (!(bio = open_input("cluster CA certificate", path, pem, errstr,
                           errstr_size)))
        return CISHARE_ERR_CONFIG;
    if (!(t->cas = sk_X509_new_null())) {
        BIO_free(bio);
        return CISHARE_ERR_NOMEM;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)))
        if (!sk_X509_push(t->cas, x)) {
            X509_free(x);
            BIO_free(bio);
            return CISHARE_ERR_NOMEM;
        }
    BIO_free(bio);
    ERR_clear_error(); /* the end of the file */
    if (!sk_X509_num(t->cas))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "cluster CA file %s holds no PEM certificate",
                               t->ca_name);
    return CISHARE_OK;
}

/* Every certificate of the cluster CA file is valid at now. */
static cishare_err_t check_ca_validity(const tls_t *t, time_t now, char *errstr,
                                       size_t errstr_size)
{
    char date[32];
    int i;

    for (i = 0; i < sk_X509_num(t->cas); i++) {
        X509 *ca = sk_X509_value(t->cas, i);
        if (X509_cmp_time(X509_get0_notAfter(ca), &now) <= 0) {
            char subj[256];
            name_rfc2253(X509_get_subject_name(ca), subj, sizeof(subj));
            time_rfc3339(X509_get0_notAfter(ca), date, NULL);
            return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                                   "cluster CA certificate '%s' in %s expired "
                                   "on %s",
                                   subj, t->ca_name, date);
        }
    }
    return CISHARE_OK;
}

/* The certificate's validity at now, and the cluster CA's. */
static cishare_err_t check_validity(const tls_t *t, time_t now,
                                    cishare_tls_info_t *info, char *errstr,
                                    size_t errstr_size)
{
    char date[32], nowstr[32];

    cishare_time_format((int64_t)now * 1000, nowstr);
    time_rfc3339(X509_get0_notAfter(t->cert), info->not_after_str,
                 &info->not_after);
    if (X509_cmp_time(X509_get0_notAfter(t->cert), &now) <= 0)
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "client certificate %s expired on %s (now %s): "
                               "ask the cluster CA for a new one",
                               t->cert_name, info->not_after_str, nowstr);
    if (X509_cmp_time(X509_get0_notBefore(t->cert), &now) >= 0) {
        time_rfc3339(X509_get0_notBefore(t->cert), date, NULL);
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "client certificate %s is not valid before %s "
                               "(now %s): check this machine's clock",
                               t->cert_name, date, nowstr);
    }
    return check_ca_validity(t, now, errstr, errstr_size);
}

/* The certificate chains to a CA of the cluster CA file and may be used
 * by a TLS client. */
static cishare_err_t check_issuer(const tls_t *t, time_t now,
                                  const cishare_tls_info_t *info, char *errstr,
                                  size_t errstr_size)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    char ca_subj[256];
    cishare_err_t err = CISHARE_OK;
    int i, verr;

    if (!store || !ctx) {
        err = CISHARE_ERR_NOMEM;
        goto done;
    }
    for (i = 0; i < sk_X509_num(t->cas); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(t->cas, i))) {
            err = CISHARE_ERR_NOMEM;
            goto done;
        }
    if (!X509_STORE_CTX_init(ctx, store, t->cert, t->chain)) {
        err = CISHARE_ERR_NOMEM;
        goto done;
    }
    X509_STORE_CTX_set_time(ctx, 0, now);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(ctx) == 1)
        goto done;
    verr = X509_STORE_CTX_get_error(ctx);
    name_rfc2253(X509_get_subject_name(sk_X509_value(t->cas, 0)), ca_subj,
                 sizeof(ca_subj));
    switch (verr) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "client certificate %s was issued by '%s', not "
                              "by the cluster CA '%s' in %s",
                              t->cert_name, info->issuer, ca_subj, t->ca_name);
        break;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        err = cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "client certificate %s names '%s' as its issuer, but its "
            "signature does not verify with the cluster CA in %s: it was "
            "issued by another CA of the same name",
            t->cert_name, info->issuer, t->ca_name);
        break;
    case X509_V_ERR_INVALID_PURPOSE:
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "client certificate %s may not be used by a "
                              "TLS client (its extended key usage lacks "
                              "clientAuth)",
                              t->cert_name);
        break;
    default:
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "client certificate %s does not verify against "
                              "the cluster CA in %s: %s",
                              t->cert_name, t->ca_name,
                              X509_verify_cert_error_string(verr));
        break;
    }
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return err;
}

/* The subject follows the scheme of tls.h; fills role, name, principal. */
static cishare_err_t check_subject(const tls_t *t, cishare_tls_info_t *info,
                                   char *errstr, size_t errstr_size)
{
    const X509_NAME *subj = X509_get_subject_name(t->cert);
    char org[64], want[512];

    if (X509_NAME_entry_count(subj) != 3 ||
        name_entry(subj, NID_commonName, info->name, sizeof(info->name)) != 1 ||
        name_entry(subj, NID_organizationalUnitName, info->role,
                   sizeof(info->role)) != 1 ||
        name_entry(subj, NID_organizationName, org, sizeof(org)) != 1 ||
        !info->name[0] || /* O=cishare: by the comparison below */
        (strcmp(info->role, "participant") && strcmp(info->role, "admin") &&
         strcmp(info->role, "broker")) ||
        (snprintf(want, sizeof(want), "CN=%s,OU=%s,O=%s", info->name,
                  info->role, CISHARE_TLS_ORG),
         strcmp(want, info->subject)))
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "client certificate %s has subject '%s', which is not in the "
            "cishare scheme (CN=<participant id>,OU=participant,O=cishare "
            "or CN=<name>,OU=admin,O=cishare)",
            t->cert_name, info->subject);
    if (!strcmp(info->role, "broker"))
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "client certificate %s is a broker's certificate ('%s'): a "
            "client presents its participant or admin certificate",
            t->cert_name, info->subject);
    snprintf(info->principal, sizeof(info->principal), "User:%s%s", info->name,
             strcmp(info->role, "admin") ? "" : "@cluster");
    return CISHARE_OK;
}

/* A participant certificate is this client's, and in the directory under
 * the principal the certificate maps to. */
static cishare_err_t check_participant(const tls_t *t,
                                       const cishare_directory_t *dir,
                                       const char *participant,
                                       const cishare_tls_info_t *info,
                                       char *errstr, size_t errstr_size)
{
    const cishare_participant_t *p;

    if (strcmp(info->role, "participant"))
        return CISHARE_OK; /* admin: a super user, in no directory */
    if (participant && strcmp(participant, info->name))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "certificate %s is for participant '%s', but "
                               "this client is '%s' (cishare.participant)",
                               t->cert_name, info->name, participant);
    if (!dir)
        return CISHARE_OK;
    if (!(p = cishare_directory_find(dir, info->name)))
        return cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                               "certificate %s is for participant '%s', which "
                               "is not in the directory",
                               t->cert_name, info->name);
    if (p->principal && strcmp(p->principal, info->principal))
        return cishare_err_set(
            CISHARE_ERR_CONFIG, errstr, errstr_size,
            "certificate %s maps to the Kafka principal '%s', but the "
            "directory gives participant '%s' the principal '%s': its ACLs "
            "would not apply",
            t->cert_name, info->principal, info->name, p->principal);
    return CISHARE_OK;
}

/* Does the configuration name any part of a client certificate? */
static bool client_cert_configured(const cishare_config_t *conf)
{
    static const char *const keys[] = {
        "ssl.certificate.location", "ssl.certificate.pem", "ssl.key.location",
        "ssl.key.pem", "ssl.keystore.location"};
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (cishare_config_get_kafka(conf, keys[i]))
            return true;
    return false;
}

/*
 * SASL_SSL without a client certificate (SCRAM over TLS, deploy/README.md):
 * the login names the principal. The cluster CA, when configured, must be
 * readable and valid (without it librdkafka uses the system's CAs).
 */
static cishare_err_t check_sasl_only(const cishare_config_t *conf, time_t now,
                                     cishare_tls_info_t *info, char *errstr,
                                     size_t errstr_size)
{
    const char *user = cishare_config_get_kafka(conf, "sasl.username");
    tls_t t;
    cishare_err_t err = CISHARE_OK;

    if (user && *user)
        snprintf(info->principal, sizeof(info->principal), "User:%s", user);
    if (!cishare_config_get_kafka(conf, "ssl.ca.location") &&
        !cishare_config_get_kafka(conf, "ssl.ca.pem"))
        return CISHARE_OK;
    memset(&t, 0, sizeof(t));
    if (!(err = load_cas(conf, &t, errstr, errstr_size)))
        err = check_ca_validity(&t, now, errstr, errstr_size);
    ERR_clear_error();
    tls_clear(&t);
    return err;
}

cishare_err_t cishare_tls_preflight(const cishare_config_t *conf,
                                    const cishare_directory_t *dir,
                                    const char *participant, time_t now,
                                    cishare_tls_info_t *info, char *errstr,
                                    size_t errstr_size)
{
    const char *proto = cishare_config_get_kafka(conf, "security.protocol");
    cishare_tls_info_t scratch;
    tls_t t;
    cishare_err_t err;

    if (!info)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    snprintf(info->protocol, sizeof(info->protocol), "%s",
             proto ? proto : "plaintext");
    if (!proto || (strcasecmp(proto, "ssl") && strcasecmp(proto, "sasl_ssl")))
        return CISHARE_OK;
    info->tls = true;
    if (!now)
        now = time(NULL);
    /* With SASL_SSL the login authenticates: a certificate is optional,
     * and checked like SSL's when configured. */
    if (!strcasecmp(proto, "sasl_ssl") && !client_cert_configured(conf))
        return check_sasl_only(conf, now, info, errstr, errstr_size);
    info->cert = true;

    memset(&t, 0, sizeof(t));
    if ((err = load_cert_key(conf, &t, errstr, errstr_size)))
        goto done;
    name_rfc2253(X509_get_subject_name(t.cert), info->subject,
                 sizeof(info->subject));
    name_rfc2253(X509_get_issuer_name(t.cert), info->issuer,
                 sizeof(info->issuer));
    if (X509_check_private_key(t.cert, t.pkey) != 1) {
        err = cishare_err_set(CISHARE_ERR_CONFIG, errstr, errstr_size,
                              "private key %s does not match client "
                              "certificate %s",
                              t.key_name, t.cert_name);
        goto done;
    }
    if ((err = load_cas(conf, &t, errstr, errstr_size)) ||
        (err = check_validity(&t, now, info, errstr, errstr_size)) ||
        (err = check_issuer(&t, now, info, errstr, errstr_size)) ||
        (err = check_subject(&t, info, errstr, errstr_size)) ||
        (err = check_participant(&t, dir, participant, info, errstr,
                                 errstr_size)))
        goto done;
done:
    ERR_clear_error();
    tls_clear(&t);
    return err;
}

const char *cishare_tls_info_format(const cishare_tls_info_t *info, char *buf,
                                    size_t size)
{
    if (!info->tls)
        snprintf(buf, size,
                 "WARNING: security.protocol=%s: nothing is encrypted and no "
                 "client certificate is presented (the cluster cishare "
                 "starts accepts only TLS with a certificate)",
                 info->protocol);
    else if (!info->cert)
        snprintf(buf, size, "TLS with a SASL login%s%s (no client certificate)",
                 info->principal[0] ? " as " : "", info->principal);
    else
        snprintf(buf, size, "TLS as %s (certificate %s, valid until %s)",
                 info->principal, info->subject, info->not_after_str);
    return buf;
}

/* host of one "host:port" bootstrap entry is a loopback address */
static bool host_is_loopback(const char *s, size_t len)
{
    const char *colon;
    size_t hlen = len;

    if (len && s[0] == '[') /* [::1]:9092 */
        return len >= 5 && !strncmp(s, "[::1]", 5);
    if ((colon = memchr(s, ':', len)))
        hlen = (size_t)(colon - s);
    if (hlen >= 4 && !strncmp(s, "127.", 4))
        return true;
    return hlen == 9 && !strncasecmp(s, "localhost", 9);
}

bool cishare_tls_plaintext_warn(const cishare_config_t *conf,
                                const cishare_tls_info_t *info)
{
    const char *bs = cishare_config_get_kafka(conf, "bootstrap.servers");

    if (info->tls || cishare_config_get_kafka(conf, "test.mock.num.brokers"))
        return false;
    while (bs && *bs) {
        size_t n = strcspn(bs, ",");
        const char *s = bs;
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        if (n && !host_is_loopback(s, n))
            return true;
        bs += strcspn(bs, ",");
        if (*bs)
            bs++;
    }
    return false;
}
