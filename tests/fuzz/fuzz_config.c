/*
 * libFuzzer target: the configuration parser. Each input line goes
 * through cishare_config_set_kv(), the "key=value" form that both a
 * config file's lines (cishare_config_load()) and -X overrides use: the
 * known keys' value checks (integers, booleans, enums, paths) and the
 * Kafka pass-through keys. In memory: no file is read.
 * Properties: no crash, leak or UB; an error says why.
 */
#include "cishare/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cishare_config_t *conf = cishare_config_new();
    const uint8_t *s, *end = data + size, *nl;
    char errstr[512];
    size_t i;

    if (!conf)
        abort();
    for (s = data; s < end; s = nl + 1) {
        char *line;
        if (!(nl = memchr(s, '\n', (size_t)(end - s))))
            nl = end;
        if (!(line = strndup((const char *)s, (size_t)(nl - s))))
            abort();
        errstr[0] = '\0';
        if (cishare_config_set_kv(conf, line, errstr, sizeof(errstr)) &&
            !errstr[0])
            abort();
        free(line);
    }
    for (i = 0; i < cishare_config_prefixed_cnt(conf); i++) {
        const char *v, *k = cishare_config_prefixed_at(conf, i, &v);
        if (!k)
            abort();
    }
    for (i = 0; i < cishare_config_kafka_cnt(conf); i++) {
        const char *v, *k = cishare_config_kafka_at(conf, i, &v);
        if (!k)
            abort();
    }
    cishare_config_destroy(conf);
    return 0;
}
