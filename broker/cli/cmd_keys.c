/* cishare keys generate: a participant's Ed25519 + X25519 key pair. */
#include "cishare/cli.h"
#include "cishare/keys.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void keys_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare keys generate --out FILE [--comment TEXT]\n"
            "\n"
            "Generate a participant's signing (Ed25519) and encryption "
            "(X25519) keys.\n"
            "The secret key file is created with mode 0600 and never "
            "overwritten.\n"
            "The public keys and key id are printed on stdout, ready for the "
            "directory:\n"
            "  key-id: <hex>\n  ed25519: <base64>\n  x25519: <base64>\n"
            "\n"
            "Options:\n"
            "  -o, --out FILE      secret key file to create\n"
            "  -C, --comment TEXT  comment line(s) written into the file\n"
            "  -h, --help          show this help\n");
}

int cishare_cmd_keys(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"comment", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL, *comment = NULL;
    char errstr[512], ed[CISHARE_PK_B64_SIZE], x[CISHARE_PK_B64_SIZE];
    cishare_keypair_t kp;
    cishare_err_t err;
    int c;

    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        keys_usage(stdout);
        return CISHARE_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "generate"))
        return cishare_cli_usage_error(
            "keys", "expected the subcommand 'generate'%s%s",
            argc >= 2 ? ", not " : "", argc >= 2 ? argv[1] : "");
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "o:C:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'C':
            comment = optarg;
            break;
        case 'h':
            keys_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("keys", "bad option");
        }
    }
    if (optind < argc - 1)
        return cishare_cli_usage_error("keys", "unexpected argument '%s'",
                                       argv[optind + 1]);
    if (!out)
        return cishare_cli_usage_error("keys", "--out FILE is required");

    if (cishare_keypair_generate(&kp)) {
        cishare_cli_error("keys: libsodium initialisation failed");
        return CISHARE_EXIT_FAIL;
    }
    err = cishare_keypair_save(&kp, out, comment, errstr, sizeof(errstr));
    if (err) {
        cishare_keypair_wipe(&kp);
        cishare_cli_error("keys: %s", errstr);
        return err == CISHARE_ERR_EXISTS ? CISHARE_EXIT_USAGE
                                         : CISHARE_EXIT_FAIL;
    }
    cishare_pk_to_base64(kp.ed25519_pk, ed, sizeof(ed));
    cishare_pk_to_base64(kp.x25519_pk, x, sizeof(x));
    printf("key-id: %s\ned25519: %s\nx25519: %s\n", kp.key_id, ed, x);
    cishare_keypair_wipe(&kp);
    return CISHARE_EXIT_OK;
}
