/*
 * cishare - is an observable value fit for a blocklist?
 *
 * One validator for every rule that keeps a value out of the lists that
 * firewalls, proxies, mail gateways and DNS resolvers load as they are.
 * A participant's feed applies it to what other participants send (a
 * hostile participant uses its own producer, so the feed side is what
 * counts); a publisher may apply it too, to catch bad input early.
 *
 * What it refuses, by reason (each a stable name for counters and logs):
 *   malformed          not a value of its type: wrong alphabet, white
 *                      space or control bytes (no line injection), bad
 *                      CIDR, hash of the wrong length, longer than
 *                      CISHARE_INDICATOR_VALUE_MAX
 *   too-wide           a CIDR block wider than /CISHARE_INDICATOR_MIN_
 *                      PREFIX_V4 or _V6, a bare "*" domain, a "*" in the
 *                      local part of an e-mail address
 *   public-suffix      a domain that is a public suffix on the Public
 *                      Suffix List ("jp", "co.jp", "github.io"), or a
 *                      wildcard over one ("*.co.jp"); the same rule for
 *                      the host of a URL and the domain of an e-mail
 *   special-range      an address or block that overlaps a special-
 *                      purpose range: IPv4-mapped, -compatible and
 *                      translated IPv6 (::ffff:0:0/96, 64:ff9b::/96,
 *                      2002::/16, ...), anything outside 2000::/3,
 *                      loopback, unspecified, private, shared, link-
 *                      local, benchmarking, multicast, reserved and
 *                      broadcast. Documentation ranges (192.0.2.0/24,
 *                      198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32,
 *                      3fff::/20) are accepted: examples and tests use
 *                      them, and no real traffic does.
 *   url-no-scheme      a URL without "<scheme>:"
 *   url-no-host        a URL without "//<host>"
 *   email-no-local-part, email-no-domain
 *   no-suffix-list     the Public Suffix List could not be loaded: no
 *                      domain is accepted (fail closed)
 *   special-name       a special-use domain name (RFC 6761, 6762,
 *                      8375): localhost, local, invalid, home.arpa, the
 *                      reverse-mapping zones in-addr.arpa and ip6.arpa,
 *                      and names under them; resolvers answer these
 *                      themselves. Documentation names (example, test,
 *                      example.com) are accepted like documentation
 *                      ranges. A domain that is an IPv4 address
 *                      ("127.0.0.1" given as a domain: no top-level
 *                      domain is all digits) is judged as the address
 *                      and, when that passes, refused as malformed.
 *
 * Rules that need more than the value, judged apart by
 * cishare_indicator_check_label() and _check_to_ids():
 *   not-for-detection  the record is marked as context, not for
 *                      detection: the label "to_ids:false" (MISP's
 *                      attribute flag, as the MISP importer wrote it
 *                      before it skipped such attributes) or a to_ids
 *                      flag that is false. Blog posts, VirusTotal
 *                      links and the like: blocking them breaks what
 *                      people read.
 *   no-label           the record carries no TLP label, so no label's
 *                      folder may hold it (a blocklist sink state
 *                      record of an older version, which kept none:
 *                      left out until the feed reads it again)
 * They share the enum, so that a feed counts and reports every exclusion
 * one way.
 *
 * The Public Suffix List comes from libpsl: the newer of the list built
 * into the library and the system's (Debian: the publicsuffix package),
 * loaded once per process on first use.
 *
 * Thread-safe: no state but the suffix list, loaded once.
 */
#ifndef CISHARE_INDICATOR_H
#define CISHARE_INDICATOR_H

#include <stdbool.h>
#include <stddef.h>

/** Longest value a list takes (bytes, without the NUL). */
#define CISHARE_INDICATOR_VALUE_MAX 2048
/** Widest CIDR blocks a list takes. IPv4 /12 is about a million
 *  addresses; IPv6 /32 is the usual allocation to one provider. */
#define CISHARE_INDICATOR_MIN_PREFIX_V4 12
#define CISHARE_INDICATOR_MIN_PREFIX_V6 32

typedef enum {
    CISHARE_INDICATOR_OK = 0,
    CISHARE_INDICATOR_MALFORMED,
    CISHARE_INDICATOR_TOO_WIDE,
    CISHARE_INDICATOR_PUBLIC_SUFFIX,
    CISHARE_INDICATOR_SPECIAL_RANGE,
    CISHARE_INDICATOR_URL_NO_SCHEME,
    CISHARE_INDICATOR_URL_NO_HOST,
    CISHARE_INDICATOR_EMAIL_NO_LOCAL_PART,
    CISHARE_INDICATOR_EMAIL_NO_DOMAIN,
    CISHARE_INDICATOR_NO_SUFFIX_LIST,
    CISHARE_INDICATOR_SPECIAL_NAME,
    CISHARE_INDICATOR_NOT_FOR_DETECTION,
    CISHARE_INDICATOR_NO_LABEL,
    CISHARE_INDICATOR__CNT
} cishare_indicator_reason_t;

/** The reason's stable name ("public-suffix"), "ok" for 0; never NULL. */
const char *cishare_indicator_reason_name(cishare_indicator_reason_t r);

/** True for the types a blocklist holds: ipv4, ipv6, domain, url,
 *  email, md5, sha1, sha256, sha512. Other types (cve, asn, yara, ...)
 *  are not refused: they are simply not listed. */
bool cishare_indicator_listable(const char *type);

/**
 * Judge `value` of listable `type` for a blocklist.
 *
 * @param norm      receives the value as it is listed (lower case where
 *                  case does not matter: addresses, domains, hashes, the
 *                  scheme and host of a URL, the domain of an e-mail; a
 *                  domain without its trailing dot). Caller-owned, at
 *                  least CISHARE_INDICATOR_VALUE_MAX + 1 bytes. Undefined
 *                  unless CISHARE_INDICATOR_OK is returned.
 * @param detailp   optional: receives a static text that narrows the
 *                  reason (the special range overlapped, ...), or NULL.
 * @returns CISHARE_INDICATOR_OK, or why the value must stay out of the
 *          lists (a type that is not listable is malformed).
 */
cishare_indicator_reason_t
cishare_indicator_check(const char *type, const char *value, char *norm,
                        size_t norm_size, const char **detailp)
    __attribute__((warn_unused_result));

/**
 * Judge one label of the record a value came in (an indicator's labels):
 * CISHARE_INDICATOR_NOT_FOR_DETECTION for "to_ids:false" (any case),
 * CISHARE_INDICATOR_OK for any other label or NULL. A record is refused
 * when any of its labels is.
 */
cishare_indicator_reason_t cishare_indicator_check_label(const char *label,
                                                         const char **detailp);

/** Judge a record's to_ids flag: false is not-for-detection. */
cishare_indicator_reason_t cishare_indicator_check_to_ids(bool to_ids,
                                                          const char **detailp);

#endif
