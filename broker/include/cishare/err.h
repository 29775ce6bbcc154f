/*
 * cishare - one error type for the whole library.
 *
 * 0 is success; every other value is a failure. Library code never prints
 * or exits: it returns a cishare_err_t and, where the caller passed one, a
 * human-readable detail in `errstr` (naming the input and the problem).
 */
#ifndef CISHARE_ERR_H
#define CISHARE_ERR_H

#include <stddef.h>

typedef enum {
    CISHARE_OK = 0,
    CISHARE_ERR_INVALID_ARG,    /**< caller passed a bad argument */
    CISHARE_ERR_NOMEM,          /**< allocation failed */
    CISHARE_ERR_IO,             /**< file or stream error */
    CISHARE_ERR_PARSE,          /**< malformed input text (JSON, YAML, ...) */
    CISHARE_ERR_VALIDATION,     /**< well-formed but invalid content */
    CISHARE_ERR_UNKNOWN_SCHEMA, /**< fingerprint or type not known */
    CISHARE_ERR_TRUNCATED,      /**< input ends early */
    CISHARE_ERR_TRAILING,       /**< bytes left after a complete datum */
    CISHARE_ERR_TOO_LARGE,      /**< length beyond a bound */
    CISHARE_ERR_BAD_SIGNATURE,  /**< signature missing or does not verify */
    CISHARE_ERR_UNKNOWN_KEY,    /**< origin or key id not in the directory */
    CISHARE_ERR_DECRYPT,        /**< ciphertext does not open (tampered) */
    CISHARE_ERR_NOT_RECIPIENT,  /**< we hold no key this is encrypted to */
    CISHARE_ERR_DIRECTORY,      /**< directory refused (unsigned, invalid) */
    CISHARE_ERR_POLICY,         /**< refused by the sharing rules */
    CISHARE_ERR_CONFIG,         /**< bad configuration key or value */
    CISHARE_ERR_KAFKA,          /**< Kafka client or broker error */
    CISHARE_ERR_AUTH,           /**< authentication or authorisation refused */
    CISHARE_ERR_NOT_FOUND,      /**< named thing does not exist */
    CISHARE_ERR_EXISTS,         /**< refusing to overwrite */
    CISHARE_ERR_CRYPTO,         /**< libsodium failure */
    CISHARE_ERR__CNT
} cishare_err_t;

/** Short static description of an error code. Never NULL. */
const char *cishare_err_str(cishare_err_t err);

/** snprintf into errstr if errstr is not NULL; returns err for chaining. */
cishare_err_t cishare_err_set(cishare_err_t err, char *errstr,
                              size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
