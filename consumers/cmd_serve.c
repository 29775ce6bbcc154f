/*
 * cishare serve: a TAXII 2.1 server of participant P's feed (OASIS TAXII
 * 2.1, read-only), and optionally the MISP feed folder over HTTP. The
 * objects come from the index of taxii.h, filled from the feed's archive;
 * HTTP is libmicrohttpd (Debian's), TLS its GnuTLS.
 *
 * Threads: the main thread tails the archive into the index every second
 * (the only writer of taxii.db); libmicrohttpd's one internal thread
 * answers requests from its own read handle, so neither waits for the
 * other (WAL).
 */
#include "cishare/cli.h"
#include "cishare/config.h"
#include "cishare/identity.h"
#include "cishare/metrics.h"
#include "sinks/stix.h"
#include "taxii.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAXII_MEDIA    "application/taxii+json;version=2.1"
#define STIX_MEDIA     "application/stix+json;version=2.1"
#define API_ROOT       "cishare"
#define DEFAULT_LISTEN "127.0.0.1:9443"
#define REALM          "cishare TAXII"
#define USERS_MAX      (1u << 20) /* bytes of the users file */

typedef struct user_s {
    char *name, *participant, *hash;
    /* keyed BLAKE2b of the last password verified: Argon2id takes ~0.1 s
     * by design, too slow for every page of a paging client */
    uint8_t ok[crypto_generichash_BYTES];
    bool has_ok;
} user_t;

typedef struct serve_s {
    const char *me;       /* participant id */
    const char *misp_dir; /* NULL: no /misp/ */
    user_t *users;
    size_t user_cnt;
    uint8_t cache_key[crypto_generichash_KEYBYTES];
    bool tls, client_certs;
    cishare_taxii_t *rd; /* the HTTP thread's read handle */
    cishare_metrics_t *metrics;
    char listen_text[128];
} serve_t;

static void serve_usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare serve -c CONFIG [--listen ADDR:PORT] [--state DIR]\n"
        "                     [--misp-feed DIR] [--metrics ADDR:PORT] "
        "[-X key=value]...\n"
        "       cishare serve --hash-password USER:PARTICIPANT  (password "
        "on stdin)\n"
        "\n"
        "Serve what participant P's feed (cishare.participant) delivered "
        "as a TAXII 2.1\n"
        "server (read-only), from the feed's archive <state-dir>/archive.db "
        "(Kafka is\n"
        "not read). The index <state-dir>/taxii.db follows the archive "
        "while the feed\n"
        "runs; it is rebuilt from the archive when deleted.\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE     client configuration (required)\n"
        "  -l, --listen ADDR:PORT  where to listen (default " DEFAULT_LISTEN
        "); TLS\n"
        "                        (cishare.serve.tls.cert and .key) is "
        "required unless\n"
        "                        ADDR is loopback\n"
        "  -s, --state DIR       the feed's state folder (default "
        "cishare.state-dir, else .)\n"
        "  -m, --misp-feed DIR   also serve the MISP feed folder DIR (the "
        "feed's\n"
        "                        <out>/misp) at /misp/<file>, same "
        "credentials\n"
        "      --metrics ADDR:PORT  Prometheus metrics at "
        "http://ADDR:PORT/metrics\n"
        "      --hash-password USER:PARTICIPANT  read a password from stdin, "
        "print the\n"
        "                        users-file line with its Argon2id hash\n"
        "  -X key=value          set a configuration key\n"
        "  -h, --help            show this help\n"
        "\n"
        "TAXII: discovery /taxii2/, API root /" API_ROOT
        "/, collections \"feed\" (everything)\n"
        "and one per TLP label present (tlp-clear, tlp-green, ...); "
        "objects, manifest,\n"
        "objects/<id>/ and versions; added_after, limit (default %d, at "
        "most %d), next,\n"
        "match[type], match[id], match[version]. Every object carries "
        "its TLP 2.0\n"
        "marking (object_marking_refs). Revoked objects stay, as revoked: "
        "a revocation\n"
        "adds a new version of each object of the subject with "
        "\"revoked\": true and a\n"
        "later \"modified\", so a client that pulled the object learns it.\n"
        "\n"
        "Authentication (every request): HTTP basic against "
        "cishare.serve.users (lines\n"
        "'user:participant:<argon2id hash>'), or, with TLS and "
        "cishare.serve.tls.ca, a\n"
        "client certificate of that CA with subject CN=<participant>,"
        "OU=participant.\n"
        "Unknown user or wrong password: 401; another participant's "
        "credentials: 403.\n"
        "Exit status: 0 stopped by SIGINT/SIGTERM, 1 failure, 2 bad usage "
        "or\n"
        "configuration (no TLS on a non-loopback address, no users).\n",
        CISHARE_TAXII_LIMIT_DEFAULT, CISHARE_TAXII_LIMIT_MAX);
}

/* ---- users ---- */

static void users_free(serve_t *s)
{
    size_t i;

    for (i = 0; i < s->user_cnt; i++) {
        free(s->users[i].name);
        free(s->users[i].participant);
        if (s->users[i].hash)
            sodium_memzero(s->users[i].hash, strlen(s->users[i].hash));
        free(s->users[i].hash);
    }
    free(s->users);
    s->users = NULL;
    s->user_cnt = 0;
}

/* Lines "user:participant:hash"; '#' comments and blank lines skipped. */
static int users_load(serve_t *s, const char *path)
{
    char *buf = NULL, *line, *save = NULL, errstr[1024];
    size_t len, lno = 0;

    if (cishare_cli_read_file(path, USERS_MAX, &buf, &len, errstr,
                              sizeof(errstr))) {
        cishare_cli_error("serve: cishare.serve.users: %s", errstr);
        return CISHARE_EXIT_USAGE;
    }
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *a, *b;
        user_t *u;
        lno++;
        line[strcspn(line, "\r")] = '\0';
        if (!*line || *line == '#')
            continue;
        if (!(a = strchr(line, ':')) || !(b = strchr(a + 1, ':')) ||
            a == line || b == a + 1 || strncmp(b + 1, "$argon2id$", 10)) {
            cishare_cli_error("serve: %s:%zu: not 'user:participant:"
                              "<argon2id hash>' (make one with cishare serve "
                              "--hash-password)",
                              path, lno);
            free(buf);
            return CISHARE_EXIT_USAGE;
        }
        *a = *b = '\0';
        if (!(u = realloc(s->users, (s->user_cnt + 1) * sizeof(*u)))) {
            free(buf);
            return CISHARE_EXIT_FAIL;
        }
        s->users = u;
        u = &s->users[s->user_cnt++];
        memset(u, 0, sizeof(*u));
        u->name = strdup(line);
        u->participant = strdup(a + 1);
        u->hash = strdup(b + 1);
        if (!u->name || !u->participant || !u->hash) {
            free(buf);
            return CISHARE_EXIT_FAIL;
        }
    }
    free(buf);
    return CISHARE_EXIT_OK;
}

/* The participant that user:password authenticates, or NULL. */
static const char *check_password(serve_t *s, const char *user,
                                  const char *pass)
{
    uint8_t h[crypto_generichash_BYTES];
    size_t i;

    for (i = 0; i < s->user_cnt; i++) {
        user_t *u = &s->users[i];
        if (strcmp(u->name, user))
            continue;
        crypto_generichash(h, sizeof(h), (const uint8_t *)pass, strlen(pass),
                           s->cache_key, sizeof(s->cache_key));
        if (u->has_ok && !sodium_memcmp(h, u->ok, sizeof(h)))
            return u->participant;
        if (crypto_pwhash_str_verify(u->hash, pass, strlen(pass)))
            return NULL;
        memcpy(u->ok, h, sizeof(h));
        u->has_ok = true;
        return u->participant;
    }
    return NULL;
}

/* The participant a verified client certificate names (CN, with
 * OU=participant), into out; false when none. */
static bool cert_participant(struct MHD_Connection *c, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t sess;
    const gnutls_datum_t *peers;
    unsigned int status = 1, n = 0;
    gnutls_x509_crt_t crt;
    char ou[64];
    size_t oul = sizeof(ou), cnl = size;
    bool ok = false;

    if (!ci || !(sess = (gnutls_session_t)ci->tls_session))
        return false;
    if (gnutls_certificate_verify_peers2(sess, &status) < 0 || status)
        return false;
    if (!(peers = gnutls_certificate_get_peers(sess, &n)) || !n)
        return false;
    if (gnutls_x509_crt_init(&crt) < 0)
        return false;
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                      out, &cnl) >= 0 &&
        gnutls_x509_crt_get_dn_by_oid(crt,
                                      GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME,
                                      0, 0, ou, &oul) >= 0 &&
        !strcmp(ou, "participant"))
        ok = true;
    gnutls_x509_crt_deinit(crt);
    return ok;
}

/* ---- responses ---- */

static void count_status(serve_t *s, unsigned int status)
{
    char code[8];
    const char *labels[] = {"status", code, NULL};

    snprintf(code, sizeof(code), "%u", status);
    cishare_metrics_add(s->metrics, "cishare_serve_requests_total",
                        "HTTP requests answered, by status", labels, 1);
}

static enum MHD_Result send_body(serve_t *s, struct MHD_Connection *c,
                                 unsigned int status, char *body, size_t len,
                                 const char *type,
                                 const cishare_taxii_page_t *page)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (page && page->count) {
        char ts[32];
        cishare_taxii_time(page->first_ms, ts);
        MHD_add_response_header(r, "X-TAXII-Date-Added-First", ts);
        cishare_taxii_time(page->last_ms, ts);
        MHD_add_response_header(r, "X-TAXII-Date-Added-Last", ts);
    }
    if (status == MHD_HTTP_UNAUTHORIZED)
        ret = MHD_queue_basic_auth_fail_response(c, REALM, r);
    else
        ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    count_status(s, status);
    return ret;
}

static enum MHD_Result send_json(serve_t *s, struct MHD_Connection *c,
                                 unsigned int status, json_t *j)
{
    char *body = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    if (!body)
        return MHD_NO;
    return send_body(s, c, status, body, strlen(body), TAXII_MEDIA, NULL);
}

/* A TAXII error message. */
static enum MHD_Result send_error(serve_t *s, struct MHD_Connection *c,
                                  unsigned int status, const char *title,
                                  const char *desc)
{
    char code[8];

    snprintf(code, sizeof(code), "%u", status);
    return send_json(s, c, status,
                     json_pack("{s:s,s:s,s:s}", "title", title, "description",
                               desc ? desc : title, "http_status", code));
}

/* Accept: absent, any type, any application type, or
 * application/taxii+json with version 2.1 or none. */
static bool accept_ok(const char *accept)
{
    const char *p = accept;

    if (!accept || !*accept)
        return true;
    while (*p) {
        char item[256];
        size_t n = strcspn(p, ","), i, o = 0;
        for (i = 0; i < n && o + 1 < sizeof(item); i++)
            if (p[i] != ' ' && p[i] != '\t')
                item[o++] =
                    (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
        item[o] = '\0';
        /* drop a q parameter */
        if (strstr(item, ";q="))
            *strstr(item, ";q=") = '\0';
        if (!strcmp(item, "*/*") || !strcmp(item, "application/*") ||
            !strcmp(item, "application/taxii+json") ||
            !strcmp(item, TAXII_MEDIA))
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static const char *get_arg(void *opaque, const char *name)
{
    return MHD_lookup_connection_value(opaque, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- collections ---- */

/* "tlp-green" -> "green"; "feed" -> NULL; *okp false for others. */
static const char *collection_tlp(const char *name, bool *okp)
{
    *okp = true;
    if (!strcmp(name, "feed"))
        return NULL;
    if (!strncmp(name, "tlp-", 4) && cishare_stix_marking_id(name + 4))
        return name + 4;
    *okp = false;
    return NULL;
}

/* The uuid of collection `name` of participant me, into out (>= 40). */
static void collection_id(const char *me, const char *name, char *out,
                          size_t size)
{
    char id[100];

    cishare_stix_id("collection", me, name, id, sizeof(id));
    snprintf(out, size, "%.36s", id + strlen("collection--"));
}

static json_t *collection_json(const serve_t *s, const char *name)
{
    bool ok;
    const char *tlp = collection_tlp(name, &ok);
    char id[64], title[128], desc[256], label[16];
    size_t i;

    collection_id(s->me, name, id, sizeof(id));
    if (tlp) {
        for (i = 0; tlp[i] && i + 1 < sizeof(label); i++)
            label[i] =
                (char)(tlp[i] >= 'a' && tlp[i] <= 'z' ? tlp[i] - 32 : tlp[i]);
        label[i] = '\0';
        snprintf(title, sizeof(title), "%s feed, TLP:%s", s->me, label);
        snprintf(desc, sizeof(desc),
                 "What %s's cishare feed delivered at TLP:%s, with the "
                 "identities and marking-definitions",
                 s->me, label);
    } else {
        snprintf(title, sizeof(title), "%s feed", s->me);
        snprintf(desc, sizeof(desc),
                 "Everything %s's cishare feed delivered, every label", s->me);
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:[s]}", "id", id, "title",
                     title, "description", desc, "alias", name, "can_read", 1,
                     "can_write", 0, "media_types", STIX_MEDIA);
}

/* The collection names served: feed and one per label present. */
static json_t *collection_names(serve_t *s)
{
    json_t *labels = cishare_taxii_labels(s->rd), *names = json_array(), *v;
    size_t i;
    char name[64];

    json_array_append_new(names, json_string("feed"));
    json_array_foreach(labels, i, v)
    {
        snprintf(name, sizeof(name), "tlp-%s", json_string_value(v));
        json_array_append_new(names, json_string(name));
    }
    json_decref(labels);
    return names;
}

/* The name of the collection of uuid id, into name; false: none. */
static bool find_collection(serve_t *s, const char *id, char *name, size_t size)
{
    json_t *names = collection_names(s), *v;
    size_t i;
    char cid[64];
    bool found = false;

    json_array_foreach(names, i, v)
    {
        collection_id(s->me, json_string_value(v), cid, sizeof(cid));
        if (!strcmp(cid, id)) {
            snprintf(name, size, "%s", json_string_value(v));
            found = true;
            break;
        }
    }
    json_decref(names);
    return found;
}

/* ---- endpoints ---- */

static enum MHD_Result serve_misp(serve_t *s, struct MHD_Connection *c,
                                  const char *file)
{
    char path[4096], *buf = NULL, errstr[512];
    size_t len = 0;
    struct stat sb;

    /* a plain file name: no '/', no leading '.' (no "..", no hidden) */
    if (!s->misp_dir || !*file || *file == '.' ||
        strspn(file, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != strlen(file))
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found",
                          "no such MISP feed file");
    snprintf(path, sizeof(path), "%s/%s", s->misp_dir, file);
    if (stat(path, &sb) || !S_ISREG(sb.st_mode) ||
        cishare_cli_read_file(path, (size_t)1 << 30, &buf, &len, errstr,
                              sizeof(errstr)))
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found",
                          "no such MISP feed file");
    return send_body(s, c, MHD_HTTP_OK, buf, len,
                     strlen(file) > 4 &&
                             !strcmp(file + strlen(file) - 4, ".csv")
                         ? "text/csv"
                         : "application/json",
                     NULL);
}

static enum MHD_Result serve_query(serve_t *s, struct MHD_Connection *c,
                                   const char *tlp, cishare_taxii_kind_t kind,
                                   const char *object_id)
{
    cishare_taxii_query_t q = {0};
    cishare_taxii_page_t page;
    char errstr[512];
    cishare_err_t err;

    err =
        cishare_taxii_query_parse(&q, kind, get_arg, c, errstr, sizeof(errstr));
    if (err) {
        cishare_taxii_query_clear(&q);
        return send_error(s, c, MHD_HTTP_BAD_REQUEST, "Bad request", errstr);
    }
    q.tlp = tlp;
    if (object_id) {
        json_decref(q.ids);
        q.ids = json_pack("[s]", object_id);
    }
    err = cishare_taxii_query(s->rd, &q, kind, &page, errstr, sizeof(errstr));
    cishare_taxii_query_clear(&q);
    if (err) {
        cishare_cli_error("serve: %s", errstr);
        return send_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "Internal error", "the index could not be read");
    }
    if (object_id && !page.count && !q.after_seq) {
        free(page.body);
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found",
                          "no such object in this collection (or none "
                          "matches the filters)");
    }
    if (kind == CISHARE_TAXII_OBJECTS)
        cishare_metrics_add(s->metrics, "cishare_serve_objects_total",
                            "STIX objects served", NULL, (double)page.count);
    return send_body(s, c, MHD_HTTP_OK, page.body, page.len, TAXII_MEDIA,
                     &page);
}

/* The TAXII endpoints under /cishare/. rest: the path after it. */
static enum MHD_Result serve_api(serve_t *s, struct MHD_Connection *c,
                                 const char *rest)
{
    char coll[64], name[64], oid[300], tail[64];
    const char *p;
    bool ok;
    size_t n;

    if (!*rest)
        return send_json(
            s, c, MHD_HTTP_OK,
            json_pack("{s:s,s:s,s:[s],s:i}", "title", "cishare", "description",
                      "The TAXII 2.1 API root of this participant's cishare "
                      "feed",
                      "versions", TAXII_MEDIA, "max_content_length", 0));
    if (strncmp(rest, "collections/", 12))
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found", NULL);
    p = rest + 12;
    if (!*p) {
        json_t *names = collection_names(s), *arr = json_array(), *v;
        size_t i;
        json_array_foreach(names, i, v) json_array_append_new(
            arr, collection_json(s, json_string_value(v)));
        json_decref(names);
        return send_json(s, c, MHD_HTTP_OK,
                         json_pack("{s:o}", "collections", arr));
    }
    n = strcspn(p, "/");
    if (n >= sizeof(coll))
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found",
                          "no such collection");
    memcpy(coll, p, n);
    coll[n] = '\0';
    p += n;
    if (*p == '/')
        p++;
    if (!find_collection(s, coll, name, sizeof(name)))
        return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found",
                          "no such collection");
    if (!*p)
        return send_json(s, c, MHD_HTTP_OK, collection_json(s, name));
    {
        const char *tlp = collection_tlp(name, &ok);
        if (!strcmp(p, "objects/") || !strcmp(p, "objects"))
            return serve_query(s, c, tlp, CISHARE_TAXII_OBJECTS, NULL);
        if (!strcmp(p, "manifest/") || !strcmp(p, "manifest"))
            return serve_query(s, c, tlp, CISHARE_TAXII_MANIFEST, NULL);
        if (!strncmp(p, "objects/", 8)) {
            p += 8;
            n = strcspn(p, "/");
            if (n && n < sizeof(oid)) {
                memcpy(oid, p, n);
                oid[n] = '\0';
                snprintf(tail, sizeof(tail), "%.63s", p + n);
                if (!strcmp(tail, "") || !strcmp(tail, "/"))
                    return serve_query(s, c, tlp, CISHARE_TAXII_OBJECTS, oid);
                if (!strcmp(tail, "/versions/") || !strcmp(tail, "/versions"))
                    return serve_query(s, c, tlp, CISHARE_TAXII_VERSIONS, oid);
            }
        }
    }
    return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found", NULL);
}

/* The base URL of this request, for discovery's api_roots. */
static void base_url(serve_t *s, struct MHD_Connection *c, char *out,
                     size_t size)
{
    const char *host =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);

    if (!host || !*host || strlen(host) > 255 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789.-:[]") != strlen(host))
        host = s->listen_text;
    snprintf(out, size, "%s://%s", s->tls ? "https" : "http", host);
}

/* libmicrohttpd's own messages (a TLS handshake that failed, ...): on
 * stderr as its default logger writes them, or JSON lines with JSON logs
 * (log.h). Any of its threads. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[1024];
    size_t n;

    (void)cls;
    if (cishare_log_format() != CISHARE_LOG_JSON) {
        vfprintf(stderr, fmt, ap);
        return;
    }
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    cishare_log_line(CISHARE_LOG_WARN, "% ", line);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_size, void **con_cls)
{
    serve_t *s = cls;
    const char *who = NULL;
    char *user = NULL, *pass = NULL, cn[256];

    (void)version;
    (void)upload_data;
    if (!*con_cls) { /* headers only so far: wait for the body */
        *con_cls = s;
        return MHD_YES;
    }
    if (*upload_size)
        return send_error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "Not accepted",
                          "this server is read-only");
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return send_error(s, c, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "Method not allowed", "this server is read-only");
    /* Authentication first: nothing, not even discovery, without it. */
    if (s->client_certs && cert_participant(c, cn, sizeof(cn)))
        who = cn;
    if (!who && (user = MHD_basic_auth_get_username_password(c, &pass)) && pass)
        who = check_password(s, user, pass);
    if (pass) {
        sodium_memzero(pass, strlen(pass));
        MHD_free(pass);
    }
    if (user)
        MHD_free(user);
    if (!who)
        return send_error(s, c, MHD_HTTP_UNAUTHORIZED, "Unauthorized",
                          "unknown user or wrong password");
    if (strcmp(who, s->me))
        return send_error(s, c, MHD_HTTP_FORBIDDEN, "Forbidden",
                          "these credentials are another participant's; "
                          "this server serves one participant's feed");
    if (!strncmp(url, "/misp/", 6))
        return serve_misp(s, c, url + 6);
    if (!accept_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_ACCEPT)))
        return send_error(s, c, MHD_HTTP_NOT_ACCEPTABLE, "Not acceptable",
                          "this server answers " TAXII_MEDIA);
    if (!strcmp(url, "/taxii2/") || !strcmp(url, "/taxii2")) {
        char base[300], root[400];
        base_url(s, c, base, sizeof(base));
        snprintf(root, sizeof(root), "%s/" API_ROOT "/", base);
        return send_json(
            s, c, MHD_HTTP_OK,
            json_pack("{s:s,s:s,s:s,s:[s]}", "title", "cishare TAXII 2.1",
                      "description",
                      "A participant's cishare feed (signed, TLP-filtered "
                      "threat intelligence), read-only",
                      "default", root, "api_roots", root));
    }
    if (!strncmp(url, "/" API_ROOT "/", strlen(API_ROOT) + 2))
        return serve_api(s, c, url + strlen(API_ROOT) + 2);
    if (!strcmp(url, "/" API_ROOT))
        return serve_api(s, c, "");
    return send_error(s, c, MHD_HTTP_NOT_FOUND, "Not found", NULL);
}

/* ---- the command ---- */

static int hash_password(const char *who)
{
    char pw[1024], hash[crypto_pwhash_STRBYTES];
    const char *colon = strchr(who, ':');
    size_t n;

    if (!colon || colon == who || !colon[1] || strchr(colon + 1, ':'))
        return cishare_cli_usage_error(
            "serve", "--hash-password '%s': not USER:PARTICIPANT", who);
    if (sodium_init() < 0)
        return CISHARE_EXIT_FAIL;
    if (!fgets(pw, sizeof(pw), stdin)) {
        cishare_cli_error("serve: --hash-password: no password on stdin");
        return CISHARE_EXIT_USAGE;
    }
    n = strcspn(pw, "\r\n");
    pw[n] = '\0';
    if (!n) {
        cishare_cli_error("serve: --hash-password: empty password");
        return CISHARE_EXIT_USAGE;
    }
    if (crypto_pwhash_str(hash, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE)) {
        sodium_memzero(pw, sizeof(pw));
        cishare_cli_error("serve: --hash-password: out of memory");
        return CISHARE_EXIT_FAIL;
    }
    sodium_memzero(pw, sizeof(pw));
    printf("%s:%s\n", who, hash);
    return CISHARE_EXIT_OK;
}

static int read_pem(const char *key, const cishare_config_t *conf, char **bufp)
{
    const char *path = cishare_config_get(conf, key);
    char errstr[1024];
    size_t len;

    *bufp = NULL;
    if (!path || !*path)
        return CISHARE_EXIT_OK;
    if (cishare_cli_read_file(path, 1u << 20, bufp, &len, errstr,
                              sizeof(errstr))) {
        cishare_cli_error("serve: %s: %s", key, errstr);
        return CISHARE_EXIT_USAGE;
    }
    return CISHARE_EXIT_OK;
}

int cishare_cmd_serve(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"state", required_argument, NULL, 's'},
        {"misp-feed", required_argument, NULL, 'm'},
        {"metrics", required_argument, NULL, 1},
        {"hash-password", required_argument, NULL, 2},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    cishare_config_t *conf = cishare_config_new();
    cishare_cli_conf_t cc = {NULL, calloc((size_t)argc + 1, sizeof(char *)), 0};
    const char *listen = DEFAULT_LISTEN, *state = NULL, *metrics = NULL;
    const char *me, *users;
    char taxii_path[4096], arch_path[4096], errstr[1024];
    char *cert = NULL, *key = NULL, *ca = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    serve_t s;
    cishare_taxii_t *wr = NULL;
    cishare_directory_t *dir = NULL;
    struct MHD_Daemon *d = NULL;
    uint64_t msgs = 0, objs = 0;
    json_t *names = NULL;
    struct stat sb;
    int c, rc = CISHARE_EXIT_OK;
    unsigned int flags;

    memset(&s, 0, sizeof(s));
    if (!conf || !cc.xs) {
        rc = CISHARE_EXIT_FAIL;
        cishare_cli_error("serve: out of memory");
        goto done;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:l:s:m:X:h", lopts, NULL)) != -1) {
        if (cishare_cli_conf_opt(&cc, c, optarg))
            continue;
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'm':
            s.misp_dir = optarg;
            break;
        case 1:
            metrics = optarg;
            break;
        case 2:
            rc = hash_password(optarg);
            goto done;
        case 'h':
            serve_usage(stdout);
            goto done;
        default:
            rc = cishare_cli_usage_error("serve", "unknown option");
            goto done;
        }
    }
    if ((rc = cishare_cli_conf_args(&cc, "serve", argc, argv)) ||
        (rc = cishare_cli_conf_load(&cc, conf, "serve")))
        goto done;
    if (cishare_listen_parse(listen, &ss, &sl, errstr, sizeof(errstr))) {
        rc = cishare_cli_usage_error("serve", "--listen: %s", errstr);
        goto done;
    }
    snprintf(s.listen_text, sizeof(s.listen_text), "%s", listen);
    if (s.misp_dir && (stat(s.misp_dir, &sb) || !S_ISDIR(sb.st_mode))) {
        rc = cishare_cli_usage_error("serve", "--misp-feed %s: not a folder",
                                     s.misp_dir);
        goto done;
    }
    me = cishare_config_get(conf, CISHARE_CONF_PARTICIPANT);
    if (!me || !*me) {
        rc = cishare_cli_usage_error("serve", "%s is not set (whose feed)",
                                     CISHARE_CONF_PARTICIPANT);
        goto done;
    }
    s.me = me;
    /* the participant must be in the signed directory */
    if (cishare_identity_load_directory(conf, &dir, errstr, sizeof(errstr))) {
        cishare_cli_error_lines("serve: ", errstr);
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    if (!cishare_directory_find(dir, me)) {
        cishare_cli_error("serve: %s '%s' is not in the directory",
                          CISHARE_CONF_PARTICIPANT, me);
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    if ((rc = read_pem("cishare.serve.tls.cert", conf, &cert)) ||
        (rc = read_pem("cishare.serve.tls.key", conf, &key)) ||
        (rc = read_pem("cishare.serve.tls.ca", conf, &ca)))
        goto done;
    if (!cert != !key) {
        rc = cishare_cli_usage_error("serve", "set both cishare.serve.tls.cert "
                                              "and cishare.serve.tls.key");
        goto done;
    }
    s.tls = cert != NULL;
    s.client_certs = s.tls && ca;
    if (!s.tls && !cishare_listen_is_loopback(&ss)) {
        cishare_cli_error("serve: --listen %s is not a loopback address: TLS "
                          "is required (set cishare.serve.tls.cert and "
                          "cishare.serve.tls.key)",
                          listen);
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    if (ca && !s.tls) {
        rc = cishare_cli_usage_error("serve", "cishare.serve.tls.ca needs TLS "
                                              "(cishare.serve.tls.cert)");
        goto done;
    }
    users = cishare_config_get(conf, "cishare.serve.users");
    if (users && *users && (rc = users_load(&s, users)))
        goto done;
    if (!s.user_cnt && !s.client_certs) {
        cishare_cli_error("serve: no credentials: set cishare.serve.users "
                          "(cishare serve --hash-password makes its lines) "
                          "or, with TLS, cishare.serve.tls.ca");
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    if (sodium_init() < 0) {
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    randombytes_buf(s.cache_key, sizeof(s.cache_key));

    /* the index: the feed's state folder */
    if (!state)
        state = cishare_config_get(conf, CISHARE_CONF_STATE_DIR);
    if (!state || !*state)
        state = ".";
    if (snprintf(arch_path, sizeof(arch_path), "%s/archive.db", state) >=
            (int)sizeof(arch_path) ||
        snprintf(taxii_path, sizeof(taxii_path), "%s/taxii.db", state) >=
            (int)sizeof(taxii_path)) {
        rc = cishare_cli_usage_error("serve", "--state: too long");
        goto done;
    }
    if (stat(arch_path, &sb)) {
        cishare_cli_error("serve: %s: %s; the feed writes it (cishare feed "
                          "with the same cishare.state-dir, or --state)",
                          arch_path, strerror(errno));
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    if (cishare_taxii_open(taxii_path, arch_path, true, &wr, errstr,
                           sizeof(errstr)) ||
        cishare_taxii_update(wr, &msgs, &objs, errstr, sizeof(errstr)) ||
        cishare_taxii_open(taxii_path, NULL, false, &s.rd, errstr,
                           sizeof(errstr))) {
        cishare_cli_error("serve: %s", errstr);
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    if ((rc = cishare_cli_metrics_start("serve", metrics, "serve",
                                        &s.metrics)) != CISHARE_EXIT_OK)
        goto done;

    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
            (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    if (s.tls)
        flags |= MHD_USE_TLS;
    cishare_cli_signals();
    {
        /* TLS options only with TLS: MHD refuses them otherwise */
        struct MHD_OptionItem opts[4];
        size_t n = 0;
        memset(opts, 0, sizeof(opts));
        if (s.tls) {
            opts[n++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
            opts[n++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
        }
        if (s.client_certs)
            opts[n++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, ca};
        opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        /* the logger first: MHD uses its own until it sees it */
        d = MHD_start_daemon(flags, 0, NULL, NULL, handle, &s,
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                             MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    }
    if (!d) {
        cishare_cli_error("serve: cannot listen on %s (in use, or a bad TLS "
                          "certificate or key)",
                          listen);
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        names = collection_names(&s);
        cishare_cli_info(
            "serve: %s's feed at %s://%s (port %u) /taxii2/, collections "
            "%zu (feed%s), %llu objects (%llu archived messages new to the "
            "index), %s%s%s",
            me, s.tls ? "https" : "http", listen, di ? di->port : 0,
            json_array_size(names),
            json_array_size(names) > 1 ? " + labels" : "",
            (unsigned long long)cishare_taxii_count(s.rd, NULL),
            (unsigned long long)msgs, s.user_cnt ? "basic auth" : "",
            s.user_cnt && s.client_certs ? " + " : "",
            s.client_certs ? "client certificates" : "");
        json_decref(names);
    }
    cishare_metrics_set(s.metrics, CISHARE_METRIC_GAUGE,
                        "cishare_serve_index_objects",
                        "object versions in the TAXII index", NULL,
                        (double)cishare_taxii_count(s.rd, NULL));
    while (!cishare_cli_stop) {
        uint64_t m = 0, o = 0;
        sleep(1);
        if (cishare_cli_stop)
            break;
        if (cishare_taxii_update(wr, &m, &o, errstr, sizeof(errstr)))
            cishare_cli_error("serve: %s (retrying)", errstr);
        else if (m) {
            cishare_cli_info("serve: indexed %llu new messages (%llu objects)",
                             (unsigned long long)m, (unsigned long long)o);
            cishare_metrics_set(s.metrics, CISHARE_METRIC_GAUGE,
                                "cishare_serve_index_objects",
                                "object versions in the TAXII index", NULL,
                                (double)cishare_taxii_count(wr, NULL));
        }
    }
    cishare_cli_info("serve: stopped");
done:
    if (d)
        MHD_stop_daemon(d);
    cishare_metrics_stop(s.metrics);
    cishare_taxii_close(s.rd);
    cishare_taxii_close(wr);
    cishare_directory_destroy(dir);
    users_free(&s);
    if (key)
        sodium_memzero(key, strlen(key));
    free(key);
    free(cert);
    free(ca);
    cishare_config_destroy(conf);
    free(cc.xs);
    return rc;
}
