/*
 * cishare inspect: show the envelope, the verification result and the
 * payload of one Kafka message (headers + key + value), read from a file.
 *
 * Input forms (auto-detected; first non-blank byte '{' means JSON):
 *
 *  JSON   {"key": "<subject>",
 *          "headers": [["cishare.id", "..."], ...]   (or an object
 *                     {"cishare.id": "...", "cishare.relay": ["..", ".."]};
 *                     a binary value, layout 2's cishare.env, as
 *                     {"base64": "..."}),
 *          "value_b64": "<standard base64 of the value>"}
 *
 *  kcat   what `kcat -C ... -f '%K %k\n%h\n%S %s\n'` prints for ONE
 *         message: "<key length> <key>\n<headers>\n<value length> <value
 *         bytes>\n". Lengths make key and value binary-safe; kcat prints
 *         headers as name=value joined by ',' (cishare text header values
 *         are printable and a ',' inside one is never followed by
 *         "name="; the binary cishare.env of layout 2 is as long as its
 *         own fields say, cishare_envelope_env_len).
 *
 * Output is terminal-safe: everything that comes from the message (header
 * names and values, key, payload text, error details quoting them) is
 * escaped before it is printed, on stdout and stderr, so a message cannot
 * drive the analyst's terminal (see put_safe()).
 */
#include "cishare/cli.h"
#include "cishare/codec.h" /* cishare_time_now_ms */
#include "cishare/directory.h"
#include "cishare/identity.h"
#include "cishare/envelope.h"
#include "cishare/message.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRBUF_SIZE 16384
#define INPUT_MAX   (4u * CISHARE_MESSAGE_MAX_VALUE)
#define KCAT_FORMAT "%K %k\\n%h\\n%S %s\\n"

/* ---- terminal-safe output ---- */

/*
 * How untrusted bytes are escaped:
 *
 *   ESC_TEXT  any bytes (header, key, error text): C0 controls (newline
 *             included), DEL and bytes that are not valid UTF-8 become
 *             \xNN; C1 controls (U+0080..U+009F) and bidi/line-separator
 *             controls become \uNNNN; a backslash becomes \\ so the
 *             escaping is unambiguous.
 *   ESC_JSON  jansson output (valid UTF-8, C0 inside strings already
 *             escaped, newlines are layout): DEL, C1 and the bidi
 *             controls become \uNNNN, which JSON reads back unchanged.
 */
typedef enum { ESC_TEXT, ESC_JSON } esc_mode_t;

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, <= U+10FFFF) and its code point, or 0. */
static size_t utf8_seq(const uint8_t *s, size_t len, uint32_t *cp)
{
    uint8_t lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        *cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        *cp = s[0] & 0x0f;
        if (s[0] == 0xe0)
            lo = 0xa0;
        else if (s[0] == 0xed)
            hi = 0x9f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        *cp = s[0] & 0x07;
        if (s[0] == 0xf0)
            lo = 0x90;
        else if (s[0] == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    return n;
}

/* Code points a terminal may act on, beyond C0 and DEL: C1 controls, and
 * the bidi and separator controls that reorder or break what is shown. */
static bool cp_unsafe(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
           cp == 0x200f || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Write len untrusted bytes to fp, escaped as mode says. */
static void put_safe(FILE *fp, const void *src, size_t len, esc_mode_t mode)
{
    const uint8_t *s = src;
    size_t i = 0, n;
    uint32_t cp;

    while (i < len) {
        n = utf8_seq(s + i, len - i, &cp);
        if (n == 0) {
            if (mode == ESC_TEXT)
                fprintf(fp, "\\x%02x", s[i]);
            else
                fputs("\\uFFFD", fp);
            i++;
            continue;
        }
        if (mode == ESC_TEXT && cp == '\\')
            fputs("\\\\", fp);
        else if (mode == ESC_TEXT && (cp < 0x20 || cp == 0x7f))
            fprintf(fp, "\\x%02x", (unsigned)cp);
        else if (mode == ESC_TEXT && cp_unsafe(cp))
            fprintf(fp, "\\u%04x", (unsigned)cp);
        else if (mode == ESC_JSON &&
                 ((cp < 0x20 && cp != '\n') || cp == 0x7f || cp_unsafe(cp)))
            fprintf(fp, "\\u%04X", (unsigned)cp); /* jansson's case */
        else
            fwrite(s + i, 1, n, fp);
        i += n;
    }
}

static void put_safe_str(FILE *fp, const char *s, esc_mode_t mode)
{
    put_safe(fp, s, strlen(s), mode);
}

/* A malloc()ed ESC_TEXT copy of len bytes (the caller frees), or NULL. */
static char *safe_dup(const void *src, size_t len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&buf, &size);

    if (!fp)
        return NULL;
    put_safe(fp, src, len, ESC_TEXT);
    if (fclose(fp) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Is s (len bytes) valid UTF-8 without NUL? (jansson's string rule) */
static bool utf8_valid(const void *src, size_t len)
{
    const uint8_t *s = src;
    size_t i = 0, n;
    uint32_t cp;

    while (i < len) {
        if (!(n = utf8_seq(s + i, len - i, &cp)) || cp == 0)
            return false;
        i += n;
    }
    return true;
}

/* cishare_cli_error() with the formatted text escaped (it may quote the
 * message, or file names). */
static void inspect_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void inspect_error(const char *fmt, ...)
{
    char buf[ERRBUF_SIZE + 1024], *safe;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    safe = safe_dup(buf, strnlen(buf, sizeof(buf)));
    cishare_cli_error("%s", safe ? safe : "inspect: (error text lost)");
    free(safe);
}

static void inspect_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare inspect [--directory FILE [--root-key FILE]] "
            "[--key FILE]\n"
            "                       [--json] [FILE|-]\n"
            "\n"
            "Show the envelope (headers), the verification result and the "
            "payload of one\n"
            "message. Input (auto-detected):\n"
            "  JSON  {\"key\": ..., \"headers\": [[name, value], ...] or "
            "{name: value},\n"
            "         \"value_b64\": ...}\n"
            "  kcat  the output of: kcat -C -b BROKER -t TOPIC -o OFFSET -c 1 "
            "\\\n"
            "          -f '%%K %%k\\n%%h\\n%%S %%s\\n'\n"
            "\n"
            "Options:\n"
            "  -d, --directory FILE  signed participant directory to verify "
            "against\n"
            "  -r, --root-key FILE   pinned root public key (default: "
            "root.pub beside it)\n"
            "  -k, --key FILE        secret key file: decrypt when the "
            "message is\n"
            "                        addressed to it (RED, AMBER+STRICT)\n"
            "  -j, --json            print one JSON object instead of text\n"
            "  -h, --help            show this help\n"
            "\n"
            "Text from the message (headers, key, payload, errors quoting "
            "them) is printed\n"
            "escaped: control bytes and invalid UTF-8 as \\xNN, C1 and "
            "bidi controls as \\uNNNN.\n"
            "\n"
            "Exit status: 0 verified, 1 verification failed (or no "
            "--directory),\n"
            "2 bad usage or malformed input.\n");
}

typedef struct input_s {
    char *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    rd_kafka_headers_t *hdrs;
} input_t;

static void input_clear(input_t *in)
{
    free(in->key);
    free(in->value);
    if (in->hdrs)
        rd_kafka_headers_destroy(in->hdrs);
    memset(in, 0, sizeof(*in));
}

/* A header value: a string, or {"base64": "..."} for a binary one (the
 * layout 2 cishare.env; the form quarantine records use). */
static int add_header(input_t *in, const char *name, const json_t *v, char *err,
                      size_t errsize)
{
    const json_t *b = json_object_get(v, "base64");
    uint8_t bin[CISHARE_HEADER_VALUE_MAX];
    size_t n = 0;

    if (json_is_object(v) && json_object_size(v) == 1 && json_is_string(b)) {
        if (sodium_base642bin(bin, sizeof(bin), json_string_value(b),
                              json_string_length(b), NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            snprintf(err, errsize,
                     "header %.64s: \"base64\": not base64 of at most %d "
                     "bytes",
                     name, CISHARE_HEADER_VALUE_MAX);
            return -1;
        }
        rd_kafka_header_add(in->hdrs, name, -1, bin, (ssize_t)n);
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, errsize,
                 "header %.64s: value is not a string or {\"base64\": ...}",
                 name);
        return -1;
    }
    rd_kafka_header_add(in->hdrs, name, -1, json_string_value(v),
                        (ssize_t)json_string_length(v));
    return 0;
}

static int parse_json(const char *buf, size_t len, input_t *in, char *err,
                      size_t errsize)
{
    json_error_t je;
    json_t *root, *h, *v;
    const char *b64;
    size_t i, n;
    int rc = -1;

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errsize, "line %d: %s", je.line, je.text);
        return -1;
    }
    in->hdrs = rd_kafka_headers_new(16);
    if (!json_is_object(root)) {
        snprintf(err, errsize, "expected a JSON object");
        goto done;
    }
    v = json_object_get(root, "key");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) ||
            json_string_length(v) > CISHARE_SUBJECT_MAX_LEN) {
            snprintf(err, errsize,
                     "\"key\": expected a string of at most %d "
                     "bytes",
                     CISHARE_SUBJECT_MAX_LEN);
            goto done;
        }
        in->key_len = json_string_length(v);
        in->key = malloc(in->key_len + 1);
        memcpy(in->key, json_string_value(v), in->key_len + 1);
    }
    h = json_object_get(root, "headers");
    if (json_is_array(h)) {
        if (json_array_size(h) > CISHARE_ENV_MAX_HEADERS * 2) {
            snprintf(err, errsize, "\"headers\": too many");
            goto done;
        }
        json_array_foreach(h, i, v)
        {
            if (!json_is_array(v) || json_array_size(v) != 2 ||
                !json_is_string(json_array_get(v, 0))) {
                snprintf(err, errsize,
                         "\"headers\"[%zu]: expected [name, value]", i);
                goto done;
            }
            if (add_header(in, json_string_value(json_array_get(v, 0)),
                           json_array_get(v, 1), err, errsize))
                goto done;
        }
    } else if (json_is_object(h)) {
        const char *name;
        json_object_foreach(h, name, v)
        {
            if (json_is_array(v)) {
                json_t *e;
                if (json_array_size(v) > CISHARE_ENV_MAX_HEADERS) {
                    snprintf(err, errsize, "header %.64s: too many", name);
                    goto done;
                }
                json_array_foreach(v, n, e)
                {
                    if (add_header(in, name, e, err, errsize))
                        goto done;
                }
            } else if (add_header(in, name, v, err, errsize)) {
                goto done;
            }
        }
    } else if (h) {
        snprintf(err, errsize, "\"headers\": expected an array or object");
        goto done;
    }
    v = json_object_get(root, "value_b64");
    if (!json_is_string(v)) {
        snprintf(err, errsize, "\"value_b64\": expected a base64 string");
        goto done;
    }
    b64 = json_string_value(v);
    n = json_string_length(v);
    if (n / 4 * 3 > CISHARE_MESSAGE_MAX_VALUE + 3) {
        snprintf(err, errsize, "\"value_b64\": value longer than %lu bytes",
                 (unsigned long)CISHARE_MESSAGE_MAX_VALUE);
        goto done;
    }
    in->value = malloc(n / 4 * 3 + 4);
    if (sodium_base642bin(in->value, n / 4 * 3 + 4, b64, n, " \n\r\t",
                          &in->value_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        snprintf(err, errsize, "\"value_b64\": not valid base64");
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/* "<len> " prefix; returns the length or -1. */
static long read_len(const char **p, const char *end)
{
    long v = 0;
    const char *s = *p;

    if (s < end && *s == '-')
        return -1; /* kcat prints -1 for a null key/value */
    while (s < end && isdigit((unsigned char)*s) && v < 100000000)
        v = v * 10 + (*s++ - '0');
    if (s == *p || s >= end || *s != ' ')
        return -1;
    *p = s + 1;
    return v;
}

/* Does s start "name=" with a plausible header name? */
static bool starts_header(const char *s, const char *end)
{
    const char *c = s;

    while (c < end &&
           (isalnum((unsigned char)*c) || *c == '.' || *c == '_' || *c == '-'))
        c++;
    return c > s && c < end && *c == '=';
}

static int parse_kcat(const char *buf, size_t len, input_t *in, char *err,
                      size_t errsize)
{
    const char *p = buf, *end = buf + len, *nl, *h, *he;
    long n;

    in->hdrs = rd_kafka_headers_new(16);
    /* key */
    if ((n = read_len(&p, end)) < 0 || n > CISHARE_SUBJECT_MAX_LEN ||
        end - p < n + 1 || p[n] != '\n') {
        snprintf(err, errsize,
                 "kcat line 1: expected '<key length> <key>' "
                 "(kcat -f '%s')",
                 KCAT_FORMAT);
        return -1;
    }
    in->key = malloc((size_t)n + 1);
    memcpy(in->key, p, (size_t)n);
    in->key[n] = '\0';
    in->key_len = (size_t)n;
    p += n + 1;
    /* headers: one line, but layout 2's cishare.env is binary: its
     * length comes from its own fields, so a '\n' or ',' inside it is
     * data (cishare_envelope_env_len) */
    for (h = p; h < end && *h != '\n';) {
        const char *eq;
        char name[256];
        if ((size_t)(end - h) > 12 && !memcmp(h, CISHARE_H_ENV "=", 12)) {
            size_t bl = cishare_envelope_env_len((const uint8_t *)h + 12,
                                                 (size_t)(end - h - 12));
            eq = h + 11;
            he = h + 12 + bl;
            if (!bl || he >= end || (*he != ',' && *he != '\n')) {
                snprintf(err, errsize,
                         "kcat line 2: " CISHARE_H_ENV
                         ": not a well-formed layout 2 value");
                return -1;
            }
        } else {
            if (!(nl = memchr(h, '\n', (size_t)(end - h)))) {
                snprintf(err, errsize,
                         "kcat line 2: expected the headers line");
                return -1;
            }
            /* the header ends at a ',' that starts another "name=" */
            for (he = h; he < nl; he++)
                if (*he == ',' && starts_header(he + 1, nl))
                    break;
            eq = memchr(h, '=', (size_t)(he - h));
        }
        if (!eq || (size_t)(eq - h) >= sizeof(name)) {
            snprintf(err, errsize, "kcat line 2: expected name=value");
            return -1;
        }
        memcpy(name, h, (size_t)(eq - h));
        name[eq - h] = '\0';
        rd_kafka_header_add(in->hdrs, name, -1, eq + 1, he - eq - 1);
        h = *he == ',' ? he + 1 : he;
    }
    if (h >= end) {
        snprintf(err, errsize, "kcat line 2: expected the headers line");
        return -1;
    }
    p = h + 1;
    /* value */
    if ((n = read_len(&p, end)) < 0 || (size_t)n > CISHARE_MESSAGE_MAX_VALUE ||
        end - p < n) {
        snprintf(err, errsize,
                 "kcat line 3: expected '<value length> <value bytes>' of at "
                 "most %lu bytes",
                 (unsigned long)CISHARE_MESSAGE_MAX_VALUE);
        return -1;
    }
    in->value = malloc((size_t)n + 1);
    memcpy(in->value, p, (size_t)n);
    in->value_len = (size_t)n;
    p += n;
    if (p < end && *p == '\n')
        p++;
    if (p != end) {
        snprintf(err, errsize,
                 "%zu bytes after the message: give one "
                 "message (kcat -c 1)",
                 (size_t)(end - p));
        return -1;
    }
    return 0;
}

static void print_text(const cishare_envelope_t *env, bool parsed,
                       const rd_kafka_headers_t *hdrs, const input_t *in,
                       const char *status, const char *detail,
                       const json_t *payload, const char *payload_note)
{
    const char *name;
    const void *val;
    size_t size, i;
    long cnt;

    fputs("key: ", stdout);
    put_safe(stdout, in->key ? in->key : "", in->key_len, ESC_TEXT);
    printf("\nheaders:\n");
    for (i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
        fputs("  ", stdout);
        put_safe_str(stdout, name, ESC_TEXT);
        fputs(": ", stdout);
        if (val)
            put_safe(stdout, val, size > 200 ? 200 : size, ESC_TEXT);
        else
            fputs("(null)", stdout);
        putchar('\n');
    }
    printf("value: %zu bytes%s\n", in->value_len,
           parsed && cishare_envelope_encrypted(env) ? " (encrypted)" : "");
    if (parsed && cishare_envelope_encrypted(env)) {
        cnt = cishare_seal_recipient_cnt(in->value, in->value_len);
        if (cnt >= 0)
            printf("recipients: %ld\n", cnt);
        else
            printf("recipients: (malformed encrypted value)\n");
        if (cnt >= 0) {
            /* layout version; a v2 value names its epoch (seal.h) */
            uint8_t ep[CISHARE_SEAL_EPOCH_ID_BYTES];
            int ver = cishare_seal_version(in->value, in->value_len, ep);
            size_t k;

            printf("seal: v%d", ver);
            if (ver == CISHARE_SEAL_VERSION_2) {
                fputs(", epoch ", stdout);
                for (k = 0; k < sizeof(ep); k++)
                    printf("%02x", ep[k]);
            }
            putchar('\n');
        }
    }
    printf("verification: %s%s", status, detail[0] ? ": " : "");
    put_safe_str(stdout, detail, ESC_TEXT);
    putchar('\n');
    if (payload) {
        char *s = json_dumps(payload, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputs("payload: ", stdout);
        put_safe_str(stdout, s ? s : "?", ESC_JSON);
        putchar('\n');
        free(s);
    } else {
        fputs("payload: (", stdout);
        put_safe_str(stdout, payload_note, ESC_TEXT);
        fputs(")\n", stdout);
    }
}

int cishare_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"directory", required_argument, NULL, 'd'},
        {"root-key", required_argument, NULL, 'r'},
        {"key", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dir_path = NULL, *root = NULL, *key_path = NULL, *file = "-";
    char *buf = NULL, *errstr = NULL, *perr = NULL;
    const char *status, *payload_note = "not decoded";
    size_t len = 0, i;
    bool as_json = false, parsed = false;
    cishare_directory_t *dir = NULL;
    cishare_codec_t *codec = NULL;
    cishare_keypair_t kp;
    cishare_msg_in_t msg;
    cishare_envelope_t env;
    input_t in;
    int c, rc = CISHARE_EXIT_USAGE;
    cishare_err_t err;

    memset(&in, 0, sizeof(in));
    memset(&msg, 0, sizeof(msg));
    memset(&kp, 0, sizeof(kp));
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:r:k:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir_path = optarg;
            break;
        case 'r':
            root = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            inspect_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("inspect", "bad option");
        }
    }
    if (optind < argc)
        file = argv[optind++];
    if (optind < argc)
        return cishare_cli_usage_error("inspect", "unexpected argument '%s'",
                                       argv[optind]);
    if (root && !dir_path)
        return cishare_cli_usage_error("inspect",
                                       "--root-key needs --directory");
    if (!(errstr = calloc(1, ERRBUF_SIZE)) || !(perr = calloc(1, 512)))
        goto out;
    if (cishare_crypto_init()) {
        inspect_error("inspect: libsodium initialisation failed");
        goto out;
    }
    if (key_path && cishare_keypair_load(&kp, key_path, errstr, ERRBUF_SIZE) !=
                        CISHARE_OK) {
        inspect_error("inspect: %s", errstr);
        goto out;
    }
    /* Stateless: inspect only looks, so it must not pin a root or a
     * serial into anyone's trust state (signature and expiry only). */
    if (dir_path &&
        cishare_identity_verify_directory(dir_path, root, cishare_time_now_ms(),
                                          &dir, errstr, ERRBUF_SIZE)) {
        inspect_error("inspect: %s", errstr);
        goto out;
    }
    if ((err = cishare_codec_new(&codec, errstr, ERRBUF_SIZE))) {
        inspect_error("inspect: %s", errstr);
        goto out;
    }
    if (cishare_cli_read_file(file, INPUT_MAX, &buf, &len, errstr,
                              ERRBUF_SIZE)) {
        inspect_error("inspect: %s", errstr);
        goto out;
    }
    for (i = 0; i < len && isspace((unsigned char)buf[i]); i++)
        ;
    if ((i < len && buf[i] == '{' ? parse_json(buf, len, &in, perr, 512)
                                  : parse_kcat(buf, len, &in, perr, 512))) {
        inspect_error("inspect: %s: %s", file, perr);
        goto out;
    }

    /* Malformed headers are bad input (2), not a failed verification. */
    if ((err = cishare_envelope_from_headers(in.hdrs, &env, errstr,
                                             ERRBUF_SIZE))) {
        inspect_error("inspect: %s: %s", file, errstr);
        if (!as_json)
            print_text(&env, false, in.hdrs, &in, "not verified", errstr, NULL,
                       "envelope malformed");
        goto out;
    }
    parsed = true;
    errstr[0] = '\0';
    if (!dir) {
        status = "NOT VERIFIED";
        snprintf(errstr, ERRBUF_SIZE, "no --directory given");
        rc = CISHARE_EXIT_FAIL;
        msg.env = env;
        msg.tlp = env.tlp;
        msg.encrypted = cishare_envelope_encrypted(&env);
        if (!msg.encrypted) {
            /* show the payload anyway, clearly marked unverified */
            cishare_msgtype_t t;
            if (cishare_codec_decode(codec, in.value, in.value_len, &t,
                                     &msg.payload, perr, 512) != CISHARE_OK)
                payload_note = perr;
        } else {
            payload_note = "encrypted; not decrypted without verification";
        }
    } else {
        err = cishare_message_open(codec, dir, key_path ? &kp : NULL, in.hdrs,
                                   in.key, in.key_len, in.value, in.value_len,
                                   &msg, errstr, ERRBUF_SIZE);
        if (!msg.verified) {
            status = "FAILED";
            rc = CISHARE_EXIT_FAIL;
            payload_note = "not decoded: verification failed";
        } else {
            status = "verified";
            rc = CISHARE_EXIT_OK;
            if (err == CISHARE_ERR_NOT_RECIPIENT) {
                payload_note = key_path ? "encrypted; not addressed to --key"
                                        : "encrypted; give --key to decrypt";
                snprintf(perr, 512, "origin %s, key %s", msg.env.origin,
                         msg.env.key_id);
            } else if (err) {
                /* signed but undecryptable or undecodable: refuse */
                status = "FAILED";
                rc = CISHARE_EXIT_FAIL;
                payload_note = "not decoded";
            } else {
                if (msg.encrypted && !key_path)
                    payload_note = "encrypted; give --key to decrypt";
                if (msg.env.relay_cnt)
                    snprintf(perr, 512, "origin %s, key %s, %zu relay hop(s)",
                             msg.env.origin, msg.env.key_id, msg.env.relay_cnt);
                else
                    snprintf(perr, 512, "origin %s, key %s", msg.env.origin,
                             msg.env.key_id);
            }
            if (rc == CISHARE_EXIT_OK)
                snprintf(errstr, ERRBUF_SIZE, "%s", perr);
        }
    }
    if (as_json) {
        json_t *o = json_object(), *e = cishare_message_to_json(&msg);
        char *s;
        char *t;
        json_object_del(e, "payload");
        /* The key as is when JSON can carry it (the final pass escapes
         * controls), else escaped text; error texts escaped. */
        if (utf8_valid(in.key ? in.key : "", in.key_len)) {
            json_object_set_new(o, "key",
                                json_stringn(in.key ? in.key : "", in.key_len));
        } else {
            t = safe_dup(in.key, in.key_len);
            json_object_set_new(o, "key", json_string(t ? t : ""));
            free(t);
        }
        json_object_set_new(o, "envelope", e);
        json_object_set_new(o, "verified", json_boolean(msg.verified));
        t = safe_dup(errstr, strlen(errstr));
        json_object_set_new(o, "verification", json_string(t ? t : ""));
        free(t);
        json_object_set_new(
            o, "payload", msg.payload ? json_incref(msg.payload) : json_null());
        if (!msg.payload) {
            t = safe_dup(payload_note, strlen(payload_note));
            json_object_set_new(o, "payload_note", json_string(t ? t : ""));
            free(t);
        }
        s = json_dumps(o, JSON_INDENT(2));
        if (s) {
            put_safe_str(stdout, s, ESC_JSON);
            putchar('\n');
        }
        free(s);
        json_decref(o);
    } else {
        print_text(&msg.env, parsed, in.hdrs, &in, status, errstr, msg.payload,
                   payload_note);
    }
    if (rc != CISHARE_EXIT_OK)
        inspect_error("inspect: %s: %s: %s", file,
                      strcmp(status, "FAILED") ? "not verified"
                                               : "verification failed",
                      errstr);
out:
    cishare_msg_in_clear(&msg);
    cishare_keypair_wipe(&kp);
    cishare_codec_destroy(codec);
    cishare_directory_destroy(dir);
    input_clear(&in);
    free(buf);
    free(errstr);
    free(perr);
    return rc;
}
