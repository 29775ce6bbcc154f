/*
 * Tests of the TLS preflight (tls.h) and of connection errors in plain
 * words (kafka_errors.h). Certificates are made at test time with
 * libcrypto, with fixed validity dates; the check runs at a fixed time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/kafka_errors.h"
#include "cishare/tls.h"
#include "test_util.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static char dir[256];
static cishare_directory_t *directory; /* tests/vectors/directory/valid.yaml */
static time_t now;                     /* 2026-06-01T00:00:00Z */
static char errstr[1024];

/* A new P-256 key. */
static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

/* A name from "O=cishare/OU=participant/CN=x" (in that order, so that
 * RFC 2253 prints it as "CN=x,OU=participant,O=cishare"). */
static X509_NAME *make_name(const char *spec)
{
    X509_NAME *n = X509_NAME_new();
    char buf[256], *save = NULL, *part;

    snprintf(buf, sizeof(buf), "%s", spec);
    for (part = strtok_r(buf, "/", &save); part;
         part = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(part, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(X509_NAME_add_entry_by_txt(n, part, MBSTRING_UTF8,
                                                    (unsigned char *)eq + 1, -1,
                                                    -1, 0),
                         1);
    }
    return n;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key with subject spec, valid [from, to] (ASN.1
 * GeneralizedTime "YYYYMMDDHHMMSSZ"), signed by issuer/ikey (NULL: self). */
static X509 *make_cert(EVP_PKEY *key, const char *spec, const char *from,
                       const char *to, X509 *issuer, EVP_PKEY *ikey, int ca,
                       const char *eku)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_NAME *n = make_name(spec);

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notBefore(x), from), 1);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notAfter(x), to), 1);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    X509_set_pubkey(x, key);
    add_ext(x, issuer, NID_basic_constraints,
            ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca)
        add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (eku)
        add_ext(x, issuer, NID_ext_key_usage, eku);
    assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
    return x;
}

static void write_cert(const char *name, X509 *x)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(fp = fopen(path, "w"));
    assert_int_equal(PEM_write_X509(fp, x), 1);
    fclose(fp);
}

static void write_key(const char *name, EVP_PKEY *k, const char *pw)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(fp = fopen(path, "w"));
    assert_int_equal(PEM_write_PrivateKey(fp, k, pw ? EVP_aes_256_cbc() : NULL,
                                          NULL, 0, NULL, (void *)pw),
                     1);
    fclose(fp);
}

static void write_text(const char *name, const char *text)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(fp = fopen(path, "w"));
    fputs(text, fp);
    fclose(fp);
}

/* Leaf certificates and their keys, by file stem. */
static void issue(const char *stem, const char *spec, const char *from,
                  const char *to, X509 *ca, EVP_PKEY *cakey, const char *eku)
{
    EVP_PKEY *k = new_key();
    X509 *x = make_cert(k, spec, from, to, ca, cakey, 0, eku);
    char name[128];

    snprintf(name, sizeof(name), "%s.crt", stem);
    write_cert(name, x);
    snprintf(name, sizeof(name), "%s.key", stem);
    write_key(name, k, NULL);
    X509_free(x);
    EVP_PKEY_free(k);
}

static int setup(void **state)
{
    const char *v = getenv("CISHARE_VECTORS");
    char path[512];
    EVP_PKEY *cak, *otherk, *samek, *k;
    X509 *ca, *other, *same, *x;
    struct tm tm = {.tm_year = 126, .tm_mon = 5, .tm_mday = 1};

    (void)state;
    now = timegm(&tm);
    if (test_tmpdir_make(dir, sizeof(dir), "tls"))
        return -1;
    snprintf(path, sizeof(path), "%s/directory/valid.yaml",
             v ? v : "tests/vectors");
    if (cishare_directory_load_unsigned(path, &directory, errstr,
                                        sizeof(errstr))) {
        fprintf(stderr, "%s\n", errstr);
        return -1;
    }

    cak = new_key();
    ca = make_cert(cak, "O=cishare/CN=cishare test CA", "20200101000000Z",
                   "20400101000000Z", NULL, NULL, 1, NULL);
    write_cert("ca.crt", ca);
    otherk = new_key();
    other = make_cert(otherk, "O=cishare/CN=other CA", "20200101000000Z",
                      "20400101000000Z", NULL, NULL, 1, NULL);
    write_cert("other-ca.crt", other);
    /* another CA under the cluster CA's name */
    samek = new_key();
    same = make_cert(samek, "O=cishare/CN=cishare test CA", "20200101000000Z",
                     "20400101000000Z", NULL, NULL, 1, NULL);

    issue("nco", "O=cishare/OU=participant/CN=nco", "20260101000000Z",
          "20270101000000Z", ca, cak, "clientAuth");
    issue("admin", "O=cishare/OU=admin/CN=root", "20260101000000Z",
          "20270101000000Z", ca, cak, NULL);
    issue("expired", "O=cishare/OU=participant/CN=nco", "20250101000000Z",
          "20260102030405Z", ca, cak, NULL);
    issue("future", "O=cishare/OU=participant/CN=nco", "20260701000000Z",
          "20270101000000Z", ca, cak, NULL);
    issue("foreign", "O=cishare/OU=participant/CN=nco", "20260101000000Z",
          "20270101000000Z", other, otherk, NULL);
    issue("twin", "O=cishare/OU=participant/CN=nco", "20260101000000Z",
          "20270101000000Z", same, samek, NULL);
    issue("stranger", "O=cishare/OU=participant/CN=op-nowhere",
          "20260101000000Z", "20270101000000Z", ca, cak, NULL);
    issue("acme", "O=acme/OU=participant/CN=nco", "20260101000000Z",
          "20270101000000Z", ca, cak, NULL);
    issue("broker", "O=cishare/OU=broker/CN=broker1", "20260101000000Z",
          "20270101000000Z", ca, cak, NULL);
    issue("server", "O=cishare/OU=participant/CN=nco", "20260101000000Z",
          "20270101000000Z", ca, cak, "serverAuth");
    /* the CA file holds the other CA first, then the cluster CA */
    {
        char p2[512];
        FILE *fp;
        snprintf(p2, sizeof(p2), "%s/bundle.crt", dir);
        assert_non_null(fp = fopen(p2, "w"));
        PEM_write_X509(fp, other);
        PEM_write_X509(fp, ca);
        fclose(fp);
    }
    /* an encrypted copy of nco's key */
    {
        BIO *b;
        snprintf(path, sizeof(path), "%s/nco.key", dir);
        assert_non_null(b = BIO_new_file(path, "r"));
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_non_null(k);
        write_key("nco-enc.key", k, "s3cret");
        EVP_PKEY_free(k);
    }
    /* an expired cluster CA */
    k = new_key();
    x = make_cert(k, "O=cishare/CN=old CA", "20200101000000Z",
                  "20250101000000Z", NULL, NULL, 1, NULL);
    write_cert("old-ca.crt", x);
    X509_free(x);
    EVP_PKEY_free(k);
    write_text("garbage.crt", "this is not a certificate\n");
    write_text("empty.crt", "");

    X509_free(ca);
    X509_free(other);
    X509_free(same);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(otherk);
    EVP_PKEY_free(samek);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cishare_directory_destroy(directory);
    return test_tmpdir_remove(dir);
}

/* A TLS client config: cert and key stems (NULL: unset), CA file. */
static cishare_config_t *tls_conf(const char *cert, const char *key,
                                  const char *ca)
{
    cishare_config_t *c = cishare_config_new();
    char path[512];

    assert_non_null(c);
    assert_int_equal(cishare_config_set(c, "bootstrap.servers",
                                        "127.0.0.1:9092", errstr,
                                        sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_config_set(c, "security.protocol", "SSL", errstr,
                                        sizeof(errstr)),
                     CISHARE_OK);
    if (cert) {
        snprintf(path, sizeof(path), "%s/%s", dir, cert);
        assert_int_equal(cishare_config_set(c, "ssl.certificate.location", path,
                                            errstr, sizeof(errstr)),
                         CISHARE_OK);
    }
    if (key) {
        snprintf(path, sizeof(path), "%s/%s", dir, key);
        assert_int_equal(cishare_config_set(c, "ssl.key.location", path, errstr,
                                            sizeof(errstr)),
                         CISHARE_OK);
    }
    if (ca) {
        snprintf(path, sizeof(path), "%s/%s", dir, ca);
        assert_int_equal(cishare_config_set(c, "ssl.ca.location", path, errstr,
                                            sizeof(errstr)),
                         CISHARE_OK);
    }
    return c;
}

/* Preflight of cert/key/ca as participant (NULL: none) with the
 * directory; the message, "OK" on success. */
static const char *check(const char *cert, const char *key, const char *ca,
                         const char *participant, cishare_tls_info_t *info)
{
    cishare_config_t *c = tls_conf(cert, key, ca);
    cishare_err_t err;

    errstr[0] = '\0';
    err = cishare_tls_preflight(c, directory, participant, now, info, errstr,
                                sizeof(errstr));
    cishare_config_destroy(c);
    if (!err)
        return "OK";
    assert_int_equal(err, CISHARE_ERR_CONFIG);
    return errstr;
}

/* "<dir>/<name>" */
static const char *P(const char *name)
{
    static char bufs[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", dir, name);
    return bufs[i];
}

static void expect(const char *got, const char *fmt, ...)
{
    char want[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    assert_string_equal(got, want);
}

static void test_good_participant(void **state)
{
    cishare_tls_info_t info;
    char line[512];

    (void)state;
    assert_string_equal(check("nco.crt", "nco.key", "ca.crt", "nco", &info),
                        "OK");
    assert_true(info.tls);
    assert_true(info.cert);
    assert_string_equal(info.principal, "User:nco");
    assert_string_equal(info.subject, "CN=nco,OU=participant,O=cishare");
    assert_string_equal(info.issuer, "CN=cishare test CA,O=cishare");
    assert_string_equal(info.role, "participant");
    assert_string_equal(info.not_after_str, "2027-01-01T00:00:00Z");
    assert_int_equal((long long)info.not_after, 1798761600LL);
    cishare_tls_info_format(&info, line, sizeof(line));
    assert_string_equal(line, "TLS as User:nco (certificate CN=nco,OU="
                              "participant,O=cishare, valid until "
                              "2027-01-01T00:00:00Z)");
    /* the cluster CA anywhere in a bundle; an encrypted key with its
     * password */
    assert_string_equal(check("nco.crt", "nco.key", "bundle.crt", "nco", NULL),
                        "OK");
    {
        cishare_config_t *c = tls_conf("nco.crt", "nco-enc.key", "ca.crt");
        assert_int_equal(cishare_tls_preflight(c, directory, "nco", now, NULL,
                                               errstr, sizeof(errstr)),
                         CISHARE_ERR_CONFIG);
        assert_non_null(strstr(errstr, "ssl.key.password is missing or wrong"));
        assert_int_equal(cishare_config_set(c, "ssl.key.password", "s3cret",
                                            errstr, sizeof(errstr)),
                         CISHARE_OK);
        assert_int_equal(cishare_tls_preflight(c, directory, "nco", now, NULL,
                                               errstr, sizeof(errstr)),
                         CISHARE_OK);
        cishare_config_destroy(c);
    }
}

static void test_admin_skips_directory(void **state)
{
    cishare_tls_info_t info;

    (void)state;
    /* "root" is in no directory, and this client says it is nco */
    assert_string_equal(check("admin.crt", "admin.key", "ca.crt", "nco", &info),
                        "OK");
    assert_string_equal(info.principal, "User:root@cluster");
    assert_string_equal(info.role, "admin");
}

static void test_plaintext(void **state)
{
    cishare_config_t *c = cishare_config_new();
    cishare_tls_info_t info;
    char line[512];

    (void)state;
    assert_int_equal(cishare_config_set(c, "bootstrap.servers",
                                        "127.0.0.1:9092,localhost:9093", errstr,
                                        sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_tls_preflight(c, directory, "nco", now, &info,
                                           errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_false(info.tls);
    assert_false(cishare_tls_plaintext_warn(c, &info)); /* loopback only */
    assert_int_equal(cishare_config_set(c, "security.protocol",
                                        "SASL_PLAINTEXT", errstr,
                                        sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_config_set(c, "bootstrap.servers",
                                        "127.0.0.1:9092, kafka.example:9092",
                                        errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_tls_preflight(c, directory, "nco", now, &info,
                                           errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_false(info.tls);
    assert_true(cishare_tls_plaintext_warn(c, &info));
    cishare_tls_info_format(&info, line, sizeof(line));
    assert_string_equal(line,
                        "WARNING: security.protocol=SASL_PLAINTEXT: nothing is "
                        "encrypted and no client certificate is presented (the "
                        "cluster cishare starts accepts only TLS with a "
                        "certificate)");
    /* case-insensitive: "ssl" and "sasl_ssl" are TLS, and are checked */
    assert_int_equal(cishare_config_set(c, "security.protocol", "ssl", errstr,
                                        sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_tls_preflight(c, directory, "nco", now, &info,
                                           errstr, sizeof(errstr)),
                     CISHARE_ERR_CONFIG);
    assert_true(info.tls);
    /* SASL_SSL: TLS, but the login authenticates (test_sasl_ssl) */
    assert_int_equal(cishare_config_set(c, "security.protocol", "sasl_ssl",
                                        errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(cishare_tls_preflight(c, directory, "nco", now, &info,
                                           errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_true(info.tls);
    assert_false(info.cert);
    cishare_config_destroy(c);
}

/* tls_conf() with security.protocol SASL_SSL and sasl.username alice. */
static cishare_config_t *sasl_conf(const char *cert, const char *key,
                                   const char *ca)
{
    cishare_config_t *c = tls_conf(cert, key, ca);

    assert_int_equal(cishare_config_set(c, "security.protocol", "SASL_SSL",
                                        errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_int_equal(
        cishare_config_set(c, "sasl.username", "alice", errstr, sizeof(errstr)),
        CISHARE_OK);
    return c;
}

/* Preflight of sasl_conf(cert, key, ca); the message, "OK" on success. */
static const char *check_sasl(const char *cert, const char *key, const char *ca,
                              cishare_tls_info_t *info)
{
    cishare_config_t *c = sasl_conf(cert, key, ca);
    cishare_err_t err;

    errstr[0] = '\0';
    err = cishare_tls_preflight(c, directory, "nco", now, info, errstr,
                                sizeof(errstr));
    cishare_config_destroy(c);
    if (!err)
        return "OK";
    assert_int_equal(err, CISHARE_ERR_CONFIG);
    return errstr;
}

/* SCRAM over SASL_SSL (deploy/README.md): no client certificate needed;
 * the cluster CA, when configured, and a configured certificate are
 * still checked. */
static void test_sasl_ssl(void **state)
{
    cishare_tls_info_t info;
    char line[512];

    (void)state;
    /* no certificate: the CA alone, or nothing at all */
    assert_string_equal(check_sasl(NULL, NULL, "ca.crt", &info), "OK");
    assert_true(info.tls);
    assert_false(info.cert);
    assert_string_equal(info.principal, "User:alice");
    cishare_tls_info_format(&info, line, sizeof(line));
    assert_string_equal(line, "TLS with a SASL login as User:alice (no client "
                              "certificate)");
    assert_string_equal(check_sasl(NULL, NULL, NULL, &info), "OK");
    assert_false(info.cert);
    /* a configured CA must be readable, hold a certificate, be valid */
    expect(check_sasl(NULL, NULL, "nope.crt", NULL),
           "cluster CA certificate %s cannot be read: No such file or "
           "directory",
           P("nope.crt"));
    expect(check_sasl(NULL, NULL, "empty.crt", NULL),
           "cluster CA file %s holds no PEM certificate", P("empty.crt"));
    expect(check_sasl(NULL, NULL, "old-ca.crt", NULL),
           "cluster CA certificate 'CN=old CA,O=cishare' in %s expired on "
           "2025-01-01T00:00:00Z",
           P("old-ca.crt"));
    /* a configured certificate is checked as with SSL */
    assert_string_equal(check_sasl("nco.crt", "nco.key", "ca.crt", &info),
                        "OK");
    assert_true(info.cert);
    assert_string_equal(info.subject, "CN=nco,OU=participant,O=cishare");
    expect(check_sasl("nco.crt", "admin.key", "ca.crt", NULL),
           "private key %s does not match client certificate %s",
           P("admin.key"), P("nco.crt"));
    expect(check_sasl("expired.crt", "expired.key", "ca.crt", NULL),
           "client certificate %s expired on 2026-01-02T03:04:05Z (now "
           "2026-06-01T00:00:00Z): ask the cluster CA for a new one",
           P("expired.crt"));
    expect(check_sasl(NULL, "nco.key", "ca.crt", NULL),
           "no client certificate configured (ssl.certificate.location): the "
           "cluster accepts only clients that present a certificate issued "
           "by its CA");
    /* without sasl.username: no principal to name */
    {
        cishare_config_t *c = tls_conf(NULL, NULL, "ca.crt");
        assert_int_equal(cishare_config_set(c, "security.protocol", "SASL_SSL",
                                            errstr, sizeof(errstr)),
                         CISHARE_OK);
        assert_int_equal(cishare_tls_preflight(c, NULL, NULL, now, &info,
                                               errstr, sizeof(errstr)),
                         CISHARE_OK);
        assert_string_equal(info.principal, "");
        cishare_tls_info_format(&info, line, sizeof(line));
        assert_string_equal(line,
                            "TLS with a SASL login (no client certificate)");
        cishare_config_destroy(c);
    }
    /* SSL still requires one */
    expect(check(NULL, NULL, "ca.crt", "nco", NULL),
           "no client certificate configured (ssl.certificate.location): the "
           "cluster accepts only clients that present a certificate issued "
           "by its CA");
}

static void test_missing(void **state)
{
    (void)state;
    expect(check(NULL, NULL, "ca.crt", "nco", NULL),
           "no client certificate configured (ssl.certificate.location): the "
           "cluster accepts only clients that present a certificate issued "
           "by its CA");
    expect(check("nco.crt", NULL, "ca.crt", "nco", NULL),
           "no private key configured for the client certificate "
           "(ssl.key.location): the cluster accepts only clients that "
           "present a certificate issued by its CA, with its key");
    expect(check("nco.crt", "nco.key", NULL, "nco", NULL),
           "no cluster CA configured (ssl.ca.location): the broker's "
           "certificate and this client's are checked against the cluster CA "
           "certificate");
}

static void test_unreadable(void **state)
{
    (void)state;
    expect(check("nope.crt", "nco.key", "ca.crt", "nco", NULL),
           "client certificate %s cannot be read: No such file or directory",
           P("nope.crt"));
    expect(check("nco.crt", "nope.key", "ca.crt", "nco", NULL),
           "private key %s cannot be read: No such file or directory",
           P("nope.key"));
    expect(check("nco.crt", "nco.key", "nope.crt", "nco", NULL),
           "cluster CA certificate %s cannot be read: No such file or "
           "directory",
           P("nope.crt"));
    expect(check("garbage.crt", "nco.key", "ca.crt", "nco", NULL),
           "client certificate %s is not a PEM certificate", P("garbage.crt"));
    expect(check("nco.crt", "garbage.crt", "ca.crt", "nco", NULL),
           "private key %s cannot be read: it is not a PEM private key, or it "
           "is encrypted and ssl.key.password is missing or wrong",
           P("garbage.crt"));
    expect(check("nco.crt", "nco.key", "empty.crt", "nco", NULL),
           "cluster CA file %s holds no PEM certificate", P("empty.crt"));
}

static void test_key_mismatch(void **state)
{
    (void)state;
    expect(check("nco.crt", "admin.key", "ca.crt", "nco", NULL),
           "private key %s does not match client certificate %s",
           P("admin.key"), P("nco.crt"));
}

static void test_validity(void **state)
{
    (void)state;
    expect(check("expired.crt", "expired.key", "ca.crt", "nco", NULL),
           "client certificate %s expired on 2026-01-02T03:04:05Z (now "
           "2026-06-01T00:00:00Z): ask the cluster CA for a new one",
           P("expired.crt"));
    expect(check("future.crt", "future.key", "ca.crt", "nco", NULL),
           "client certificate %s is not valid before 2026-07-01T00:00:00Z "
           "(now 2026-06-01T00:00:00Z): check this machine's clock",
           P("future.crt"));
    expect(check("nco.crt", "nco.key", "old-ca.crt", "nco", NULL),
           "cluster CA certificate 'CN=old CA,O=cishare' in %s expired on "
           "2025-01-01T00:00:00Z",
           P("old-ca.crt"));
}

static void test_other_ca(void **state)
{
    (void)state;
    expect(check("foreign.crt", "foreign.key", "ca.crt", "nco", NULL),
           "client certificate %s was issued by 'CN=other CA,O=cishare', not "
           "by the cluster CA 'CN=cishare test CA,O=cishare' in %s",
           P("foreign.crt"), P("ca.crt"));
    expect(check("twin.crt", "twin.key", "ca.crt", "nco", NULL),
           "client certificate %s names 'CN=cishare test CA,O=cishare' as its "
           "issuer, but its signature does not verify with the cluster CA in "
           "%s: it was issued by another CA of the same name",
           P("twin.crt"), P("ca.crt"));
    expect(check("server.crt", "server.key", "ca.crt", "nco", NULL),
           "client certificate %s may not be used by a TLS client (its "
           "extended key usage lacks clientAuth)",
           P("server.crt"));
}

static void test_subject(void **state)
{
    (void)state;
    expect(check("acme.crt", "acme.key", "ca.crt", "nco", NULL),
           "client certificate %s has subject 'CN=nco,OU=participant,O=acme', "
           "which is not in the cishare scheme (CN=<participant "
           "id>,OU=participant,O=cishare or CN=<name>,OU=admin,O=cishare)",
           P("acme.crt"));
    expect(check("broker.crt", "broker.key", "ca.crt", "nco", NULL),
           "client certificate %s is a broker's certificate "
           "('CN=broker1,OU=broker,O=cishare'): a client presents its "
           "participant or admin certificate",
           P("broker.crt"));
}

static void test_participant(void **state)
{
    (void)state;
    expect(check("nco.crt", "nco.key", "ca.crt", "min-meti", NULL),
           "certificate %s is for participant 'nco', but this client is "
           "'min-meti' (cishare.participant)",
           P("nco.crt"));
    expect(check("stranger.crt", "stranger.key", "ca.crt", "op-nowhere", NULL),
           "certificate %s is for participant 'op-nowhere', which is not in "
           "the directory",
           P("stranger.crt"));
    /* without a directory or a participant to compare with */
    {
        cishare_config_t *c =
            tls_conf("stranger.crt", "stranger.key", "ca.crt");
        assert_int_equal(cishare_tls_preflight(c, NULL, NULL, now, NULL, errstr,
                                               sizeof(errstr)),
                         CISHARE_OK);
        cishare_config_destroy(c);
    }
}

/* --- connection errors in plain words --- */

static void explain(rd_kafka_resp_err_t err, const char *reason,
                    cishare_kafka_conn_t want_cause, const char *want_plain)
{
    char buf[1024], want[1024];

    assert_int_equal(
        cishare_kafka_explain_conn(err, reason, "op-a", buf, sizeof(buf)),
        want_cause);
    snprintf(want, sizeof(want), "%s (%s)", want_plain, reason);
    assert_string_equal(buf, want);
}

static void test_explain_conn(void **state)
{
    (void)state;
    /* texts as librdkafka 2.0.2 reports them (error_cb) */
    explain(RD_KAFKA_RESP_ERR__SSL,
            "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: "
            "error:0A000086:SSL routines::certificate verify failed: broker "
            "certificate could not be verified, verify that ssl.ca.location "
            "is correctly configured or root CA certificates are installed "
            "(install ca-certificates package) (after 1ms in state "
            "SSL_HANDSHAKE)",
            CISHARE_KAFKA_CONN_BROKER_UNTRUSTED,
            "the broker's certificate is not trusted: it was not issued by the "
            "CA in ssl.ca.location, or the broker's address is not in its "
            "certificate (hostname verification)");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "ssl://127.0.0.1:9093/bootstrap: Receive failed: "
            "error:0A00045C:SSL routines::tlsv13 alert certificate required: "
            "SSL alert number 116 (after 0ms in state APIVERSION_QUERY)",
            CISHARE_KAFKA_CONN_CLIENT_REFUSED,
            "the broker refused this client: it requires a client certificate "
            "and none was presented (set ssl.certificate.location and "
            "ssl.key.location)");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "ssl://127.0.0.1:9093/bootstrap: Receive failed: "
            "error:0A000418:SSL routines::tlsv1 alert unknown ca: SSL alert "
            "number 48 (after 0ms in state APIVERSION_QUERY)",
            CISHARE_KAFKA_CONN_CLIENT_REFUSED,
            "the broker refused this client's certificate: it was not issued "
            "by the cluster CA");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "ssl://h:9093/1: Receive failed: error:0A000415:SSL "
            "routines::sslv3 alert certificate expired: SSL alert number 45",
            CISHARE_KAFKA_CONN_CLIENT_REFUSED,
            "the broker refused this client's certificate: it has expired");
    explain(
        RD_KAFKA_RESP_ERR__TRANSPORT,
        "ssl://h:9093/1: Receive failed: error:0A000414:SSL "
        "routines::sslv3 alert certificate revoked",
        CISHARE_KAFKA_CONN_CLIENT_REFUSED,
        "the broker refused this client's certificate: it has been revoked");
    explain(RD_KAFKA_RESP_ERR__SSL,
            "ssl://h:9093/1: SSL handshake failed: error:0A000412:SSL "
            "routines::sslv3 alert bad certificate: SSL alert number 42",
            CISHARE_KAFKA_CONN_CLIENT_REFUSED,
            "the broker refused this client's certificate (missing, from "
            "another CA, expired or revoked)");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "ssl://h:9093/1: Receive failed: error:0A000416:SSL "
            "routines::sslv3 alert certificate unknown: SSL alert number 46",
            CISHARE_KAFKA_CONN_CLIENT_REFUSED,
            "the broker refused this client's certificate (missing, from "
            "another CA, expired or revoked)");
    explain(RD_KAFKA_RESP_ERR__SSL,
            "ssl://h:9093/1: SSL handshake failed: error:0A000410:SSL "
            "routines::sslv3 alert handshake failure",
            CISHARE_KAFKA_CONN_CLIENT_REFUSED,
            "the broker refused the TLS handshake: it refused this client's "
            "certificate (missing, from another CA, expired or revoked), or "
            "no TLS version and cipher are common to both");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "127.0.0.1:9093/bootstrap: Disconnected while requesting "
            "ApiVersion: might be caused by incorrect security.protocol "
            "configuration (connecting to a SSL listener?) or broker version "
            "is < 0.10 (see api.version.request) (after 0ms in state "
            "APIVERSION_QUERY)",
            CISHARE_KAFKA_CONN_MISMATCH,
            "the broker closed the connection before answering: most likely a "
            "TLS/plaintext mismatch (security.protocol does not match the "
            "broker's listener, e.g. a plaintext client on a TLS port)");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "ssl://127.0.0.1:9092/bootstrap: SSL handshake failed: "
            "Disconnected: connecting to a PLAINTEXT broker listener? (after "
            "0ms in state SSL_HANDSHAKE)",
            CISHARE_KAFKA_CONN_MISMATCH,
            "the broker closed the connection during the TLS handshake: most "
            "likely a TLS/plaintext mismatch (a TLS client on a plaintext "
            "port; check security.protocol and bootstrap.servers)");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "ssl://127.0.0.1:9093/bootstrap: Receive failed: "
            "error:0A000126:SSL routines::unexpected eof while reading (after "
            "1ms in state APIVERSION_QUERY)",
            CISHARE_KAFKA_CONN_CLOSED,
            "the broker closed the TLS connection before answering: it may "
            "have refused this client's certificate (missing, from another "
            "CA, expired or revoked), or it is shutting down");
    explain(RD_KAFKA_RESP_ERR__TRANSPORT,
            "ssl://127.0.0.1:9093/bootstrap: Connect to ipv4#127.0.0.1:9093 "
            "failed: Connection refused (after 0ms in state CONNECT)",
            CISHARE_KAFKA_CONN_UNREACHABLE,
            "cannot reach the Kafka broker: nothing listens at that address "
            "(check bootstrap.servers; is the broker running?)");
    /* by code when the text says nothing known */
    explain(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down",
            CISHARE_KAFKA_CONN_UNREACHABLE,
            "cannot reach the Kafka brokers (check bootstrap.servers and "
            "security.protocol)");
    explain(RD_KAFKA_RESP_ERR__AUTHENTICATION,
            "sasl_ssl://h:9093/1: SASL authentication error: Authentication "
            "failed during authentication due to invalid credentials with "
            "SASL mechanism SCRAM-SHA-512",
            CISHARE_KAFKA_CONN_LOGIN_REFUSED,
            "op-a could not log in to Kafka: user name or password refused "
            "(check sasl.username and sasl.password)");
    explain(RD_KAFKA_RESP_ERR__SSL, "ssl://h:9093/1: something new",
            CISHARE_KAFKA_CONN_TLS_OTHER,
            "the TLS connection to the Kafka brokers failed (check "
            "ssl.ca.location, ssl.certificate.location and ssl.key.location)");
    explain(RD_KAFKA_RESP_ERR__FATAL, "x", CISHARE_KAFKA_CONN_OTHER,
            "Local: Fatal error");
    assert_true(
        cishare_kafka_conn_is_refusal(CISHARE_KAFKA_CONN_BROKER_UNTRUSTED));
    assert_true(
        cishare_kafka_conn_is_refusal(CISHARE_KAFKA_CONN_CLIENT_REFUSED));
    assert_true(
        cishare_kafka_conn_is_refusal(CISHARE_KAFKA_CONN_LOGIN_REFUSED));
    assert_false(cishare_kafka_conn_is_refusal(CISHARE_KAFKA_CONN_MISMATCH));
    assert_false(cishare_kafka_conn_is_refusal(CISHARE_KAFKA_CONN_CLOSED));
    assert_false(cishare_kafka_conn_is_refusal(CISHARE_KAFKA_CONN_UNREACHABLE));
}

static void test_watch(void **state)
{
    static const char *refused =
        "ssl://127.0.0.1:9093/bootstrap: Receive failed: error:0A000418:SSL "
        "routines::tlsv1 alert unknown ca: SSL alert number 48";
    static const char *down =
        "ssl://127.0.0.1:9093/bootstrap: Connect to ipv4#127.0.0.1:9093 "
        "failed: Connection refused";
    cishare_kafka_watch_t w;

    (void)state;
    /* a broker that is down is retried: no refusal */
    memset(&w, 0, sizeof(w));
    assert_false(cishare_kafka_watch_update(&w, RD_KAFKA_RESP_ERR__TRANSPORT,
                                            down, NULL));
    assert_false(cishare_kafka_watch_update(
        &w, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down", NULL));
    /* a refusal while another broker may still answer: go on */
    memset(&w, 0, sizeof(w));
    assert_false(cishare_kafka_watch_update(&w, RD_KAFKA_RESP_ERR__TRANSPORT,
                                            refused, NULL));
    /* every broker down after a refusal: give up, and say why */
    assert_true(cishare_kafka_watch_update(
        &w, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down", NULL));
    assert_non_null(strstr(w.text, "the broker refused this client's "
                                   "certificate: it was not issued by the "
                                   "cluster CA ("));
    /* in the other order too */
    memset(&w, 0, sizeof(w));
    assert_false(cishare_kafka_watch_update(
        &w, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down", NULL));
    assert_true(cishare_kafka_watch_update(&w, RD_KAFKA_RESP_ERR__TRANSPORT,
                                           refused, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_participant),
        cmocka_unit_test(test_admin_skips_directory),
        cmocka_unit_test(test_plaintext),
        cmocka_unit_test(test_sasl_ssl),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_other_ca),
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_participant),
        cmocka_unit_test(test_explain_conn),
        cmocka_unit_test(test_watch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
