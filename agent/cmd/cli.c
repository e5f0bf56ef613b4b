/*
 * Command-line parsing. Each command has its own option table; anything unknown, missing or
 * malformed is a usage error (exit 2) with a one-line reason before the usage text.
 */
#include "cdc/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc/json.h"

static const char usage_text[] =
    "usage: cdc-agent COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  run      -c FILE             run all sources and sinks until SIGTERM (graceful)\n"
    "  check    -c FILE             check prerequisites of brokers and databases, and what to "
    "change\n"
    "  offsets show -c FILE [--json]\n"
    "                               source positions, sink offsets, lag\n"
    "  offsets set  -c FILE (--sink NAME --offset TOPIC:PART:OFF | --source NAME --position POS)\n"
    "               [--force]       move a sink offset, or a source position forward only;\n"
    "                               refused while the agent runs unless --force\n"
    "  replay   -c FILE --sink NAME (--from-timestamp ISO | --from-offset TOPIC:PART:OFF)\n"
    "           [--table T] [--dry-run]\n"
    "                               rewind a sink and re-apply to log end\n"
    "  snapshot -c FILE --source NAME --table T [--no-wait]\n"
    "                               re-snapshot one table while streaming\n"
    "  duplicates -c FILE --source NAME --table T --match COL[,COL...] [--json]\n"
    "                               groups of rows with the same values in COLs after the table's\n"
    "                               transforms (one consistent read, with progress)\n"
    "  source drop -c FILE --source NAME [--yes]\n"
    "                               drop its slot/publication (asks to confirm)\n"
    "  status   -c FILE --api URL [--json]\n"
    "                               every source and sink of the running agent: state, lag\n"
    "  pause | resume | restart -c FILE --api URL (--sink NAME | --source NAME)\n"
    "                               one source or sink of the running agent\n"
    "  jobs     -c FILE --api URL [--job ID [--cancel]] [--json]\n"
    "                               replay and re-snapshot jobs of the running agent\n"
    "\n"
    "  --api URL (offsets show, offsets set --sink, replay, snapshot too): ask the running agent\n"
    "  through its admin API (agent.http; the token and certificate from the config's agent.api);\n"
    "  when no agent answers there, those commands work offline as without it\n"
    "  version                      print the version and library versions\n"
    "  --help                       this text\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage or config error\n";

void
cdc_cli_usage(FILE *out)
{
    fputs(usage_text, out);
}

enum {
    OPT_JSON = 256,
    OPT_SINK,
    OPT_SOURCE,
    OPT_TABLE,
    OPT_FROM_TS,
    OPT_FROM_OFF,
    OPT_OFFSET,
    OPT_POSITION,
    OPT_DRY_RUN,
    OPT_YES,
    OPT_FORCE,
    OPT_NO_WAIT,
    OPT_MATCH,
    OPT_API,
    OPT_JOB,
    OPT_CANCEL
};

typedef struct {
    const char *name;
    cdc_cmd_t cmd;
    const char *sub;  /* second word, or NULL */
    unsigned allowed; /* bit per OPT_* - OPT_JSON */
} cmd_spec_t;

#define B(o) (1u << ((o)-OPT_JSON))

static const cmd_spec_t specs[] = {
    {"run", CDC_CMD_RUN, NULL, 0},
    {"check", CDC_CMD_CHECK, NULL, 0},
    {"offsets", CDC_CMD_OFFSETS_SHOW, "show", B(OPT_JSON) | B(OPT_API)},
    {"offsets", CDC_CMD_OFFSETS_SET, "set",
     B(OPT_SINK) | B(OPT_SOURCE) | B(OPT_OFFSET) | B(OPT_POSITION) | B(OPT_FORCE) | B(OPT_API)},
    {"replay", CDC_CMD_REPLAY, NULL,
     B(OPT_SINK) | B(OPT_FROM_TS) | B(OPT_FROM_OFF) | B(OPT_TABLE) | B(OPT_DRY_RUN) | B(OPT_API)},
    {"snapshot", CDC_CMD_SNAPSHOT, NULL,
     B(OPT_SOURCE) | B(OPT_TABLE) | B(OPT_NO_WAIT) | B(OPT_API)},
    {"status", CDC_CMD_STATUS, NULL, B(OPT_API) | B(OPT_JSON)},
    {"pause", CDC_CMD_PAUSE, NULL, B(OPT_API) | B(OPT_SINK) | B(OPT_SOURCE)},
    {"resume", CDC_CMD_RESUME, NULL, B(OPT_API) | B(OPT_SINK) | B(OPT_SOURCE)},
    {"restart", CDC_CMD_RESTART, NULL, B(OPT_API) | B(OPT_SINK) | B(OPT_SOURCE)},
    {"jobs", CDC_CMD_JOBS, NULL, B(OPT_API) | B(OPT_JOB) | B(OPT_CANCEL) | B(OPT_JSON)},
    {"source", CDC_CMD_SOURCE_DROP, "drop", B(OPT_SOURCE) | B(OPT_YES)},
    {"duplicates", CDC_CMD_DUPLICATES, NULL,
     B(OPT_SOURCE) | B(OPT_TABLE) | B(OPT_MATCH) | B(OPT_JSON)},
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, OPT_JSON},
    {"sink", required_argument, NULL, OPT_SINK},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"table", required_argument, NULL, OPT_TABLE},
    {"from-timestamp", required_argument, NULL, OPT_FROM_TS},
    {"from-offset", required_argument, NULL, OPT_FROM_OFF},
    {"offset", required_argument, NULL, OPT_OFFSET},
    {"position", required_argument, NULL, OPT_POSITION},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"yes", no_argument, NULL, OPT_YES},
    {"force", no_argument, NULL, OPT_FORCE},
    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
    {"match", required_argument, NULL, OPT_MATCH},
    {"api", required_argument, NULL, OPT_API},
    {"job", required_argument, NULL, OPT_JOB},
    {"cancel", no_argument, NULL, OPT_CANCEL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const cmd_spec_t *
find_spec(int argc, char **argv, int *consumed, cdc_errstr_t *es)
{
    const char *word = argv[1];
    bool known = false;
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        if (strcmp(specs[i].name, word) != 0)
            continue;
        known = true;
        if (!specs[i].sub) {
            *consumed = 2;
            return &specs[i];
        }
        if (argc > 2 && !strcmp(argv[2], specs[i].sub)) {
            *consumed = 3;
            return &specs[i];
        }
    }
    if (known)
        cdc_errstr_set(es, CDC_ERR_INVAL, "'%s' needs a subcommand (%s)", word,
                       !strcmp(word, "offsets") ? "show or set" : "drop");
    else
        cdc_errstr_set(es, CDC_ERR_INVAL, "unknown command '%s'", word);
    return NULL;
}

static cdc_err_t
take_option(cdc_cli_t *o, int opt, const char *arg, cdc_errstr_t *es)
{
    switch (opt) {
    case 'c':
        o->config = arg;
        break;
    case OPT_JSON:
        o->json = true;
        break;
    case OPT_SINK:
        o->sink = arg;
        break;
    case OPT_SOURCE:
        o->source = arg;
        break;
    case OPT_TABLE:
        o->table = arg;
        break;
    case OPT_DRY_RUN:
        o->dry_run = true;
        break;
    case OPT_YES:
        o->yes = true;
        break;
    case OPT_FORCE:
        o->force = true;
        break;
    case OPT_NO_WAIT:
        o->no_wait = true;
        break;
    case OPT_POSITION:
        o->position = arg;
        break;
    case OPT_MATCH:
        o->match = arg;
        break;
    case OPT_API:
        if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
            return cdc_errstr_set(es, CDC_ERR_INVAL,
                                  "--api '%s': expected http://HOST:PORT or https://HOST:PORT",
                                  arg);
        o->api = arg;
        break;
    case OPT_JOB:
        o->job = arg;
        break;
    case OPT_CANCEL:
        o->cancel = true;
        break;
    case OPT_FROM_TS:
        o->has_from_ts = true;
        if (!cdc_cli_parse_timestamp(arg, &o->from_ts_ms))
            return cdc_errstr_set(es, CDC_ERR_INVAL,
                                  "--from-timestamp '%s': expected ISO-8601 like "
                                  "2026-11-25T12:00:00Z",
                                  arg);
        break;
    case OPT_FROM_OFF:
    case OPT_OFFSET:
        o->from_offset = arg;
        if (!cdc_cli_parse_tpo(arg, o->topic, sizeof(o->topic), &o->partition, &o->offset))
            return cdc_errstr_set(es, CDC_ERR_INVAL, "%s '%s': expected TOPIC:PARTITION:OFFSET",
                                  opt == OPT_OFFSET ? "--offset" : "--from-offset", arg);
        break;
    }
    return CDC_OK;
}

/* Cross-option rules of each command. */
static cdc_err_t
validate(const cdc_cli_t *o, cdc_errstr_t *es)
{
    if (!o->config)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "missing -c FILE");
    switch (o->cmd) {
    case CDC_CMD_OFFSETS_SET:
        if (!!o->sink == !!o->source)
            return cdc_errstr_set(es, CDC_ERR_INVAL, "give either --sink or --source");
        if (o->sink && (!o->from_offset || o->position))
            return cdc_errstr_set(es, CDC_ERR_INVAL, "--sink needs --offset TOPIC:PART:OFF");
        if (o->source && (!o->position || o->from_offset))
            return cdc_errstr_set(es, CDC_ERR_INVAL, "--source needs --position POS");
        return CDC_OK;
    case CDC_CMD_REPLAY:
        if (!o->sink)
            return cdc_errstr_set(es, CDC_ERR_INVAL, "replay needs --sink NAME");
        if (o->has_from_ts == !!o->from_offset)
            return cdc_errstr_set(es, CDC_ERR_INVAL,
                                  "replay needs exactly one of --from-timestamp or --from-offset");
        return CDC_OK;
    case CDC_CMD_SNAPSHOT:
        if (!o->source || !o->table)
            return cdc_errstr_set(es, CDC_ERR_INVAL, "snapshot needs --source NAME and --table T");
        return CDC_OK;
    case CDC_CMD_DUPLICATES:
        if (!o->source || !o->table || !o->match || !*o->match)
            return cdc_errstr_set(es, CDC_ERR_INVAL,
                                  "duplicates needs --source NAME, --table T and --match COLS");
        return CDC_OK;
    case CDC_CMD_SOURCE_DROP:
        if (!o->source)
            return cdc_errstr_set(es, CDC_ERR_INVAL, "source drop needs --source NAME");
        return CDC_OK;
    case CDC_CMD_PAUSE:
    case CDC_CMD_RESUME:
    case CDC_CMD_RESTART:
        if (!!o->sink == !!o->source)
            return cdc_errstr_set(es, CDC_ERR_INVAL, "give either --sink or --source");
        /* fall through */
    case CDC_CMD_STATUS:
    case CDC_CMD_JOBS:
        if (!o->api)
            return cdc_errstr_set(es, CDC_ERR_INVAL,
                                  "this command asks a running agent: give --api URL");
        if (o->cancel && !o->job)
            return cdc_errstr_set(es, CDC_ERR_INVAL, "--cancel needs --job ID");
        return CDC_OK;
    default:
        return CDC_OK;
    }
}

cdc_err_t
cdc_cli_parse(int argc, char **argv, cdc_cli_t *out, cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    out->partition = -1;
    if (argc < 2)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "missing command");
    const char *w = argv[1];
    if (!strcmp(w, "--help") || !strcmp(w, "-h") || !strcmp(w, "help")) {
        out->cmd = CDC_CMD_HELP;
        return CDC_OK;
    }
    if (!strcmp(w, "version") || !strcmp(w, "--version")) {
        out->cmd = CDC_CMD_VERSION;
        return argc == 2 ? CDC_OK : cdc_errstr_set(es, CDC_ERR_INVAL, "version takes no options");
    }
    int consumed = 0;
    const cmd_spec_t *spec = find_spec(argc, argv, &consumed, es);
    if (!spec)
        return CDC_ERR_INVAL;
    out->cmd = spec->cmd;
    int sub_argc = argc - consumed + 1;
    char **sub_argv = argv + consumed - 1;
    optind = 0; /* full re-initialisation of getopt (glibc) */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(sub_argc, sub_argv, "+c:h", long_opts, NULL)) != -1) {
        if (opt == 'h') {
            out->cmd = CDC_CMD_HELP;
            return CDC_OK;
        }
        if (opt == '?' || opt == ':')
            return cdc_errstr_set(es, CDC_ERR_INVAL, "%s: unknown option or missing value: %s",
                                  spec->name, sub_argv[optind - 1]);
        if (opt != 'c' && !(spec->allowed & B(opt)))
            return cdc_errstr_set(es, CDC_ERR_INVAL, "%s%s%s does not take %s", spec->name,
                                  spec->sub ? " " : "", spec->sub ? spec->sub : "",
                                  sub_argv[optind - 1]);
        if (take_option(out, opt, optarg, es))
            return CDC_ERR_INVAL;
    }
    if (optind < sub_argc)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "unexpected argument '%s'", sub_argv[optind]);
    return validate(out, es);
}

static bool
parse_fraction_and_zone(const char *p, int64_t *ms, int64_t *offset_s)
{
    *offset_s = 0;
    if (*p == '.') {
        int digits = 0, frac_ms = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        if (!digits)
            return false;
        for (int d = digits; d < 3; d++)
            frac_ms *= 10;
        *ms = frac_ms;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-') {
        int hh, mm;
        char tail;
        if (sscanf(p + 1, "%2d:%2d%c", &hh, &mm, &tail) != 2 || hh > 23 || mm > 59)
            return false;
        *offset_s = (p[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
        return true;
    }
    return *p == '\0';
}

bool
cdc_cli_parse_timestamp(const char *s, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (!p || strlen(s) < 10)
        return false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        const char *q = strptime(p + 1, "%H:%M:%S", &tm);
        if (!q)
            return false;
        p = q;
    }
    int64_t frac = 0, off = 0;
    if (!parse_fraction_and_zone(p, &frac, &off))
        return false;
    /* a date or time that does not exist (2026-02-31, 24:00:00) is refused, not carried over
     * into the next month or day as timegm would */
    struct tm asked = tm, back;
    time_t t = timegm(&tm);
    if (!gmtime_r(&t, &back) || back.tm_year != asked.tm_year || back.tm_mon != asked.tm_mon ||
        back.tm_mday != asked.tm_mday || back.tm_hour != asked.tm_hour ||
        back.tm_min != asked.tm_min || back.tm_sec != asked.tm_sec)
        return false;
    *ms = ((int64_t)t - off) * 1000 + frac;
    return true;
}

bool
cdc_cli_parse_tpo(const char *s, char *topic, size_t topic_len, int32_t *partition, int64_t *offset)
{
    const char *c2 = strrchr(s, ':');
    if (!c2 || c2 == s)
        return false;
    const char *c1 = c2 - 1;
    while (c1 > s && *c1 != ':')
        c1--;
    if (c1 == s || (size_t)(c1 - s) >= topic_len)
        return false;
    /* a Kafka topic name's characters only, and digits only after it (strtol took " 0" and
     * "+1", so "topic: 0:1" named the topic "topic") */
    for (const char *t = s; t < c1; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '.' || *t == '_' || *t == '-'))
            return false;
    uint64_t part, off;
    if (!cdc_parse_uint(c1 + 1, (size_t)(c2 - c1 - 1), INT32_MAX, &part) ||
        !cdc_parse_uint(c2 + 1, strlen(c2 + 1), INT64_MAX, &off))
        return false;
    memcpy(topic, s, (size_t)(c1 - s));
    topic[c1 - s] = '\0';
    *partition = (int32_t)part;
    *offset = off;
    return true;
}
