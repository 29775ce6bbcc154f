/*
 * cishare - the evaluation report rendered as text, CSV and HTML (report.h).
 * Renderers only read the JSON object cishare_report_build() made; an
 * absent member reads as 0 or "", so a renderer never fails on shape.
 */
#include "report.h"

#include "cishare/codec.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the object ---- */

static const json_t *jget(const json_t *o, const char *path)
{
    char buf[128], *p, *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (p = strtok_r(buf, ".", &save); p && o; p = strtok_r(NULL, ".", &save))
        o = json_object_get(o, p);
    return o;
}

static json_int_t jint(const json_t *o, const char *path)
{
    return json_integer_value(jget(o, path));
}

static const char *jstr(const json_t *o, const char *path)
{
    const char *s = json_string_value(jget(o, path));
    return s ? s : "";
}

/* Durations for people: "45s", "12m 30s", "5h 07m", "3d 04h". */
static const char *dur(int64_t ms, char out[48])
{
    int64_t s = (ms < 0 ? -ms : ms) / 1000;
    const char *sign = ms < 0 ? "-" : "";

    if (s < 60)
        snprintf(out, 48, "%s%" PRId64 "s", sign, s);
    else if (s < 3600)
        snprintf(out, 48, "%s%" PRId64 "m %02" PRId64 "s", sign, s / 60,
                 s % 60);
    else if (s < 48 * 3600)
        snprintf(out, 48, "%s%" PRId64 "h %02" PRId64 "m", sign, s / 3600,
                 s / 60 % 60);
    else
        snprintf(out, 48, "%s%" PRId64 "d %02" PRId64 "h", sign, s / 86400,
                 s / 3600 % 24);
    return out;
}

/* The period as people say it: "2025-01-01 to 2025-12-31 (UTC)" when both
 * ends are midnights (to exclusive -> its day before), else the times. */
static void period_text(const json_t *rep, char *out, size_t size)
{
    const char *f = jstr(rep, "period.from"), *t = jstr(rep, "period.to");
    int64_t fm, tm;
    char last[32];

    if (cishare_time_parse(f, &fm) && cishare_time_parse(t, &tm) &&
        fm % 86400000 == 0 && tm % 86400000 == 0 && tm > fm) {
        cishare_time_format(tm - 86400000, last);
        snprintf(out, size, "%.10s to %.10s (UTC)", f, last);
    } else {
        snprintf(out, size, "%s to %s (end excluded)", f, t);
    }
}

/* The keys of a and b (either may be NULL): a's order, then b's new keys;
 * sorted when asked. Returns a malloc()ed array of *np borrowed keys. */
static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static const char **union_keys(const json_t *a, const json_t *b, bool sort,
                               size_t *np)
{
    size_t n = 0, cap = json_object_size(a) + json_object_size(b) + 1;
    const char **k = calloc(cap, sizeof(*k)), *key;
    const json_t *v;

    *np = 0;
    if (!k)
        return NULL;
    json_object_foreach((json_t *)a, key, v) k[n++] = key;
    json_object_foreach((json_t *)b, key, v) if (!json_object_get(a, key))
        k[n++] = key;
    if (sort)
        qsort(k, n, sizeof(*k), cmp_str);
    *np = n;
    return k;
}

/* ---- text ---- */

static void text_pair(FILE *fp, const char *title, const json_t *a,
                      const json_t *b, bool sort)
{
    size_t n, i;
    const char **k = union_keys(a, b, sort, &n);

    fprintf(fp, "%s\n", title);
    if (!n)
        fprintf(fp, "  (none)\n");
    for (i = 0; i < n; i++)
        fprintf(fp,
                "  %-30s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
                "\n",
                k[i], json_integer_value(json_object_get(a, k[i])),
                json_integer_value(json_object_get(b, k[i])));
    free(k);
}

static void text_one(FILE *fp, const char *title, const json_t *a)
{
    const char *k;
    const json_t *v;

    fprintf(fp, "%s\n", title);
    if (!json_object_size(a))
        fprintf(fp, "  (none)\n");
    json_object_foreach((json_t *)a, k, v) fprintf(
        fp, "  %-30s %10" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
}

static void text_stat(FILE *fp, const char *what, const json_t *s)
{
    char m[48], p[48];
    json_int_t n = jint(s, "n");

    fprintf(fp, "  %-30s %6" JSON_INTEGER_FORMAT " %12s %12s\n", what, n,
            n ? dur(jint(s, "median_ms"), m) : "-",
            n ? dur(jint(s, "p90_ms"), p) : "-");
}

static void render_text(const json_t *rep, FILE *fp)
{
    const json_t *msg = jget(rep, "messages"), *inc = jget(rep, "incidents"),
                 *r = jget(rep, "messages.received"),
                 *s = jget(rep, "messages.sent"), *v, *e;
    const char *k;
    char per[128];
    size_t n, i;
    const char **keys;

    period_text(rep, per, sizeof(per));
    fprintf(fp, "cishare evaluation report: %s (%s, %s)\n",
            *jstr(rep, "participant.name") ? jstr(rep, "participant.name")
                                           : jstr(rep, "participant.id"),
            jstr(rep, "participant.id"), jstr(rep, "participant.role"));
    fprintf(fp, "Period: %s\nGenerated at: %s\n\n", per,
            jstr(rep, "generated_at"));

    fprintf(fp, "== Messages ==\n  %-30s %10s %10s\n", "", "received", "sent");
    fprintf(fp,
            "  %-30s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT "\n",
            "total", jint(r, "total"), jint(s, "total"));
    text_pair(fp, "By type", jget(r, "by_type"), jget(s, "by_type"), false);
    text_pair(fp, "By label", jget(r, "by_label"), jget(s, "by_label"), false);
    text_pair(fp, "By sector", jget(r, "by_sector"), jget(s, "by_sector"),
              true);
    text_pair(fp, "By month (created, UTC)", jget(r, "by_month"),
              jget(s, "by_month"), true);
    fprintf(fp, "Revoked later by their origin: %" JSON_INTEGER_FORMAT "\n\n",
            jint(msg, "revoked"));

    fprintf(
        fp,
        "== Incidents ==\n"
        "Total %" JSON_INTEGER_FORMAT " (own %" JSON_INTEGER_FORMAT
        ", received %" JSON_INTEGER_FORMAT "), mandatory %" JSON_INTEGER_FORMAT
        ", anonymised %" JSON_INTEGER_FORMAT
        ", with out-of-order notices %" JSON_INTEGER_FORMAT "\n",
        jint(inc, "total"), jint(inc, "mine"), jint(inc, "received"),
        jint(inc, "mandatory"), jint(inc, "anonymised"), jint(inc, "flagged"));
    text_one(fp, "By category", jget(inc, "by_category"));
    text_one(fp, "By impact", jget(inc, "by_impact"));
    text_one(fp, "By operating mode", jget(inc, "by_mode"));
    text_one(fp, "By impact/mode", jget(inc, "by_impact_mode"));
    text_one(fp, "By stage reached", jget(inc, "by_stage"));
    fprintf(fp, "Time from detection %18s %6s %12s %12s\n", "", "n", "median",
            "p90");
    text_stat(fp, "to the preliminary report", jget(inc, "to_preliminary"));
    text_stat(fp, "to the NCO's receipt", jget(inc, "to_nco_receipt"));
    text_pair(fp, "Deadlines (preliminary, detailed)",
              jget(inc, "deadlines.preliminary"),
              jget(inc, "deadlines.detailed"), false);
    fputc('\n', fp);

    fprintf(fp,
            "== Relayed ==\nReceived through a relay: %" JSON_INTEGER_FORMAT
            "\n",
            jint(rep, "relayed.received_via_relay"));
    text_one(fp, "By relay", jget(rep, "relayed.by_relay"));
    fprintf(fp, "Anonymised incident copies: %" JSON_INTEGER_FORMAT "\n",
            jint(rep, "relayed.anonymised_copies"));
    text_one(fp, "By publishing relay",
             jget(rep, "relayed.anonymised_by_origin"));
    fputc('\n', fp);

    fprintf(fp,
            "== Sightings ==\nTotal %" JSON_INTEGER_FORMAT
            " (sent %" JSON_INTEGER_FORMAT ", received %" JSON_INTEGER_FORMAT
            "), false positives %" JSON_INTEGER_FORMAT "\n",
            jint(rep, "sightings.total"), jint(rep, "sightings.sent"),
            jint(rep, "sightings.received"),
            jint(rep, "sightings.false_positives"));
    fprintf(fp, "By originating sector %10s %10s %10s %8s\n", "", "sightings",
            "false-pos", "rate");
    v = jget(rep, "sightings.by_origin_sector");
    if (!json_object_size(v))
        fprintf(fp, "  (none)\n");
    keys = union_keys(v, NULL, true, &n);
    for (i = 0; keys && i < n; i++) {
        k = keys[i];
        e = json_object_get(v, k);
        fprintf(fp,
                "  %-30s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
                " %7.1f%%\n",
                k, jint(e, "sightings"), jint(e, "false_positives"),
                100.0 * json_number_value(json_object_get(e, "fp_rate")));
    }
    free(keys);
}

/* ---- CSV ---- */

static void csv_field(FILE *fp, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static void csv_walk(FILE *fp, const json_t *o, const char **path, int depth)
{
    const char *k;
    const json_t *v;
    char buf[64];
    int i;

    json_object_foreach((json_t *)o, k, v)
    {
        if (depth >= 15)
            return;
        path[depth] = k;
        if (json_is_object(v)) {
            csv_walk(fp, v, path, depth + 1);
            continue;
        }
        csv_field(fp, path[0]);
        fputc(',', fp);
        for (i = 1; i < depth; i++) {
            if (i > 1)
                fputc('.', fp);
            csv_field(fp, path[i]);
        }
        fputc(',', fp);
        csv_field(fp, depth ? k : "");
        fputc(',', fp);
        if (json_is_integer(v))
            snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        else if (json_is_real(v))
            snprintf(buf, sizeof(buf), "%.6g", json_real_value(v));
        else
            buf[0] = '\0';
        csv_field(fp, json_is_string(v) ? json_string_value(v) : buf);
        fputc('\n', fp);
    }
}

static void render_csv(const json_t *rep, FILE *fp)
{
    const char *path[16];

    fputs("section,group,key,value\n", fp);
    csv_walk(fp, rep, path, 0);
}

/* ---- HTML ---- */

static void esc(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", fp);
            break;
        case '<':
            fputs("&lt;", fp);
            break;
        case '>':
            fputs("&gt;", fp);
            break;
        case '"':
            fputs("&quot;", fp);
            break;
        case '\'':
            fputs("&#39;", fp);
            break;
        default:
            fputc(*s, fp);
        }
    }
}

#define C_RECV "#2b6cb0"
#define C_SENT "#dd6b20"
#define C_ONE  "#2c7a7b"
#define C_STG  "#6b46c1"

static const char *const month_abbr[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};

static void svg_legend(FILE *fp, size_t nser, const char *const *names,
                       const char *const *colors, int x, int y)
{
    size_t s;

    for (s = 0; nser > 1 && s < nser; s++) {
        fprintf(fp,
                "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
                "fill=\"%s\"/><text x=\"%d\" y=\"%d\" "
                "class=\"lg\">",
                x, y, colors[s], x + 16, y + 10);
        esc(fp, names[s]);
        fputs("</text>", fp);
        x += 110;
    }
}

/* Horizontal bars, one row per key, nser bars per row (vals[row*nser+s]),
 * the number at the end of each bar. */
static void svg_hbars(FILE *fp, const char *title, size_t nrows,
                      const char *const *labels, size_t nser,
                      const json_int_t *vals, const char *const *names,
                      const char *const *colors)
{
    const int W = 480, LX = 150, BW = 270, BH = 16;
    int top = nser > 1 ? 28 : 8, rowh = (int)nser * (BH + 2) + 10, h, y;
    json_int_t max = 0;
    size_t r, s;

    fprintf(fp, "<figure><figcaption>");
    esc(fp, title);
    fputs("</figcaption>", fp);
    for (r = 0; r < nrows * nser; r++)
        if (vals[r] > max)
            max = vals[r];
    if (!nrows || !max) {
        fputs("<p class=\"empty\">None in this period.</p></figure>\n", fp);
        return;
    }
    h = top + (int)nrows * rowh + 4;
    fprintf(fp,
            "<svg role=\"img\" "
            "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\"><title>",
            W, h, W, h);
    esc(fp, title);
    fputs("</title>", fp);
    svg_legend(fp, nser, names, colors, LX, 6);
    for (r = 0; r < nrows; r++) {
        y = top + (int)r * rowh;
        fprintf(fp, "<text x=\"%d\" y=\"%d\" class=\"lb\">", LX - 8,
                y + (rowh - 10) / 2 + 5);
        esc(fp, labels[r]);
        fputs("</text>", fp);
        for (s = 0; s < nser; s++) {
            json_int_t v = vals[r * nser + s];
            int w = (int)((double)v * BW / (double)max + 0.5);
            int by = y + (int)s * (BH + 2);
            fprintf(fp,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                    "fill=\"%s\"/><text x=\"%d\" y=\"%d\" "
                    "class=\"nv\">%" JSON_INTEGER_FORMAT "</text>",
                    LX, by, w, BH, colors[s], LX + w + 4, by + 12, v);
        }
    }
    fprintf(fp,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
            "class=\"ax\"/></svg></figure>\n",
            LX, top - 2, LX, h - 4);
}

/* Horizontal bars of the members of objects (one object per series). */
static void svg_hbars_obj(FILE *fp, const char *title, const json_t *a,
                          const json_t *b, const char *const *names,
                          const char *const *colors, bool sort)
{
    size_t n, i, nser = b ? 2 : 1;
    const char **k = union_keys(a, b, sort, &n);
    json_int_t *v = calloc(n * nser + 1, sizeof(*v));

    for (i = 0; k && v && i < n; i++) {
        v[i * nser] = json_integer_value(json_object_get(a, k[i]));
        if (b)
            v[i * nser + 1] = json_integer_value(json_object_get(b, k[i]));
    }
    if (k && v)
        svg_hbars(fp, title, n, k, nser, v, names, colors);
    free(k);
    free(v);
}

/* Columns per month, received and sent side by side. */
static void svg_months(FILE *fp, const json_t *a, const json_t *b)
{
    static const char *const names[] = {"received", "sent"};
    static const char *const colors[] = {C_RECV, C_SENT};
    const int W = 1000, L = 46, T = 34, PH = 220, B = 40;
    size_t n, i, s, every;
    const char **k = union_keys(a, b, true, &n);
    json_int_t max = 0, v, step, top;
    double gw, bw;
    int g, ticks;

    fputs("<figure class=\"wide\"><figcaption>Messages per month (by "
          "envelope created time, UTC)</figcaption>",
          fp);
    for (i = 0; k && i < n; i++)
        for (s = 0; s < 2; s++) {
            v = json_integer_value(json_object_get(s ? b : a, k[i]));
            if (v > max)
                max = v;
        }
    if (!k || !n) {
        fputs("<p class=\"empty\">No month in this period.</p></figure>\n", fp);
        free(k);
        return;
    }
    /* a round step (1, 2 or 5 times a power of ten), at most 5 of them */
    for (step = 1;; step *= 10) {
        if (max <= step * 5)
            break;
        if (max <= step * 10) {
            step *= 2;
            break;
        }
        if (max <= step * 25) {
            step *= 5;
            break;
        }
    }
    ticks = (int)((max + step - 1) / step);
    top = (json_int_t)ticks * step;
    if (!top)
        top = ticks = 1;
    gw = (double)(W - L - 10) / (double)n;
    bw = gw * 0.84 / 2;
    every = n <= 24 ? 1 : (n + 23) / 24;
    fprintf(fp,
            "<svg role=\"img\" "
            "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\"><title>Messages "
            "per month</title>",
            W, T + PH + B, W, T + PH + B);
    svg_legend(fp, 2, names, colors, L, 8);
    for (g = 0; g <= ticks; g++) {
        int y = T + PH - PH * g / ticks;
        fprintf(fp,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                "class=\"gr\"/><text x=\"%d\" y=\"%d\" "
                "class=\"lb\">%" JSON_INTEGER_FORMAT "</text>",
                L, y, W - 10, y, L - 6, y + 4, step * g);
    }
    for (i = 0; i < n; i++) {
        double x0 = L + gw * (double)i + gw * 0.08;
        for (s = 0; s < 2; s++) {
            double h, x = x0 + bw * (double)s;
            v = json_integer_value(json_object_get(s ? b : a, k[i]));
            h = (double)v * PH / (double)top;
            fprintf(
                fp,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"/>",
                x, T + PH - h, bw - 1, h, colors[s]);
            if (bw >= 14)
                fprintf(fp,
                        "<text x=\"%.1f\" y=\"%.1f\" "
                        "class=\"nc\">%" JSON_INTEGER_FORMAT "</text>",
                        x + bw / 2, T + PH - h - 3, v);
        }
        if (i % every == 0 && strlen(k[i]) == 7) {
            int mo = atoi(k[i] + 5);
            fprintf(fp, "<text x=\"%.1f\" y=\"%d\" class=\"nc\">%s</text>",
                    x0 + bw, T + PH + 16,
                    mo >= 1 && mo <= 12 ? month_abbr[mo - 1] : "?");
            if (i == 0 || mo == 1)
                fprintf(fp,
                        "<text x=\"%.1f\" y=\"%d\" class=\"nc yr\">%.4s</text>",
                        x0 + bw, T + PH + 32, k[i]);
        }
    }
    fprintf(fp,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"ax\"/>"
            "</svg></figure>\n",
            L, T + PH, W - 10, T + PH);
    free(k);
}

static void html_table_pair(FILE *fp, const char *title, const char *kh,
                            const json_t *a, const json_t *b, bool sort)
{
    size_t n, i;
    const char **k = union_keys(a, b, sort, &n);

    fputs("<table><caption>", fp);
    esc(fp, title);
    fputs("</caption><tr><th>", fp);
    esc(fp, kh);
    fputs("</th><th class=\"n\">received</th><th class=\"n\">sent</th></tr>",
          fp);
    if (!n)
        fputs("<tr><td colspan=\"3\" class=\"empty\">none</td></tr>", fp);
    for (i = 0; k && i < n; i++) {
        fputs("<tr><td>", fp);
        esc(fp, k[i]);
        fprintf(fp,
                "</td><td class=\"n\">%" JSON_INTEGER_FORMAT
                "</td><td class=\"n\">%" JSON_INTEGER_FORMAT "</td></tr>",
                json_integer_value(json_object_get(a, k[i])),
                json_integer_value(json_object_get(b, k[i])));
    }
    fputs("</table>\n", fp);
    free(k);
}

static void html_table_one(FILE *fp, const char *title, const char *kh,
                           const char *vh, const json_t *a)
{
    const char *k;
    const json_t *v;

    fputs("<table><caption>", fp);
    esc(fp, title);
    fputs("</caption><tr><th>", fp);
    esc(fp, kh);
    fputs("</th><th class=\"n\">", fp);
    esc(fp, vh);
    fputs("</th></tr>", fp);
    if (!json_object_size(a))
        fputs("<tr><td colspan=\"2\" class=\"empty\">none</td></tr>", fp);
    json_object_foreach((json_t *)a, k, v)
    {
        fputs("<tr><td>", fp);
        esc(fp, k);
        fprintf(fp, "</td><td class=\"n\">%" JSON_INTEGER_FORMAT "</td></tr>",
                json_integer_value(v));
    }
    fputs("</table>\n", fp);
}

static void html_stat_row(FILE *fp, const char *what, const json_t *s)
{
    char m[48], p[48];
    json_int_t n = jint(s, "n");

    fprintf(fp,
            "<tr><td>%s</td><td class=\"n\">%" JSON_INTEGER_FORMAT
            "</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>",
            what, n, n ? dur(jint(s, "median_ms"), m) : "&ndash;",
            n ? dur(jint(s, "p90_ms"), p) : "&ndash;");
}

static void html_kpi(FILE *fp, const char *what, const char *value, bool alarm)
{
    fprintf(fp, "<div class=\"kpi%s\"><div class=\"v\">",
            alarm ? " alarm" : "");
    esc(fp, value);
    fputs("</div><div class=\"k\">", fp);
    esc(fp, what);
    fputs("</div></div>", fp);
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',"
    "'Noto Sans','Noto Sans CJK JP',sans-serif;color:#1a202c;"
    "background:#f7fafc;margin:0}"
    "main{max-width:1060px;margin:0 auto;padding:24px 32px 48px;"
    "background:#fff}"
    "h1{font-size:26px;margin:0 0 4px}"
    "h2{font-size:20px;border-bottom:2px solid #cbd5e0;padding-bottom:4px;"
    "margin-top:36px}"
    ".sub{color:#4a5568;margin:0 0 18px}"
    ".kpis{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}"
    ".kpi{flex:1 1 100px;border:1px solid #e2e8f0;border-radius:6px;"
    "padding:10px 14px;background:#f7fafc}"
    ".kpi .v{font-size:24px;font-weight:600}"
    ".kpi .k{font-size:13px;color:#4a5568}"
    ".kpi.alarm{border-color:#e53e3e;background:#fff5f5}"
    ".kpi.alarm .v{color:#c53030}"
    ".row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}"
    "figure{margin:12px 0}"
    "figcaption{font-weight:600;margin-bottom:6px}"
    "svg text{font-size:12px;fill:#2d3748}"
    "svg .lb{text-anchor:end}"
    "svg .nv{font-size:11px}"
    "svg .nc{text-anchor:middle;font-size:11px}"
    "svg .yr{fill:#718096}"
    "svg .lg{font-size:12px}"
    "svg .ax{stroke:#4a5568;stroke-width:1}"
    "svg .gr{stroke:#e2e8f0;stroke-width:1}"
    "table{border-collapse:collapse;margin:12px 0;min-width:300px}"
    "caption{font-weight:600;text-align:left;padding-bottom:6px}"
    "th,td{border-bottom:1px solid #e2e8f0;padding:4px 10px;"
    "text-align:left}"
    "th{background:#edf2f7}"
    ".n{text-align:right;font-variant-numeric:tabular-nums}"
    ".bad{color:#c53030;font-weight:600}"
    ".empty{color:#718096;font-style:italic}"
    ".note{color:#4a5568;font-size:13px}"
    "footer{margin-top:36px;color:#4a5568;font-size:13px;"
    "border-top:1px solid #e2e8f0;padding-top:8px}";

static void render_html(const json_t *rep, FILE *fp)
{
    static const char *const rs[] = {"received", "sent"};
    static const char *const rsc[] = {C_RECV, C_SENT};
    static const char *const one[] = {"incidents"};
    static const char *const onec[] = {C_ONE};
    static const char *const stc[] = {C_STG};
    static const char *const dls[] = {"met",     "late",        "overdue",
                                      "pending", "unconfirmed", "n/a"};
    const json_t *r = jget(rep, "messages.received"),
                 *s = jget(rep, "messages.sent"), *inc = jget(rep, "incidents"),
                 *dp = jget(inc, "deadlines.preliminary"),
                 *dd = jget(inc, "deadlines.detailed"), *v, *e;
    const char *name = *jstr(rep, "participant.name")
                           ? jstr(rep, "participant.name")
                           : jstr(rep, "participant.id"),
               **keys;
    char per[128], buf[64];
    json_int_t overdue = jint(dp, "overdue") + jint(dd, "overdue"),
               st = jint(rep, "sightings.total"),
               sfp = jint(rep, "sightings.false_positives");
    size_t i, n;

    period_text(rep, per, sizeof(per));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width\">"
          "<title>Evaluation report: ",
          fp);
    esc(fp, name);
    fputs(", ", fp);
    esc(fp, per);
    fprintf(fp, "</title><style>%s</style></head><body><main>\n", css);
    fputs("<h1>Evaluation report: ", fp);
    esc(fp, name);
    fputs("</h1><p class=\"sub\">", fp);
    esc(fp, jstr(rep, "participant.id"));
    if (*jstr(rep, "participant.role")) {
        fputs(" &middot; ", fp);
        esc(fp, jstr(rep, "participant.role"));
    }
    fputs(" &middot; period ", fp);
    esc(fp, per);
    fputs(" &middot; generated ", fp);
    esc(fp, jstr(rep, "generated_at"));
    fputs("</p>\n<div class=\"kpis\">", fp);
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, jint(r, "total"));
    html_kpi(fp, "messages received", buf, false);
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, jint(s, "total"));
    html_kpi(fp, "messages sent", buf, false);
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, jint(inc, "total"));
    html_kpi(fp, "incidents", buf, false);
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, overdue);
    html_kpi(fp, "overdue reports", buf, overdue > 0);
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, st);
    html_kpi(fp, "sightings", buf, false);
    if (st)
        snprintf(buf, sizeof(buf), "%.1f%%", 100.0 * (double)sfp / (double)st);
    else
        snprintf(buf, sizeof(buf), "-");
    html_kpi(fp, "false-positive rate", buf, false);
    fputs("</div>\n", fp);

    fputs("<h2>1. Messages</h2>\n", fp);
    svg_months(fp, jget(r, "by_month"), jget(s, "by_month"));
    fputs("<div class=\"row\">", fp);
    svg_hbars_obj(fp, "By TLP label", jget(r, "by_label"), jget(s, "by_label"),
                  rs, rsc, false);
    html_table_pair(fp, "By message type", "type", jget(r, "by_type"),
                    jget(s, "by_type"), false);
    fputs("</div><div class=\"row\">", fp);
    html_table_pair(fp, "By sector (of the envelope)", "sector",
                    jget(r, "by_sector"), jget(s, "by_sector"), true);
    fprintf(
        fp,
        "<p class=\"note\">Revoked later by their origin: %" JSON_INTEGER_FORMAT
        " message(s).</p>",
        jint(rep, "messages.revoked"));
    fputs("</div>\n", fp);

    fprintf(
        fp,
        "<h2>2. Incidents</h2>\n<p>%" JSON_INTEGER_FORMAT
        " incident(s) first reported in the period: %" JSON_INTEGER_FORMAT
        " own, %" JSON_INTEGER_FORMAT " received; %" JSON_INTEGER_FORMAT
        " mandatory; %" JSON_INTEGER_FORMAT " anonymised; %" JSON_INTEGER_FORMAT
        " with a notice out of order.</p>\n<div class=\"row\">",
        jint(inc, "total"), jint(inc, "mine"), jint(inc, "received"),
        jint(inc, "mandatory"), jint(inc, "anonymised"), jint(inc, "flagged"));
    svg_hbars_obj(fp, "By category", jget(inc, "by_category"), NULL, one, onec,
                  false);
    svg_hbars_obj(fp, "By stage reached", jget(inc, "by_stage"), NULL, one, stc,
                  false);
    fputs("</div><div class=\"row\">", fp);
    html_table_one(fp, "By impact and operating mode", "impact / mode",
                   "incidents", jget(inc, "by_impact_mode"));
    fputs("<table><caption>Time from detection</caption><tr><th>to</th>"
          "<th class=\"n\">n</th><th class=\"n\">median</th>"
          "<th class=\"n\">90th percentile</th></tr>",
          fp);
    html_stat_row(fp, "the preliminary report", jget(inc, "to_preliminary"));
    html_stat_row(fp, "the NCO&#39;s receipt", jget(inc, "to_nco_receipt"));
    fputs("</table></div>\n<table><caption>Mandatory reporting deadlines "
          "(incidents by status)</caption><tr><th>status</th>"
          "<th class=\"n\">preliminary</th>"
          "<th class=\"n\">detailed</th></tr>",
          fp);
    for (i = 0; i < sizeof(dls) / sizeof(dls[0]); i++) {
        json_int_t a = jint(dp, dls[i]), b = jint(dd, dls[i]);
        bool bad = !strcmp(dls[i], "late") || !strcmp(dls[i], "overdue");
        fprintf(fp,
                "<tr><td>%s</td><td class=\"n%s\">%" JSON_INTEGER_FORMAT
                "</td><td class=\"n%s\">%" JSON_INTEGER_FORMAT "</td></tr>",
                dls[i], bad && a ? " bad" : "", a, bad && b ? " bad" : "", b);
    }
    fputs("</table>\n<p class=\"note\">met / late: filed before / after the "
          "deadline; overdue: not filed and past the deadline; unconfirmed: "
          "filed, no receipt from the competent ministry yet; n/a: voluntary "
          "report or no deadline in the directory.</p>\n",
          fp);

    fputs("<h2>3. Relayed volumes</h2>\n<div class=\"row\">", fp);
    html_table_one(fp, "Received through a relay", "relay", "messages",
                   jget(rep, "relayed.by_relay"));
    html_table_one(fp, "Anonymised incident copies", "published by", "notices",
                   jget(rep, "relayed.anonymised_by_origin"));
    fprintf(fp,
            "</div><p>In all %" JSON_INTEGER_FORMAT
            " message(s) received through a relay, %" JSON_INTEGER_FORMAT
            " anonymised incident notice(s).</p>\n",
            jint(rep, "relayed.received_via_relay"),
            jint(rep, "relayed.anonymised_copies"));

    fprintf(fp,
            "<h2>4. Sightings</h2>\n<p>%" JSON_INTEGER_FORMAT
            " sighting(s): %" JSON_INTEGER_FORMAT " sent, %" JSON_INTEGER_FORMAT
            " received; %" JSON_INTEGER_FORMAT " false positive(s).</p>\n",
            st, jint(rep, "sightings.sent"), jint(rep, "sightings.received"),
            sfp);
    fputs("<table><caption>False positives by the sector of the sighted "
          "subject&#39;s origin</caption><tr><th>sector</th>"
          "<th class=\"n\">sightings</th><th class=\"n\">false positives</th>"
          "<th class=\"n\">rate</th><th></th></tr>",
          fp);
    v = jget(rep, "sightings.by_origin_sector");
    if (!json_object_size(v))
        fputs("<tr><td colspan=\"5\" class=\"empty\">none</td></tr>", fp);
    keys = union_keys(v, NULL, true, &n);
    for (i = 0; keys && i < n; i++) {
        double rate;
        e = json_object_get(v, keys[i]);
        rate = json_number_value(json_object_get(e, "fp_rate"));
        fputs("<tr><td>", fp);
        esc(fp, keys[i]);
        fprintf(fp,
                "</td><td class=\"n\">%" JSON_INTEGER_FORMAT
                "</td><td class=\"n\">%" JSON_INTEGER_FORMAT
                "</td><td class=\"n\">%.1f%%</td><td>"
                "<svg width=\"104\" "
                "height=\"12\"><rect x=\"0\" y=\"1\" width=\"100\" "
                "height=\"10\" fill=\"#edf2f7\"/><rect x=\"0\" y=\"1\" "
                "width=\"%.1f\" height=\"10\" fill=\"#c53030\"/></svg>"
                "</td></tr>",
                jint(e, "sightings"), jint(e, "false_positives"), 100.0 * rate,
                100.0 * rate);
    }
    free(keys);
    fputs("</table>\n", fp);

    fputs("<footer><p>Figures from the feed&#39;s archive of this "
          "participant. A message counts in the period by its envelope "
          "created time, an incident by its first notice, a sighting by its "
          "created time. Medians and 90th percentiles are nearest-rank "
          "values of the measured times (each one of the measured "
          "times).</p></footer>\n</main></body></html>\n",
          fp);
}

int cishare_report_render(const json_t *rep, cishare_report_format_t fmt,
                          FILE *fp)
{
    switch (fmt) {
    case CISHARE_REPORT_JSON:
        if (json_dumpf(rep, fp, JSON_INDENT(2)) || fputc('\n', fp) == EOF)
            return -1;
        break;
    case CISHARE_REPORT_CSV:
        render_csv(rep, fp);
        break;
    case CISHARE_REPORT_HTML:
        render_html(rep, fp);
        break;
    default:
        render_text(rep, fp);
    }
    return fflush(fp) || ferror(fp) ? -1 : 0;
}
