/*
 * CSV, free-text and native JSON importers: the real pymisp feeds and
 * inline files with the documented columns and bad rows.
 */
#include "import_test_util.h"

static void test_pymisp_hashes(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("feeds/pymisp-hashes.csv", &res);
    assert_int_equal(res.cnt, 9);
    assert_int_equal(res.rejected_cnt, 0);
    assert_int_equal(count_type(&res, "indicator", "md5"), 3);
    assert_int_equal(count_type(&res, "indicator", "sha1"), 3);
    assert_int_equal(count_type(&res, "indicator", "sha256"), 3);
    m = find_value(&res, "644087ccca16d2a728ef7685a4106f09");
    assert_string_equal(pstr(m, "type"), "md5");
    assert_string_equal(res.recs[0].record, "pymisp-hashes.csv:2 md5");
    /* the space after each comma is not part of the value */
    find_value(&res, "385e31c97e3a07bbb81513f0cd0979e64e6b014943902efd002f57"
                     "b21eadd41e");
    cishare_import_result_clear(&res);
}

static void test_pymisp_sha1_filename(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("feeds/pymisp-sha1-filename-size.csv", &res);
    assert_int_equal(res.cnt, 10);
    m = find_value(&res, "2a030cc6d84d5785f5e84d0f5888a411d4b06d01");
    assert_string_equal(pstr(m, "type"), "sha1");
    assert_string_equal(pstr(m, "name"), "soft.exe");
    assert_string_equal(pstr(m, "description"), "size=45568");
    assert_string_equal(tlp_of(m), "(none)");
    cishare_import_result_clear(&res);
}

static void test_freetext(void **state)
{
    cishare_import_result_t res;

    (void)state;
    load_sample("feeds/pymisp-freetext.txt", &res);
    assert_int_equal(res.cnt, 3);
    assert_string_equal(pstr(find_value(&res, "8.8.8.8"), "type"), "ipv4");
    assert_string_equal(pstr(find_value(&res, "google.fr"), "type"), "domain");
    assert_string_equal(pstr(find_value(&res, "https://gmail.com"), "type"),
                        "url");
    assert_string_equal(res.recs[1].record, "pymisp-freetext.txt:3");
    cishare_import_result_clear(&res);

    assert_int_equal(load_text("notes.txt",
                               "seen hxxp://bad[.]example/x and 192.0.2.7\n"
                               "nothing here\n",
                               &res, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(res.cnt, 2);
    find_value(&res, "http://bad.example/x");
    find_value(&res, "192.0.2.7");
    assert_int_equal(res.skipped_cnt, 1);
    assert_string_equal(res.skipped[0].record, "notes.txt:2");
    cishare_import_result_clear(&res);
}

static void test_documented_columns(void **state)
{
    static const char csv[] =
        "type,value,tlp,confidence,valid_until,labels,description\n"
        "ipv4,198.51.100.0/24,amber,80,2026-12-31T00:00:00Z,c2;botnet,"
        "\"C2, seen twice\"\n"
        "domain,evil.example,,,,,\n"
        "ip-dst,2001:db8::1,TLP:RED,,,,\n"
        "ipv4,not-an-ip,green,,,,\n"
        "sha256,abc,green,,,,\n"
        "flux,x,green,,,,\n"
        "url,http://x.example/,purple,,,,\n"
        "md5,d41d8cd98f00b204e9800998ecf8427e,green,101,,,\n"
        "email,a@b.example,green,,2026-13-01,,\n";
    cishare_import_result_t res;
    char err[512];
    json_t *m;

    (void)state;
    assert_int_equal(load_text("list.csv", csv, &res, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(res.cnt, 3);
    m = find_value(&res, "198.51.100.0/24");
    assert_string_equal(pstr(m, "type"), "ipv4");
    assert_string_equal(tlp_of(m), "amber");
    assert_string_equal(pstr(m, "valid_until"), "2026-12-31T00:00:00.000Z");
    assert_string_equal(pstr(m, "description"), "C2, seen twice");
    assert_true(has_label(m, "botnet"));
    assert_int_equal(
        json_integer_value(json_object_get(payload_of(m), "confidence")), 80);
    assert_string_equal(tlp_of(find_value(&res, "evil.example")), "(none)");
    m = find_value(&res, "2001:db8::1");
    assert_string_equal(pstr(m, "type"), "ipv6");
    assert_string_equal(tlp_of(m), "red");
    /* every bad row is rejected and named by line */
    assert_int_equal(res.rejected_cnt, 6);
    assert_string_equal(res.rejected[0].record, "list.csv:5");
    assert_string_equal(res.rejected[0].reason, "invalid value");
    assert_string_equal(res.rejected[1].record, "list.csv:6");
    assert_string_equal(res.rejected[2].reason, "unknown observable type");
    assert_string_equal(res.rejected[3].reason, "invalid TLP label");
    assert_string_equal(res.rejected[4].record, "list.csv:9");
    assert_string_equal(res.rejected[5].reason, "invalid timestamp");
    cishare_import_result_clear(&res);
}

static void test_bad_csv(void **state)
{
    cishare_import_result_t res;
    char err[512];

    (void)state;
    assert_int_equal(
        load_text("x.csv", "colour,size\nred,1\n", &res, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "x.csv:1"));
    cishare_import_result_clear(&res);
    assert_int_equal(load_text("q.csv", "type,value\nurl,\"http://a\n", &res,
                               err, sizeof(err)),
                     CISHARE_ERR_PARSE);
    assert_non_null(strstr(err, "q.csv"));
    cishare_import_result_clear(&res);
}

#define NATIVE(id)                                                             \
    "{\"type\":\"indicator\",\"tlp\":\"TLP:AMBER\",\"payload\":{\"id\":\"" id  \
    "\",\"type\":\"ipv4\",\"value\":\"192.0.2.1\"}}"

static void test_native_json(void **state)
{
    cishare_import_result_t res;
    char err[512];

    (void)state;
    assert_int_equal(
        load_text("one.json", NATIVE("indicator--a"), &res, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(res.cnt, 1);
    assert_string_equal(tlp_of(res.recs[0].msg), "amber"); /* canonical */
    assert_string_equal(res.recs[0].record, "one.json: indicator--a");
    cishare_import_result_clear(&res);

    assert_int_equal(
        load_text("arr.json",
                  "[" NATIVE("indicator--a") "," NATIVE(
                      "indicator--b") ",{\"type\":\"gossip\","
                                      "\"payload\":{\"id\":\"x\"}}]",
                  &res, err, sizeof(err)),
        CISHARE_OK);
    assert_int_equal(res.cnt, 2);
    assert_int_equal(res.rejected_cnt, 1);
    assert_string_equal(res.rejected[0].reason, "unknown message type");
    cishare_import_result_clear(&res);

    /* JSON Lines; a broken line is rejected by line number */
    assert_int_equal(load_text("feed.jsonl",
                               NATIVE("indicator--a") "\n" NATIVE(
                                   "indicator--b") "\n{\"type\": oops}\n",
                               &res, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(res.cnt, 2);
    assert_int_equal(res.rejected_cnt, 1);
    assert_string_equal(res.recs[1].record, "feed.jsonl:2: indicator--b");
    assert_string_equal(res.rejected[0].record, "feed.jsonl:3");
    assert_string_equal(res.rejected[0].reason, "invalid JSON");
    cishare_import_result_clear(&res);

    /* not JSON at all in a .json file: an error naming the file */
    assert_int_equal(load_text("bad.json", "{\"a\":", &res, err, sizeof(err)),
                     CISHARE_ERR_PARSE);
    assert_non_null(strstr(err, "bad.json: not valid JSON: line 1"));
    cishare_import_result_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pymisp_hashes),
        cmocka_unit_test(test_pymisp_sha1_filename),
        cmocka_unit_test(test_freetext),
        cmocka_unit_test(test_documented_columns),
        cmocka_unit_test(test_bad_csv),
        cmocka_unit_test(test_native_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
