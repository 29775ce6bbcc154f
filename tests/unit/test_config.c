/* Unit tests of the config loader: table keys, pass-through, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "cishare/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof(tmpdir), "config");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static void test_load_and_resolve(void **state)
{
    cishare_config_t *conf = cishare_config_new();
    char errstr[256], want[256];
    const char *path;
    (void)state;

    path = write_file("a.conf", "# comment\n\n"
                                "bootstrap.servers = 127.0.0.1:9092\n"
                                "cishare.participant=op-power-a\n"
                                "cishare.key=keys/op-power-a.key\n"
                                "cishare.directory=/abs/directory.yaml\n");
    assert_int_equal(cishare_config_load(conf, path, errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_string_equal(cishare_config_get(conf, CISHARE_CONF_PARTICIPANT),
                        "op-power-a");
    snprintf(want, sizeof(want), "%s/keys/op-power-a.key", tmpdir);
    assert_string_equal(cishare_config_get(conf, CISHARE_CONF_KEY), want);
    assert_string_equal(cishare_config_get(conf, CISHARE_CONF_DIRECTORY),
                        "/abs/directory.yaml");
    assert_string_equal(cishare_config_get_kafka(conf, "bootstrap.servers"),
                        "127.0.0.1:9092");
    /* Defaults come from the table. */
    assert_int_equal(
        cishare_config_get_int(conf, "cishare.provision.partitions"), 3);
    /* -X overrides what the file said. */
    assert_int_equal(cishare_config_set_kv(conf, "bootstrap.servers=h:1",
                                           errstr, sizeof(errstr)),
                     CISHARE_OK);
    assert_string_equal(cishare_config_get_kafka(conf, "bootstrap.servers"),
                        "h:1");
    cishare_config_destroy(conf);
}

static void test_errors_name_line_and_key(void **state)
{
    cishare_config_t *conf = cishare_config_new();
    char errstr[256];
    const char *path;
    (void)state;

    path = write_file("b.conf", "cishare.participant=x\ncishare.nope=1\n");
    assert_int_equal(cishare_config_load(conf, path, errstr, sizeof(errstr)),
                     CISHARE_ERR_CONFIG);
    assert_non_null(strstr(errstr, "b.conf:2"));
    assert_non_null(strstr(errstr, "cishare.nope"));

    path = write_file("c.conf", "no.such.librdkafka.key=1\n");
    assert_int_equal(cishare_config_load(conf, path, errstr, sizeof(errstr)),
                     CISHARE_ERR_CONFIG);
    assert_non_null(strstr(errstr, "c.conf:1"));

    path = write_file("d.conf", "cishare.provision.partitions=zero\n");
    assert_int_equal(cishare_config_load(conf, path, errstr, sizeof(errstr)),
                     CISHARE_ERR_CONFIG);
    assert_non_null(strstr(errstr, "cishare.provision.partitions"));

    path = write_file("e.conf", "just words\n");
    assert_int_equal(cishare_config_load(conf, path, errstr, sizeof(errstr)),
                     CISHARE_ERR_CONFIG);
    assert_non_null(strstr(errstr, "expected key=value"));

    assert_int_equal(cishare_config_set_kv(conf, "=x", errstr, sizeof(errstr)),
                     CISHARE_ERR_CONFIG);
    assert_int_equal(cishare_config_load(conf, "/nonexistent/x.conf", errstr,
                                         sizeof(errstr)),
                     CISHARE_ERR_IO);
    assert_non_null(strstr(errstr, "/nonexistent/x.conf"));
    cishare_config_destroy(conf);
}

static void test_kafka_conf(void **state)
{
    cishare_config_t *conf = cishare_config_new();
    rd_kafka_conf_t *kconf;
    char errstr[256], val[64];
    size_t len = sizeof(val);
    (void)state;

    assert_int_equal(
        cishare_config_set(conf, "client.id", "t", errstr, sizeof(errstr)),
        CISHARE_OK);
    kconf = cishare_config_kafka_conf(conf, errstr, sizeof(errstr));
    assert_non_null(kconf);
    assert_int_equal(rd_kafka_conf_get(kconf, "client.id", val, &len),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(val, "t");
    rd_kafka_conf_destroy(kconf);
    cishare_config_destroy(conf);
    cishare_config_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_resolve),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_kafka_conf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
