/* cishare directory validate|sign|show: the signed participant directory. */
#include "cishare/cli.h"
#include "cishare/directory.h"
#include "cishare/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Room for many error lines: validation reports every problem. */
#define ERRBUF_SIZE 65536

static void directory_usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare directory validate [--unsigned] [--root-key FILE] "
        "[--directory] FILE\n"
        "       cishare directory sign --key ROOT_SECRET_KEY_FILE "
        "[--out FILE] [--directory] FILE\n"
        "       cishare directory show [--json] [--root-key FILE] "
        "[--directory] FILE\n"
        "\n"
        "The participant directory is one YAML file signed by the "
        "coordination\n"
        "office's root key (last line '# cishare-signature: ...'). Every "
        "command\n"
        "that loads it verifies the signature against the pinned root "
        "public key:\n"
        "root.pub in the directory's folder unless --root-key says "
        "otherwise.\n"
        "\n"
        "  validate   verify the signature and check the content; every "
        "error is\n"
        "             reported (file, entry, line, field)\n"
        "  sign       check the content, then (re)write the signature line "
        "with the\n"
        "             root secret key (a 'cishare keys generate' file); "
        "in place\n"
        "             unless --out is given\n"
        "  show       print sectors and participants as a table, or as "
        "JSON\n"
        "\n"
        "Options:\n"
        "  -d, --directory FILE  the directory file (or give it as the last "
        "argument)\n"
        "  -r, --root-key FILE   pinned root public key (default: root.pub "
        "beside FILE)\n"
        "  -u, --unsigned        validate: check the content only, ignore "
        "the signature\n"
        "  -k, --key FILE        sign: root secret key file\n"
        "  -o, --out FILE        sign: write the signed file here\n"
        "  -j, --json            show: print JSON\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit status: 0 valid/signed/shown, 2 refused (unsigned, altered, "
        "wrongly\n"
        "signed, invalid) or bad usage.\n");
}

/* Print a multi-line library error, one "% ERROR: " line each. */
static void print_errors(const char *errstr)
{
    if (!*errstr) {
        cishare_cli_error("directory: refused");
        return;
    }
    cishare_cli_error_lines("", errstr);
}

/* Write buf to path atomically (temp file in the same folder, rename). */
static int write_atomic(const char *path, const char *buf, size_t len,
                        char *errstr, size_t errstr_size)
{
    char *tmp = NULL;
    struct stat st;
    mode_t mode = 0644;
    int fd, ok;
    FILE *fp;

    if (stat(path, &st) == 0)
        mode = st.st_mode & 0777;
    if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    fchmod(fd, mode);
    fp = fdopen(fd, "w");
    if (!fp) {
        close(fd);
        unlink(tmp);
        free(tmp);
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    ok = fwrite(buf, 1, len, fp) == len && fflush(fp) == 0 && fsync(fd) == 0;
    if (fclose(fp) != 0 || !ok || rename(tmp, path) != 0) {
        snprintf(errstr, errstr_size, "%s: write failed: %s", path,
                 strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static int do_validate(const char *file, const char *root_key, int unsigned_)
{
    char *errstr = malloc(ERRBUF_SIZE);
    cishare_directory_t *dir = NULL;
    cishare_err_t err;

    if (!errstr) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    err =
        unsigned_
            ? cishare_directory_load_unsigned(file, &dir, errstr, ERRBUF_SIZE)
            : cishare_directory_load(file, root_key, &dir, errstr, ERRBUF_SIZE);
    if (err) {
        print_errors(errstr);
        free(errstr);
        return CISHARE_EXIT_USAGE;
    }
    if (unsigned_)
        printf("%s: content valid (signature not checked): %zu sectors, "
               "%zu participants\n",
               file, cishare_directory_sector_cnt(dir),
               cishare_directory_participant_cnt(dir));
    else
        printf("%s: valid, signed by root key %s: %zu sectors, %zu "
               "participants\n",
               file, cishare_directory_signer_key_id(dir),
               cishare_directory_sector_cnt(dir),
               cishare_directory_participant_cnt(dir));
    cishare_directory_destroy(dir);
    free(errstr);
    return CISHARE_EXIT_OK;
}

static int do_sign(const char *file, const char *keyfile, const char *out)
{
    char *errstr = malloc(ERRBUF_SIZE), *buf = NULL, *signed_ = NULL;
    cishare_directory_t *dir = NULL;
    cishare_keypair_t root;
    size_t len = 0, slen = 0;
    cishare_err_t err;
    int rc = CISHARE_EXIT_USAGE;

    if (!errstr) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    /* Never sign content that would be refused when loaded. */
    err = cishare_directory_load_unsigned(file, &dir, errstr, ERRBUF_SIZE);
    if (err) {
        print_errors(errstr);
        cishare_cli_error("directory sign: %s not signed: fix the errors "
                          "above first",
                          file);
        free(errstr);
        return CISHARE_EXIT_USAGE;
    }
    cishare_directory_destroy(dir);
    if (cishare_cli_read_file(file, CISHARE_DIRECTORY_MAX_SIZE, &buf, &len,
                              errstr, ERRBUF_SIZE)) {
        cishare_cli_error("directory sign: %s", errstr);
        free(errstr);
        return CISHARE_EXIT_USAGE;
    }
    if (cishare_keypair_load(&root, keyfile, errstr, ERRBUF_SIZE)) {
        cishare_cli_error("directory sign: %s", errstr);
        goto done;
    }
    err = cishare_directory_sign_buf(buf, len, &root, &signed_, &slen, errstr,
                                     ERRBUF_SIZE);
    if (err) {
        cishare_cli_error("directory sign: %s", errstr);
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    if (write_atomic(out ? out : file, signed_, slen, errstr, ERRBUF_SIZE)) {
        cishare_cli_error("directory sign: %s", errstr);
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    cishare_cli_info("signed %s with root key %s", out ? out : file,
                     root.key_id);
    rc = CISHARE_EXIT_OK;
done:
    cishare_keypair_wipe(&root);
    free(signed_);
    free(buf);
    free(errstr);
    return rc;
}

static json_t *participant_json(const cishare_participant_t *p)
{
    char ed[CISHARE_PK_B64_SIZE], x[CISHARE_PK_B64_SIZE];
    json_t *o = json_object(), *sec = json_array();
    size_t i;

    for (i = 0; i < p->sector_cnt; i++)
        json_array_append_new(sec, json_string(p->sectors[i]));
    cishare_pk_to_base64(p->ed25519_pk, ed, sizeof(ed));
    cishare_pk_to_base64(p->x25519_pk, x, sizeof(x));
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "role", json_string(cishare_role_name(p->role)));
    json_object_set_new(o, "sectors", sec);
    json_object_set_new(o, "ceptoar",
                        p->ceptoar ? json_string(p->ceptoar) : json_null());
    json_object_set_new(o, "core-infrastructure",
                        json_boolean(p->core_infrastructure));
    json_object_set_new(o, "principal", json_string(p->principal));
    json_object_set_new(o, "key-id", json_string(p->key_id));
    json_object_set_new(o, "ed25519", json_string(ed));
    json_object_set_new(o, "x25519", json_string(x));
    return o;
}

static int show_json(const cishare_directory_t *dir)
{
    json_t *root = json_object(), *sectors = json_array(),
           *parts = json_array();
    size_t i;
    char *text;

    for (i = 0; i < cishare_directory_sector_cnt(dir); i++) {
        const cishare_sector_t *s = cishare_directory_sector(dir, i);
        json_t *o = json_object();
        json_object_set_new(o, "code", json_string(s->code));
        json_object_set_new(o, "name-en", json_string(s->name_en));
        json_object_set_new(o, "name-ja", json_string(s->name_ja));
        json_array_append_new(sectors, o);
    }
    for (i = 0; i < cishare_directory_participant_cnt(dir); i++)
        json_array_append_new(
            parts, participant_json(cishare_directory_participant(dir, i)));
    json_object_set_new(root, "signer-key-id",
                        json_string(cishare_directory_signer_key_id(dir)));
    json_object_set_new(root, "sectors", sectors);
    json_object_set_new(root, "participants", parts);
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) {
        cishare_cli_error("directory show: out of memory");
        return CISHARE_EXIT_FAIL;
    }
    puts(text);
    free(text);
    return CISHARE_EXIT_OK;
}

static void show_table(const cishare_directory_t *dir)
{
    size_t i, j;

    printf("Directory signed by root key %s\n\n",
           cishare_directory_signer_key_id(dir));
    printf("%-14s %-40s %s\n", "SECTOR", "NAME", "名称");
    for (i = 0; i < cishare_directory_sector_cnt(dir); i++) {
        const cishare_sector_t *s = cishare_directory_sector(dir, i);
        printf("%-14s %-40s %s\n", s->code, s->name_en, s->name_ja);
    }
    printf("\n%-20s %-19s %-35s %-20s %-4s %-16s %s\n", "ID", "ROLE", "SECTORS",
           "CEPTOAR", "CORE", "KEY-ID", "NAME");
    for (i = 0; i < cishare_directory_participant_cnt(dir); i++) {
        const cishare_participant_t *p = cishare_directory_participant(dir, i);
        char sectors[256] = "-";
        size_t off = 0;
        for (j = 0; j < p->sector_cnt && off < sizeof(sectors); j++) {
            int n = snprintf(sectors + off, sizeof(sectors) - off, "%s%s",
                             j ? "," : "", p->sectors[j]);
            if (n < 0)
                break;
            off += (size_t)n;
        }
        printf("%-20s %-19s %-35s %-20s %-4s %-16s %s\n", p->id,
               cishare_role_name(p->role), sectors,
               p->ceptoar ? p->ceptoar : "-",
               p->core_infrastructure ? "yes" : "-", p->key_id, p->name);
    }
}

static int do_show(const char *file, const char *root_key, int json)
{
    char *errstr = malloc(ERRBUF_SIZE);
    cishare_directory_t *dir = NULL;
    int rc = CISHARE_EXIT_OK;

    if (!errstr) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    if (cishare_directory_load(file, root_key, &dir, errstr, ERRBUF_SIZE)) {
        print_errors(errstr);
        free(errstr);
        return CISHARE_EXIT_USAGE;
    }
    if (json)
        rc = show_json(dir);
    else
        show_table(dir);
    cishare_directory_destroy(dir);
    free(errstr);
    return rc;
}

int cishare_cmd_directory(int argc, char **argv)
{
    static const struct option opts[] = {
        {"directory", required_argument, NULL, 'd'},
        {"root-key", required_argument, NULL, 'r'},
        {"unsigned", no_argument, NULL, 'u'},
        {"key", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *sub, *file = NULL, *root_key = NULL, *key = NULL, *out = NULL;
    int c, unsigned_ = 0, json = 0;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        directory_usage(stdout);
        return CISHARE_EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "validate") && strcmp(argv[1], "sign") &&
                     strcmp(argv[1], "show")))
        return cishare_cli_usage_error(
            "directory", "expected validate, sign or show%s%s",
            argc >= 2 ? ", not " : "", argc >= 2 ? argv[1] : "");
    sub = argv[1];
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "d:r:uk:o:jh", opts, NULL)) !=
           -1) {
        switch (c) {
        case 'd':
            file = optarg;
            break;
        case 'r':
            root_key = optarg;
            break;
        case 'u':
            unsigned_ = 1;
            break;
        case 'k':
            key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            directory_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("directory", "bad option");
        }
    }
    if (optind < argc - 1) {
        if (file)
            return cishare_cli_usage_error(
                "directory", "unexpected argument '%s'", argv[optind + 1]);
        file = argv[optind + 1];
        if (optind + 1 < argc - 1)
            return cishare_cli_usage_error(
                "directory",
                "unexpected argument '%s' (one directory file; does the "
                "glob match several files?)",
                argv[optind + 2]);
    }
    if (!file)
        return cishare_cli_usage_error("directory",
                                       "the directory file is required");

    if (!strcmp(sub, "validate")) {
        if (key || out || json)
            return cishare_cli_usage_error(
                "directory", "validate takes --unsigned and --root-key only");
        return do_validate(file, root_key, unsigned_);
    }
    if (!strcmp(sub, "sign")) {
        if (unsigned_ || json || root_key)
            return cishare_cli_usage_error("directory",
                                           "sign takes --key and --out only");
        if (!key)
            return cishare_cli_usage_error(
                "directory", "sign needs --key ROOT_SECRET_KEY_FILE");
        return do_sign(file, key, out);
    }
    if (key || out || unsigned_)
        return cishare_cli_usage_error("directory",
                                       "show takes --json and --root-key only");
    return do_show(file, root_key, json);
}
