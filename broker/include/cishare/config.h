/*
 * cishare - client configuration: one key=value file in the style of
 * Kafka's client.properties, plus -X overrides.
 *
 *   # comments and blank lines are ignored
 *   bootstrap.servers=127.0.0.1:9092        <- passed to librdkafka
 *   cishare.participant=op-power-a           <- cishare's own keys
 *
 * Keys starting with "cishare." are cishare's own and must appear in the
 * table of config.c (an unknown one is an error); every other key goes to
 * librdkafka, which validates it when it is set. Relative paths in
 * cishare.* path keys and in librdkafka's certificate keys (ssl.ca.location,
 * ssl.certificate.location, ssl.key.location, ssl.crl.location,
 * ssl.keystore.location) are relative to the folder of the config file.
 */
#ifndef CISHARE_CONFIG_H
#define CISHARE_CONFIG_H

#include "cishare/err.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cishare_config_s cishare_config_t;

/** New config holding the table's defaults. Free with _destroy(). */
cishare_config_t *cishare_config_new(void);
void cishare_config_destroy(cishare_config_t *conf);

/**
 * Read a config file into conf. Errors name the file, the line and the
 * key. Later files and cishare_config_set() override earlier values.
 */
cishare_err_t cishare_config_load(cishare_config_t *conf, const char *path,
                                  char *errstr, size_t errstr_size);

/** Set one key (a "-X key=value" override, or a line of a file). */
cishare_err_t cishare_config_set(cishare_config_t *conf, const char *key,
                                 const char *value, char *errstr,
                                 size_t errstr_size);

/** Parse "key=value" (the -X argument form) and set it. */
cishare_err_t cishare_config_set_kv(cishare_config_t *conf, const char *kv,
                                    char *errstr, size_t errstr_size);

/**
 * Value of a cishare.* key (its default if unset; NULL if neither).
 * Path keys come back resolved against the config file's folder. The
 * string is owned by conf and valid until the key is set again.
 */
const char *cishare_config_get(const cishare_config_t *conf, const char *key);

/** Integer value of a cishare.* key of type int. */
int64_t cishare_config_get_int(const cishare_config_t *conf, const char *key);

/** Value of a librdkafka key set in this config, or NULL. */
const char *cishare_config_get_kafka(const cishare_config_t *conf,
                                     const char *key);

/** True for librdkafka keys that name files (ssl.*.location). */
int cishare_config_kafka_key_is_path(const char *key);

/**
 * Keys of a registered family (config.c: "cishare.relay.rule.<name>"),
 * in the order first set: how many, and key i (NULL when out of range)
 * with *valuep its value. Owned by conf. Their owner checks the values.
 */
size_t cishare_config_prefixed_cnt(const cishare_config_t *conf);
const char *cishare_config_prefixed_at(const cishare_config_t *conf, size_t i,
                                       const char **valuep);

/** Number of librdkafka keys set, in the order they were first set. */
size_t cishare_config_kafka_cnt(const cishare_config_t *conf);
/** Key i (NULL when out of range); *valuep its value. Owned by conf. */
const char *cishare_config_kafka_at(const cishare_config_t *conf, size_t i,
                                    const char **valuep);

/**
 * A new rd_kafka_conf_t holding every librdkafka key of conf. The caller
 * owns it (pass it to rd_kafka_new() or destroy it).
 */
rd_kafka_conf_t *cishare_config_kafka_conf(const cishare_config_t *conf,
                                           char *errstr, size_t errstr_size);

/** Print the table of cishare.* keys (name, default, description). */
void cishare_config_print_help(FILE *fp);

/** Participant id: cishare.participant, or NULL when unset. */
#define CISHARE_CONF_PARTICIPANT     "cishare.participant"
#define CISHARE_CONF_KEY             "cishare.key"
#define CISHARE_CONF_DIRECTORY       "cishare.directory"
#define CISHARE_CONF_ROOT_KEY        "cishare.root-key"
#define CISHARE_CONF_STATE_DIR       "cishare.state-dir"
#define CISHARE_CONF_DIRECTORY_TOPIC "cishare.directory.topic"

#endif
