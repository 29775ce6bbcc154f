/*
 * The blocklist validator (cishare/indicator.h): a table of values, each
 * with the reason it is refused, or accepted with the form it is listed
 * in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cishare/indicator.h"

#include <stdio.h>
#include <string.h>

#define OK  CISHARE_INDICATOR_OK
#define BAD CISHARE_INDICATOR_MALFORMED
#define WID CISHARE_INDICATOR_TOO_WIDE
#define PSX CISHARE_INDICATOR_PUBLIC_SUFFIX
#define SPR CISHARE_INDICATOR_SPECIAL_RANGE
#define USC CISHARE_INDICATOR_URL_NO_SCHEME
#define UHO CISHARE_INDICATOR_URL_NO_HOST
#define ELO CISHARE_INDICATOR_EMAIL_NO_LOCAL_PART
#define EDO CISHARE_INDICATOR_EMAIL_NO_DOMAIN
#define SNM CISHARE_INDICATOR_SPECIAL_NAME
#define NFD CISHARE_INDICATOR_NOT_FOR_DETECTION

static const struct {
    const char *type, *value;
    cishare_indicator_reason_t want;
    const char *norm; /* when accepted and not the value itself */
} cases[] = {
    /* ---- IPv4 ---- */
    {"ipv4", "203.0.113.45", OK, NULL},
    {"ipv4", "192.0.2.1/32", OK, NULL}, /* documentation: accepted */
    {"ipv4", "198.51.100.0/24", OK, NULL},
    {"ipv4", "223.166.0.0/15", OK, NULL},
    {"ipv4", "8.0.0.0/12", OK, NULL},
    {"ipv4", "8.0.0.0/11", WID, NULL},
    {"ipv4", "0.0.0.0/0", WID, NULL},
    {"ipv4", "999.1.1.1", BAD, NULL},
    {"ipv4", "1.2.3.4/33", BAD, NULL},
    {"ipv4", "1.2.3.4/", BAD, NULL},
    {"ipv4", "1.2.3.4/+24", BAD, NULL},
    {"ipv4", "1.2.3.4/0024", BAD, NULL},
    {"ipv4", "2001:db8::1", BAD, NULL},
    {"ipv4", "10.0.0.1\n0.0.0.0/0", BAD, NULL},
    {"ipv4", "127.0.0.1", SPR, NULL},
    {"ipv4", "0.0.0.0", SPR, NULL},
    {"ipv4", "10.0.0.0", SPR, NULL},
    {"ipv4", "192.168.0.0/16", SPR, NULL},
    {"ipv4", "172.31.255.255", SPR, NULL},
    {"ipv4", "169.254.169.254", SPR, NULL},
    {"ipv4", "100.64.0.1", SPR, NULL},
    {"ipv4", "224.0.0.251", SPR, NULL},
    {"ipv4", "255.255.255.255", SPR, NULL},
    {"ipv4", "172.0.0.0/12", OK, NULL}, /* next to 172.16/12, not in it */
    {"ipv4", "168.0.0.0/12", OK, NULL},
    {"ipv4", "160.0.0.0/12", OK, NULL},
    {"ipv4", "192.0.0.0/12", SPR, NULL}, /* holds 192.0.0.0/24, .168/16 */
    /* ---- IPv6 ---- */
    {"ipv6", "2001:DB8::8", OK, "2001:db8::8"},
    {"ipv6", "2001:db8::/32", OK, NULL}, /* documentation: accepted */
    {"ipv6", "2001:db8::/48", OK, NULL},
    {"ipv6", "2a00:1450::/32", OK, NULL},
    {"ipv6", "3fff::1", OK, NULL},
    {"ipv6", "2001:db8::/16", WID, NULL},
    {"ipv6", "::/0", WID, NULL},
    {"ipv6", "::/32", SPR, NULL},
    {"ipv6", "::ffff:0:0/96", SPR, NULL},
    {"ipv6", "::ffff:192.0.2.1", SPR, NULL},
    {"ipv6", "::", SPR, NULL},
    {"ipv6", "::1", SPR, NULL},
    {"ipv6", "::192.0.2.1", SPR, NULL},
    {"ipv6", "64:ff9b::/96", SPR, NULL},
    {"ipv6", "64:ff9b::c000:201", SPR, NULL},
    {"ipv6", "2002::/16", WID, NULL},
    {"ipv6", "2002:c000:201::/48", SPR, NULL},
    {"ipv6", "2001::/32", SPR, NULL}, /* Teredo */
    {"ipv6", "fd00::1", SPR, NULL},
    {"ipv6", "fe80::1", SPR, NULL},
    {"ipv6", "ff02::1", SPR, NULL},
    {"ipv6", "4000::1", SPR, NULL}, /* outside 2000::/3 */
    {"ipv6", "fe80::1%eth0", BAD, NULL},
    {"ipv6", "2001:db8::/129", BAD, NULL},
    {"ipv6", "192.0.2.1", BAD, NULL},
    /* ---- domains ---- */
    {"domain", "Evil.Example.", OK, "evil.example"},
    {"domain", "example.co.jp", OK, NULL},
    {"domain", "*.example.co.jp", OK, NULL},
    {"domain", "*.evil.example", OK, NULL},
    {"domain", "evil.github.io", OK, NULL},
    {"domain", "xn--r8jz45g.jp", OK, NULL},
    {"domain", "_dmarc.evil.example", OK, NULL},
    {"domain", "*.co.jp", PSX, NULL},
    {"domain", "go.jp", PSX, NULL},
    {"domain", "co.jp", PSX, NULL},
    {"domain", "jp", PSX, NULL},
    {"domain", "*.jp", PSX, NULL},
    {"domain", "com", PSX, NULL},
    {"domain", "*.com", PSX, NULL},
    {"domain", "github.io", PSX, NULL}, /* private section */
    {"domain", "localhost", SNM, NULL}, /* RFC 6761, before the suffix rule */
    {"domain", "xn--fiqs8s", PSX, NULL},
    {"domain", "*", WID, NULL},
    {"domain", "a..example", BAD, NULL},
    {"domain", ".example.com", BAD, NULL},
    {"domain", "evil.*.example", BAD, NULL},
    {"domain", "**.example.com", BAD, NULL},
    {"domain", "ev!l.example", BAD, NULL},
    {"domain", ".", BAD, NULL},
    /* ---- URLs ---- */
    {"url", "http://evil.example/x", OK, NULL},
    {"url", "HTTPS://Evil.Example:8443/A?b#c", OK,
     "https://evil.example:8443/A?b#c"},
    {"url", "http://user:pw@evil.example/", OK, NULL},
    {"url", "http://203.0.113.5/p", OK, NULL},
    {"url", "http://[2001:db8::1]:8080/", OK, NULL},
    {"url", "http://sub.example.co.jp", OK, NULL},
    {"url", "http://bad.example/a'b", OK, NULL},
    {"url", ".", USC, NULL},
    {"url", "http", USC, NULL},
    {"url", "//evil.example/x", USC, NULL},
    {"url", "evil.example/x", USC, NULL},
    {"url", "1http://evil.example/", USC, NULL},
    {"url", "http://", UHO, NULL},
    {"url", "http:///path", UHO, NULL},
    {"url", "http://user@/x", UHO, NULL},
    {"url", "http://:80/", UHO, NULL},
    {"url", "mailto:a@evil.example", UHO, NULL},
    {"url", "https://co.jp/", PSX, NULL},
    {"url", "http://com", PSX, NULL},
    {"url", "http://127.0.0.1/", SPR, NULL},
    {"url", "http://[::ffff:192.0.2.1]/", SPR, NULL},
    {"url", "http://evil.example:80x/", BAD, NULL},
    {"url", "http://[2001:db8::1/", BAD, NULL},
    {"url", "http://*.evil.example/", BAD, NULL},
    {"url", "http://999.1.1.1/", BAD, NULL},
    /* ---- e-mail ---- */
    {"email", "phish@evil.example", OK, NULL},
    {"email", "Phish@Evil.Example", OK, "Phish@evil.example"},
    {"email", "@", ELO, NULL},
    {"email", "@evil.example", ELO, NULL},
    {"email", "phish@", EDO, NULL},
    {"email", "phish@co.jp", PSX, NULL},
    {"email", "phish@localhost", SNM, NULL},
    {"email", "*@evil.example", WID, NULL},
    {"email", "phish", BAD, NULL},
    {"email", "phish@evil..example", BAD, NULL},
    /* ---- hashes ---- */
    {"md5", "D41D8CD98F00B204E9800998ECF8427E", OK,
     "d41d8cd98f00b204e9800998ecf8427e"},
    {"sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", OK, NULL},
    {"sha256", "xyz", BAD, NULL},
    {"sha256", "d41d8cd98f00b204e9800998ecf8427e", BAD, NULL},
    /* ---- issue 15: what must never reach a firewall's list ---- */
    {"ipv4", "169.254.1.1", SPR, NULL},
    {"ipv4", "224.0.0.1", SPR, NULL},
    {"ipv4", "240.0.0.1", SPR, NULL},
    {"ipv4", "127.0.0.1/32", SPR, NULL},
    {"ipv4", "10.0.0.0/12", SPR, NULL},
    {"ipv6", "fc00::1", SPR, NULL},
    {"ipv6", "::1/128", SPR, NULL},
    {"ipv6", "FE80::1", SPR, NULL},
    {"ipv4", "192.0.2.1", OK, NULL}, /* documentation ranges stay */
    {"ipv6", "2001:db8::1", OK, NULL},
    {"domain", "*.", WID, NULL},
    {"domain", "*.*", BAD, NULL},
    /* an address given as a domain: judged as the address */
    {"domain", "127.0.0.1", SPR, NULL},
    {"domain", "10.0.0.0", SPR, NULL},
    {"domain", "0.0.0.0", SPR, NULL},
    {"domain", "203.0.113.5", BAD, NULL},
    {"domain", "*.192.168.0.1", SPR, NULL},
    {"domain", "evil.example.123", BAD, NULL},
    {"domain", "7eleven.example", OK, NULL},
    /* special-use names; documentation names stay */
    {"domain", "localhost.localdomain", OK, NULL},
    {"domain", "db.localhost", SNM, NULL},
    {"domain", "*.localhost", SNM, NULL},
    {"domain", "printer.local", SNM, NULL},
    {"domain", "x.invalid", SNM, NULL},
    {"domain", "router.home.arpa", SNM, NULL},
    {"domain", "1.0.0.127.in-addr.arpa", SNM, NULL},
    {"domain", "notlocal.example", OK, NULL},
    {"domain", "evil.test", OK, NULL},
    {"domain", "example.com", OK, NULL},
    {"url", "http://0.0.0.0:8080/", SPR, NULL},
    {"url", "http://[::1]/", SPR, NULL},
    {"url", "http://nas.local/", SNM, NULL},
    {"email", "root@localhost.localdomain", OK, NULL},
    {"email", "root@x.local", SNM, NULL},
    /* ---- not listable ---- */
    {"cve", "CVE-2024-3400", BAD, NULL},
    {"ipv4", "", BAD, NULL},
};

static void test_table(void **state)
{
    char norm[CISHARE_INDICATOR_VALUE_MAX + 1];
    size_t i, failed = 0;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *detail = NULL;
        cishare_indicator_reason_t r = cishare_indicator_check(
            cases[i].type, cases[i].value, norm, sizeof(norm), &detail);
        const char *want_norm = cases[i].norm ? cases[i].norm : cases[i].value;
        if (r != cases[i].want) {
            print_error("%s \"%s\": %s (%s), expected %s\n", cases[i].type,
                        cases[i].value, cishare_indicator_reason_name(r),
                        detail ? detail : "-",
                        cishare_indicator_reason_name(cases[i].want));
            failed++;
        } else if (r == OK && strcmp(norm, want_norm)) {
            print_error("%s \"%s\": listed as \"%s\", expected \"%s\"\n",
                        cases[i].type, cases[i].value, norm, want_norm);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* The special range is named; the value is bounded. */
static void test_details_and_bounds(void **state)
{
    char norm[CISHARE_INDICATOR_VALUE_MAX + 1], big[3000];
    const char *detail = NULL;

    (void)state;
    assert_int_equal(cishare_indicator_check("ipv6", "::ffff:0:0/96", norm,
                                             sizeof(norm), &detail),
                     SPR);
    assert_non_null(detail);
    assert_non_null(strstr(detail, "IPv4-mapped"));
    /* inside ::/8, the more precise range is named */
    assert_int_equal(cishare_indicator_check("ipv6", "64:ff9b::/96", norm,
                                             sizeof(norm), &detail),
                     SPR);
    assert_non_null(strstr(detail, "translation"));
    assert_int_equal(
        cishare_indicator_check("ipv6", "::1", norm, sizeof(norm), NULL), SPR);
    /* too long for a list, and too long for the caller's buffer */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big + sizeof(big) - 10, ".example", 9);
    assert_int_equal(
        cishare_indicator_check("url", big, norm, sizeof(norm), NULL), BAD);
    assert_int_equal(
        cishare_indicator_check("domain", "evil.example", norm, 8, NULL), BAD);
    assert_int_equal(
        cishare_indicator_check("domain", NULL, norm, sizeof(norm), NULL), BAD);
    assert_string_equal(cishare_indicator_reason_name(PSX), "public-suffix");
    assert_string_equal(cishare_indicator_reason_name(OK), "ok");
    assert_string_equal(cishare_indicator_reason_name(CISHARE_INDICATOR__CNT),
                        "?");
    assert_true(cishare_indicator_listable("sha512"));
    assert_false(cishare_indicator_listable("cve"));
    assert_false(cishare_indicator_listable(NULL));
}

/* The rules that need more than the value: labels and the to_ids flag. */
static void test_not_for_detection(void **state)
{
    const char *detail = NULL;

    (void)state;
    assert_int_equal(cishare_indicator_check_label("to_ids:false", &detail),
                     NFD);
    assert_non_null(detail);
    assert_int_equal(cishare_indicator_check_label("TO_IDS:False", NULL), NFD);
    assert_int_equal(cishare_indicator_check_label("to_ids:true", &detail), OK);
    assert_null(detail);
    assert_int_equal(cishare_indicator_check_label("c2", NULL), OK);
    assert_int_equal(cishare_indicator_check_label(NULL, NULL), OK);
    assert_int_equal(cishare_indicator_check_to_ids(false, &detail), NFD);
    assert_int_equal(cishare_indicator_check_to_ids(true, &detail), OK);
    assert_string_equal(cishare_indicator_reason_name(NFD),
                        "not-for-detection");
    assert_string_equal(cishare_indicator_reason_name(SNM), "special-name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_not_for_detection),
        cmocka_unit_test(test_details_and_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
