/*
 * cishare - the blocklist validator: judges one observable value (type
 * and value) fit for the lists that firewalls and resolvers load as they
 * are, or names the reason it is not. The contract is in indicator.h.
 *
 * Addresses: parsed with inet_pton, the CIDR prefix bounded, then the
 * block is compared with a table of special-purpose ranges (IANA's IPv4
 * and IPv6 special-purpose registries, RFC 6890 and successors): a block
 * that overlaps one (contains it or lies in it) is refused, so "::/32"
 * is refused for holding ::ffff:0:0/96.
 *
 * Domains: an optional "*." wildcard, then a name whose labels use
 * [a-z0-9_-] (IDNs arrive as xn-- labels); the name must not be a public
 * suffix (libpsl, ICANN and private sections, with the implicit "*"
 * rule, so every single-label name is one).
 */
#include "cishare/indicator.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static const char *const reason_names[CISHARE_INDICATOR__CNT] = {
    [CISHARE_INDICATOR_OK] = "ok",
    [CISHARE_INDICATOR_MALFORMED] = "malformed",
    [CISHARE_INDICATOR_TOO_WIDE] = "too-wide",
    [CISHARE_INDICATOR_PUBLIC_SUFFIX] = "public-suffix",
    [CISHARE_INDICATOR_SPECIAL_RANGE] = "special-range",
    [CISHARE_INDICATOR_URL_NO_SCHEME] = "url-no-scheme",
    [CISHARE_INDICATOR_URL_NO_HOST] = "url-no-host",
    [CISHARE_INDICATOR_EMAIL_NO_LOCAL_PART] = "email-no-local-part",
    [CISHARE_INDICATOR_EMAIL_NO_DOMAIN] = "email-no-domain",
    [CISHARE_INDICATOR_NO_SUFFIX_LIST] = "no-suffix-list",
    [CISHARE_INDICATOR_SPECIAL_NAME] = "special-name",
    [CISHARE_INDICATOR_NOT_FOR_DETECTION] = "not-for-detection",
    [CISHARE_INDICATOR_NO_LABEL] = "no-label",
};

const char *cishare_indicator_reason_name(cishare_indicator_reason_t r)
{
    return (unsigned)r < CISHARE_INDICATOR__CNT ? reason_names[r] : "?";
}

typedef enum {
    T_IPV4,
    T_IPV6,
    T_DOMAIN,
    T_URL,
    T_EMAIL,
    T_MD5,
    T_SHA1,
    T_SHA256,
    T_SHA512,
    T__CNT
} vtype_t;

static const char *const type_names[T__CNT] = {
    "ipv4", "ipv6", "domain", "url", "email", "md5", "sha1", "sha256", "sha512",
};

static int type_of(const char *type)
{
    int i;

    for (i = 0; type && i < T__CNT; i++)
        if (!strcmp(type_names[i], type))
            return i;
    return -1;
}

bool cishare_indicator_listable(const char *type)
{
    return type_of(type) >= 0;
}

/* ---- addresses ---- */

/* A special-purpose range: family, network bytes, prefix, what it is. */
typedef struct {
    int af;
    unsigned char net[16];
    int prefix;
    const char *what;
} special_t;

/* Every range a list must not touch. Documentation ranges are absent on
 * purpose (see indicator.h). IPv6 outside 2000::/3 is refused after this
 * table, by a rule of its own. */
static const special_t specials[] = {
    {AF_INET, {0}, 8, "0.0.0.0/8 (this network)"},
    {AF_INET, {10}, 8, "10.0.0.0/8 (private)"},
    {AF_INET, {100, 64}, 10, "100.64.0.0/10 (shared address space)"},
    {AF_INET, {127}, 8, "127.0.0.0/8 (loopback)"},
    {AF_INET, {169, 254}, 16, "169.254.0.0/16 (link-local)"},
    {AF_INET, {172, 16}, 12, "172.16.0.0/12 (private)"},
    {AF_INET, {192, 0, 0}, 24, "192.0.0.0/24 (IETF protocol assignments)"},
    {AF_INET, {192, 88, 99}, 24, "192.88.99.0/24 (6to4 relay anycast)"},
    {AF_INET, {192, 168}, 16, "192.168.0.0/16 (private)"},
    {AF_INET, {198, 18}, 15, "198.18.0.0/15 (benchmarking)"},
    {AF_INET, {224}, 4, "224.0.0.0/4 (multicast)"},
    {AF_INET, {240}, 4, "240.0.0.0/4 (reserved, broadcast)"},
    /* in ::/8, named first for a precise detail */
    {AF_INET6,
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
     96,
     "::ffff:0:0/96 (IPv4-mapped)"},
    {AF_INET6,
     {0, 0x64, 0xff, 0x9b},
     96,
     "64:ff9b::/96 (IPv4/IPv6 translation)"},
    {AF_INET6,
     {0, 0x64, 0xff, 0x9b, 0, 1},
     48,
     "64:ff9b:1::/48 (local IPv4/IPv6 translation)"},
    {AF_INET6,
     {0},
     8,
     "::/8 (reserved: unspecified, loopback, IPv4-compatible)"},
    {AF_INET6, {0x01}, 64, "100::/64 (discard-only)"},
    {AF_INET6, {0x20, 0x01}, 23, "2001::/23 (IETF protocol assignments)"},
    {AF_INET6, {0x20, 0x02}, 16, "2002::/16 (6to4)"},
    {AF_INET6, {0xfc}, 7, "fc00::/7 (unique local)"},
    {AF_INET6, {0xfe, 0x80}, 10, "fe80::/10 (link-local)"},
    {AF_INET6, {0xff}, 8, "ff00::/8 (multicast)"},
};

/* Whether the first `bits` bits of a and b are equal. */
static bool same_prefix(const unsigned char *a, const unsigned char *b,
                        int bits)
{
    int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)whole))
        return false;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        return (a[whole] & mask) == (b[whole] & mask);
    }
    return true;
}

/* The special range that block addr/prefix overlaps, or NULL. */
static const char *special_overlap(int af, const unsigned char *addr,
                                   int prefix)
{
    static const unsigned char global6[16] = {0x20};
    size_t i;

    for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        const special_t *s = &specials[i];
        if (s->af == af &&
            same_prefix(addr, s->net, prefix < s->prefix ? prefix : s->prefix))
            return s->what;
    }
    /* Global unicast is 2000::/3; the rest is unassigned or special. */
    if (af == AF_INET6 && (prefix < 3 || !same_prefix(addr, global6, 3)))
        return "outside 2000::/3 (not global unicast)";
    return NULL;
}

/* An address of family af, with an optional "/prefix" when cidr. */
static cishare_indicator_reason_t check_address(int af, const char *v,
                                                bool cidr, const char **detailp)
{
    char addr[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16] = {0};
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v);
    int max = af == AF_INET ? 32 : 128, prefix = max;
    int min = af == AF_INET ? CISHARE_INDICATOR_MIN_PREFIX_V4
                            : CISHARE_INDICATOR_MIN_PREFIX_V6;

    if (alen == 0 || alen >= sizeof(addr) || (slash && !cidr))
        return CISHARE_INDICATOR_MALFORMED;
    memcpy(addr, v, alen);
    addr[alen] = '\0';
    if (inet_pton(af, addr, bin) != 1)
        return CISHARE_INDICATOR_MALFORMED;
    if (slash) {
        const char *p = slash + 1;
        size_t n = strspn(p, "0123456789");
        if (n == 0 || n > 3 || p[n])
            return CISHARE_INDICATOR_MALFORMED;
        prefix = atoi(p);
        if (prefix > max)
            return CISHARE_INDICATOR_MALFORMED;
        if (prefix < min)
            return CISHARE_INDICATOR_TOO_WIDE;
    }
    if ((*detailp = special_overlap(af, bin, prefix)) != NULL)
        return CISHARE_INDICATOR_SPECIAL_RANGE;
    return CISHARE_INDICATOR_OK;
}

/* ---- domains ---- */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static psl_ctx_t *psl;

static void psl_load(void)
{
    /* the newer of the built-in list and the system's; NULL if neither */
    psl = psl_latest(NULL);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Special-use names (RFC 6761, 6762, 8375) and the reverse-mapping
 * zones: a resolver answers them itself, and a list entry over one
 * would break local resolution. Documentation names are absent on
 * purpose (see indicator.h). */
static const char *const special_names[] = {
    "localhost", "local", "invalid", "home.arpa", "in-addr.arpa", "ip6.arpa",
};

/* The special-use name that d is or lies under, or NULL. */
static const char *special_name(const char *d)
{
    size_t i, dl = strlen(d);

    for (i = 0; i < sizeof(special_names) / sizeof(special_names[0]); i++) {
        size_t sl = strlen(special_names[i]);
        if (dl >= sl && !strcmp(d + dl - sl, special_names[i]) &&
            (dl == sl || d[dl - sl - 1] == '.'))
            return special_names[i];
    }
    return NULL;
}

/* Name `d` (lower case, no trailing dot): labels of 1..63 bytes of
 * [a-z0-9_-], at most 253 bytes, not a special-use name, not an address,
 * not a public suffix. With wildcard, "*." may come first and the rest
 * is judged. */
static cishare_indicator_reason_t check_domain(const char *d, bool wildcard,
                                               const char **detailp)
{
    const char *p, *label;
    size_t len;

    if (wildcard && !strcmp(d, "*")) {
        *detailp = "a bare wildcard";
        return CISHARE_INDICATOR_TOO_WIDE;
    }
    if (wildcard && !strncmp(d, "*.", 2))
        d += 2;
    len = strlen(d);
    if (len == 0 || len > 253)
        return CISHARE_INDICATOR_MALFORMED;
    for (p = label = d;; p++) {
        if (*p == '.' || *p == '\0') {
            if (p == label || p - label > 63)
                return CISHARE_INDICATOR_MALFORMED;
            if (*p == '\0')
                break;
            label = p + 1;
        } else if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_", *p)) {
            return CISHARE_INDICATOR_MALFORMED;
        }
    }
    if ((*detailp = special_name(d)) != NULL)
        return CISHARE_INDICATOR_SPECIAL_NAME;
    /* No top-level domain is all digits: this is an IPv4 address given
     * as a domain ("127.0.0.1"). Judge it as one, so a special range is
     * named; a listable address still does not belong in a domain list. */
    if (strspn(label, "0123456789") == strlen(label)) {
        cishare_indicator_reason_t r =
            check_address(AF_INET, d, false, detailp);
        if (r != CISHARE_INDICATOR_OK && r != CISHARE_INDICATOR_MALFORMED)
            return r;
        *detailp = "an address, not a domain name";
        return CISHARE_INDICATOR_MALFORMED;
    }
    pthread_once(&psl_once, psl_load);
    if (!psl)
        return CISHARE_INDICATOR_NO_SUFFIX_LIST;
    if (psl_is_public_suffix2(psl, d, PSL_TYPE_ANY))
        return CISHARE_INDICATOR_PUBLIC_SUFFIX;
    return CISHARE_INDICATOR_OK;
}

/* ---- URLs and e-mail addresses ---- */

/* scheme ":" "//" [userinfo "@"] host [":" port] [path ...]: the scheme
 * and host are lowered in place in u; the host is judged like a domain
 * (no wildcard) or an address (no prefix). */
static cishare_indicator_reason_t check_url(char *u, const char **detailp)
{
    char host[256];
    char *p = u, *auth, *end, *at, *h, *hend;
    size_t n;

    if (!isalpha((unsigned char)*p))
        return CISHARE_INDICATOR_URL_NO_SCHEME;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p != ':')
        return CISHARE_INDICATOR_URL_NO_SCHEME;
    for (h = u; h < p; h++)
        *h = (char)tolower((unsigned char)*h);
    if (strncmp(p + 1, "//", 2))
        return CISHARE_INDICATOR_URL_NO_HOST;
    auth = p + 3;
    end = auth + strcspn(auth, "/?#");
    for (at = NULL, h = auth; h < end; h++) /* userinfo ends at the last @ */
        if (*h == '@')
            at = h;
    h = at ? at + 1 : auth;
    if (*h == '[') { /* IPv6 literal */
        hend = memchr(h, ']', (size_t)(end - h));
        if (!hend)
            return CISHARE_INDICATOR_MALFORMED;
        p = hend + 1;
        h++;
    } else {
        hend = memchr(h, ':', (size_t)(end - h));
        if (!hend)
            hend = end;
        p = hend;
    }
    /* what follows the host: nothing, or ":" and a port number */
    if (p < end &&
        (*p != ':' || strspn(p + 1, "0123456789") != (size_t)(end - p - 1)))
        return CISHARE_INDICATOR_MALFORMED;
    n = (size_t)(hend - h);
    if (n == 0)
        return CISHARE_INDICATOR_URL_NO_HOST;
    if (n >= sizeof(host))
        return CISHARE_INDICATOR_MALFORMED;
    for (p = h; p < hend; p++)
        *p = (char)tolower((unsigned char)*p);
    memcpy(host, h, n);
    host[n] = '\0';
    if (h[-1] == '[')
        return check_address(AF_INET6, host, false, detailp);
    if (host[n - 1] == '.') /* "evil.example.": judged without the dot */
        host[--n] = '\0';
    if (n && strspn(host, "0123456789.") == n)
        return check_address(AF_INET, host, false, detailp);
    return check_domain(host, false, detailp);
}

/* local "@" domain: the domain lowered in place in e. */
static cishare_indicator_reason_t check_email(char *e, const char **detailp)
{
    char *at = strrchr(e, '@');

    if (!at)
        return CISHARE_INDICATOR_MALFORMED;
    if (at == e)
        return CISHARE_INDICATOR_EMAIL_NO_LOCAL_PART;
    if (!at[1])
        return CISHARE_INDICATOR_EMAIL_NO_DOMAIN;
    if (at - e > 64)
        return CISHARE_INDICATOR_MALFORMED;
    if (memchr(e, '*', (size_t)(at - e))) {
        *detailp = "a wildcard local part";
        return CISHARE_INDICATOR_TOO_WIDE;
    }
    lower(at + 1);
    return check_domain(at + 1, false, detailp);
}

/* ---- the validator ---- */

cishare_indicator_reason_t cishare_indicator_check(const char *type,
                                                   const char *value,
                                                   char *norm, size_t norm_size,
                                                   const char **detailp)
{
    static const size_t hex_len[T__CNT] = {
        [T_MD5] = 32, [T_SHA1] = 40, [T_SHA256] = 64, [T_SHA512] = 128};
    const char *detail_unused;
    int t = type_of(type);
    size_t len, i;

    if (!detailp)
        detailp = &detail_unused;
    *detailp = NULL;
    if (t < 0 || !value || !norm)
        return CISHARE_INDICATOR_MALFORMED;
    len = strlen(value);
    if (len == 0 || len > CISHARE_INDICATOR_VALUE_MAX || len >= norm_size)
        return CISHARE_INDICATOR_MALFORMED;
    /* one token of visible bytes: nothing can start a new line */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c <= 0x20 || c == 0x7f)
            return CISHARE_INDICATOR_MALFORMED;
    }
    memcpy(norm, value, len + 1);
    switch ((vtype_t)t) {
    case T_IPV4:
        return check_address(AF_INET, norm, true, detailp);
    case T_IPV6:
        lower(norm);
        return check_address(AF_INET6, norm, true, detailp);
    case T_DOMAIN:
        lower(norm);
        if (len > 1 && norm[len - 1] == '.')
            norm[--len] = '\0';
        return check_domain(norm, true, detailp);
    case T_URL:
        return check_url(norm, detailp);
    case T_EMAIL:
        return check_email(norm, detailp);
    default: /* hashes: exact hex length */
        lower(norm);
        return len == hex_len[t] && strspn(norm, "0123456789abcdef") == len
                   ? CISHARE_INDICATOR_OK
                   : CISHARE_INDICATOR_MALFORMED;
    }
}

cishare_indicator_reason_t cishare_indicator_check_label(const char *label,
                                                         const char **detailp)
{
    if (detailp)
        *detailp = NULL;
    if (label && !strcasecmp(label, "to_ids:false")) {
        if (detailp)
            *detailp = "labelled to_ids:false";
        return CISHARE_INDICATOR_NOT_FOR_DETECTION;
    }
    return CISHARE_INDICATOR_OK;
}

cishare_indicator_reason_t cishare_indicator_check_to_ids(bool to_ids,
                                                          const char **detailp)
{
    if (detailp)
        *detailp = to_ids ? NULL : "to_ids is false";
    return to_ids ? CISHARE_INDICATOR_OK : CISHARE_INDICATOR_NOT_FOR_DETECTION;
}
