/*
 * cishare encode | decode | schema: the payload codec on the command line.
 */
#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/keys.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Native JSON input may be larger than its encoding (whitespace, escapes). */
#define JSON_INPUT_MAX (4u * CISHARE_CODEC_MAX_MSG_SIZE)

/* Top-level members of the native message form: input ones, and the
 * envelope members feeds add on output (so feed JSONL re-encodes). */
static const char *const message_keys[] = {
    "type",   "tlp",    "audience", "expires", "payload",    "message_id",
    "origin", "sector", "created",  "key_id",  "relayed_by", NULL};

static cishare_codec_t *codec_or_die(void)
{
    cishare_codec_t *codec;
    char err[512];

    if (cishare_crypto_init()) {
        cishare_cli_error("libsodium initialisation failed");
        return NULL;
    }
    if (cishare_codec_new(&codec, err, sizeof(err))) {
        cishare_cli_error("codec: %s", err);
        return NULL;
    }
    return codec;
}

static void encode_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare encode [--type T] [--fill-defaults] [-o OUT] "
            "FILE|-\n"
            "\n"
            "Encode a native JSON message into the Avro single-object bytes "
            "of its payload\n"
            "(C3 01, 8-byte little-endian schema fingerprint, Avro binary), "
            "as carried in\n"
            "the Kafka value. The input is a message "
            "{\"type\": T, ..., \"payload\": {...}}\n"
            "(see schemas/examples/), or a bare payload object when --type "
            "is given.\n"
            "Errors name the file and the field; exit 2.\n"
            "\n"
            "Options:\n"
            "  -t, --type T         indicator|incident|alert|sighting|"
            "revocation\n"
            "  -d, --fill-defaults  add a missing id (<type>--<uuid>) and "
            "created/modified (now)\n"
            "  -o, --out FILE       write the bytes to FILE instead of "
            "stdout\n"
            "  -h, --help           show this help\n");
}

int cishare_cmd_encode(int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'},
        {"fill-defaults", no_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *type_arg = NULL, *out_path = NULL, *in;
    bool fill = false, have_type = false;
    cishare_msgtype_t type = CISHARE_MSG_INDICATOR;
    cishare_codec_t *codec = NULL;
    json_t *root = NULL, *payload;
    json_error_t jerr;
    char err[1024], *text = NULL;
    size_t len, blen;
    uint8_t *bytes = NULL;
    FILE *out = stdout;
    int c, rc = CISHARE_EXIT_USAGE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "t:do:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            type_arg = optarg;
            break;
        case 'd':
            fill = true;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            encode_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("encode", "bad option");
        }
    }
    if (optind != argc - 1)
        return cishare_cli_usage_error("encode",
                                       "expected one input FILE (or -)");
    in = argv[optind];
    if (type_arg) {
        if (!cishare_msgtype_parse(type_arg, &type))
            return cishare_cli_usage_error(
                "encode",
                "unknown type '%s' (indicator, incident, alert, sighting, "
                "revocation)",
                type_arg);
        have_type = true;
    }
    if (cishare_cli_read_file(in, JSON_INPUT_MAX, &text, &len, err,
                              sizeof(err))) {
        cishare_cli_error("%s", err);
        return CISHARE_EXIT_USAGE;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) {
        cishare_cli_error("%s: line %d column %d: %s", in, jerr.line,
                          jerr.column, jerr.text);
        return CISHARE_EXIT_USAGE;
    }
    if (!json_is_object(root)) {
        cishare_cli_error("%s: expected a JSON object", in);
        goto done;
    }
    payload = json_object_get(root, "payload");
    if (payload) {
        const json_t *jt = json_object_get(root, "type");
        const char *key;
        json_t *unused;
        cishare_msgtype_t mtype;
        json_object_foreach(root, key, unused)
        {
            int i;
            for (i = 0; message_keys[i]; i++)
                if (!strcmp(key, message_keys[i]))
                    break;
            if (!message_keys[i]) {
                cishare_cli_error("%s: unknown message member '%s' (expected "
                                  "type, tlp, audience, expires, payload)",
                                  in, key);
                goto done;
            }
        }
        if (jt) {
            if (!json_is_string(jt) ||
                !cishare_msgtype_parse(json_string_value(jt), &mtype)) {
                cishare_cli_error("%s: type: not one of indicator, incident, "
                                  "alert, sighting, revocation",
                                  in);
                goto done;
            }
            if (have_type && mtype != type) {
                cishare_cli_error("%s: type is '%s' but --type %s was given",
                                  in, json_string_value(jt), type_arg);
                goto done;
            }
            type = mtype;
        } else if (!have_type) {
            cishare_cli_error("%s: type: missing (or give --type)", in);
            goto done;
        }
    } else if (have_type) {
        payload = root; /* a bare payload */
    } else {
        cishare_cli_error("%s: no \"payload\" member (for a bare payload "
                          "object give --type)",
                          in);
        goto done;
    }
    if (!(codec = codec_or_die())) {
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    if (fill && cishare_payload_fill_defaults(
                    type, payload, cishare_time_now_ms(), err, sizeof(err))) {
        cishare_cli_error("%s: %s", in, err);
        goto done;
    }
    if (cishare_codec_encode(codec, type, payload, &bytes, &blen, err,
                             sizeof(err))) {
        cishare_cli_error("%s: %s", in, err);
        goto done;
    }
    if (out_path) {
        out = fopen(out_path, "wb");
        if (!out) {
            cishare_cli_error("%s: cannot create: %m", out_path);
            goto done;
        }
    } else if (isatty(STDOUT_FILENO)) {
        cishare_cli_error("refusing to write binary to a terminal: redirect "
                          "stdout or use --out");
        goto done;
    }
    if (fwrite(bytes, 1, blen, out) != blen || fflush(out)) {
        cishare_cli_error("%s: write error: %m",
                          out_path ? out_path : "stdout");
        rc = CISHARE_EXIT_FAIL;
    } else {
        rc = CISHARE_EXIT_OK;
    }
    if (out != stdout && fclose(out)) {
        cishare_cli_error("%s: write error: %m", out_path);
        rc = CISHARE_EXIT_FAIL;
    }
done:
    free(bytes);
    json_decref(root);
    cishare_codec_destroy(codec);
    return rc;
}

static void decode_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare decode [--compact] [--payload-only] FILE|-\n"
            "\n"
            "Decode Avro single-object bytes (a Kafka value) and print the "
            "native JSON\n"
            "{\"type\": T, \"payload\": {...}} with every field of the "
            "record.\n"
            "Refused (exit 2, with the reason): bad magic, unknown schema "
            "fingerprint,\n"
            "truncated or trailing bytes, lengths or counts beyond the "
            "bounds, more than\n"
            "%u bytes.\n"
            "\n"
            "Options:\n"
            "  -c, --compact       one line of JSON\n"
            "  -p, --payload-only  print only the payload object\n"
            "  -h, --help          show this help\n",
            CISHARE_CODEC_MAX_MSG_SIZE);
}

int cishare_cmd_decode(int argc, char **argv)
{
    static const struct option opts[] = {
        {"compact", no_argument, NULL, 'c'},
        {"payload-only", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bool compact = false, payload_only = false;
    cishare_codec_t *codec;
    cishare_msgtype_t type;
    json_t *payload = NULL, *out;
    char err[1024], *buf = NULL, *text;
    size_t len;
    int c, rc = CISHARE_EXIT_USAGE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "cph", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            compact = true;
            break;
        case 'p':
            payload_only = true;
            break;
        case 'h':
            decode_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("decode", "bad option");
        }
    }
    if (optind != argc - 1)
        return cishare_cli_usage_error("decode",
                                       "expected one input FILE (or -)");
    if (cishare_cli_read_file(argv[optind], CISHARE_CODEC_MAX_MSG_SIZE, &buf,
                              &len, err, sizeof(err))) {
        cishare_cli_error("%s", err);
        return CISHARE_EXIT_USAGE;
    }
    if (!(codec = codec_or_die())) {
        free(buf);
        return CISHARE_EXIT_FAIL;
    }
    if (cishare_codec_decode(codec, (const uint8_t *)buf, len, &type, &payload,
                             err, sizeof(err))) {
        cishare_cli_error("%s: %s", argv[optind], err);
        goto done;
    }
    out = payload_only
              ? json_incref(payload)
              : json_pack("{s:s,s:O}", "type", cishare_msgtype_name(type),
                          "payload", payload);
    text = out ? json_dumps(out, (compact ? JSON_COMPACT : JSON_INDENT(2)) |
                                     JSON_PRESERVE_ORDER)
               : NULL;
    json_decref(out);
    if (!text) {
        cishare_cli_error("out of memory");
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    printf("%s\n", text);
    free(text);
    rc = fflush(stdout) ? CISHARE_EXIT_FAIL : CISHARE_EXIT_OK;
done:
    json_decref(payload);
    free(buf);
    cishare_codec_destroy(codec);
    return rc;
}

static void schema_usage(FILE *fp)
{
    fprintf(fp, "Usage: cishare schema list\n"
                "       cishare schema show [--avsc] TYPE\n"
                "\n"
                "list: one line per message type: type, schema full name, "
                "fingerprint and\n"
                "      single-object header. FINGERPRINT is the CRC-64-AVRO of "
                "the Parsing\n"
                "      Canonical Form as an unsigned 64-bit number in hex; "
                "HEADER is the 10\n"
                "      bytes every value starts with (C3 01, then the "
                "fingerprint\n"
                "      little-endian), in hex as they appear on the wire.\n"
                "      Then one line per older version this build still reads\n"
                "      (schemas/history/; resolved to the current schema): "
                "type, file,\n"
                "      fingerprint and header.\n"
                "show: the Parsing Canonical Form of TYPE's schema, or with "
                "--avsc the\n"
                "      schema file as shipped (with docs and defaults).\n"
                "\n"
                "TYPE: indicator|incident|alert|sighting|revocation\n");
}

int cishare_cmd_schema(int argc, char **argv)
{
    cishare_codec_t *codec;
    cishare_msgtype_t type;
    bool avsc = false;
    int t, i, a;

    if (argc < 2)
        return cishare_cli_usage_error("schema",
                                       "expected 'list' or 'show TYPE'");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        schema_usage(stdout);
        return CISHARE_EXIT_OK;
    }
    for (a = 2; a < argc; a++)
        if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
            schema_usage(stdout);
            return CISHARE_EXIT_OK;
        }
    if (!strcmp(argv[1], "list")) {
        if (argc != 2)
            return cishare_cli_usage_error("schema",
                                           "'list' takes no arguments");
        if (!(codec = codec_or_die()))
            return CISHARE_EXIT_FAIL;
        printf("%-11s %-29s %-16s   %s\n", "TYPE", "SCHEMA", "FINGERPRINT",
               "HEADER");
        for (t = 0; t < CISHARE_MSG__CNT; t++) {
            uint64_t fp = cishare_codec_fingerprint(codec, t);
            printf("%-11s %-29s %016" PRIx64 "   c301", cishare_msgtype_name(t),
                   cishare_codec_schema_name(codec, t), fp);
            for (i = 0; i < 8; i++)
                printf("%02x", (unsigned)((fp >> (8 * i)) & 0xff));
            printf("\n");
        }
        for (t = 0; t < CISHARE_MSG__CNT; t++) {
            size_t k;
            uint64_t fp;
            const char *file;
            for (k = 0; (file = cishare_codec_version(codec, t, k, &fp)); k++) {
                printf("%-11s %-29s %016" PRIx64 "   c301",
                       cishare_msgtype_name(t), file, fp);
                for (i = 0; i < 8; i++)
                    printf("%02x", (unsigned)((fp >> (8 * i)) & 0xff));
                printf("\n");
            }
        }
        cishare_codec_destroy(codec);
        return CISHARE_EXIT_OK;
    }
    if (!strcmp(argv[1], "show")) {
        const char *name = NULL;
        for (a = 2; a < argc; a++) {
            if (!strcmp(argv[a], "--avsc"))
                avsc = true;
            else if (argv[a][0] == '-')
                return cishare_cli_usage_error("schema", "bad option '%s'",
                                               argv[a]);
            else if (name)
                return cishare_cli_usage_error("schema", "expected one TYPE");
            else
                name = argv[a];
        }
        if (!name)
            return cishare_cli_usage_error("schema", "show: TYPE missing");
        if (!cishare_msgtype_parse(name, &type))
            return cishare_cli_usage_error(
                "schema",
                "unknown type '%s' (indicator, incident, alert, sighting, "
                "revocation)",
                name);
        if (!(codec = codec_or_die()))
            return CISHARE_EXIT_FAIL;
        if (avsc)
            fputs(cishare_codec_schema_json(codec, type), stdout);
        else
            printf("%s\n", cishare_codec_canonical_form(codec, type));
        cishare_codec_destroy(codec);
        return CISHARE_EXIT_OK;
    }
    return cishare_cli_usage_error("schema", "unknown subcommand '%s'",
                                   argv[1]);
}
