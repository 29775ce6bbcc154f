/*
 * cishare demo: the sharing scenario end to end on the embedded broker.
 *
 *   1. start librdkafka's mock cluster in this process, with every topic of
 *      the layout for the example directory;
 *   2. run each step of deploy/examples/demo-scenario.json, in order, as
 *      the step's participant: the real `cishare publish` (a message),
 *      `cishare sighting` ("kind": "sighting") or `cishare relay --once`
 *      with the step's relay rules ("kind": "relay");
 *   3. run every participant's real `cishare feed --once` (child processes
 *      of this binary, talking Kafka protocol to the mock cluster);
 *   4. print who received what, and for everything else the policy's
 *      reason, and check that each feed delivered exactly what the sharing
 *      rules say (exit 1 if not).
 *
 * The messages of the report are the published ones, in step order, then
 * what each relay produced, found in the feeds: a hop-signed copy (origin
 * the original's, "relayed_by" the relay; judged by the re-sharing rules
 * and then within the copy's own label and audience, as a feed judges
 * it) and an anonymised copy (a new message of the relay's own, with a
 * fresh subject id: origin the relay). Each relay's count of copies is
 * checked against what the feeds hold.
 */
#include "cishare/cli.h"
#include "cishare/codec.h" /* cishare_time_now_ms */
#include "cishare/directory.h"
#include "cishare/identity.h"
#include "cishare/policy.h"
#include "cishare/topics.h"
#include "cishare/version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* One message of the report, as published and as the policy sees it. */
typedef struct demo_msg_s {
    const char *as; /* its origin (an anonymised copy's: the relay) */
    const char *title;
    const char *type;
    const char *subject;
    const char *relayed_by; /* a hop-signed copy: the relay, else NULL */
    size_t orig;            /* a hop-signed copy: index of the original */
    cishare_tlp_t tlp;
    cishare_consent_t consent; /* incident notices: consent_forward */
    const char *sighting_of;   /* sightings: the originator named */
    cishare_audience_t aud;
    char audience_text[1024];
    json_t *message; /* the native JSON message (borrowed or in `own`) */
    json_t *own;     /* what this entry owns (sightings, copies) */
} demo_msg_t;

enum { STEP_PUBLISH, STEP_SIGHTING, STEP_RELAY };

/* One step of the scenario. */
typedef struct demo_step_s {
    int kind;
    const char *as;
    const char *title;
    json_t *step; /* borrowed from the scenario document */
    size_t msg;   /* STEP_PUBLISH: its message */
    long relayed; /* STEP_RELAY: copies the relay reported, -1 unknown */
} demo_step_t;

typedef struct demo_s {
    const char *examples;
    const char *out; /* user's --out, or NULL */
    char work[64];   /* temp folder: configs, messages, logs */
    char bootstrap[256];
    cishare_directory_t *dir;
    demo_msg_t *msgs;
    size_t msg_cnt, msg_cap;
    demo_step_t *steps;
    size_t step_cnt;
    json_t *scenario;
    json_t *received; /* participant id -> array of feed lines */
} demo_t;

/* The examples installed beside this binary (<bindir>/../share/cishare/
 * examples: the package, cmake --install), else those of the source tree
 * it was built from (a build folder). */
static const char *default_examples(void)
{
    static char inst[PATH_MAX];
    char exe[PATH_MAX], *slash;
    ssize_t n;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return CISHARE_EXAMPLES_DIR;
    exe[n] = '\0';
    if (!(slash = strrchr(exe, '/')))
        return CISHARE_EXAMPLES_DIR;
    *slash = '\0';
    if (snprintf(inst, sizeof(inst), "%s/../share/cishare/examples", exe) >=
        (int)sizeof(inst))
        return CISHARE_EXAMPLES_DIR;
    return access(inst, R_OK) ? CISHARE_EXAMPLES_DIR : inst;
}

static void demo_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: cishare demo [--json] [--out DIR] [--examples DIR]\n"
            "\n"
            "Run the sharing scenario on the embedded broker (librdkafka's "
            "mock\n"
            "cluster, in this process): the example participants publish "
            "messages at\n"
            "every TLP label with the real 'cishare publish', JPCERT/CC "
            "sends a\n"
            "sighting back to an indicator's originator ('cishare "
            "sighting'), a\n"
            "CEPTOAR relays ('cishare relay --once': a hop-signed copy for "
            "the CEPTOAR\n"
            "council, and an anonymised copy of a report that asks for it), "
            "every\n"
            "participant's 'cishare feed' runs, and a table shows who "
            "received what\n"
            "and why the others did not. Exit 0 when every feed holds "
            "exactly what\n"
            "the sharing rules allow, 1 otherwise.\n"
            "\n"
            "Options:\n"
            "  --json          print the result as JSON on stdout\n"
            "  --out DIR       also keep each participant's feed in every "
            "sink format\n"
            "                  (jsonl, stix, blocklist) under DIR/<id>/\n"
            "  --examples DIR  example directory, keys and scenario (default "
            "%s)\n"
            "  -h, --help      show this help\n",
            default_examples());
}

/* Start this binary with argv (NULL-terminated), stderr to log and
 * stdout to out (NULL: to log too). Returns the child's pid, or -1. */
static pid_t spawn_self_out(char *const argv[], const char *log,
                            const char *out)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    if (out)
        posix_spawn_file_actions_addopen(&fa, 1, out,
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
    else
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static pid_t spawn_self(char *const argv[], const char *log)
{
    return spawn_self_out(argv, log, NULL);
}

/* Exit status of child pid, or -1 when it did not exit normally. */
static int wait_self(pid_t pid)
{
    int status;

    if (pid < 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Print the last lines of a child's log after a failure. */
static void show_log(const char *log)
{
    char line[1024];
    FILE *fp = fopen(log, "r");

    if (!fp)
        return;
    while (fgets(line, sizeof(line), fp))
        fprintf(stderr, "%%   | %s", line);
    fclose(fp);
}

static int write_config(const demo_t *d, const char *id, char *path,
                        size_t size)
{
    FILE *fp;

    snprintf(path, size, "%s/%s.conf", d->work, id);
    fp = fopen(path, "w");
    if (!fp)
        return -1;
    fprintf(fp,
            "# generated by cishare demo: participant %s on the embedded "
            "broker\n"
            "bootstrap.servers=%s\n"
            "cishare.participant=%s\n"
            "cishare.key=%s/keys/%s.key\n"
            "cishare.directory=%s/directory.yaml\n"
            "# the trust state of the demo's publishers: in its temporary\n"
            "# folder, never in the state of the user's installation\n"
            "cishare.state-dir=%s/state-%s\n",
            id, d->bootstrap, id, d->examples, id, d->examples, d->work, id);
    return fclose(fp);
}

/* A new, zeroed message entry at the end of d->msgs, or NULL. */
static demo_msg_t *msg_add(demo_t *d)
{
    if (d->msg_cnt == d->msg_cap) {
        size_t cap = d->msg_cap ? 2 * d->msg_cap : 16;
        demo_msg_t *m = realloc(d->msgs, cap * sizeof(*m));
        if (!m)
            return NULL;
        d->msgs = m;
        d->msg_cap = cap;
    }
    memset(&d->msgs[d->msg_cnt], 0, sizeof(d->msgs[0]));
    return &d->msgs[d->msg_cnt++];
}

/* Consent to forward and the sighted originator, as
 * cishare_message_policy_msg() reads them from a payload. */
static void msg_flags(demo_msg_t *m, const json_t *payload)
{
    m->consent = CISHARE_CONSENT_NA;
    if (m->type && !strcmp(m->type, "incident"))
        m->consent = json_is_true(json_object_get(payload, "consent_forward"))
                         ? CISHARE_CONSENT_YES
                         : CISHARE_CONSENT_NO;
    m->sighting_of =
        json_string_value(json_object_get(payload, "sighting_of_origin"));
}

/* Fill m (as, title set) from native JSON message msg: type, subject,
 * label, audience (resolved for its origin as publish resolves it). */
static int msg_from_json(demo_t *d, demo_msg_t *m, json_t *msg,
                         const char *where)
{
    char errstr[512];
    json_t *payload = json_object_get(msg, "payload");
    json_t *aud = json_object_get(msg, "audience"), *item;
    const cishare_participant_t *origin;
    size_t j;

    m->type = json_string_value(json_object_get(msg, "type"));
    m->subject = json_string_value(json_object_get(payload, "id"));
    m->message = msg;
    if (!m->type || !m->subject ||
        !cishare_tlp_parse(json_string_value(json_object_get(msg, "tlp")),
                           &m->tlp)) {
        cishare_cli_error("demo: %s needs message.type, message.tlp and "
                          "payload.id",
                          where);
        return -1;
    }
    msg_flags(m, payload);
    origin = cishare_directory_find(d->dir, m->as);
    if (!origin) {
        cishare_cli_error("demo: %s: unknown participant '%s'", where, m->as);
        return -1;
    }
    m->audience_text[0] = '\0';
    json_array_foreach(aud, j, item)
    {
        size_t len = strlen(m->audience_text);
        snprintf(m->audience_text + len, sizeof(m->audience_text) - len, "%s%s",
                 len ? "," : "", json_string_value(item));
    }
    if (cishare_audience_resolve(d->dir, m->tlp, origin,
                                 m->audience_text[0] ? m->audience_text : NULL,
                                 &m->aud, errstr, sizeof(errstr))) {
        cishare_cli_error("demo: %s: %s", where, errstr);
        return -1;
    }
    cishare_audience_format(&m->aud, m->audience_text,
                            sizeof(m->audience_text));
    return 0;
}

/* A string for the child's argv, or NULL: no line breaks (a relay rule
 * is written into a configuration file). */
static int check_text(const json_t *v, const char *path, size_t step,
                      const char *what)
{
    const char *s = json_string_value(v);

    if (!s || !*s || strpbrk(s, "\r\n")) {
        cishare_cli_error("demo: %s: step %zu: %s must be a non-empty string "
                          "on one line",
                          path, step, what);
        return -1;
    }
    return 0;
}

static int load_step(demo_t *d, const char *path, size_t i, json_t *step)
{
    demo_step_t *st = &d->steps[i];
    const char *kind = json_string_value(json_object_get(step, "kind"));
    char where[1100];

    st->step = step;
    st->relayed = -1;
    st->as = json_string_value(json_object_get(step, "as"));
    st->title = json_string_value(json_object_get(step, "title"));
    if (!st->as || !cishare_directory_find(d->dir, st->as)) {
        cishare_cli_error("demo: %s: step %zu: \"as\" must name a participant "
                          "of the directory%s%s",
                          path, i + 1, st->as ? ", not " : "",
                          st->as ? st->as : "");
        return -1;
    }
    if (!st->title)
        st->title = "";
    if (!kind || !strcmp(kind, "publish")) {
        demo_msg_t *m = msg_add(d);
        if (!m)
            return -1;
        st->kind = STEP_PUBLISH;
        st->msg = d->msg_cnt - 1;
        m->as = st->as;
        m->title = st->title;
        snprintf(where, sizeof(where), "%s: step %zu", path, i + 1);
        return msg_from_json(d, m, json_object_get(step, "message"), where);
    }
    if (!strcmp(kind, "sighting")) {
        json_t *o = json_object_get(step, "sighting");
        st->kind = STEP_SIGHTING;
        if (check_text(json_object_get(o, "subject"), path, i + 1,
                       "sighting.subject") ||
            check_text(json_object_get(o, "origin"), path, i + 1,
                       "sighting.origin"))
            return -1;
        return 0;
    }
    if (!strcmp(kind, "relay")) {
        json_t *rules = json_object_get(step, "rules"), *v;
        const char *name;
        st->kind = STEP_RELAY;
        if (!json_is_object(rules) || !json_object_size(rules)) {
            cishare_cli_error("demo: %s: step %zu: a relay step needs "
                              "\"rules\": {\"<name>\": \"types=... to=...\"}",
                              path, i + 1);
            return -1;
        }
        json_object_foreach(rules, name, v)
        {
            snprintf(where, sizeof(where), "rules.%s", name);
            if (!*name || strpbrk(name, "=\r\n \t") ||
                check_text(v, path, i + 1, where)) {
                cishare_cli_error("demo: %s: step %zu: bad relay rule '%s'",
                                  path, i + 1, name);
                return -1;
            }
        }
        return 0;
    }
    cishare_cli_error("demo: %s: step %zu: unknown kind '%s' (publish, "
                      "sighting, relay)",
                      path, i + 1, kind);
    return -1;
}

static int load_scenario(demo_t *d)
{
    char path[1024];
    json_error_t jerr;
    json_t *steps, *step;
    size_t i;

    snprintf(path, sizeof(path), "%s/demo-scenario.json", d->examples);
    d->scenario = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!d->scenario) {
        cishare_cli_error("demo: %s:%d:%d: %s", path, jerr.line, jerr.column,
                          jerr.text);
        return -1;
    }
    steps = json_object_get(d->scenario, "steps");
    if (!json_is_array(steps) || !json_array_size(steps)) {
        cishare_cli_error("demo: %s: no \"steps\" array", path);
        return -1;
    }
    d->step_cnt = json_array_size(steps);
    d->steps = calloc(d->step_cnt, sizeof(*d->steps));
    if (!d->steps)
        return -1;
    json_array_foreach(steps, i, step)
    {
        if (load_step(d, path, i, step))
            return -1;
    }
    return 0;
}

/* The mock cluster serves the layout's topics from the start, so that
 * every feed can subscribe before anything is published there. */
static rd_kafka_mock_cluster_t *start_cluster(demo_t *d, rd_kafka_t **rkp)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_mock_cluster_t *mc;
    cishare_strlist_t topics = {0};
    size_t i;

    rd_kafka_conf_set(conf, "log_level", "2", NULL, 0);
    *rkp = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!*rkp) {
        rd_kafka_conf_destroy(conf);
        cishare_cli_error("demo: %s", errstr);
        return NULL;
    }
    mc = rd_kafka_mock_cluster_new(*rkp, 1);
    if (!mc) {
        cishare_cli_error("demo: could not start the embedded broker");
        return NULL;
    }
    snprintf(d->bootstrap, sizeof(d->bootstrap), "%s",
             rd_kafka_mock_cluster_bootstraps(mc));
    if (cishare_topics_for_directory(d->dir, &topics, errstr, sizeof(errstr))) {
        cishare_cli_error("demo: %s", errstr);
        rd_kafka_mock_cluster_destroy(mc);
        return NULL;
    }
    for (i = 0; i < topics.cnt; i++)
        rd_kafka_mock_topic_create(mc, topics.items[i], 2, 1);
    cishare_strlist_clear(&topics);
    return mc;
}

static int run_publish(demo_t *d, size_t i, const demo_step_t *st)
{
    demo_msg_t *m = &d->msgs[st->msg];
    char conf[1024], file[1024], log[1024];
    char *argv[] = {"cishare",  "publish", "-c", conf,
                    "--format", "json",    file, NULL};
    int rc;

    if (write_config(d, m->as, conf, sizeof(conf)))
        return -1;
    snprintf(file, sizeof(file), "%s/step-%zu.json", d->work, i + 1);
    snprintf(log, sizeof(log), "%s/publish-%zu.log", d->work, i + 1);
    if (json_dump_file(m->message, file, JSON_INDENT(2)))
        return -1;
    rc = wait_self(spawn_self(argv, log));
    if (rc != 0) {
        cishare_cli_error("demo: step %zu (%s as %s): cishare publish "
                          "exited %d",
                          i + 1, m->title, m->as, rc);
        show_log(log);
        return -1;
    }
    return 0;
}

/* cishare sighting --json: the message it sent becomes an entry. */
static int run_sighting(demo_t *d, size_t i, const demo_step_t *st)
{
    static const struct {
        const char *key, *opt;
    } opts[] = {{"subject", "--subject"},       {"origin", "--origin"},
                {"count", "--count"},           {"note", "--note"},
                {"first_seen", "--first-seen"}, {"last_seen", "--last-seen"}};
    json_t *o = json_object_get(st->step, "sighting"), *msg;
    char conf[1024], out[1024], log[1024], count[32], where[1100];
    char *argv[24];
    size_t n = 0, k;
    demo_msg_t *m;
    json_error_t jerr;
    int rc;

    if (write_config(d, st->as, conf, sizeof(conf)))
        return -1;
    argv[n++] = "cishare";
    argv[n++] = "sighting";
    argv[n++] = "-c";
    argv[n++] = conf;
    argv[n++] = "--json";
    for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        json_t *v = json_object_get(o, opts[k].key);
        if (!v)
            continue;
        argv[n++] = (char *)opts[k].opt;
        if (json_is_integer(v)) {
            snprintf(count, sizeof(count), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            argv[n++] = count;
        } else {
            argv[n++] = (char *)json_string_value(v);
        }
        if (!argv[n - 1]) {
            cishare_cli_error("demo: step %zu: sighting.%s must be a string "
                              "or a number",
                              i + 1, opts[k].key);
            return -1;
        }
    }
    if (json_is_true(json_object_get(o, "false_positive")))
        argv[n++] = "--false-positive";
    if (json_is_true(json_object_get(o, "anonymise")))
        argv[n++] = "--anonymise";
    argv[n] = NULL;
    snprintf(out, sizeof(out), "%s/sighting-%zu.json", d->work, i + 1);
    snprintf(log, sizeof(log), "%s/sighting-%zu.log", d->work, i + 1);
    rc = wait_self(spawn_self_out(argv, log, out));
    if (rc != 0) {
        cishare_cli_error("demo: step %zu (%s as %s): cishare sighting "
                          "exited %d",
                          i + 1, st->title, st->as, rc);
        show_log(log);
        return -1;
    }
    if (!(msg = json_load_file(out, 0, &jerr))) {
        cishare_cli_error("demo: step %zu: %s: %s", i + 1, out, jerr.text);
        return -1;
    }
    if (!(m = msg_add(d))) {
        json_decref(msg);
        return -1;
    }
    m->own = msg;
    m->as = st->as;
    m->title = st->title;
    snprintf(where, sizeof(where), "step %zu: the sighting sent", i + 1);
    return msg_from_json(d, m, msg, where);
}

/* cishare relay --once with the step's rules; its copies are found in the
 * feeds later (find_copies). */
static int run_relay(demo_t *d, size_t i, demo_step_t *st)
{
    json_t *rules = json_object_get(st->step, "rules"), *v;
    const char *name;
    char conf[1024], log[1024], line[2048];
    char *argv[] = {"cishare",          "relay", "-c", conf, "--once",
                    "--from-beginning", NULL};
    FILE *fp;
    int rc;

    if (write_config(d, st->as, conf, sizeof(conf)) || !(fp = fopen(conf, "a")))
        return -1;
    fprintf(fp, "# the relay rules of scenario step %zu\n", i + 1);
    json_object_foreach(rules, name, v)
        fprintf(fp, "cishare.relay.rule.%s=%s\n", name, json_string_value(v));
    if (fclose(fp))
        return -1;
    snprintf(log, sizeof(log), "%s/relay-%zu.log", d->work, i + 1);
    rc = wait_self(spawn_self(argv, log));
    if (rc != 0) {
        cishare_cli_error("demo: step %zu (%s as %s): cishare relay exited "
                          "%d",
                          i + 1, st->title, st->as, rc);
        show_log(log);
        return -1;
    }
    /* "% relay summary: relayed N (anonymised A, ..." */
    if ((fp = fopen(log, "r"))) {
        while (fgets(line, sizeof(line), fp)) {
            const char *p = strstr(line, "relay summary: relayed ");
            if (p)
                st->relayed =
                    strtol(p + strlen("relay summary: relayed "), NULL, 10);
        }
        fclose(fp);
    }
    return 0;
}

static int run_steps(demo_t *d)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < d->step_cnt && !rc; i++) {
        demo_step_t *st = &d->steps[i];
        if (st->kind == STEP_PUBLISH)
            rc = run_publish(d, i, st);
        else if (st->kind == STEP_SIGHTING)
            rc = run_sighting(d, i, st);
        else
            rc = run_relay(d, i, st);
    }
    return rc;
}

/* Read P's delivered messages from its feed's JSON Lines. */
static int read_feed(demo_t *d, const char *id, const char *outdir)
{
    char path[1024];
    json_t *arr = json_array();
    FILE *fp;

    snprintf(path, sizeof(path), "%s/feed.jsonl", outdir);
    fp = fopen(path, "r");
    if (fp) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        unsigned lineno = 0;

        /* any length, and U+0000 as the codec keeps it */
        while ((n = getline(&line, &cap, fp)) > 0) {
            json_error_t jerr;
            json_t *j = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);

            lineno++;
            if (!j) {
                cishare_cli_error("demo: %s:%u: %s", path, lineno, jerr.text);
                free(line);
                fclose(fp);
                json_decref(arr);
                return -1;
            }
            json_array_append_new(arr, j);
        }
        free(line);
        fclose(fp);
    }
    json_object_set_new(d->received, id, arr);
    return 0;
}

/* Every participant's feed runs at once, as its own process. */
static int run_feeds(demo_t *d)
{
    size_t i, n = cishare_directory_participant_cnt(d->dir);
    pid_t *pids = calloc(n, sizeof(*pids));
    char(*outdirs)[1024] = calloc(n, sizeof(*outdirs));
    int failed = 0;

    if (!pids || !outdirs) {
        free(pids);
        free(outdirs);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const char *id = cishare_directory_participant(d->dir, i)->id;
        char conf[1024], log[1024];
        char *argv[] = {
            "cishare",          "feed",  "-c",       conf,        "--once",
            "--from-beginning", "--out", outdirs[i], "--format",  "jsonl",
            "--format",         "stix",  "--format", "blocklist", NULL};

        if (write_config(d, id, conf, sizeof(conf))) {
            pids[i] = -1;
            continue;
        }
        if (d->out)
            snprintf(outdirs[i], sizeof(outdirs[i]), "%s/%s", d->out, id);
        else
            snprintf(outdirs[i], sizeof(outdirs[i]), "%s/feed-%s", d->work, id);
        snprintf(log, sizeof(log), "%s/feed-%s.log", d->work, id);
        pids[i] = spawn_self(argv, log);
    }
    for (i = 0; i < n; i++) {
        const char *id = cishare_directory_participant(d->dir, i)->id;
        char log[1024];
        int rc = wait_self(pids[i]);

        snprintf(log, sizeof(log), "%s/feed-%s.log", d->work, id);
        if (rc != 0) {
            cishare_cli_error("demo: the feed of %s exited %d", id, rc);
            show_log(log);
            failed = 1;
        } else if (read_feed(d, id, outdirs[i])) {
            failed = 1;
        }
    }
    free(pids);
    free(outdirs);
    return failed ? -1 : 0;
}

static const char *line_subject(const json_t *line)
{
    return json_string_value(
        json_object_get(json_object_get(line, "payload"), "id"));
}

/* The relay a delivered line came through, or NULL (direct). */
static const char *line_relay(const json_t *line)
{
    return json_string_value(
        json_array_get(json_object_get(line, "relayed_by"), 0));
}

/* A feed's line of message (subject, origin), through any route: a feed
 * keeps one (its de-duplication is by origin and message id). */
static json_t *find_delivered(json_t *lines, const char *subject,
                              const char *origin)
{
    json_t *line;
    size_t i;

    json_array_foreach(lines, i, line)
    {
        const char *s = line_subject(line);
        const char *o = json_string_value(json_object_get(line, "origin"));
        if (s && o && !strcmp(s, subject) && !strcmp(o, origin))
            return line;
    }
    return NULL;
}

/* The entry of message (subject, origin) through relay (NULL: direct). */
static demo_msg_t *find_msg(demo_t *d, const char *subject, const char *origin,
                            const char *relay)
{
    size_t k;

    for (k = 0; k < d->msg_cnt; k++) {
        demo_msg_t *m = &d->msgs[k];
        if (!strcmp(m->subject, subject) && !strcmp(m->as, origin) &&
            (relay ? m->relayed_by && !strcmp(m->relayed_by, relay)
                   : !m->relayed_by))
            return m;
    }
    return NULL;
}

/* "a,b" from a JSON array of strings (or a string). */
static void audience_text(const json_t *aud, char *buf, size_t size)
{
    const json_t *item;
    size_t j, len;

    buf[0] = '\0';
    if (json_is_string(aud)) {
        snprintf(buf, size, "%s", json_string_value(aud));
        return;
    }
    json_array_foreach(aud, j, item)
    {
        len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                 json_string_value(item) ? json_string_value(item) : "");
    }
}

/* A copy relay st->as produced, seen as `line` in a feed: add its entry.
 * A hop-signed copy keeps the original's subject and origin and names the
 * relay; an anonymised copy is a message of the relay's own. */
static int add_copy(demo_t *d, size_t si, json_t *line, bool hop)
{
    const demo_step_t *st = &d->steps[si];
    json_t *hop0 = json_array_get(json_object_get(line, "relay"), 0);
    const char *subject = line_subject(line);
    const char *origin = json_string_value(json_object_get(line, "origin"));
    const char *tlp =
        json_string_value(json_object_get(hop ? hop0 : line, "tlp"));
    const demo_msg_t *orig = hop ? find_msg(d, subject, origin, NULL) : NULL;
    const cishare_participant_t *relay = cishare_directory_find(d->dir, st->as);
    char title[256], errstr[512];
    demo_msg_t *m;

    if (hop && !orig) {
        cishare_cli_error("demo: step %zu: %s relayed %s of %s, which the "
                          "scenario did not publish",
                          si + 1, st->as, subject, origin);
        return -1;
    }
    if (!(m = msg_add(d)))
        return -1;
    /* the line and the title stay with the entry (d->msgs may move) */
    snprintf(title, sizeof(title), "%s by %s (step %zu)",
             hop ? "relayed" : "anonymised copy", st->as, si + 1);
    if (!(m->own = json_pack("{s:O, s:s}", "line", line, "title", title)))
        return -1;
    m->title = json_string_value(json_object_get(m->own, "title"));
    m->as = origin;
    m->subject = subject;
    m->type = json_string_value(json_object_get(line, "type"));
    m->message = line;
    m->relayed_by = hop ? st->as : NULL;
    m->orig = hop ? (size_t)(orig - d->msgs) : 0;
    msg_flags(m, json_object_get(line, "payload"));
    audience_text(json_object_get(hop ? hop0 : line, "audience"),
                  m->audience_text, sizeof(m->audience_text));
    if (!m->type || !cishare_tlp_parse(tlp, &m->tlp) ||
        cishare_audience_resolve(d->dir, m->tlp, relay, m->audience_text,
                                 &m->aud, errstr, sizeof(errstr))) {
        cishare_cli_error("demo: step %zu: the copy %s from %s: bad label or "
                          "audience",
                          si + 1, subject, origin);
        return -1;
    }
    cishare_audience_format(&m->aud, m->audience_text,
                            sizeof(m->audience_text));
    return 0;
}

/* Add the copies each relay step produced, as the feeds hold them (in
 * step order), and check each relay's count against them. */
static int find_copies(demo_t *d, int *mismatchesp)
{
    size_t si, i, k, n = cishare_directory_participant_cnt(d->dir);

    for (si = 0; si < d->step_cnt; si++) {
        const demo_step_t *st = &d->steps[si];
        size_t before = d->msg_cnt;
        if (st->kind != STEP_RELAY)
            continue;
        for (i = 0; i < n; i++) {
            json_t *lines = json_object_get(
                d->received, cishare_directory_participant(d->dir, i)->id);
            json_t *line;
            json_array_foreach(lines, k, line)
            {
                const char *subject = line_subject(line);
                const char *origin =
                    json_string_value(json_object_get(line, "origin"));
                const char *via = line_relay(line);
                const char *type =
                    json_string_value(json_object_get(line, "type"));
                bool hop = via && !strcmp(via, st->as);
                bool anon = !via && origin && !strcmp(origin, st->as);
                /* a receipt the relay's participant sent (its feed acks
                 * what it received) is no copy: receipts are not part of
                 * the scenario, and the table leaves them out */
                if (type && !strcmp(type, "receipt"))
                    continue;
                if (!subject || !origin || (!hop && !anon) ||
                    find_msg(d, subject, origin, hop ? st->as : NULL))
                    continue;
                if (add_copy(d, si, line, hop))
                    return -1;
            }
        }
        if (st->relayed != (long)(d->msg_cnt - before)) {
            (*mismatchesp)++;
            cishare_cli_error("demo: step %zu: the relay of %s reports %ld "
                              "message(s) relayed, the feeds hold %zu",
                              si + 1, st->as, st->relayed, d->msg_cnt - before);
        }
    }
    return 0;
}

/* What the rules say of entry m for participant p: a direct message by
 * the direct rules; a hop-signed copy as a feed judges it
 * (cishare_message_decide): the re-sharing rules on the original, then
 * the copy's own label and audience. */
static cishare_decision_t entry_decide(const demo_t *d, const demo_msg_t *m,
                                       const cishare_participant_t *p,
                                       int64_t now)
{
    cishare_policy_msg_t pm = {.tlp = m->tlp,
                               .origin = m->as,
                               .audience = &m->aud,
                               .expires_ms = 0,
                               .consent = m->consent,
                               .sighting_of = m->sighting_of};

    if (m->relayed_by) {
        const demo_msg_t *o = &d->msgs[m->orig];
        cishare_policy_msg_t opm = {.tlp = o->tlp,
                                    .origin = o->as,
                                    .audience = &o->aud,
                                    .expires_ms = 0,
                                    .consent = o->consent,
                                    .sighting_of = o->sighting_of};
        cishare_decision_t dec = cishare_policy_decide_reshare(
            d->dir, &opm, cishare_directory_find(d->dir, m->relayed_by), m->tlp,
            p, now);
        if (!dec.deliver)
            return dec;
    }
    return cishare_policy_decide(d->dir, &pm, p, now);
}

static json_t *audience_json(const char *text)
{
    json_t *arr = json_array();
    char *copy = strdup(text), *save = NULL, *tok;

    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        json_array_append_new(arr, json_string(tok));
    free(copy);
    return arr;
}

/* Build the report; count each disagreement between a feed and the
 * rules. */
static json_t *report(demo_t *d, int *mismatchesp)
{
    json_t *parts = json_array();
    size_t i, k, n = cishare_directory_participant_cnt(d->dir);
    int64_t now = (int64_t)time(NULL) * 1000;

    for (i = 0; i < n; i++) {
        const cishare_participant_t *p =
            cishare_directory_participant(d->dir, i);
        json_t *lines = json_object_get(d->received, p->id);
        json_t *recv = json_array(), *with = json_array(), *line;

        for (k = 0; k < d->msg_cnt; k++) {
            demo_msg_t *m = &d->msgs[k];
            cishare_decision_t dec = entry_decide(d, m, p, now);
            const char *via;
            json_t *entry;

            /* Held through this entry's route, or through another one
             * when the rules allow this one too (the feed keeps the
             * first copy of a message it reads). */
            line = find_delivered(lines, m->subject, m->as);
            via = line ? line_relay(line) : NULL;
            if (line && !dec.deliver &&
                !(m->relayed_by ? via && !strcmp(via, m->relayed_by) : !via))
                line = NULL;
            entry =
                json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", m->subject, "type",
                          m->type, "tlp", cishare_tlp_name(m->tlp), "origin",
                          m->as, "audience", audience_json(m->audience_text));
            if (m->relayed_by)
                json_object_set_new(entry, "relayed_by",
                                    json_string(m->relayed_by));
            if (line) {
                json_array_append_new(recv, entry);
            } else {
                json_object_del(entry, "type");
                json_object_set_new(entry, "reason",
                                    json_string(dec.deliver
                                                    ? "MISSING: the rules "
                                                      "deliver it but the "
                                                      "feed did not"
                                                    : dec.text));
                json_array_append_new(with, entry);
            }
            if (!!line != dec.deliver) {
                (*mismatchesp)++;
                cishare_cli_error(
                    "demo: %s %s %s but the rules say %s (%s)", p->id,
                    line ? "received" : "did not receive", m->subject,
                    dec.deliver ? "deliver" : "withhold", dec.text);
            }
        }
        json_array_append_new(parts,
                              json_pack("{s:s, s:s, s:o, s:o}", "id", p->id,
                                        "role", cishare_role_name(p->role),
                                        "received", recv, "withheld", with));
    }
    return json_pack("{s:o}", "participants", parts);
}

/* Message type of a scenario subject (the withheld entries of the JSON
 * report carry no type). */
static const char *msg_type(const demo_t *d, const char *subject)
{
    size_t k;

    for (k = 0; subject && k < d->msg_cnt; k++)
        if (!strcmp(d->msgs[k].subject, subject))
            return d->msgs[k].type;
    return "?";
}

static void print_table(const demo_t *d, json_t *rep)
{
    json_t *parts = json_object_get(rep, "participants"), *p, *e;
    size_t i, k;

    printf("Scenario (%zu steps, %zu messages on the embedded broker %s):\n",
           d->step_cnt, d->msg_cnt, d->bootstrap);
    for (k = 0; k < d->step_cnt; k++)
        if (d->steps[k].kind == STEP_RELAY)
            printf("  step %zu: %s runs cishare relay --once   (%s)\n", k + 1,
                   d->steps[k].as, d->steps[k].title);
    for (k = 0; k < d->msg_cnt; k++)
        printf("  %zu. %-13s %-10s %-12s -> %s%s%s   (%s)\n", k + 1,
               d->msgs[k].as, d->msgs[k].type, cishare_tlp_name(d->msgs[k].tlp),
               d->msgs[k].audience_text, d->msgs[k].relayed_by ? " via " : "",
               d->msgs[k].relayed_by ? d->msgs[k].relayed_by : "",
               d->msgs[k].title);
    printf("\n");
    json_array_foreach(parts, i, p)
    {
        json_t *recv = json_object_get(p, "received");
        json_t *with = json_object_get(p, "withheld");
        printf("%s (%s): received %zu, withheld %zu\n",
               json_string_value(json_object_get(p, "id")),
               json_string_value(json_object_get(p, "role")),
               json_array_size(recv), json_array_size(with));
        json_array_foreach(recv, k, e)
            printf("  + %-12s %-10s from %-13s %s%s%s\n",
                   json_string_value(json_object_get(e, "tlp")),
                   json_string_value(json_object_get(e, "type")),
                   json_string_value(json_object_get(e, "origin")),
                   json_string_value(json_object_get(e, "id")),
                   json_object_get(e, "relayed_by") ? " via " : "",
                   json_object_get(e, "relayed_by")
                       ? json_string_value(json_object_get(e, "relayed_by"))
                       : "");
        json_array_foreach(with, k, e)
            printf("  - %-12s %-10s from %-13s %s%s%s\n    withheld: %s\n",
                   json_string_value(json_object_get(e, "tlp")),
                   msg_type(d, json_string_value(json_object_get(e, "id"))),
                   json_string_value(json_object_get(e, "origin")),
                   json_string_value(json_object_get(e, "id")),
                   json_object_get(e, "relayed_by") ? " via " : "",
                   json_object_get(e, "relayed_by")
                       ? json_string_value(json_object_get(e, "relayed_by"))
                       : "",
                   json_string_value(json_object_get(e, "reason")));
    }
}

static void cleanup_work(const char *path)
{
    char *argv[] = {"rm", "-rf", (char *)path, NULL};
    pid_t pid;
    int status;

    if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
        waitpid(pid, &status, 0);
}

int cishare_cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"out", required_argument, NULL, 'o'},
        {"examples", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    demo_t d = {.examples = default_examples()};
    char path[1024], errstr[1024];
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    json_t *rep = NULL;
    int c, as_json = 0, rc = CISHARE_EXIT_FAIL, mismatches = 0;
    size_t i;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            as_json = 1;
            break;
        case 'o':
            d.out = optarg;
            break;
        case 'e':
            d.examples = optarg;
            break;
        case 'h':
            demo_usage(stdout);
            return CISHARE_EXIT_OK;
        default:
            return cishare_cli_usage_error("demo", "bad option");
        }
    }
    if (optind < argc)
        return cishare_cli_usage_error("demo", "unexpected argument '%s'",
                                       argv[optind]);

    snprintf(path, sizeof(path), "%s/directory.yaml", d.examples);
    /* Stateless: the demo must not pin the example root or serial into
     * the trust state of whoever runs it (signature and expiry only). */
    if (cishare_identity_verify_directory(path, NULL, cishare_time_now_ms(),
                                          &d.dir, errstr, sizeof(errstr))) {
        cishare_cli_error("demo: %s", errstr);
        return CISHARE_EXIT_USAGE;
    }
    if (load_scenario(&d)) {
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    if (d.out && mkdir(d.out, 0755) && errno != EEXIST) {
        cishare_cli_error("demo: --out %s: %s", d.out, strerror(errno));
        rc = CISHARE_EXIT_USAGE;
        goto done;
    }
    snprintf(d.work, sizeof(d.work), "/tmp/cishare-demo-XXXXXX");
    if (!mkdtemp(d.work)) {
        cishare_cli_error("demo: cannot create a temporary folder: %s",
                          strerror(errno));
        goto done;
    }
    d.received = json_object();

    mc = start_cluster(&d, &rk);
    if (!mc)
        goto done;
    cishare_cli_info("embedded broker on %s; running the %zu steps of the "
                     "scenario as their participants",
                     d.bootstrap, d.step_cnt);
    if (run_steps(&d))
        goto done;
    cishare_cli_info("running the feeds of %zu participants",
                     cishare_directory_participant_cnt(d.dir));
    if (run_feeds(&d) || find_copies(&d, &mismatches))
        goto done;

    rep = report(&d, &mismatches);
    if (as_json) {
        json_dumpf(rep, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        print_table(&d, rep);
    }
    if (d.out)
        cishare_cli_info("each participant's feed (jsonl, stix, blocklist) "
                         "is in %s/<id>/",
                         d.out);
    if (mismatches)
        cishare_cli_error("demo: %d deliveries disagree with the sharing "
                          "rules",
                          mismatches);
    else
        cishare_cli_info("every feed holds exactly what the sharing rules "
                         "allow");
    rc = mismatches ? CISHARE_EXIT_FAIL : CISHARE_EXIT_OK;
done:
    json_decref(rep);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    if (d.work[0] && rc == CISHARE_EXIT_OK)
        cleanup_work(d.work);
    else if (d.work[0])
        cishare_cli_info("logs kept in %s", d.work);
    for (i = 0; i < d.msg_cnt; i++) {
        cishare_audience_clear(&d.msgs[i].aud);
        json_decref(d.msgs[i].own);
    }
    free(d.msgs);
    free(d.steps);
    json_decref(d.received);
    json_decref(d.scenario);
    cishare_directory_destroy(d.dir);
    return rc;
}
