/* cishare directory validate|sign|show|publish: the signed participant
 * directory. */
#include "cishare/cli.h"
#include "cishare/codec.h"
#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/dirstate.h"
#include "cishare/dirtopic.h"
#include "cishare/identity.h"
#include "cishare/kafka_errors.h"
#include "cishare/keys.h"
#include "cishare/tls.h"

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
/* sign --key may be given this often (root rotation needs two). */
#define SIGN_KEYS_MAX 8
/* publish: -c and -X may be given this often. */
#define PUBLISH_CONF_MAX 64
/* publish: how long to wait for the broker's acknowledgement. */
#define PUBLISH_TIMEOUT_MS 30000

static void directory_usage(FILE *fp)
{
    fprintf(
        fp,
        "Usage: cishare directory validate [--unsigned] [--root-key FILE] "
        "[--directory] FILE\n"
        "       cishare directory sign --key ROOT_SECRET_KEY_FILE "
        "[--key FILE2 ...] [--add] [--out FILE] [--directory] FILE\n"
        "       cishare directory show [--json] [--root-key FILE] "
        "[--directory] FILE\n"
        "       cishare directory publish -c ADMIN_CONFIG [-X key=value] "
        "[--root-key FILE] [--directory] FILE\n"
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
        "  validate   verify the signature, check the content and that it "
        "has not\n"
        "             expired; every error is reported (file, entry, line, "
        "field).\n"
        "             Stateless: the rollback check (serial) is done by "
        "the commands\n"
        "             that use the directory\n"
        "  sign       check the content, then (re)write the signature lines "
        "with the\n"
        "             root secret keys (a 'cishare keys generate' file); "
        "in place\n"
        "             unless --out is given. With --add the existing "
        "signatures stay\n"
        "             (co-signing: a new root-key needs the current and "
        "the new root)\n"
        "  show       print sectors and participants as a table, or as "
        "JSON\n"
        "  publish    verify FILE against the admin's directory trust "
        "state (signature,\n"
        "             expiry, serial not older than the one accepted), "
        "record it there,\n"
        "             then produce it (idempotent, acks=all) to the "
        "compacted directory\n"
        "             topic (cishare.directory.topic, default "
        "cishare.directory), key\n"
        "             'directory'. Running feeds and publishers apply it "
        "without a restart\n"
        "\n"
        "Options:\n"
        "  -d, --directory FILE  the directory file (or give it as the last "
        "argument)\n"
        "  -r, --root-key FILE   pinned root public key (default: root.pub "
        "beside FILE)\n"
        "  -u, --unsigned        validate: check the content only, ignore "
        "the signature\n"
        "  -k, --key FILE        sign: root secret key file (repeat to "
        "co-sign)\n"
        "  -a, --add             sign: keep the existing signatures\n"
        "  -o, --out FILE        sign: write the signed file here\n"
        "  -j, --json            show: print JSON\n"
        "  -c, --config FILE     publish: admin client config (repeatable)\n"
        "  -X key=value          publish: set one config key (after the "
        "files)\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit status: 0 valid/signed/shown/published, 1 publish: Kafka did "
        "not take it\n"
        "or the directory state could not be written, 2 unreadable or "
        "refused (unsigned,\n"
        "altered, wrongly signed, invalid, expired, older than the serial "
        "accepted) or\n"
        "bad usage.\n");
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
    char *errstr = malloc(ERRBUF_SIZE), exp[32];
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
    if (!err)
        err = cishare_directory_check_expiry(dir, file, cishare_time_now_ms(),
                                             errstr, ERRBUF_SIZE);
    if (err) {
        cishare_directory_destroy(dir);
        print_errors(errstr);
        free(errstr);
        return CISHARE_EXIT_USAGE;
    }
    cishare_time_format(cishare_directory_expires_ms(dir), exp);
    if (unsigned_)
        printf("%s: content valid (signature not checked): serial %llu, "
               "expires %s, %zu sectors, %zu participants\n",
               file, (unsigned long long)cishare_directory_serial(dir), exp,
               cishare_directory_sector_cnt(dir),
               cishare_directory_participant_cnt(dir));
    else
        printf("%s: valid, signed by root key %s: serial %llu, expires %s, "
               "%zu sectors, %zu participants\n",
               file, cishare_directory_signer_key_id(dir),
               (unsigned long long)cishare_directory_serial(dir), exp,
               cishare_directory_sector_cnt(dir),
               cishare_directory_participant_cnt(dir));
    cishare_directory_destroy(dir);
    free(errstr);
    return CISHARE_EXIT_OK;
}

static int do_sign(const char *file, const char *const *keyfiles,
                   size_t key_cnt, int add, const char *out)
{
    char *errstr = malloc(ERRBUF_SIZE), *buf = NULL, *signed_ = NULL;
    cishare_directory_t *dir = NULL;
    cishare_keypair_t key;
    uint8_t newroot[CISHARE_ED25519_PK_BYTES];
    int has_newroot = 0, newroot_signed = 0;
    size_t len = 0, slen = 0, i;
    cishare_err_t err;
    int rc = CISHARE_EXIT_USAGE;

    if (!errstr) {
        cishare_cli_error("out of memory");
        return CISHARE_EXIT_FAIL;
    }
    /* Never sign content that would be refused when loaded. */
    err = cishare_directory_load_unsigned(file, &dir, errstr, ERRBUF_SIZE);
    if (!err)
        err = cishare_directory_check_expiry(dir, file, cishare_time_now_ms(),
                                             errstr, ERRBUF_SIZE);
    if (err) {
        cishare_directory_destroy(dir);
        print_errors(errstr);
        cishare_cli_error("directory sign: %s not signed: fix the errors "
                          "above first",
                          file);
        free(errstr);
        return CISHARE_EXIT_USAGE;
    }
    if (cishare_directory_root_key(dir)) {
        memcpy(newroot, cishare_directory_root_key(dir), sizeof(newroot));
        has_newroot = 1;
    }
    cishare_directory_destroy(dir);
    if (cishare_cli_read_file(file, CISHARE_DIRECTORY_MAX_SIZE, &buf, &len,
                              errstr, ERRBUF_SIZE)) {
        cishare_cli_error("directory sign: %s", errstr);
        free(errstr);
        return CISHARE_EXIT_USAGE;
    }
    for (i = 0; i < key_cnt; i++) {
        char *next = NULL;
        size_t nlen = 0;
        if (cishare_keypair_load(&key, keyfiles[i], errstr, ERRBUF_SIZE)) {
            cishare_cli_error("directory sign: %s", errstr);
            goto done;
        }
        /* the first key replaces the old signatures unless --add */
        err = i == 0 && !add
                  ? cishare_directory_sign_buf(
                        signed_ ? signed_ : buf, signed_ ? slen : len, &key,
                        &next, &nlen, errstr, ERRBUF_SIZE)
                  : cishare_directory_cosign_buf(
                        signed_ ? signed_ : buf, signed_ ? slen : len, &key,
                        &next, &nlen, errstr, ERRBUF_SIZE);
        if (has_newroot &&
            !sodium_memcmp(key.ed25519_pk, newroot, CISHARE_ED25519_PK_BYTES))
            newroot_signed = 1;
        if (!err)
            cishare_cli_info("signed %s with key %s", out ? out : file,
                             key.key_id);
        cishare_keypair_wipe(&key);
        if (err) {
            cishare_cli_error("directory sign: %s", errstr);
            rc = CISHARE_EXIT_FAIL;
            goto done;
        }
        free(signed_);
        signed_ = next;
        slen = nlen;
    }
    if (write_atomic(out ? out : file, signed_, slen, errstr, ERRBUF_SIZE)) {
        cishare_cli_error("directory sign: %s", errstr);
        rc = CISHARE_EXIT_FAIL;
        goto done;
    }
    if (has_newroot && !newroot_signed) {
        char kid[CISHARE_KEY_ID_LEN + 1];
        cishare_key_id(newroot, kid);
        cishare_cli_info("note: this directory names root-key %s; clients "
                         "that trust another root accept it only once %s "
                         "signs it too (directory sign --add --key ...)",
                         kid, kid);
    }
    rc = CISHARE_EXIT_OK;
done:
    free(signed_);
    free(buf);
    free(errstr);
    return rc;
}

static json_t *time_json(int64_t ms, int64_t unset)
{
    char t[32];

    if (ms == unset)
        return json_null();
    cishare_time_format(ms, t);
    return json_string(t);
}

/* Every signing key with its validity (null: unbounded). */
static json_t *keys_json(const cishare_participant_t *p)
{
    json_t *a = json_array();
    char ed[CISHARE_PK_B64_SIZE];
    size_t i;

    for (i = 0; i < p->key_cnt; i++) {
        const cishare_signing_key_t *k = &p->keys[i];
        json_t *o = json_object();
        cishare_pk_to_base64(k->ed25519_pk, ed, sizeof(ed));
        json_object_set_new(o, "key-id", json_string(k->key_id));
        json_object_set_new(o, "current", json_boolean(k->current));
        json_object_set_new(o, "ed25519", json_string(ed));
        json_object_set_new(o, "valid-from",
                            time_json(k->valid_from_ms, CISHARE_KEY_NO_START));
        json_object_set_new(o, "valid-until",
                            time_json(k->valid_until_ms, CISHARE_KEY_NO_END));
        json_object_set_new(o, "revoked",
                            time_json(k->revoked_ms, CISHARE_KEY_NO_END));
        json_array_append_new(a, o);
    }
    return a;
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
    json_object_set_new(o, "signing-keys", keys_json(p));
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
    json_object_set_new(
        root, "serial",
        json_integer((json_int_t)cishare_directory_serial(dir)));
    json_object_set_new(
        root, "expires",
        time_json(cishare_directory_expires_ms(dir), CISHARE_KEY_NO_END));
    if (cishare_directory_root_key(dir)) {
        char b64[CISHARE_PK_B64_SIZE];
        cishare_pk_to_base64(cishare_directory_root_key(dir), b64, sizeof(b64));
        json_object_set_new(root, "root-key", json_string(b64));
    }
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

    char exp[32];

    cishare_time_format(cishare_directory_expires_ms(dir), exp);
    printf("Directory signed by root key %s: serial %llu, expires %s\n",
           cishare_directory_signer_key_id(dir),
           (unsigned long long)cishare_directory_serial(dir), exp);
    if (cishare_directory_root_key(dir)) {
        char kid[CISHARE_KEY_ID_LEN + 1];
        cishare_key_id(cishare_directory_root_key(dir), kid);
        printf("Establishes root key %s\n", kid);
    }
    printf("\n");
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
        for (j = 1; j < p->key_cnt; j++) {
            char until[32];
            cishare_time_format(p->keys[j].valid_until_ms, until);
            printf("%-20s %-19s %-35s %-20s %-4s %-16s previous key, until "
                   "%s%s\n",
                   "", "", "", "", "", p->keys[j].key_id, until,
                   p->keys[j].revoked_ms != CISHARE_KEY_NO_END ? ", REVOKED"
                                                               : "");
        }
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

/* Delivery report of the one message publish produces. */
static void publish_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                          void *opaque)
{
    rd_kafka_message_t *out = m->_private; /* the message's opaque */

    (void)rk, (void)opaque;
    out->err = m->err ? m->err : RD_KAFKA_RESP_ERR_NO_ERROR;
    out->offset = m->offset;
    out->partition = m->partition;
    out->_private = out; /* reported */
}

static int do_publish(const char *file, const char *root_key,
                      const char *const *confs, size_t conf_cnt,
                      const char *const *xs, size_t x_cnt)
{
    cishare_config_t *conf = cishare_config_new();
    cishare_directory_t *dir = NULL;
    char *errstr = malloc(ERRBUF_SIZE), *buf = NULL, kerr[512];
    char sdir[4096], spath[4200], msg[768];
    uint8_t pinned[CISHARE_ED25519_PK_BYTES];
    const char *topic;
    rd_kafka_conf_t *kc = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_message_t report;
    rd_kafka_resp_err_t err;
    cishare_err_t cerr;
    size_t len = 0, i;
    int rc = CISHARE_EXIT_USAGE;

    memset(&report, 0, sizeof(report));
    if (!conf || !errstr) {
        cishare_cli_error("out of memory");
        rc = CISHARE_EXIT_FAIL;
        goto out;
    }
    for (i = 0; i < conf_cnt; i++)
        if (cishare_config_load(conf, confs[i], errstr, ERRBUF_SIZE)) {
            cishare_cli_error("directory publish: %s", errstr);
            goto out;
        }
    for (i = 0; i < x_cnt; i++)
        if (cishare_config_set_kv(conf, xs[i], errstr, ERRBUF_SIZE)) {
            cishare_cli_error("directory publish: -X %s: %s", xs[i], errstr);
            goto out;
        }
    if (!root_key)
        root_key = cishare_config_get(conf, CISHARE_CONF_ROOT_KEY);
    topic = cishare_config_get(conf, CISHARE_CONF_DIRECTORY_TOPIC);
    /* The bytes verified are the bytes produced: one read. Verified
     * against the admin's trust state, which records the version: the
     * office never publishes an older version than it accepted. An
     * unreadable file is the user's to fix (2); a state that cannot be
     * written is a failure (1), not a refusal. */
    if ((cerr = cishare_directory_read_file(file, &buf, &len, errstr,
                                            ERRBUF_SIZE))) {
        if (cerr == CISHARE_ERR_IO)
            cishare_cli_error("directory publish: cannot read %s", errstr);
        else
            print_errors(errstr);
        rc = cerr == CISHARE_ERR_NOMEM ? CISHARE_EXIT_FAIL : CISHARE_EXIT_USAGE;
        goto out;
    }
    if (cishare_directory_root_pub_load(file, root_key, pinned, errstr,
                                        ERRBUF_SIZE) ||
        cishare_identity_state_dir(conf, sdir, sizeof(sdir), errstr,
                                   ERRBUF_SIZE)) {
        print_errors(errstr);
        goto out;
    }
    snprintf(spath, sizeof(spath), "%s/%s", sdir, CISHARE_DIRSTATE_FILE);
    if ((cerr = cishare_dirstate_accept(spath, pinned, file, buf, len,
                                        cishare_time_now_ms(), &dir, errstr,
                                        ERRBUF_SIZE))) {
        print_errors(errstr);
        if (cerr == CISHARE_ERR_IO || cerr == CISHARE_ERR_NOMEM) {
            cishare_cli_error("directory publish: the directory state %s "
                              "cannot be updated, nothing published",
                              spath);
            rc = CISHARE_EXIT_FAIL;
        } else {
            cishare_cli_error("directory publish: %s refused, nothing "
                              "published",
                              file);
        }
        goto out;
    }
    /* A certificate the cluster would refuse: say why, send nothing. */
    {
        cishare_tls_info_t tls;
        if (cishare_tls_preflight(
                conf, dir, cishare_config_get(conf, CISHARE_CONF_PARTICIPANT),
                0, &tls, errstr, ERRBUF_SIZE)) {
            cishare_cli_error("directory publish: %s", errstr);
            goto out; /* CISHARE_EXIT_USAGE */
        }
    }
    if (!(kc = cishare_config_kafka_conf(conf, errstr, ERRBUF_SIZE))) {
        cishare_cli_error("directory publish: %s", errstr);
        goto out;
    }
    snprintf(msg, sizeof(msg), "%u",
             (unsigned)CISHARE_DIRTOPIC_MAX_MESSAGE_BYTES);
    if (rd_kafka_conf_set(kc, "enable.idempotence", "true", kerr,
                          sizeof(kerr)) ||
        rd_kafka_conf_set(kc, "acks", "all", kerr, sizeof(kerr)) ||
        rd_kafka_conf_set(kc, "message.max.bytes", msg, kerr, sizeof(kerr)) ||
        (!cishare_config_get_kafka(conf, "message.timeout.ms") &&
         rd_kafka_conf_set(kc, "message.timeout.ms", "30000", kerr,
                           sizeof(kerr)))) {
        cishare_cli_error("directory publish: producer config: %s", kerr);
        goto out;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, publish_dr_cb);
    rc = CISHARE_EXIT_FAIL;
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, kerr, sizeof(kerr)))) {
        cishare_cli_error("directory publish: %s", kerr);
        goto out;
    }
    kc = NULL;
    err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(CISHARE_DIRTOPIC_KEY, strlen(CISHARE_DIRTOPIC_KEY)),
        RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&report), RD_KAFKA_V_END);
    if (!err) {
        rd_kafka_flush(rk, PUBLISH_TIMEOUT_MS);
        err = report._private ? report.err : RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    if (err) {
        cishare_kafka_describe_error(err, NULL, "write to", topic, msg,
                                     sizeof(msg));
        cishare_cli_error("directory publish: serial %llu not published: %s",
                          (unsigned long long)cishare_directory_serial(dir),
                          msg);
        goto out;
    }
    cishare_cli_info("directory serial %llu published on %s (partition %d, "
                     "offset %lld)",
                     (unsigned long long)cishare_directory_serial(dir), topic,
                     (int)report.partition, (long long)report.offset);
    rc = CISHARE_EXIT_OK;
out:
    if (kc)
        rd_kafka_conf_destroy(kc);
    if (rk)
        rd_kafka_destroy(rk);
    cishare_directory_destroy(dir);
    cishare_config_destroy(conf);
    free(buf);
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
        {"add", no_argument, NULL, 'a'},
        {"out", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *confs[PUBLISH_CONF_MAX], *xs[PUBLISH_CONF_MAX];
    size_t conf_cnt = 0, x_cnt = 0;
    const char *sub, *file = NULL, *root_key = NULL, *out = NULL;
    const char *keys[SIGN_KEYS_MAX];
    size_t key_cnt = 0;
    int c, unsigned_ = 0, json = 0, add = 0;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        directory_usage(stdout);
        return CISHARE_EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "validate") && strcmp(argv[1], "sign") &&
                     strcmp(argv[1], "show") && strcmp(argv[1], "publish")))
        return cishare_cli_usage_error(
            "directory", "expected validate, sign, show or publish%s%s",
            argc >= 2 ? ", not " : "", argc >= 2 ? argv[1] : "");
    sub = argv[1];
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "d:r:uk:ao:jc:X:h", opts,
                            NULL)) != -1) {
        switch (c) {
        case 'c':
        case 'X':
            if ((c == 'c' ? conf_cnt : x_cnt) == PUBLISH_CONF_MAX)
                return cishare_cli_usage_error("directory",
                                               "too many -%c options", c);
            if (c == 'c')
                confs[conf_cnt++] = optarg;
            else
                xs[x_cnt++] = optarg;
            break;
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
            if (key_cnt == SIGN_KEYS_MAX)
                return cishare_cli_usage_error(
                    "directory", "at most %d --key options", SIGN_KEYS_MAX);
            keys[key_cnt++] = optarg;
            break;
        case 'a':
            add = 1;
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

    if (strcmp(sub, "publish") && (conf_cnt || x_cnt))
        return cishare_cli_usage_error("directory",
                                       "-c and -X are options of publish");
    if (!strcmp(sub, "publish")) {
        if (key_cnt || out || json || add || unsigned_)
            return cishare_cli_usage_error(
                "directory", "publish takes -c, -X and --root-key only");
        if (!conf_cnt)
            return cishare_cli_usage_error(
                "directory", "publish needs -c ADMIN_CONFIG (bootstrap "
                             "servers and admin credentials)");
        return do_publish(file, root_key, confs, conf_cnt, xs, x_cnt);
    }
    if (!strcmp(sub, "validate")) {
        if (key_cnt || out || json || add)
            return cishare_cli_usage_error(
                "directory", "validate takes --unsigned and --root-key only");
        return do_validate(file, root_key, unsigned_);
    }
    if (!strcmp(sub, "sign")) {
        if (unsigned_ || json || root_key)
            return cishare_cli_usage_error(
                "directory", "sign takes --key, --add and --out only");
        if (!key_cnt)
            return cishare_cli_usage_error(
                "directory", "sign needs --key ROOT_SECRET_KEY_FILE");
        return do_sign(file, keys, key_cnt, add, out);
    }
    if (key_cnt || out || unsigned_ || add)
        return cishare_cli_usage_error("directory",
                                       "show takes --json and --root-key only");
    return do_show(file, root_key, json);
}
