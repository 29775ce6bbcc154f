#include "cishare/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

cishare_err_t cishare_crypto_init(void)
{
    return sodium_init() < 0 ? CISHARE_ERR_CRYPTO : CISHARE_OK;
}

void cishare_key_id(const uint8_t pk[CISHARE_ED25519_PK_BYTES],
                    char out[CISHARE_KEY_ID_LEN + 1])
{
    uint8_t h[32];

    crypto_generichash(h, sizeof(h), pk, CISHARE_ED25519_PK_BYTES, NULL, 0);
    sodium_bin2hex(out, CISHARE_KEY_ID_LEN + 1, h, CISHARE_KEY_ID_LEN / 2);
}

void cishare_pk_to_base64(const uint8_t pk[32], char *out, size_t out_size)
{
    sodium_bin2base64(out, out_size, pk, 32, sodium_base64_VARIANT_ORIGINAL);
}

cishare_err_t cishare_base64_decode_exact(const char *text, uint8_t *out,
                                          size_t len, char *errstr,
                                          size_t errstr_size)
{
    uint8_t buf[128];
    size_t got = 0;
    const char *end = NULL;

    if (!text || len > sizeof(buf))
        return cishare_err_set(CISHARE_ERR_INVALID_ARG, errstr, errstr_size,
                               "no key text");
    if (sodium_base642bin(buf, sizeof(buf), text, strlen(text), " \t\r\n", &got,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        (end && *end))
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "not valid base64");
    if (got != len) {
        sodium_memzero(buf, sizeof(buf));
        return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                               "key is %zu bytes, expected %zu", got, len);
    }
    memcpy(out, buf, len);
    sodium_memzero(buf, sizeof(buf));
    return CISHARE_OK;
}

static void keypair_derive(cishare_keypair_t *kp)
{
    crypto_sign_ed25519_sk_to_pk(kp->ed25519_pk, kp->ed25519_sk);
    crypto_scalarmult_base(kp->x25519_pk, kp->x25519_sk);
    cishare_key_id(kp->ed25519_pk, kp->key_id);
}

cishare_err_t cishare_keypair_generate(cishare_keypair_t *kp)
{
    if (cishare_crypto_init())
        return CISHARE_ERR_CRYPTO;
    crypto_sign_keypair(kp->ed25519_pk, kp->ed25519_sk);
    crypto_box_keypair(kp->x25519_pk, kp->x25519_sk);
    keypair_derive(kp);
    return CISHARE_OK;
}

void cishare_keypair_wipe(cishare_keypair_t *kp)
{
    sodium_memzero(kp, sizeof(*kp));
}

cishare_err_t cishare_keypair_save(const cishare_keypair_t *kp,
                                   const char *path, const char *comment,
                                   char *errstr, size_t errstr_size)
{
    char ed[sodium_base64_ENCODED_LEN(CISHARE_ED25519_SK_BYTES,
                                      sodium_base64_VARIANT_ORIGINAL)];
    char x[CISHARE_PK_B64_SIZE];
    const char *p, *nl;
    FILE *fp;
    int fd, ok;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return cishare_err_set(
            errno == EEXIST ? CISHARE_ERR_EXISTS : CISHARE_ERR_IO, errstr,
            errstr_size, "%s: %s%s", path, strerror(errno),
            errno == EEXIST ? " (refusing to overwrite)" : "");
    fp = fdopen(fd, "w");
    if (!fp) {
        close(fd);
        unlink(path);
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size, "%s: %s",
                               path, strerror(errno));
    }
    sodium_bin2base64(ed, sizeof(ed), kp->ed25519_sk, CISHARE_ED25519_SK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(x, sizeof(x), kp->x25519_sk, CISHARE_X25519_SK_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    fprintf(fp, "# cishare secret key file: keep private (mode 0600)\n");
    for (p = comment; p && *p; p = nl ? nl + 1 : p + strlen(p)) {
        nl = strchr(p, '\n');
        fprintf(fp, "# %.*s\n", (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
    }
    fprintf(fp, "# key id %s\ned25519-secret: %s\nx25519-secret: %s\n",
            kp->key_id, ed, x);
    sodium_memzero(ed, sizeof(ed));
    sodium_memzero(x, sizeof(x));
    ok = !ferror(fp) && fflush(fp) == 0 && fsync(fd) == 0;
    if (fclose(fp) != 0 || !ok) {
        unlink(path);
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "%s: write failed", path);
    }
    return CISHARE_OK;
}

cishare_err_t cishare_keypair_load(cishare_keypair_t *kp, const char *path,
                                   char *errstr, size_t errstr_size)
{
    char line[512], detail[128];
    FILE *fp;
    int lineno = 0, have_ed = 0, have_x = 0;
    cishare_err_t err = CISHARE_OK;

    if (cishare_crypto_init())
        return CISHARE_ERR_CRYPTO;
    memset(kp, 0, sizeof(*kp));
    fp = fopen(path, "r");
    if (!fp)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "secret key file %s: %s", path, strerror(errno));
    while (!err && fgets(line, sizeof(line), fp)) {
        char *val;
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        val = strchr(line, ':');
        if (!val) {
            err = cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                                  "secret key file %s:%d: expected "
                                  "'name: value'",
                                  path, lineno);
            break;
        }
        *val++ = '\0';
        val += strspn(val, " \t");
        if (!strcmp(line, "ed25519-secret")) {
            err = cishare_base64_decode_exact(val, kp->ed25519_sk,
                                              CISHARE_ED25519_SK_BYTES, detail,
                                              sizeof(detail));
            have_ed = !err;
        } else if (!strcmp(line, "x25519-secret")) {
            err = cishare_base64_decode_exact(val, kp->x25519_sk,
                                              CISHARE_X25519_SK_BYTES, detail,
                                              sizeof(detail));
            have_x = !err;
        } else {
            err = cishare_err_set(CISHARE_ERR_PARSE, errstr, errstr_size,
                                  "secret key file %s:%d: unknown field '%s'",
                                  path, lineno, line);
            break;
        }
        if (err)
            cishare_err_set(err, errstr, errstr_size,
                            "secret key file %s:%d: %s: %s", path, lineno, line,
                            detail);
    }
    sodium_memzero(line, sizeof(line));
    fclose(fp);
    if (!err && (!have_ed || !have_x))
        err = cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                              "secret key file %s: missing %s", path,
                              !have_ed ? "ed25519-secret" : "x25519-secret");
    if (err) {
        cishare_keypair_wipe(kp);
        return err;
    }
    keypair_derive(kp);
    return CISHARE_OK;
}

cishare_err_t cishare_pubkey_load(const char *path,
                                  uint8_t pk[CISHARE_ED25519_PK_BYTES],
                                  char *errstr, size_t errstr_size)
{
    char line[256], detail[128];
    FILE *fp;
    cishare_err_t err;

    fp = fopen(path, "r");
    if (!fp)
        return cishare_err_set(CISHARE_ERR_IO, errstr, errstr_size,
                               "root key %s: %s", path, strerror(errno));
    /* First line that is not a comment or blank holds the key. */
    do {
        if (!fgets(line, sizeof(line), fp)) {
            fclose(fp);
            return cishare_err_set(CISHARE_ERR_VALIDATION, errstr, errstr_size,
                                   "root key %s: no key", path);
        }
        line[strcspn(line, "\r\n")] = '\0';
    } while (!line[0] || line[0] == '#');
    fclose(fp);
    err = cishare_base64_decode_exact(line, pk, CISHARE_ED25519_PK_BYTES,
                                      detail, sizeof(detail));
    if (err)
        return cishare_err_set(err, errstr, errstr_size, "root key %s: %s",
                               path, detail);
    return CISHARE_OK;
}
