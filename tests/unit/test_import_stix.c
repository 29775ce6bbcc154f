/*
 * STIX 2.1 importer on the real samples (CISHARE_SAMPLES), plus small
 * inline bundles for the cases the samples lack (incident, TLP 2.0 and
 * OpenCTI markings, bad timestamps). Also: every sample outside invalid/
 * imports without error, and the invalid files that are not JSON fail
 * naming the file.
 */
#include "import_test_util.h"

#include <ftw.h>

static void test_apt1(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("stix21/apt1.json", &res);
    assert_int_equal(res.cnt, 12);
    assert_int_equal(res.rejected_cnt, 0);
    assert_int_equal(count_type(&res, "indicator", "ipv4"), 4);
    assert_int_equal(count_type(&res, "indicator", "domain"), 3);
    assert_int_equal(count_type(&res, "indicator", "md5"), 3);
    assert_int_equal(count_type(&res, "indicator", "stix"), 2); /* x509 */
    /* CIDR kept, no markings -> no label */
    m = find_msg(&res, "indicator--031778a4-057f-48e6-9db9-c8d72b81ccd5");
    assert_string_equal(pstr(m, "type"), "ipv4");
    assert_string_equal(pstr(m, "value"), "223.166.0.0/15");
    assert_string_equal(pstr(m, "valid_from"), "2015-05-15T09:12:16.432Z");
    assert_string_equal(tlp_of(m), "(none)");
    /* lower-case "md5" hash key */
    m = find_msg(&res, "indicator--8d12f44f-8ac0-4b12-8b4a-3699ca8c9691");
    assert_string_equal(pstr(m, "type"), "md5");
    assert_string_equal(pstr(m, "value"), "001dd76872d80801692ff942308c64e6");
    /* compound x509 pattern kept whole */
    m = find_msg(&res, "indicator--b3b6b540-d838-41e2-853b-005056c00008");
    assert_string_equal(pstr(m, "type"), "stix");
    assert_non_null(strstr(pstr(m, "value"), " AND x509-certificate:"));
    assert_string_equal(pstr(m, "value"), pstr(m, "pattern"));
    /* the threat report is not an incident: skipped with its reason */
    assert_int_equal(count_reason(res.skipped, res.skipped_cnt,
                                  "report is not an incident report"),
                     1);
    assert_int_equal(
        count_reason(res.skipped, res.skipped_cnt, "not a shareable object"),
        63);
    cishare_import_result_clear(&res);
}

static void test_tlp1_levels(void **state)
{
    cishare_import_result_t res;

    (void)state;
    load_sample("stix21/elevator-141-TLP-marking-structures.json", &res);
    assert_int_equal(res.cnt, 4);
    assert_string_equal(
        tlp_of(
            find_msg(&res, "indicator--8a822399-5d8a-44e4-abeb-15d480ea93c5")),
        "clear");
    assert_string_equal(
        tlp_of(
            find_msg(&res, "indicator--53fe3b22-0201-47cf-85d0-97c02164528d")),
        "green");
    assert_string_equal(
        tlp_of(
            find_msg(&res, "indicator--14975dea-86cd-4211-a5f8-9c2e4daab69a")),
        "amber");
    assert_string_equal(
        tlp_of(
            find_msg(&res, "indicator--8cf9236f-1b96-493d-98be-0c1c1e8b62d7")),
        "red");
    assert_string_equal(
        pstr(find_msg(&res, "indicator--14975dea-86cd-4211-a5f8-9c2e4daab69a"),
             "type"),
        "sha256");
    cishare_import_result_clear(&res);
}

static void test_cisa_sightings(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("stix21/elevator-issue-271-cisa-cobaltstrike.json", &res);
    assert_int_equal(count_type(&res, "indicator", NULL), 17);
    assert_int_equal(count_type(&res, "sighting", NULL), 17);
    assert_int_equal(count_type(&res, "indicator", "domain"), 6);
    assert_int_equal(count_type(&res, "indicator", "url"), 2);
    assert_int_equal(count_type(&res, "indicator", "ipv4"), 2);
    assert_int_equal(count_type(&res, "indicator", "stix"), 7);
    m = find_msg(&res, "sighting--34d1b9f4-f258-4002-bafa-d50916507335");
    assert_string_equal(pstr(m, "sighting_of"),
                        "indicator--14f2a766-5548-4695-80f0-cbfbc8713ab8");
    assert_int_equal(
        json_integer_value(json_object_get(payload_of(m), "count")), 1);
    assert_string_equal(tlp_of(m), "green"); /* TLP 1.0 id, not defined */
    m = find_msg(&res, "indicator--f90eb6f1-dd9d-4d39-a7bc-d4c6bf8cda93");
    assert_string_equal(pstr(m, "value"), "192.99.221.77");
    assert_string_equal(tlp_of(m), "green");
    m = find_msg(&res, "indicator--5aa68ee7-23f3-4878-ac80-df0d282aced4");
    assert_string_equal(pstr(m, "value"), "https://r20.rs6.net/tn.jsp?f=");
    cishare_import_result_clear(&res);
}

static void test_feeds2stix_and_inline_marking(void **state)
{
    cishare_import_result_t res;
    json_t *m;

    (void)state;
    load_sample("stix21/feeds2stix-sslblacklist-stealc.json", &res);
    assert_int_equal(res.cnt, 1);
    m = res.recs[0].msg;
    assert_string_equal(pstr(m, "type"), "stix");
    assert_string_equal(tlp_of(m), "clear"); /* TLP 2.0 id by reference */
    assert_string_equal(pstr(m, "created_by_ref"),
                        "identity--a1cb37d2-3bd3-5b23-8526-47a22694b7e0");
    cishare_import_result_clear(&res);

    load_sample("stix21/using-marking-definitions.json", &res);
    assert_int_equal(res.cnt, 1);
    m = res.recs[0].msg;
    assert_string_equal(pstr(m, "value"), "10.0.0.0");
    assert_string_equal(tlp_of(m), "amber");
    assert_string_equal(pstr(m, "created_by_ref"),
                        "identity--611d9d41-dba5-4e13-9b29-e22488058ffc");
    cishare_import_result_clear(&res);
}

#define IND(id, pat, marking)                                                  \
    "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" id            \
    "\",\"created\":\"2024-01-02T03:04:05Z\",\"modified\":"                    \
    "\"2024-01-02T03:04:05Z\",\"pattern_type\":\"stix\",\"valid_from\":"       \
    "\"2024-01-02T03:04:05Z\",\"pattern\":\"" pat                              \
    "\",\"object_marking_refs\":[\"" marking "\"]}"

static void test_inline_markings_and_incident(void **state)
{
    static const char bundle[] =
        "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":["
        /* TLP 2.0 AMBER+STRICT, not defined in the bundle */
        IND("indicator--00000000-0000-4000-8000-000000000001",
            "[domain-name:value = 'evil.example']",
            "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003") ","
        /* OpenCTI AMBER+STRICT */
        IND("indicator--00000000-0000-4000-8000-000000000002",
            "[ipv6-addr:value = '2001:db8::/32']",
            "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37") ","
        /* a custom id defined here with the TLP 2.0 extension */
        IND("indicator--00000000-0000-4000-8000-000000000003", "[email-message:from_ref.value = 'a@evil.example']", "marking-definition--00000000-0000-4000-8000-0000000000aa") "," IND(
            "indicator--00000000-0000-4000-8000-000000000004",
            "[autonomous-system:number = 64512]",
            "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb") ",{"
                                                                        "\"type"
                                                                        "\":"
                                                                        "\"mark"
                                                                        "ing-"
                                                                        "defini"
                                                                        "tion\""
                                                                        ",\"spe"
                                                                        "c_"
                                                                        "versio"
                                                                        "n\":"
                                                                        "\"2."
                                                                        "1\","
                                                                        "\"id\""
                                                                        ":\"mar"
                                                                        "king-"
                                                                        "defini"
                                                                        "tion--"
                                                                        "000000"
                                                                        "00-"
                                                                        "0000-"
                                                                        "4000-"
                                                                        "8000-"
                                                                        "000000"
                                                                        "0000aa"
                                                                        "\","
                                                                        "\"crea"
                                                                        "ted\":"
                                                                        "\"2022"
                                                                        "-10-"
                                                                        "01T00:"
                                                                        "00:"
                                                                        "00Z\","
                                                                        "\"name"
                                                                        "\":"
                                                                        "\"our "
                                                                        "red\","
                                                                        "\"exte"
                                                                        "nsions"
                                                                        "\":{"
                                                                        "\"exte"
                                                                        "nsion-"
                                                                        "defini"
                                                                        "tion--"
                                                                        "60a3c5"
                                                                        "c5-"
                                                                        "0d10-"
                                                                        "413e-"
                                                                        "aab3-"
                                                                        "9e08dd"
                                                                        "e9e88d"
                                                                        "\":{"
                                                                        "\"exte"
                                                                        "nsion_"
                                                                        "type\""
                                                                        ":\"pro"
                                                                        "perty-"
                                                                        "extens"
                                                                        "ion\","
                                                                        "\"tlp_"
                                                                        "2_0\":"
                                                                        "\"red"
                                                                        "\"}}},"
                                                                        "{\"typ"
                                                                        "e\":"
                                                                        "\"inci"
                                                                        "dent\""
                                                                        ",\"spe"
                                                                        "c_"
                                                                        "versio"
                                                                        "n\":"
                                                                        "\"2."
                                                                        "1\","
                                                                        "\"id\""
                                                                        ":"
                                                                        "\"inci"
                                                                        "dent--"
                                                                        "000000"
                                                                        "00-"
                                                                        "0000-"
                                                                        "4000-"
                                                                        "8000-"
                                                                        "000000"
                                                                        "0000bb"
                                                                        "\","
                                                                        "\"crea"
                                                                        "ted\":"
                                                                        "\"2024"
                                                                        "-03-"
                                                                        "01T10:"
                                                                        "00:00+"
                                                                        "09:"
                                                                        "00\","
                                                                        "\"modi"
                                                                        "fied\""
                                                                        ":\"202"
                                                                        "4-03-"
                                                                        "01T12:"
                                                                        "00:"
                                                                        "00Z\","
                                                                        "\"name"
                                                                        "\":"
                                                                        "\"Rans"
                                                                        "omware"
                                                                        " at "
                                                                        "substa"
                                                                        "tion\""
                                                                        ",\"des"
                                                                        "cripti"
                                                                        "on\":"
                                                                        "\"File"
                                                                        "s "
                                                                        "encryp"
                                                                        "ted\","
                                                                        "\"obje"
                                                                        "ct_"
                                                                        "markin"
                                                                        "g_"
                                                                        "refs\""
                                                                        ":["
                                                                        "\"mark"
                                                                        "ing-"
                                                                        "defini"
                                                                        "tion--"
                                                                        "55d920"
                                                                        "b0-"
                                                                        "5e8b-"
                                                                        "4f79-"
                                                                        "9ee9-"
                                                                        "91f868"
                                                                        "d9b421"
                                                                        "\"]},"
                                                                        "{\"typ"
                                                                        "e\":"
                                                                        "\"rela"
                                                                        "tionsh"
                                                                        "ip\","
                                                                        "\"spec"
                                                                        "_versi"
                                                                        "on\":"
                                                                        "\"2."
                                                                        "1\","
                                                                        "\"id\""
                                                                        ":"
                                                                        "\"rela"
                                                                        "tionsh"
                                                                        "ip--"
                                                                        "000000"
                                                                        "00-"
                                                                        "0000-"
                                                                        "4000-"
                                                                        "8000-"
                                                                        "000000"
                                                                        "0000cc"
                                                                        "\","
                                                                        "\"crea"
                                                                        "ted\":"
                                                                        "\"2024"
                                                                        "-03-"
                                                                        "01T10:"
                                                                        "00:"
                                                                        "00Z\","
                                                                        "\"modi"
                                                                        "fied\""
                                                                        ":\"202"
                                                                        "4-03-"
                                                                        "01T10:"
                                                                        "00:"
                                                                        "00Z\","
                                                                        "\"rela"
                                                                        "tionsh"
                                                                        "ip_"
                                                                        "type\""
                                                                        ":\"ind"
                                                                        "icates"
                                                                        "\","
                                                                        "\"sour"
                                                                        "ce_"
                                                                        "ref\":"
                                                                        "\"indi"
                                                                        "cator-"
                                                                        "-"
                                                                        "000000"
                                                                        "00-"
                                                                        "0000-"
                                                                        "4000-"
                                                                        "8000-"
                                                                        "000000"
                                                                        "000001"
                                                                        "\","
                                                                        "\"targ"
                                                                        "et_"
                                                                        "ref\":"
                                                                        "\"inci"
                                                                        "dent--"
                                                                        "000000"
                                                                        "00-"
                                                                        "0000-"
                                                                        "4000-"
                                                                        "8000-"
                                                                        "000000"
                                                                        "0000bb"
                                                                        "\"},"
                                                                        "{\"typ"
                                                                        "e\":"
                                                                        "\"indi"
                                                                        "cator"
                                                                        "\","
                                                                        "\"spec"
                                                                        "_versi"
                                                                        "on\":"
                                                                        "\"2."
                                                                        "1\","
                                                                        "\"id\""
                                                                        ":\"ind"
                                                                        "icator"
                                                                        "--"
                                                                        "000000"
                                                                        "00-"
                                                                        "0000-"
                                                                        "4000-"
                                                                        "8000-"
                                                                        "000000"
                                                                        "000005"
                                                                        "\","
                                                                        "\"crea"
                                                                        "ted\":"
                                                                        "\"2022"
                                                                        "-101-"
                                                                        "27T00:"
                                                                        "00:"
                                                                        "00Z\","
                                                                        "\"modi"
                                                                        "fied\""
                                                                        ":\"202"
                                                                        "2-10-"
                                                                        "27T00:"
                                                                        "00:"
                                                                        "00Z\","
                                                                        "\"patt"
                                                                        "ern\":"
                                                                        "\"["
                                                                        "url:"
                                                                        "value "
                                                                        "= "
                                                                        "'http:"
                                                                        "//"
                                                                        "x']\","
                                                                        "\"patt"
                                                                        "ern_"
                                                                        "type\""
                                                                        ":\"sti"
                                                                        "x\","
                                                                        "\"vali"
                                                                        "d_"
                                                                        "from\""
                                                                        ":"
                                                                        "\"2022"
                                                                        "-10-"
                                                                        "27T00:"
                                                                        "00:"
                                                                        "00Z\"}"
                                                                        "]}";
    cishare_import_result_t res;
    char err[512];
    json_t *m;

    (void)state;
    assert_int_equal(load_text("inline.json", bundle, &res, err, sizeof(err)),
                     CISHARE_OK);
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000001");
    assert_string_equal(tlp_of(m), "amber+strict");
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000002");
    assert_string_equal(tlp_of(m), "amber+strict");
    assert_string_equal(pstr(m, "type"), "ipv6");
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000003");
    assert_string_equal(tlp_of(m), "red");
    assert_string_equal(pstr(m, "type"), "email");
    assert_string_equal(pstr(m, "value"), "a@evil.example");
    m = find_msg(&res, "indicator--00000000-0000-4000-8000-000000000004");
    assert_string_equal(pstr(m, "type"), "asn");
    assert_string_equal(pstr(m, "value"), "AS64512");
    m = find_msg(&res, "incident--00000000-0000-4000-8000-0000000000bb");
    assert_string_equal(json_string_value(json_object_get(m, "type")),
                        "incident");
    assert_string_equal(tlp_of(m), "amber");
    assert_string_equal(pstr(m, "category"), "ransomware");
    assert_string_equal(pstr(m, "stage"), "preliminary");
    assert_string_equal(pstr(m, "created"), "2024-03-01T01:00:00.000Z");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(payload_of(m), "indicators"), 0)),
                        "indicator--00000000-0000-4000-8000-000000000001");
    /* the bad date is rejected, named, with its reason */
    assert_int_equal(res.rejected_cnt, 1);
    assert_string_equal(res.rejected[0].reason, "invalid timestamp");
    assert_non_null(strstr(res.rejected[0].record,
                           "indicator--00000000-0000-4000-8000-000000000005"));
    cishare_import_result_clear(&res);
}

/* Every sample outside invalid/ imports without error or rejection. */
static int walk_errors;
static int walk_files;
static int walk_one(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    cishare_import_result_t res;
    char err[1024];
    cishare_err_t e;

    (void)st;
    (void)ftw;
    if (flag != FTW_F || strstr(path, "/invalid/") ||
        (strlen(path) > 3 && !strcmp(path + strlen(path) - 3, ".md")))
        return 0;
    walk_files++;
    cishare_import_result_init(&res);
    e = cishare_import_file(path, CISHARE_IMPORT_AUTO, &res, err, sizeof(err));
    if (e || res.rejected_cnt) {
        fprintf(stderr, "%s: %s (%zu rejected)\n", path, e ? err : "ok",
                res.rejected_cnt);
        walk_errors++;
    }
    cishare_import_result_clear(&res);
    return 0;
}

static void test_all_samples_import(void **state)
{
    (void)state;
    walk_errors = walk_files = 0;
    assert_int_equal(nftw(samples_dir(), walk_one, 16, FTW_PHYS), 0);
    assert_true(walk_files >= 20);
    assert_int_equal(walk_errors, 0);
}

static void test_invalid_not_json(void **state)
{
    static const char *const files[] = {
        "invalid/stix-validator-invalid_braces.json",
        "invalid/stix-validator-invalid_comma.json"};
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        cishare_import_result_t res;
        char path[4096], err[1024] = "";
        snprintf(path, sizeof(path), "%s/%s", samples_dir(), files[i]);
        cishare_import_result_init(&res);
        assert_int_equal(cishare_import_file(path, CISHARE_IMPORT_AUTO, &res,
                                             err, sizeof(err)),
                         CISHARE_ERR_PARSE);
        assert_non_null(strstr(err, strrchr(files[i], '/') + 1));
        assert_non_null(strstr(err, "not valid JSON"));
        assert_int_equal(res.cnt, 0);
        cishare_import_result_clear(&res);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apt1),
        cmocka_unit_test(test_tlp1_levels),
        cmocka_unit_test(test_cisa_sightings),
        cmocka_unit_test(test_feeds2stix_and_inline_marking),
        cmocka_unit_test(test_inline_markings_and_incident),
        cmocka_unit_test(test_all_samples_import),
        cmocka_unit_test(test_invalid_not_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
