/* devsim.c - command line of devsim, the simulated LwM2M devices used by the end-to-end
 * tests and the benchmarks. It turns the options into the link-format payloads and a list
 * of actions, then runs the actions in sequence on the simulator (sim.c), each for every
 * device, and prints a summary line. See usage_text and README.md. */

#include "sim.h"

#include "gw.h"

#include <coap3/coap.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#define GW_EXIT_OK 0
#define GW_EXIT_FAILED 1
#define GW_EXIT_USAGE 2

/* Longest root link head and longest single update parameter. */
#define GW_PARAM_MAX 300
/* Fastest --rate, changes per second. */
#define GW_RATE_MAX 1000.0

/* Set by SIGINT and SIGTERM: the current wait or serve action ends, the others run. */
static volatile sig_atomic_t interrupted;

static const char usage_text[] =
    "usage: devsim --server coap[s]://HOST:PORT [options] ACTION...\n"
    "\n"
    "Simulates LwM2M devices, each with its own CoAP client session (own UDP port).\n"
    "\n"
    "options:\n"
    "  --server URI         LwM2M server (the gateway), coap://HOST[:PORT], or\n"
    "                       coaps://HOST[:PORT] for DTLS 1.2 (see below) (required)\n"
    "  --count N            number of devices (default 1)\n"
    "  --ep NAME            endpoint name of the single device (needs --count 1)\n"
    "  --ep-prefix PREFIX   endpoint names are PREFIX + index (default \"dev-\")\n"
    "  --lwm2m 1.0|1.1|1.2  LwM2M version to register with (default 1.1)\n"
    "  --lifetime S         registration lifetime in seconds (default 86400)\n"
    "  --binding B          binding mode sent as b= (default U, or UQ for 1.0 --queue)\n"
    "  --queue              queue mode: b=UQ for 1.0, the Q parameter for 1.1 and later\n"
    "  --objects LINKS      object links (default </1/0>,</3/0>,</3303/0>)\n"
    "  --root PATH          alternate root path for the objects, e.g. /lwm2m\n"
    "  --timeout MS         time to wait for each response (default 5000)\n"
    "  --concurrency K      requests in flight at once across devices (default 64)\n"
    "  --rate HZ            how often the changing resources change (default 1, 0: never):\n"
    "                       3303/x/5700 walks, 3/0/9 drains, 3/0/13 runs\n"
    "  --rate-after S       the first change comes S seconds (fractions allowed) after\n"
    "                       devsim starts (default 0): a fleet registers and is observed\n"
    "                       before its traffic begins\n"
    "  --format F           content format of reads and notifications without Accept:\n"
    "                       tlv, senml-json, senml-cbor, json (11543), or text (text/plain\n"
    "                       for single values); default tlv for 1.0, senml-json after\n"
    "  --notify con|non     notifications confirmable or not (default non)\n"
    "  --trace              also print a JSON line per served request, per notification\n"
    "                       and per dropped request\n"
    "  --awake S            with --queue: after each uplink (register, update, send, a\n"
    "                       notification) answer the server for S seconds (fractions\n"
    "                       allowed), then sleep: drop its requests unanswered (no ACK, no\n"
    "                       RST) until the next uplink; default: never asleep\n"
    "  --unresponsive       drop every request from the server unanswered (as mute)\n"
    "  --delay-ms N         answer every request N ms late as a separate response (an\n"
    "                       empty ACK first); default 0, piggybacked at once\n"
    "  --quiet              print only the final summary line\n"
    "  --bind ADDR[-ADDR]   bind device i's socket to the i-th address of this IPv4 range\n"
    "                       (round robin), e.g. 127.0.0.1-127.0.0.8, fixed ports from 20000\n"
    "                       up: more devices than one address has ports (default: any\n"
    "                       address, an ephemeral port)\n"
    "  --stamp              3303/x/5700 changes to the wall clock (CLOCK_REALTIME) in\n"
    "                       microseconds since the epoch instead of walking, so that\n"
    "                       whoever receives a notified value sees when it was sent\n"
    "  --help               show this text\n"
    "\n"
    "DTLS (coaps:// only; PSK or X.509, not both; {ep} stands for the endpoint name):\n"
    "  --psk-identity ID    PSK identity, e.g. {ep} or id-{ep}\n"
    "  --psk-key HEX        pre-shared key in hex (the same for every device)\n"
    "  --psk-file FILE      instead of the two above: lines \"ENDPOINT IDENTITY HEXKEY\"\n"
    "                       (blank lines and # comments skipped), one per device\n"
    "  --cert FILE          device certificate (PEM), e.g. certs/{ep}.pem\n"
    "  --key FILE           its private key (PEM), e.g. certs/{ep}.key\n"
    "  --ca FILE            CA certificates (PEM) that verify the server's certificate;\n"
    "                       without it the server's certificate is not verified\n"
    "  --ciphers LIST       OpenSSL cipher list offered, e.g. PSK-AES128-CCM8 (applied\n"
    "                       from the ClientHello that answers the server's\n"
    "                       HelloVerifyRequest: libcoap 4.3.1 sends the first one itself)\n"
    "  A handshake that fails or does not finish within --timeout ends the request with\n"
    "  code \"dtls-failed\"; after it, a DTLS error or a timeout, the device's next\n"
    "  request starts a new handshake. Muted or asleep, a DTLS device drops all\n"
    "  application data from the server while it has no request in flight.\n"
    "\n"
    "actions (run in order, each for every device):\n"
    "  register             POST /rd?ep=&lt=&lwm2m=&b=[&Q] with the object links\n"
    "  update               POST to the registration location, no query, no payload\n"
    "  update:lt=N          Update carrying lt=N\n"
    "  update:b=B           Update carrying b=B\n"
    "  update:objects=LINKS Update carrying new object links (must be the last parameter)\n"
    "                       parameters combine: update:lt=60:b=UQ:objects=</3/0>\n"
    "  deregister           DELETE the registration location\n"
    "  send[:PATHS]         LwM2M 1.1 Send: POST /dp with SenML (CBOR with --format\n"
    "                       senml-cbor, else JSON) of the comma-separated PATHS, default\n"
    "                       the changing resources, e.g. send:/3303/0/5700,/3/0/9\n"
    "  serve[:SECONDS]      answer the server, change values and notify for SECONDS\n"
    "                       (fractions allowed), without SECONDS until SIGINT or SIGTERM\n"
    "  wait:SECONDS         the same as serve:SECONDS\n"
    "  mute                 from here on drop every request from the server unanswered\n"
    "  unmute               answer the server again\n"
    "  silent               stop here without de-registering\n"
    "\n"
    "Devices answer the server all along: Read, Discover (GET with Accept 40), Observe (pmin,\n"
    "pmax, gt, lt, st honoured), Write (PUT, POST), Write-Attributes, Execute (arguments such\n"
    "as 0='now',1 checked), Create (POST on an object; the payload's instance id, else the\n"
    "lowest free one), Delete of an instance, and with LwM2M 1.1 and later Read-Composite\n"
    "(FETCH /), Observe-Composite (FETCH / with Observe) and Write-Composite (iPATCH /) in\n"
    "SenML JSON or CBOR. Errors: 4.04 for a path the device does not have, 4.05 for an\n"
    "operation the path does not take (a read-only resource written, a resource that cannot\n"
    "execute), 4.00 for a bad payload or a value of the wrong type. SIGINT or SIGTERM ends a\n"
    "wait or serve early; the actions after it still run.\n"
    "\n"
    "Prints one JSON line per finished request and a summary line; exits 0 when every\n"
    "request got a 2.xx answer, 1 otherwise, 2 on bad usage. With coaps:// request lines\n"
    "carry the negotiated \"cipher\", the summary counts handshakes and ciphers, and\n"
    "--trace adds a line per handshake (\"event\":\"dtls\").\n";

/* ---- small helpers ---------------------------------------------------------------------- */

/* Parses a decimal number in [min, max]; no sign, no trailing text. */
static bool parse_ulong(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    if (text == NULL || *text < '0' || *text > '9')
        return false;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

/* Parses a non-negative number of seconds, fractions allowed. */
static bool parse_seconds(const char *text, double *out)
{
    char *end;
    if (text == NULL || *text == '\0')
        return false;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !(value >= 0.0) || value > 1e7)
        return false;
    *out = value;
    return true;
}

/* Parses the comma-separated paths of send:PATHS into `act`. */
static bool parse_send_paths(const char *text, struct action *act)
{
    while (*text != '\0') {
        const char *end = strchr(text, ',');
        size_t len = end ? (size_t)(end - text) : strlen(text);
        struct data_path *p = &act->send_paths[act->send_count];
        if (act->send_count == GW_SEND_PATHS_MAX || data_path_parse(text, len, p) != 0 ||
            p->depth == 0)
            return false;
        act->send_count++;
        text += len;
        if (*text == ',' && *++text == '\0')
            return false;
    }
    return act->send_count > 0;
}

/* ---- link-format payloads --------------------------------------------------------------- */

/* Builds the Register/Update payload from the object links `objects`: with an alternate
 * root, every "</" link gets the root in front and a root link leads the list; LwM2M 1.1
 * and later announce the root with rt="oma.lwm2m";ct=110 even without one. Returns a
 * malloc'd string owned by the caller, or NULL when out of memory or the root is too long. */
static char *build_links(const struct options *opt, const char *objects)
{
    bool v11 = strcmp(opt->version, "1.0") != 0;
    const char *root = opt->root;
    size_t root_len = root ? strlen(root) : 0;
    char head[GW_PARAM_MAX];
    size_t head_len = 0;

    if (root != NULL || v11) {
        int n = snprintf(head, sizeof(head), "<%s>;rt=\"oma.lwm2m\"%s", root ? root : "/",
                         v11 ? ";ct=110" : "");
        if (n < 0 || (size_t)n >= sizeof(head))
            return NULL;
        head_len = (size_t)n;
    }

    size_t links = 0;
    for (const char *p = objects; *p != '\0'; p++)
        links += *p == '<';
    size_t size = head_len + 1 + strlen(objects) + links * root_len + 1;
    char *out = malloc(size);
    if (out == NULL)
        return NULL;

    char *w = out;
    memcpy(w, head, head_len);
    w += head_len;
    if (head_len > 0 && *objects != '\0')
        *w++ = ',';
    bool quoted = false;
    for (const char *p = objects; *p != '\0'; p++) {
        if (*p == '"')
            quoted = !quoted;
        *w++ = *p;
        if (!quoted && *p == '<' && p[1] == '/' && root_len > 0) {
            memcpy(w, root, root_len);
            w += root_len;
        }
    }
    *w = '\0';
    return out;
}

/* ---- command line ----------------------------------------------------------------------- */

/* Parses one update parameter list "lt=N:b=B:objects=LINKS" into `act`. */
static bool parse_update_params(const struct options *opt, const char *params, struct action *act)
{
    const char *p = params;
    while (*p != '\0') {
        if (strncmp(p, "objects=", 8) == 0) {
            /* Links may contain ':' in attribute values, so objects= takes the rest. */
            act->payload = build_links(opt, p + 8);
            return act->payload != NULL;
        }
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char param[GW_PARAM_MAX];
        if (len >= sizeof(param))
            return false;
        memcpy(param, p, len);
        param[len] = '\0';
        if (strncmp(param, "lt=", 3) == 0) {
            if (!parse_ulong(param + 3, 0, UINT32_MAX, &act->lifetime))
                return false;
            act->has_lifetime = true;
        } else if (strncmp(param, "b=", 2) == 0 && param[2] != '\0' &&
                   len - 2 < sizeof(act->binding)) {
            memcpy(act->binding, param + 2, len - 1); /* with the '\0' */
        } else {
            return false;
        }
        p += len;
        if (*p == ':')
            p++;
    }
    return true;
}

/* Parses one ACTION argument. Returns false (and leaves nothing to free) when it is not
 * a valid action. */
static bool parse_action(const struct options *opt, const char *text, struct action *act)
{
    memset(act, 0, sizeof(*act));
    act->kind = GW_ACTION_REQUEST;
    if (strcmp(text, "register") == 0) {
        act->op = GW_OP_REGISTER;
        return true;
    }
    if (strcmp(text, "deregister") == 0) {
        act->op = GW_OP_DEREGISTER;
        return true;
    }
    if (strcmp(text, "update") == 0) {
        act->op = GW_OP_UPDATE;
        return true;
    }
    if (strncmp(text, "update:", 7) == 0) {
        act->op = GW_OP_UPDATE;
        if (text[7] != '\0' && parse_update_params(opt, text + 7, act))
            return true;
        free(act->payload);
        act->payload = NULL;
        return false;
    }
    if (strcmp(text, "send") == 0 || strncmp(text, "send:", 5) == 0) {
        act->op = GW_OP_SEND;
        /* Send came with LwM2M 1.1 */
        return strcmp(opt->version, "1.0") != 0 &&
               (text[4] == '\0' || parse_send_paths(text + 5, act));
    }
    if (strcmp(text, "serve") == 0) {
        act->kind = GW_ACTION_WAIT;
        act->wait_seconds = INFINITY;
        return true;
    }
    if (strncmp(text, "wait:", 5) == 0 || strncmp(text, "serve:", 6) == 0) {
        act->kind = GW_ACTION_WAIT;
        return parse_seconds(strchr(text, ':') + 1, &act->wait_seconds);
    }
    if (strcmp(text, "silent") == 0) {
        act->kind = GW_ACTION_SILENT;
        return true;
    }
    if (strcmp(text, "mute") == 0 || strcmp(text, "unmute") == 0) {
        act->kind = text[0] == 'm' ? GW_ACTION_MUTE : GW_ACTION_UNMUTE;
        return true;
    }
    return false;
}

/* Splits a coap://HOST[:PORT] or coaps://HOST[:PORT] URI into the options. */
/* --bind A or A-B: IPv4 addresses, B not below A. */
static bool parse_bind(const char *text, struct options *opt)
{
    char first[INET_ADDRSTRLEN] = "";
    const char *dash = strchr(text, '-');
    const char *last = dash != NULL ? dash + 1 : text;
    size_t len = dash != NULL ? (size_t)(dash - text) : strlen(text);
    struct in_addr a, b;
    if (len == 0 || len >= sizeof(first))
        return false;
    memcpy(first, text, len);
    if (inet_pton(AF_INET, first, &a) != 1 || inet_pton(AF_INET, last, &b) != 1 ||
        ntohl(b.s_addr) < ntohl(a.s_addr))
        return false;
    opt->bind_first = ntohl(a.s_addr);
    opt->bind_count = ntohl(b.s_addr) - ntohl(a.s_addr) + 1;
    return true;
}

static bool parse_server(const char *text, struct options *opt)
{
    coap_uri_t uri;
    if (coap_split_uri((const uint8_t *)text, strlen(text), &uri) < 0 ||
        (uri.scheme != COAP_URI_SCHEME_COAP && uri.scheme != COAP_URI_SCHEME_COAPS) ||
        uri.path.length > 0 || uri.query.length > 0 || uri.host.length == 0 ||
        uri.host.length >= sizeof(opt->server_host))
        return false;
    memcpy(opt->server_host, uri.host.s, uri.host.length);
    opt->server_host[uri.host.length] = '\0';
    opt->server_port = uri.port;
    opt->dtls = uri.scheme == COAP_URI_SCHEME_COAPS;
    uint8_t addr[16];
    opt->server_is_name = inet_pton(AF_INET, opt->server_host, addr) != 1 &&
                          inet_pton(AF_INET6, opt->server_host, addr) != 1;
    return true;
}

static int usage_error(const char *problem, const char *value);

/* ---- DTLS credentials ------------------------------------------------------------------- */

/* Decodes the hex string `text` (an even number of digits, at least one byte) into `out`
 * of GW_PSK_KEY_MAX bytes. */
static bool parse_hex_key(const char *text, uint8_t *out, size_t *len)
{
    int n = gw_hex_decode(text, strlen(text), out, GW_PSK_KEY_MAX);
    if (n <= 0)
        return false;
    *len = (size_t)n;
    return true;
}

static int compare_psk_entries(const void *a, const void *b)
{
    return strcmp(((const struct psk_entry *)a)->endpoint, ((const struct psk_entry *)b)->endpoint);
}

static void free_psk_entries(struct options *opt)
{
    for (size_t i = 0; i < opt->psk_count; i++) {
        free(opt->psk_entries[i].endpoint);
        free(opt->psk_entries[i].identity);
    }
    if (opt->psk_entries != NULL)
        explicit_bzero(opt->psk_entries, opt->psk_count * sizeof(*opt->psk_entries));
    free(opt->psk_entries);
    opt->psk_entries = NULL;
    opt->psk_count = 0;
    explicit_bzero(opt->psk_key, sizeof(opt->psk_key));
}

/* Reads --psk-file: lines "ENDPOINT IDENTITY HEXKEY" separated by blanks, blank lines and
 * lines starting with '#' skipped. Fills opt->psk_entries sorted by endpoint. Returns false
 * with the problem in `why` (of `whylen` bytes). */
static bool load_psk_file(const char *file, struct options *opt, char *why, size_t whylen)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        snprintf(why, whylen, "cannot read --psk-file %s: %s", file, strerror(errno));
        return false;
    }
    char line[1024];
    size_t cap = 0;
    unsigned lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(why, whylen, "--psk-file %s:%u: line too long", file, lineno);
            ok = false;
            break;
        }
        char *save = NULL;
        char *ep = strtok_r(line, " \t\r\n", &save);
        if (ep == NULL || ep[0] == '#')
            continue;
        char *identity = strtok_r(NULL, " \t\r\n", &save);
        char *hex = strtok_r(NULL, " \t\r\n", &save);
        if (identity == NULL || hex == NULL || strtok_r(NULL, " \t\r\n", &save) != NULL) {
            snprintf(why, whylen, "--psk-file %s:%u: want ENDPOINT IDENTITY HEXKEY", file, lineno);
            ok = false;
            break;
        }
        if (strlen(identity) > GW_PSK_IDENTITY_MAX) {
            snprintf(why, whylen, "--psk-file %s:%u: identity longer than %d bytes", file, lineno,
                     GW_PSK_IDENTITY_MAX);
            ok = false;
            break;
        }
        if (opt->psk_count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct psk_entry *grown = realloc(opt->psk_entries, ncap * sizeof(*grown));
            if (grown == NULL) {
                snprintf(why, whylen, "out of memory");
                ok = false;
                break;
            }
            opt->psk_entries = grown;
            cap = ncap;
        }
        struct psk_entry *e = &opt->psk_entries[opt->psk_count];
        memset(e, 0, sizeof(*e));
        opt->psk_count++;
        e->endpoint = strdup(ep);
        e->identity = strdup(identity);
        if (e->endpoint == NULL || e->identity == NULL) {
            snprintf(why, whylen, "out of memory");
            ok = false;
        } else if (!parse_hex_key(hex, e->key, &e->key_len)) {
            snprintf(why, whylen, "--psk-file %s:%u: the key must be 1 to %d bytes in hex", file,
                     lineno, GW_PSK_KEY_MAX);
            ok = false;
        }
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
    if (ok && opt->psk_count == 0) {
        snprintf(why, whylen, "--psk-file %s has no credentials", file);
        ok = false;
    }
    if (ok) {
        qsort(opt->psk_entries, opt->psk_count, sizeof(*opt->psk_entries), compare_psk_entries);
        for (size_t i = 1; i < opt->psk_count; i++) {
            if (strcmp(opt->psk_entries[i - 1].endpoint, opt->psk_entries[i].endpoint) == 0) {
                snprintf(why, whylen, "--psk-file %s: endpoint %s appears twice", file,
                         opt->psk_entries[i].endpoint);
                ok = false;
                break;
            }
        }
    }
    if (!ok)
        free_psk_entries(opt);
    return ok;
}

/* Whether OpenSSL takes `list` as a DTLS cipher list (at least one cipher matches). */
static bool ciphers_valid(const char *list)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    bool ok = ctx != NULL && SSL_CTX_set_cipher_list(ctx, list) == 1;
    SSL_CTX_free(ctx);
    return ok;
}

/* Checks the DTLS options against each other and the scheme of --server, and reads
 * --psk-file. Returns 0, or GW_EXIT_USAGE after printing the problem. */
static int check_dtls_options(struct options *opt, const char *psk_file, const char *psk_key)
{
    bool psk = opt->psk_identity != NULL || psk_key != NULL || psk_file != NULL;
    bool pki = opt->cert != NULL || opt->key != NULL || opt->ca != NULL;
    if (!opt->dtls) {
        if (psk || pki || opt->ciphers != NULL)
            return usage_error("the DTLS options need --server coaps://", NULL);
        return 0;
    }
    if (psk && pki)
        return usage_error("PSK or X.509, not both: --psk-* or --cert/--key/--ca", NULL);
    if (!psk && !pki)
        return usage_error("coaps:// needs --psk-identity and --psk-key, --psk-file, or "
                           "--cert and --key",
                           NULL);
    if (psk_file != NULL && (opt->psk_identity != NULL || psk_key != NULL))
        return usage_error("--psk-file replaces --psk-identity and --psk-key", NULL);
    if (psk_file == NULL && psk && (opt->psk_identity == NULL || psk_key == NULL))
        return usage_error("PSK needs both --psk-identity and --psk-key", NULL);
    if (pki && (opt->cert == NULL || opt->key == NULL))
        return usage_error("X.509 needs both --cert and --key (--ca is optional)", NULL);
    if (opt->psk_identity != NULL && opt->psk_identity[0] == '\0')
        return usage_error("--psk-identity needs an identity", NULL);
    if (psk_key != NULL && !parse_hex_key(psk_key, opt->psk_key, &opt->psk_key_len))
        return usage_error("--psk-key needs 1 to 128 bytes in hex", NULL);
    if (opt->ciphers != NULL && !ciphers_valid(opt->ciphers))
        return usage_error("--ciphers matches no cipher OpenSSL knows", opt->ciphers);
    if (psk_file != NULL) {
        char why[512];
        if (!load_psk_file(psk_file, opt, why, sizeof(why)))
            return usage_error(why, NULL);
    }
    return 0;
}

static int usage_error(const char *problem, const char *value)
{
    fprintf(stderr, "devsim: %s%s%s\n\n%s", problem, value ? ": " : "", value ? value : "",
            usage_text);
    return GW_EXIT_USAGE;
}

/* Fills `opt` from argv. Returns -1 after printing --help, GW_EXIT_USAGE on bad usage
 * (message printed), else 0 with *first_action set to the index of the first ACTION. */
static int parse_options(int argc, char **argv, struct options *opt, int *first_action)
{
    enum {
        OPT_SERVER = 256,
        OPT_COUNT,
        OPT_EP,
        OPT_EP_PREFIX,
        OPT_LWM2M,
        OPT_LIFETIME,
        OPT_BINDING,
        OPT_QUEUE,
        OPT_OBJECTS,
        OPT_ROOT,
        OPT_TIMEOUT,
        OPT_CONCURRENCY,
        OPT_RATE,
        OPT_RATE_AFTER,
        OPT_FORMAT,
        OPT_NOTIFY,
        OPT_TRACE,
        OPT_AWAKE,
        OPT_UNRESPONSIVE,
        OPT_DELAY_MS,
        OPT_QUIET,
        OPT_BIND,
        OPT_STAMP,
        OPT_PSK_IDENTITY,
        OPT_PSK_KEY,
        OPT_PSK_FILE,
        OPT_CERT,
        OPT_KEY,
        OPT_CA,
        OPT_CIPHERS,
        OPT_HELP,
    };
    static const struct option longopts[] = {
        {"server", required_argument, NULL, OPT_SERVER},
        {"count", required_argument, NULL, OPT_COUNT},
        {"ep", required_argument, NULL, OPT_EP},
        {"ep-prefix", required_argument, NULL, OPT_EP_PREFIX},
        {"lwm2m", required_argument, NULL, OPT_LWM2M},
        {"lifetime", required_argument, NULL, OPT_LIFETIME},
        {"binding", required_argument, NULL, OPT_BINDING},
        {"queue", no_argument, NULL, OPT_QUEUE},
        {"objects", required_argument, NULL, OPT_OBJECTS},
        {"root", required_argument, NULL, OPT_ROOT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"rate", required_argument, NULL, OPT_RATE},
        {"rate-after", required_argument, NULL, OPT_RATE_AFTER},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"notify", required_argument, NULL, OPT_NOTIFY},
        {"trace", no_argument, NULL, OPT_TRACE},
        {"awake", required_argument, NULL, OPT_AWAKE},
        {"unresponsive", no_argument, NULL, OPT_UNRESPONSIVE},
        {"delay-ms", required_argument, NULL, OPT_DELAY_MS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"bind", required_argument, NULL, OPT_BIND},
        {"stamp", no_argument, NULL, OPT_STAMP},
        {"psk-identity", required_argument, NULL, OPT_PSK_IDENTITY},
        {"psk-key", required_argument, NULL, OPT_PSK_KEY},
        {"psk-file", required_argument, NULL, OPT_PSK_FILE},
        {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY},
        {"ca", required_argument, NULL, OPT_CA},
        {"ciphers", required_argument, NULL, OPT_CIPHERS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    *opt = (struct options){
        .count = 1,
        .ep_prefix = "dev-",
        .version = "1.1",
        .lifetime = 86400,
        .objects = "</1/0>,</3/0>,</3303/0>",
        .timeout_ms = 5000,
        .concurrency = 64,
        .rate = 1.0,
        .awake = -1.0,
        .interrupted = &interrupted,
    };
    bool have_prefix = false;
    bool have_server = false;
    const char *psk_file = NULL;
    const char *psk_key = NULL;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SERVER:
            if (!parse_server(optarg, opt))
                return usage_error("--server needs coap://HOST[:PORT] or coaps://HOST[:PORT]",
                                   optarg);
            have_server = true;
            break;
        case OPT_COUNT:
            if (!parse_ulong(optarg, 1, 1000000, &opt->count))
                return usage_error("--count needs a number from 1 to 1000000", optarg);
            break;
        case OPT_EP:
            if (*optarg == '\0')
                return usage_error("--ep needs a name", NULL);
            opt->ep = optarg;
            break;
        case OPT_EP_PREFIX:
            opt->ep_prefix = optarg;
            have_prefix = true;
            break;
        case OPT_LWM2M:
            if (strcmp(optarg, "1.0") != 0 && strcmp(optarg, "1.1") != 0 &&
                strcmp(optarg, "1.2") != 0)
                return usage_error("--lwm2m must be 1.0, 1.1 or 1.2", optarg);
            opt->version = optarg;
            break;
        case OPT_LIFETIME:
            if (!parse_ulong(optarg, 0, UINT32_MAX, &opt->lifetime))
                return usage_error("--lifetime needs a number of seconds", optarg);
            break;
        case OPT_BINDING:
            if (*optarg == '\0')
                return usage_error("--binding needs a value", NULL);
            opt->binding = optarg;
            break;
        case OPT_QUEUE:
            opt->queue = true;
            break;
        case OPT_OBJECTS:
            opt->objects = optarg;
            break;
        case OPT_ROOT: {
            size_t len = strlen(optarg);
            while (len > 1 && optarg[len - 1] == '/')
                optarg[--len] = '\0';
            if (optarg[0] != '/' || len < 2)
                return usage_error("--root needs a path such as /lwm2m", optarg);
            opt->root = optarg;
            break;
        }
        case OPT_TIMEOUT:
            if (!parse_ulong(optarg, 1, 3600000, &opt->timeout_ms))
                return usage_error("--timeout needs milliseconds from 1 to 3600000", optarg);
            break;
        case OPT_CONCURRENCY:
            if (!parse_ulong(optarg, 1, 1000000, &opt->concurrency))
                return usage_error("--concurrency needs a number from 1 to 1000000", optarg);
            break;
        case OPT_RATE:
            if (!parse_seconds(optarg, &opt->rate) || opt->rate > GW_RATE_MAX)
                return usage_error("--rate needs changes per second from 0 to 1000", optarg);
            break;
        case OPT_RATE_AFTER:
            if (!parse_seconds(optarg, &opt->rate_after))
                return usage_error("--rate-after needs a number of seconds", optarg);
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "tlv") != 0 && strcmp(optarg, "senml-json") != 0 &&
                strcmp(optarg, "senml-cbor") != 0 && strcmp(optarg, "json") != 0 &&
                strcmp(optarg, "text") != 0)
                return usage_error("--format must be tlv, senml-json, senml-cbor, json or text",
                                   optarg);
            opt->format = optarg;
            break;
        case OPT_NOTIFY:
            if (strcmp(optarg, "con") != 0 && strcmp(optarg, "non") != 0)
                return usage_error("--notify must be con or non", optarg);
            opt->notify_con = strcmp(optarg, "con") == 0;
            break;
        case OPT_TRACE:
            opt->trace = true;
            break;
        case OPT_AWAKE:
            if (!parse_seconds(optarg, &opt->awake))
                return usage_error("--awake needs a number of seconds", optarg);
            break;
        case OPT_UNRESPONSIVE:
            opt->unresponsive = true;
            break;
        case OPT_DELAY_MS:
            if (!parse_ulong(optarg, 0, 600000, &opt->delay_ms))
                return usage_error("--delay-ms needs milliseconds from 0 to 600000", optarg);
            break;
        case OPT_QUIET:
            opt->quiet = true;
            break;
        case OPT_BIND:
            if (!parse_bind(optarg, opt))
                return usage_error("--bind needs an IPv4 address or a range A-B (A <= B)", optarg);
            break;
        case OPT_STAMP:
            opt->stamp = true;
            break;
        case OPT_PSK_IDENTITY:
            opt->psk_identity = optarg;
            break;
        case OPT_PSK_KEY:
            psk_key = optarg;
            break;
        case OPT_PSK_FILE:
            psk_file = optarg;
            break;
        case OPT_CERT:
            opt->cert = optarg;
            break;
        case OPT_KEY:
            opt->key = optarg;
            break;
        case OPT_CA:
            opt->ca = optarg;
            break;
        case OPT_CIPHERS:
            opt->ciphers = optarg;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return -1;
        default:
            return usage_error("unknown or incomplete option", argv[optind - 1]);
        }
    }
    if (!have_server)
        return usage_error("--server is required", NULL);
    if (opt->awake >= 0.0 && !opt->queue)
        return usage_error("--awake is for queue mode: add --queue", NULL);
    if (opt->ep != NULL && (opt->count != 1 || have_prefix))
        return usage_error("--ep names a single device: no --count above 1, no --ep-prefix", NULL);
    if (opt->bind_count > 0 &&
        (opt->count - 1) / opt->bind_count > GW_BIND_PORT_LAST - GW_BIND_PORT_BASE)
        return usage_error("--bind: too few addresses for --count (one per 12768 devices)", NULL);
    if (optind >= argc)
        return usage_error("no ACTION given", NULL);
    int status = check_dtls_options(opt, psk_file, psk_key);
    if (status != 0)
        return status;
    *first_action = optind;
    return 0;
}

static void on_interrupt(int signo)
{
    (void)signo;
    interrupted = 1;
}

/* No SA_RESTART: the event loop's wait returns at once, sees the flag and ends the action.
 * SA_RESETHAND: a second signal before the loop saw the first ends devsim the default way. */
static void catch_signals(void)
{
    struct sigaction on_signal = {.sa_handler = on_interrupt, .sa_flags = (int)SA_RESETHAND};
    sigemptyset(&on_signal.sa_mask);
    sigaction(SIGINT, &on_signal, NULL);
    sigaction(SIGTERM, &on_signal, NULL);
}

int main(int argc, char **argv)
{
    struct options opt;
    struct action *actions = NULL;
    size_t action_count = 0;
    int first_action = 0;
    char *register_payload;
    struct sim *sim;
    int status = parse_options(argc, argv, &opt, &first_action);
    if (status != 0)
        return status < 0 ? GW_EXIT_OK : status;

    action_count = (size_t)(argc - first_action);
    actions = calloc(action_count, sizeof(*actions));
    if (actions == NULL) {
        fprintf(stderr, "devsim: out of memory\n");
        free_psk_entries(&opt);
        return GW_EXIT_FAILED;
    }
    for (size_t i = 0; i < action_count; i++) {
        const char *text = argv[first_action + (int)i];
        if (!parse_action(&opt, text, &actions[i])) {
            bool send10 = strncmp(text, "send", 4) == 0 && strcmp(opt.version, "1.0") == 0;
            status = usage_error(send10 ? "send needs --lwm2m 1.1 or later" : "bad ACTION", text);
            goto out_free_actions;
        }
    }
    register_payload = build_links(&opt, opt.objects);
    if (register_payload == NULL) {
        status = usage_error("cannot build the object links", opt.objects);
        goto out_free_actions;
    }

    catch_signals();

    coap_startup();
    coap_set_log_level(LOG_WARNING);
    sim = sim_new(&opt, register_payload);
    if (sim == NULL) {
        status = GW_EXIT_FAILED;
        goto out_cleanup_coap;
    }

    double started = sim_now_ms();
    for (size_t i = 0; i < action_count; i++) {
        const struct action *act = &actions[i];
        if (act->kind == GW_ACTION_SILENT) {
            sim_set_silent(sim);
            break;
        }
        if (act->kind == GW_ACTION_MUTE || act->kind == GW_ACTION_UNMUTE) {
            sim_set_muted(sim, act->kind == GW_ACTION_MUTE);
        } else if (act->kind == GW_ACTION_WAIT) {
            sim_run_wait(sim, act->wait_seconds);
            if (interrupted) {
                interrupted = 0;
                catch_signals();
            }
        } else {
            sim_run_requests(sim, act);
        }
    }
    unsigned long ok = sim_ok_count(sim);
    unsigned long failed = sim_failed_count(sim);
    printf("{\"summary\":true,\"ok\":%lu,\"failed\":%lu,\"seconds\":%.3f,\"notifications\":%lu", ok,
           failed, (sim_now_ms() - started) / 1e3, sim_notification_count(sim));
    sim_print_dtls_summary(sim, stdout);
    fputs("}\n", stdout);
    fflush(stdout);
    status = failed == 0 ? GW_EXIT_OK : GW_EXIT_FAILED;
    sim_free(sim);

out_cleanup_coap:
    coap_cleanup();
out_free_actions:
    for (size_t i = 0; i < action_count; i++)
        free(actions[i].payload);
    free(actions);
    free_psk_entries(&opt);
    return status;
}
