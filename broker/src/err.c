#include "cishare/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_names[CISHARE_ERR__CNT] = {
    [CISHARE_OK] = "success",
    [CISHARE_ERR_INVALID_ARG] = "invalid argument",
    [CISHARE_ERR_NOMEM] = "out of memory",
    [CISHARE_ERR_IO] = "input/output error",
    [CISHARE_ERR_PARSE] = "parse error",
    [CISHARE_ERR_VALIDATION] = "validation error",
    [CISHARE_ERR_UNKNOWN_SCHEMA] = "unknown schema",
    [CISHARE_ERR_TRUNCATED] = "truncated input",
    [CISHARE_ERR_TRAILING] = "trailing bytes",
    [CISHARE_ERR_TOO_LARGE] = "length beyond bound",
    [CISHARE_ERR_BAD_SIGNATURE] = "bad or missing signature",
    [CISHARE_ERR_UNKNOWN_KEY] = "unknown origin or key",
    [CISHARE_ERR_DECRYPT] = "decryption failed",
    [CISHARE_ERR_NOT_RECIPIENT] = "not a recipient",
    [CISHARE_ERR_DIRECTORY] = "directory refused",
    [CISHARE_ERR_POLICY] = "refused by sharing policy",
    [CISHARE_ERR_CONFIG] = "configuration error",
    [CISHARE_ERR_KAFKA] = "kafka error",
    [CISHARE_ERR_AUTH] = "not authorised",
    [CISHARE_ERR_NOT_FOUND] = "not found",
    [CISHARE_ERR_EXISTS] = "already exists",
    [CISHARE_ERR_CRYPTO] = "cryptographic failure",
};

const char *cishare_err_str(cishare_err_t err)
{
    if ((int)err < 0 || err >= CISHARE_ERR__CNT || !err_names[err])
        return "unknown error";
    return err_names[err];
}

cishare_err_t cishare_err_set(cishare_err_t err, char *errstr,
                              size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (errstr && errstr_size > 0) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
