/*
 * MISP importer on the real samples (all three shapes and a feed
 * manifest), plus inline events for TLP from tags and distribution.
 */
#include "import_test_util.h"

#define NFD "not for detection (to_ids false)"

/* Whether res holds a record with payload id `id`. */
static bool has_id(const cishare_import_result_t *res, const char *id)
{
    size_t i;

    for (i = 0; i < res->cnt; i++) {
        const char *pid = json_string_value(
            json_object_get(payload_of(res->recs[i].msg), "id"));
        if (pid && !strcmp(pid, id))
            return true;
    }
    return false;
}

/* No record of res carries the label to_ids:false any more. */
static void assert_no_to_ids_false(const cishare_import_result_t *res)
{
    size_t i;

    for (i = 0; i < res->cnt; i++)
        assert_false(has_label(res->recs[i].msg, "to_ids:false"));
}

static void test_event_wrapper_xorist(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("misp/circl-osint-xorist-ransomware.json", &res);
    /* filename, regkey|value, md5, sha1, sha256; comment and text are
     * context, and the 2 links (a VirusTotal page, a blog post) have
     * to_ids false: each skipped with its reason */
    assert_int_equal(res.cnt, 5);
    assert_int_equal(res.rejected_cnt, 0);
    assert_int_equal(
        count_reason(res.skipped, res.skipped_cnt, "not an observable"), 2);
    assert_int_equal(count_reason(res.skipped, res.skipped_cnt, NFD), 2);
    assert_false(
        has_id(&res, "indicator--57c5300c-0560-4146-bfaa-40e802de0b81"));
    assert_no_to_ids_false(&res);
    m = find_msg(&res, "indicator--57c4448b-454c-4d17-90d1-4d2f950d210f");
    assert_string_equal(pstr(m, "type"), "md5");
    assert_string_equal(pstr(m, "value"), "0749bae92ca336a02c83d126e04ec628");
    assert_string_equal(tlp_of(m), "clear"); /* tlp:white */
    assert_true(has_label(m, "ms-caro-malware:malware-type=\"Ransom\""));
    assert_false(has_label(m, "tlp:white"));
    assert_string_equal(pstr(m, "created_by_ref"),
                        "identity--55f6ea5e-2c60-40e5-964f-47a8950d210f");
    m = find_msg(&res, "indicator--57c4448a-fb04-457d-87e7-4127950d210f");
    assert_string_equal(pstr(m, "type"), "other");
    assert_true(has_label(m, "misp-type:filename"));
    cishare_import_result_clear(&res);
}

static void test_objects_qakbot(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("misp/circl-osint-qakbot-emotet.json", &res);
    /* 47 attributes (comment skipped; 6 links and 3 regkeys with to_ids
     * false skipped) + 24 ip-port objects (their port attributes, to_ids
     * false, are context of the object) */
    assert_int_equal(res.cnt, 46 + 24 + 1 - 9);
    assert_int_equal(count_reason(res.skipped, res.skipped_cnt, NFD), 9);
    assert_no_to_ids_false(&res);
    assert_int_equal(count_type(&res, "indicator", "ipv4"), 19 + 24);
    m = find_msg(&res, "indicator--5a0acc3f-9d2c-4cb7-86b7-4f26950d210f");
    assert_string_equal(pstr(m, "value"), "64.183.173.170");
    assert_non_null(strstr(pstr(m, "description"), "dst-port=995"));
    assert_true(has_label(m, "misp-object:ip-port"));
    cishare_import_result_clear(&res);
}

static void test_bare_event_sednit(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("misp/server-export-sednit.json", &res);
    assert_int_equal(res.rejected_cnt, 0);
    /* 7 domain (the link has to_ids false), 37 file objects' sha1, 12
     * domain-ip x 2 */
    assert_int_equal(res.cnt, 7 + 37 + 24);
    assert_int_equal(count_reason(res.skipped, res.skipped_cnt, NFD), 1);
    assert_no_to_ids_false(&res);
    m = find_msg(&res, "indicator--5a3ce58a-fcd8-48d5-8b4a-4fd9950d210f");
    assert_string_equal(pstr(m, "type"), "ipv4");
    assert_string_equal(pstr(m, "value"), "87.236.211.182");
    /* tlp:white, but distribution 3 (all communities) -> GREEN wins */
    assert_string_equal(tlp_of(m), "green");
    m = find_value(&res, "movieultimate.com");
    assert_true(has_label(m, "misp-category:Network activity"));
    cishare_import_result_clear(&res);
}

static void test_dridex_and_response(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("misp/circl-m2m-dridex.json", &res);
    /* 9 ip-dst and a link with to_ids false are not indicators */
    assert_int_equal(res.cnt, 13);
    assert_int_equal(count_reason(res.skipped, res.skipped_cnt, NFD), 10);
    assert_false(
        has_id(&res, "indicator--5a0f0fb3-d6fc-4949-bf7a-4011950d210f"));
    assert_no_to_ids_false(&res);
    assert_string_equal(pstr(find_value(&res, "axtes.com"), "type"),
                        "domain"); /* hostname */
    /* name: the event info up to its embedded newline */
    assert_string_equal(pstr(find_value(&res, "axtes.com"), "name"),
                        "M2M -  Dridex 2017-11-14 : botnet 7200 : \"Invoice "
                        "No.");
    cishare_import_result_clear(&res);

    load_sample("misp/restsearch-response-collection.json", &res);
    assert_int_equal(res.cnt, 2);
    m = find_msg(&res, "indicator--2972c3a2-dda3-4de7-aca1-e96cf7ce5544");
    assert_string_equal(pstr(m, "type"), "asn");
    assert_string_equal(pstr(m, "value"), "AS174");
    assert_string_equal(tlp_of(m), "(none)"); /* no tags, no distribution */
    m = find_msg(&res, "indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb");
    assert_string_equal(pstr(m, "value"), "circl.lu");
    assert_string_equal(pstr(m, "description"), "Domain test attribute");
    cishare_import_result_clear(&res);
}

static void test_feed_manifest(void **state)
{
    cishare_import_result_t res;

    (void)state;
    load_sample("misp/feed/manifest.json", &res);
    assert_int_equal(res.cnt, 0);
    assert_int_equal(res.rejected_cnt, 0);
    assert_int_equal(
        count_reason(res.skipped, res.skipped_cnt, "event file missing"), 1);
    assert_int_equal(
        count_reason(res.skipped, res.skipped_cnt, "event without attributes"),
        1);
    cishare_import_result_clear(&res);
}

#define ATTR(uuid, type, value, extra)                                         \
    "{\"uuid\":\"" uuid "\",\"type\":\"" type "\",\"value\":\"" value          \
    "\",\"timestamp\":\"1700000000\"" extra "}"

static void test_tlp_most_restrictive(void **state)
{
    /* clang-format off: it does not settle on this concatenation */
    // clang-format off
    static const char ev[] =
        "{\"Event\":{\"uuid\":\"11111111-1111-4111-8111-111111111111\","
        "\"info\":\"test\",\"distribution\":\"1\",\"date\":\"2024-01-01\","
        "\"Tag\":[{\"name\":\"TLP:GREEN\"},{\"name\":\"pap:amber\"}],"
        "\"Attribute\":[" ATTR("00000000-0000-4000-8000-000000000001", "ip-dst|port", "192.0.2.1|443", "") "," ATTR(
            "00000000-0000-4000-8000-000000000002", "sha256",
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            ",\"Tag\":[{\"name\":\"tlp:red\"}]") "," ATTR("00000000-0000-4000-"
                                                          "8000-000000000003",
                                                          "domain", "a.example",
                                                          ",\"distribution\":"
                                                          "\"0\"") "," ATTR("00"
                                                                            "00"
                                                                            "00"
                                                                            "00"
                                                                            "-0"
                                                                            "00"
                                                                            "0-"
                                                                            "40"
                                                                            "00"
                                                                            "-8"
                                                                            "00"
                                                                            "0-"
                                                                            "00"
                                                                            "00"
                                                                            "00"
                                                                            "00"
                                                                            "00"
                                                                            "0"
                                                                            "4",
                                                                            "fi"
                                                                            "le"
                                                                            "na"
                                                                            "me"
                                                                            "|m"
                                                                            "d"
                                                                            "5",
                                                                            "x."
                                                                            "ex"
                                                                            "e|"
                                                                            "d4"
                                                                            "1d"
                                                                            "8c"
                                                                            "d9"
                                                                            "8f"
                                                                            "00"
                                                                            "b2"
                                                                            "04"
                                                                            "e9"
                                                                            "80"
                                                                            "09"
                                                                            "98"
                                                                            "ec"
                                                                            "f8"
                                                                            "42"
                                                                            "7"
                                                                            "e",
                                                                            "") "," ATTR("00000000-0000-4000-8000-000000000005",
                                                                                         "url",
                                                                                         "http://b.example/",
                                                                                         ",\"Tag\":[{\"name\":\"tlp:ex:chr\"}]") "," ATTR("00000000-0000-4000-8000-000000000006",
                                                                                                                                          "vulnerability",
                                                                                                                                          "cve-2024-3400",
                                                                                                                                          "") "]}}";
    // clang-format on
    cishare_import_result_t res;
    char err[512];
    json_t *m;

    (void)state;
    assert_int_equal(load_text("ev.json", ev, &res, err, sizeof(err)),
                     CISHARE_OK);
    /* event: tlp:green tag + distribution 1 (community) -> amber */
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000001");
    assert_string_equal(tlp_of(m), "amber");
    assert_string_equal(pstr(m, "value"), "192.0.2.1");
    assert_non_null(strstr(pstr(m, "description"), "443"));
    assert_true(has_label(m, "pap:amber"));
    assert_string_equal(pstr(m, "created"), "2023-11-14T22:13:20.000Z");
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000002");
    assert_string_equal(tlp_of(m), "red");
    assert_string_equal(
        pstr(m, "value"),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000003");
    assert_string_equal(tlp_of(m), "amber+strict"); /* your org only */
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000004");
    assert_string_equal(pstr(m, "type"), "md5");
    assert_string_equal(pstr(m, "value"), "d41d8cd98f00b204e9800998ecf8427e");
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000006");
    assert_string_equal(pstr(m, "type"), "cve");
    assert_string_equal(pstr(m, "value"), "CVE-2024-3400");
    /* an unknown TLP tag fails closed: the record is rejected, named */
    assert_int_equal(res.rejected_cnt, 1);
    assert_string_equal(res.rejected[0].reason, "invalid TLP");
    assert_non_null(strstr(res.rejected[0].record,
                           "indicator--00000000-0000-4000-8000-000000000005"));
    assert_non_null(strstr(res.rejected[0].detail, "tlp:ex:chr"));
    cishare_import_result_clear(&res);
}

/* to_ids false in each form MISP exports have used (boolean, number,
 * string) skips the attribute, named; true or absent imports it. */
static void test_to_ids_false_skipped(void **state)
{
    static const char ev[] =
        "{\"Event\":{\"uuid\":\"22222222-2222-4222-8222-222222222222\","
        "\"info\":\"t\",\"date\":\"2024-01-01\",\"Attribute\":[" ATTR(
            "00000000-0000-4000-8000-000000000011", "link",
            "https://blog.example/post",
            ",\"to_ids\":false") "," ATTR("00000000-0000-4000-8000-"
                                          "000000000012",
                                          "ip-dst", "198.51.100.7",
                                          ",\"to_ids\":0") "," ATTR("00000000-"
                                                                    "0000-4000-"
                                                                    "8000-"
                                                                    "0000000000"
                                                                    "13",
                                                                    "domain",
                                                                    "c.example",
                                                                    ",\"to_"
                                                                    "ids\":"
                                                                    "\"0\"") "," ATTR("00000000-0000-4000-8000-000000000014",
                                                                                      "domain",
                                                                                      "d.example",
                                                                                      ",\"to_ids\":true") "," ATTR("00000000-0000-4000-8000-000000000015",
                                                                                                                   "domain",
                                                                                                                   "e.example",
                                                                                                                   "") "]}}";
    cishare_import_result_t res;
    char err[512];
    size_t i, n = 0;

    (void)state;
    assert_int_equal(load_text("ids.json", ev, &res, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(res.cnt, 2);
    assert_true(
        has_id(&res, "indicator--00000000-0000-4000-8000-000000000014"));
    assert_true(
        has_id(&res, "indicator--00000000-0000-4000-8000-000000000015"));
    assert_int_equal(res.rejected_cnt, 0);
    assert_int_equal(count_reason(res.skipped, res.skipped_cnt, NFD), 3);
    for (i = 0; i < res.skipped_cnt; i++)
        if (strstr(res.skipped[i].record,
                   "indicator--00000000-0000-4000-8000-000000000011"))
            n++;
    assert_int_equal(n, 1); /* named by its record */
    assert_no_to_ids_false(&res);
    cishare_import_result_clear(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_wrapper_xorist),
        cmocka_unit_test(test_objects_qakbot),
        cmocka_unit_test(test_bare_event_sednit),
        cmocka_unit_test(test_dridex_and_response),
        cmocka_unit_test(test_feed_manifest),
        cmocka_unit_test(test_tlp_most_restrictive),
        cmocka_unit_test(test_to_ids_false_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
