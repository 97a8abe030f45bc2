/* conffile.c - the schema of the configuration file (SPEC section 2): one loader per section
 * (lwm2m, mqtt, store, objects, observe, mappings, commands) checks its keys, defaults and rules
 * with the getters of settings.c, which collects every problem in file order. The result is plain
 * structs owning malloc'd copies, so nothing keeps the libconfig tree alive after loading. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conffile.h"
#include "settings.h"

#define CONFFILE_ERR_MAX 512 /* a reason from listen_parse() or the mappings checks */

static const char *const format_names[] = {"text", "opaque",     "cbor",       "tlv",
                                           "json", "senml-json", "senml-cbor", "link"};

/* ---- mqtt URIs and topics ---- */

/* Why an MQTT broker URI is not one Paho can use, or NULL; `*tls` tells whether its scheme is a
 * TLS one. The reason never quotes the URI: it could carry a password. */
static const char *mqtt_uri_problem(const char *uri, bool *tls)
{
    static const struct {
        const char *name;
        bool tls, path;
    } schemes[] = {{"tcp", false, false},  {"ssl", true, false}, {"mqtt", false, false},
                   {"mqtts", true, false}, {"ws", false, true},  {"wss", true, true}};
    const char *sep = strstr(uri, "://"), *p, *end;
    size_t i;

    for (i = 0; sep && i < GW_ARRAY_LEN(schemes); i++) {
        if (strlen(schemes[i].name) == (size_t)(sep - uri) &&
            strncasecmp(uri, schemes[i].name, (size_t)(sep - uri)) == 0)
            break;
    }
    if (!sep || i == GW_ARRAY_LEN(schemes))
        return "scheme must be tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://";
    *tls = schemes[i].tls;
    p = sep + 3;
    if (*p == '[') {
        char v6[INET6_ADDRSTRLEN + 1];
        struct in6_addr a6;
        size_t n;
        end = strchr(p, ']');
        n = end ? (size_t)(end - p - 1) : 0;
        if (n == 0 || n >= sizeof(v6))
            return "has no valid host";
        memcpy(v6, p + 1, n);
        v6[n] = '\0';
        if (inet_pton(AF_INET6, v6, &a6) != 1)
            return "has no valid host";
        p = end + 1;
    } else {
        end = p;
        p += strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
        if (strchr(p, '@'))
            return "user:password@ is not supported (use username and password)";
        if (p == end)
            return "has no valid host";
    }
    if (*p == ':') {
        unsigned long port = 0;
        for (p++; *p >= '0' && *p <= '9' && port <= 65535; p++)
            port = port * 10 + (unsigned long)(*p - '0');
        if (port < 1 || port > 65535)
            return "port must be 1-65535";
    }
    if (*p == '\0' || (*p == '/' && (schemes[i].path || p[1] == '\0')))
        return NULL;
    return "unexpected text after the host and port";
}

/* Why a topic prefix is not a plain topic (wildcards, a leading, trailing or empty level). */
static const char *prefix_problem(const char *p)
{
    if (strpbrk(p, "+#"))
        return "must not contain '+' or '#'";
    if (p[0] == '/' || p[strlen(p) - 1] == '/')
        return "must not start or end with '/'";
    return strstr(p, "//") ? "must not have an empty level ('//')" : NULL;
}

/* ---- lwm2m ---- */

static void load_security(struct settings *ctx, const config_setting_t *g,
                          struct server_security *sec)
{
    static const char *const keys[] = {
        "psk",      "psk_file",       "rpk",         "ca_file", "cert_file",
        "key_file", "cert_endpoints", "allow_nosec", NULL};
    static const char *const psk_keys[] = {"endpoint", "identity", "key", NULL};
    static const char *const rpk_keys[] = {"endpoint", "public_key", NULL};
    static const char *const cert_keys[] = {"cn", "endpoint", NULL};
    const char *sat = "lwm2m.security";
    const config_setting_t *l, *e;
    char at[GW_KEY_MAX];

    sec->allow_nosec = true;
    settings_check_keys(ctx, g, sat, keys);
    sec->psk = settings_items(ctx, g, sat, "psk", sizeof(*sec->psk), &sec->n_psk, &l);
    for (unsigned i = 0; i < sec->n_psk; i++) {
        struct psk_entry *p = &sec->psk[i];
        if (!(e = settings_item(ctx, l, "lwm2m.security.psk", i, psk_keys, at)))
            continue;
        p->endpoint = settings_own(
            ctx, settings_get_str(ctx, e, at, "endpoint", GW_STR_REQUIRED | GW_STR_ENDPOINT));
        p->identity = settings_own(ctx, settings_get_str(ctx, e, at, "identity", GW_STR_REQUIRED));
        settings_get_key(ctx, e, at, "key", true, &p->key, &p->key_len);
        for (unsigned j = 0; j < i; j++) {
            const struct psk_entry *q = &sec->psk[j];
            if (p->endpoint && q->endpoint && strcmp(p->endpoint, q->endpoint) == 0)
                settings_report(ctx, settings_member(e, "endpoint"),
                                "%s.endpoint '%s' is already used by %s[%u]", at, p->endpoint,
                                "lwm2m.security.psk", j);
            if (p->identity && q->identity && strcmp(p->identity, q->identity) == 0)
                settings_report(ctx, settings_member(e, "identity"),
                                "%s.identity '%s' is already used by %s[%u]", at, p->identity,
                                "lwm2m.security.psk", j);
        }
    }
    settings_get_file(ctx, g, sat, "psk_file", &sec->psk_file);

    sec->rpk = settings_items(ctx, g, sat, "rpk", sizeof(*sec->rpk), &sec->n_rpk, &l);
    for (unsigned i = 0; i < sec->n_rpk; i++) {
        struct rpk_entry *r = &sec->rpk[i];
        if (!(e = settings_item(ctx, l, "lwm2m.security.rpk", i, rpk_keys, at)))
            continue;
        r->endpoint = settings_own(
            ctx, settings_get_str(ctx, e, at, "endpoint", GW_STR_REQUIRED | GW_STR_ENDPOINT));
        settings_get_key(ctx, e, at, "public_key", false, &r->public_key, &r->public_key_len);
        /* A SubjectPublicKeyInfo is a DER SEQUENCE: catches a PEM text or a raw point. */
        if (r->public_key && r->public_key[0] != 0x30)
            settings_report(
                ctx, settings_member(e, "public_key"),
                "%s.public_key is not a DER SubjectPublicKeyInfo (it must start with 0x30)", at);
    }
    if (sec->n_rpk && !settings_member(g, "key_file"))
        settings_report(ctx, l, "%s.rpk needs key_file (the gateway's own private key)", sat);

    settings_get_file(ctx, g, sat, "ca_file", &sec->ca_file);
    settings_get_file(ctx, g, sat, "cert_file", &sec->cert_file);
    settings_get_file(ctx, g, sat, "key_file", &sec->key_file);
    if (settings_member(g, "cert_file") && !settings_member(g, "key_file"))
        settings_report(ctx, settings_member(g, "cert_file"),
                        "%s.cert_file is set but key_file is not", sat);
    sec->cert_endpoints = settings_items(ctx, g, sat, "cert_endpoints",
                                         sizeof(*sec->cert_endpoints), &sec->n_cert_endpoints, &l);
    for (unsigned i = 0; i < sec->n_cert_endpoints; i++) {
        if (!(e = settings_item(ctx, l, "lwm2m.security.cert_endpoints", i, cert_keys, at)))
            continue;
        sec->cert_endpoints[i].cn =
            settings_own(ctx, settings_get_str(ctx, e, at, "cn", GW_STR_REQUIRED));
        sec->cert_endpoints[i].endpoint = settings_own(
            ctx, settings_get_str(ctx, e, at, "endpoint", GW_STR_REQUIRED | GW_STR_ENDPOINT));
    }
    settings_get_bool(ctx, g, sat, "allow_nosec", &sec->allow_nosec);
}

static void load_lwm2m(struct settings *ctx, const config_setting_t *g, struct server_config *c)
{
    static const char *const keys[] = {"listen",      "lifetime_min",   "lifetime_max", "security",
                                       "ack_timeout", "max_retransmit", "queue_awake",  NULL};
    const config_setting_t *l = settings_typed(ctx, g, "lwm2m", "listen", GW_KIND_STRINGS);
    const config_setting_t *e = NULL;
    const config_setting_t *sg = settings_typed(ctx, g, "lwm2m", "security", GW_KIND_GROUP);
    long long min = 30, max = 604800;
    char err[CONFFILE_ERR_MAX];
    bool creds, coaps = false;
    /* No listen key: the one default listener. A wrong one: none (already reported). */
    unsigned n = l ? (unsigned)config_setting_length(l) : !settings_member(g, "listen");
    int rc;

    settings_check_keys(ctx, g, "lwm2m", keys);
    load_security(ctx, sg, &c->security);
    /* Written credentials count even when invalid: those are reported on their own. */
    creds = c->security.n_psk || c->security.n_rpk || settings_member(sg, "psk_file") ||
            settings_member(sg, "cert_file");
    if (l && n == 0)
        settings_report(ctx, l, "lwm2m.listen must not be empty");
    if (n && !(c->listen = calloc(n, sizeof(*c->listen))))
        ctx->nomem = true;
    for (unsigned i = 0; c->listen && i < n; i++) {
        if (l && !(e = settings_element(ctx, l, "lwm2m.listen", i, GW_KIND_STRING)))
            continue;
        rc = listen_parse(e ? config_setting_get_string(e) : "coap://0.0.0.0:5683", LISTEN_COAP,
                          &c->listen[c->n_listen], err, sizeof(err));
        ctx->nomem |= rc == -GW_ERR_NOMEM;
        if (rc == -GW_ERR_INVALID)
            settings_report(ctx, e, "lwm2m.listen[%u]: %s", i, err);
        if (rc != GW_OK)
            continue;
        if (c->listen[c->n_listen++].scheme == GW_SCHEME_COAPS && !creds)
            settings_report(
                ctx, e,
                "lwm2m.listen[%u]: coaps listener but no credentials (set lwm2m.security psk, "
                "psk_file, rpk or cert_file)",
                i);
        coaps |= c->listen[c->n_listen - 1].scheme == GW_SCHEME_COAPS;
    }
    if (c->n_listen && !coaps && !c->security.allow_nosec)
        settings_report(ctx, settings_member(sg, "allow_nosec"),
                        "lwm2m.security.allow_nosec is false and there is no coaps listener: no "
                        "listener would accept any device");

    settings_get_int(ctx, g, "lwm2m", "lifetime_min", 1, UINT32_MAX, &min);
    settings_get_int(ctx, g, "lwm2m", "lifetime_max", 1, UINT32_MAX, &max);
    settings_check_order(ctx, g, "lwm2m", "lifetime_min", min, "lifetime_max", max);
    c->lifetime_min = (uint32_t)min;
    c->lifetime_max = (uint32_t)max;

    /* CoAP transmission (RFC 7252 section 4.8) and the queue-mode awake time (LwM2M). */
    double ack = 2.0;
    long long retransmit = 4, awake = 93;
    if (settings_get_number(ctx, g, "lwm2m", "ack_timeout", &ack) && (ack < 0.1 || ack > 60))
        settings_report(ctx, settings_member(g, "ack_timeout"),
                        "lwm2m.ack_timeout must be between 0.1 and 60 seconds");
    settings_get_int(ctx, g, "lwm2m", "max_retransmit", 1, 20, &retransmit);
    settings_get_int(ctx, g, "lwm2m", "queue_awake", 1, 86400, &awake);
    c->ack_timeout = ack;
    c->max_retransmit = (int)retransmit;
    c->queue_awake = (uint32_t)awake;
}

/* ---- mqtt, store, objects ---- */

static void load_mqtt(struct settings *ctx, const config_setting_t *g, struct bridge_config *m)
{
    static const char *const keys[] = {
        "uri",          "client_id",      "topic_prefix",   "qos",           "username",
        "password",     "version",        "keepalive",      "reconnect_min", "reconnect_max",
        "max_buffered", "session_expiry", "stats_interval", "tls",           NULL};
    static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file", "verify_hostname",
                                           NULL};
    long long qos = 1, ka = 60, rmin = 1, rmax = 60, buf = 10000;
    const config_setting_t *tg, *vs = settings_member(g, "version");
    const char *v, *why = NULL;
    bool tls = false;

    settings_check_keys(ctx, g, "mqtt", keys);
    v = settings_get_str(ctx, g, "mqtt", "uri", GW_STR_OPTIONAL);
    if (v && (why = mqtt_uri_problem(v, &tls)))
        settings_report(ctx, settings_member(g, "uri"), "mqtt.uri: %s", why);
    m->uri = settings_own(ctx, v ? v : "tcp://127.0.0.1:1883");
    /* LWM2M_GW_MQTT_URI replaces the file's uri: the pair is checked with it, once applied
     * (conffile_apply_env), so that the environment can turn a file's broker into TLS. */
    const char *env_uri = getenv("LWM2M_GW_MQTT_URI");
    bool env_wins = env_uri && *env_uri;
    if ((tg = settings_typed(ctx, g, "mqtt", "tls", GW_KIND_GROUP)) && !tls && !why && !env_wins &&
        (v || !settings_member(g, "uri")))
        settings_report(ctx, tg, "mqtt.tls is set but uri is not ssl:// (nor mqtts://, wss://)");

    v = settings_get_str(ctx, g, "mqtt", "client_id", GW_STR_OPTIONAL);
    if (v && strlen(v) > 256)
        settings_report(ctx, settings_member(g, "client_id"),
                        "mqtt.client_id must be 1 to 256 characters");
    m->client_id = settings_own(ctx, v ? v : "lwm2m-gw");
    v = settings_get_str(ctx, g, "mqtt", "topic_prefix", GW_STR_OPTIONAL);
    if (v && prefix_problem(v))
        settings_report(ctx, settings_member(g, "topic_prefix"), "mqtt.topic_prefix %s",
                        prefix_problem(v));
    m->topic_prefix = settings_own(ctx, v ? v : "lwm2m");
    /* An empty user name or password is legal MQTT. */
    m->username = settings_own(ctx, settings_get_str(ctx, g, "mqtt", "username", GW_STR_EMPTY_OK));
    m->password = settings_own(ctx, settings_get_str(ctx, g, "mqtt", "password", GW_STR_EMPTY_OK));

    m->version = 4;
    if (vs && settings_is_kind(vs, GW_KIND_INT) &&
        (config_setting_get_int64(vs) == 4 || config_setting_get_int64(vs) == 5))
        m->version = (int)config_setting_get_int64(vs);
    else if (vs && settings_is_kind(vs, GW_KIND_STRING) &&
             strcmp(config_setting_get_string(vs), "5") == 0)
        m->version = 5;
    else if (vs && !(settings_is_kind(vs, GW_KIND_STRING) &&
                     !strcmp(config_setting_get_string(vs), "3.1.1")))
        settings_report(ctx, vs,
                        "mqtt.version must be \"3.1.1\" or \"5\" (or the protocol level 4 or 5)");

    settings_get_int(ctx, g, "mqtt", "qos", 0, 2, &qos);
    settings_get_int(ctx, g, "mqtt", "keepalive", 5, 65535, &ka);
    settings_get_int(ctx, g, "mqtt", "reconnect_min", 1, INT_MAX, &rmin);
    settings_get_int(ctx, g, "mqtt", "reconnect_max", 1, INT_MAX, &rmax);
    settings_check_order(ctx, g, "mqtt", "reconnect_min", rmin, "reconnect_max", rmax);
    settings_get_int(ctx, g, "mqtt", "max_buffered", 0, INT_MAX, &buf);
    long long session = 86400;
    settings_get_int(ctx, g, "mqtt", "session_expiry", 0, INT_MAX, &session);
    m->session_expiry = (int)session;
    long long stats = 60;
    settings_get_int(ctx, g, "mqtt", "stats_interval", 0, 86400, &stats);
    m->stats_interval = (int)stats;
    m->qos = (int)qos;
    m->keepalive = (int)ka;
    m->reconnect_min = (int)rmin;
    m->reconnect_max = (int)rmax;
    m->max_buffered = (int)buf;

    m->tls.verify_hostname = true;
    settings_check_keys(ctx, tg, "mqtt.tls", tls_keys);
    settings_get_file(ctx, tg, "mqtt.tls", "ca_file", &m->tls.ca_file);
    settings_get_file(ctx, tg, "mqtt.tls", "cert_file", &m->tls.cert_file);
    settings_get_file(ctx, tg, "mqtt.tls", "key_file", &m->tls.key_file);
    settings_get_bool(ctx, tg, "mqtt.tls", "verify_hostname", &m->tls.verify_hostname);
    if (settings_member(tg, "cert_file") && !settings_member(tg, "key_file"))
        settings_report(ctx, settings_member(tg, "cert_file"),
                        "mqtt.tls.cert_file is set but key_file is not");
}

static void load_store(struct settings *ctx, const config_setting_t *g, struct store_config *st)
{
    static const char *const keys[] = {"path", "hold_ttl", "hold_max", NULL};
    const char *v = settings_get_str(ctx, g, "store", "path", GW_STR_OPTIONAL);
    long long ttl = 86400, max = 100;

    settings_check_keys(ctx, g, "store", keys);
    st->path = settings_own(ctx, v ? v : "/var/lib/lwm2m-mqtt-gateway/state.db");
    settings_get_int(ctx, g, "store", "hold_ttl", 0, UINT32_MAX, &ttl);
    settings_get_int(ctx, g, "store", "hold_max", 1, UINT32_MAX, &max);
    st->hold_ttl = (uint32_t)ttl;
    st->hold_max = (uint32_t)max;
}

/* http { listen = "http://127.0.0.1:9464"; }: Prometheus metrics and health checks. No group:
 * no listener. */
static void load_http(struct settings *ctx, const config_setting_t *g, struct listen_uri *out)
{
    static const char *const keys[] = {"listen", NULL};
    char err[CONFFILE_ERR_MAX];
    settings_check_keys(ctx, g, "http", keys);
    const char *v = settings_get_str(ctx, g, "http", "listen", GW_STR_OPTIONAL);
    if (!v)
        return;
    int rc = listen_parse(v, LISTEN_HTTP, out, err, sizeof(err));
    ctx->nomem |= rc == -GW_ERR_NOMEM;
    if (rc == -GW_ERR_INVALID)
        settings_report(ctx, settings_member(g, "listen"), "http.listen: %s", err);
}

static void load_objects(struct settings *ctx, const config_setting_t *g, struct gw_config *cfg)
{
    static const char *const keys[] = {"dirs", NULL};
    const config_setting_t *l = settings_typed(ctx, g, "objects", "dirs", GW_KIND_STRINGS);
    unsigned n = l ? (unsigned)config_setting_length(l) : 0;
    struct stat st;

    settings_check_keys(ctx, g, "objects", keys);
    if (n && !(cfg->object_dirs = calloc(n, sizeof(char *))))
        ctx->nomem = true;
    for (unsigned i = 0; cfg->object_dirs && i < n; i++) {
        const config_setting_t *e = settings_element(ctx, l, "objects.dirs", i, GW_KIND_STRING);
        const char *dir = e ? config_setting_get_string(e) : NULL;
        if (!dir)
            continue;
        if (stat(dir, &st) != 0)
            settings_report(ctx, e, "objects.dirs[%u]: cannot open '%s': %s", i, dir,
                            strerror(errno));
        else if (!S_ISDIR(st.st_mode))
            settings_report(ctx, e, "objects.dirs[%u]: '%s' is not a directory", i, dir);
        else
            cfg->object_dirs[cfg->n_object_dirs++] = settings_own(ctx, dir);
    }
}

/* ---- observe, mappings, commands ---- */

/* The path of a rule, checked against `flags` (GW_PATH_*) and read as `required` (GW_STR_REQUIRED
 * or GW_STR_OPTIONAL), copied into `*dst`. */
static void get_path(struct settings *ctx, const config_setting_t *e, const char *at,
                     unsigned flags, int required, char **dst)
{
    const char *v = settings_get_str(ctx, e, at, "path", required);
    char err[CONFFILE_ERR_MAX];

    if (v && mappings_check_path(v, flags, err, sizeof(err)) != GW_OK)
        settings_report(ctx, settings_member(e, "path"), "%s.path: %s", at, err);
    else
        *dst = settings_own(ctx, v);
}

/* The topic template of a rule: required, checked, copied into `*dst`. */
static void get_topic(struct settings *ctx, const config_setting_t *e, const char *at, char **dst)
{
    const char *v = settings_get_str(ctx, e, at, "topic", GW_STR_REQUIRED);
    char err[CONFFILE_ERR_MAX];

    if (v && mappings_check_template(v, err, sizeof(err)) != GW_OK)
        settings_report(ctx, settings_member(e, "topic"), "%s.topic: %s", at, err);
    else
        *dst = settings_own(ctx, v);
}

static void load_observe(struct settings *ctx, const config_setting_t *root,
                         struct mappings_config *rc)
{
    static const char *const keys[] = {"path", "endpoint", "pmin", "pmax", "gt", "lt", "st", NULL};
    const config_setting_t *l;
    char at[GW_KEY_MAX];

    rc->observe =
        settings_items(ctx, root, "", "observe", sizeof(*rc->observe), &rc->n_observe, &l);
    for (unsigned i = 0; i < rc->n_observe; i++) {
        struct observe_rule *r = &rc->observe[i];
        long long pmin = -1, pmax = -1;
        const config_setting_t *e = settings_item(ctx, l, "observe", i, keys, at);
        if (!e)
            continue;
        r->line = (int)config_setting_source_line(e);
        get_path(ctx, e, at, 0, GW_STR_REQUIRED, &r->path);
        r->endpoint = settings_own(ctx, settings_get_str(ctx, e, at, "endpoint", GW_STR_OPTIONAL));
        settings_get_int(ctx, e, at, "pmin", 0, INT32_MAX, &pmin);
        settings_get_int(ctx, e, at, "pmax", 0, INT32_MAX, &pmax);
        if (pmin >= 0 && pmax >= 0)
            settings_check_order(ctx, e, at, "pmin", pmin, "pmax", pmax);
        r->pmin = (int32_t)pmin;
        r->pmax = (int32_t)pmax;
        r->has_gt = settings_get_number(ctx, e, at, "gt", &r->gt);
        r->has_lt = settings_get_number(ctx, e, at, "lt", &r->lt);
        r->has_st = settings_get_number(ctx, e, at, "st", &r->st);
    }
}

static void load_mappings(struct settings *ctx, const config_setting_t *root,
                          struct mappings_config *rc)
{
    static const char *const keys[] = {"path",   "endpoint", "topic", "payload",
                                       "retain", "qos",      NULL};
    const config_setting_t *l;
    char at[GW_KEY_MAX];

    rc->mappings =
        settings_items(ctx, root, "", "mappings", sizeof(*rc->mappings), &rc->n_mappings, &l);
    for (unsigned i = 0; i < rc->n_mappings; i++) {
        struct mapping_rule *r = &rc->mappings[i];
        long long qos = -1;
        const char *v;
        const config_setting_t *e = settings_item(ctx, l, "mappings", i, keys, at);
        if (!e)
            continue;
        r->line = (int)config_setting_source_line(e);
        get_path(ctx, e, at, GW_PATH_WILDCARD, GW_STR_REQUIRED, &r->path);
        r->endpoint = settings_own(ctx, settings_get_str(ctx, e, at, "endpoint", GW_STR_OPTIONAL));
        get_topic(ctx, e, at, &r->topic);
        r->payload = GW_PAYLOAD_JSON;
        v = settings_get_str(ctx, e, at, "payload", GW_STR_OPTIONAL);
        if (v && mappings_parse_payload(v, &r->payload) != GW_OK)
            settings_report(ctx, settings_member(e, "payload"),
                            "%s.payload must be \"value\", \"json\", \"instance\" or \"senml\"",
                            at);
        settings_get_bool(ctx, e, at, "retain", &r->retain);
        settings_get_int(ctx, e, at, "qos", 0, 2, &qos);
        r->qos = (int)qos;
    }
}

static void load_commands(struct settings *ctx, const config_setting_t *root,
                          struct mappings_config *rc)
{
    static const char *const keys[] = {"topic", "op", "path", "format", NULL};
    static const char *const vars[] = {"{iid}", "{rid}", "{riid}"};
    const config_setting_t *l;
    char at[GW_KEY_MAX];

    rc->commands =
        settings_items(ctx, root, "", "commands", sizeof(*rc->commands), &rc->n_commands, &l);
    for (unsigned i = 0; i < rc->n_commands; i++) {
        struct command_rule *r = &rc->commands[i];
        const char *v;
        bool composite;
        size_t f;
        const config_setting_t *e = settings_item(ctx, l, "commands", i, keys, at);
        if (!e)
            continue;
        r->line = (int)config_setting_source_line(e);
        get_topic(ctx, e, at, &r->topic);
        if (r->topic && !strstr(r->topic, "{ep}"))
            settings_report(ctx, settings_member(e, "topic"), "%s.topic must contain {ep}", at);
        v = settings_get_str(ctx, e, at, "op", GW_STR_REQUIRED);
        if (v && mappings_parse_op(v, &r->op) != GW_OK)
            settings_report(ctx, settings_member(e, "op"), "%s.op: unknown operation '%s'", at, v);
        /* The composite operations take their paths from the message, not from the rule. */
        composite = v && (r->op == GW_OP_READ_COMPOSITE || r->op == GW_OP_WRITE_COMPOSITE ||
                          r->op == GW_OP_OBSERVE_COMPOSITE);
        get_path(ctx, e, at, GW_PATH_VARS, composite ? GW_STR_OPTIONAL : GW_STR_REQUIRED, &r->path);
        /* A path variable the topic does not bind could never be filled in. */
        for (size_t j = 0; r->path && r->topic && j < GW_ARRAY_LEN(vars); j++) {
            if (strstr(r->path, vars[j]) && !strstr(r->topic, vars[j]))
                settings_report(ctx, settings_member(e, "path"),
                                "%s.path uses %s but the topic does not bind it", at, vars[j]);
        }
        v = settings_get_str(ctx, e, at, "format", GW_STR_OPTIONAL);
        for (f = 0; v && f < GW_ARRAY_LEN(format_names) && strcmp(v, format_names[f]); f++)
            ;
        if (v && f == GW_ARRAY_LEN(format_names))
            settings_report(ctx, settings_member(e, "format"),
                            "%s.format must be one of text, opaque, cbor, tlv, json, senml-json, "
                            "senml-cbor, link",
                            at);
        r->format = settings_own(ctx, v);
    }
}

/* ---- public ---- */

void conffile_problems_clear(struct conffile_problems *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        free(p->lines[i]);
    if (p) {
        free(p->lines);
        memset(p, 0, sizeof(*p));
    }
}

/* The rules are checked one by one while loading; compiling them together (as the bridge
 * will) finds what only shows in combination, such as {rid} in a topic with payload
 * "instance". Its reason starts "line N: ", which becomes "FILE:N: ". */
static int check_rules_compile(const struct gw_config *cfg, struct conffile_problems *problems)
{
    char err[256];
    struct mappings *m =
        mappings_new(&cfg->rules, cfg->mqtt.topic_prefix, cfg->mqtt.qos, err, sizeof(err));
    if (m) {
        mappings_free(m);
        return GW_OK;
    }
    int line = 0, used = 0;
    if (sscanf(err, "line %d: %n", &line, &used) == 1 && used > 0)
        settings_problems_add(problems, "%s:%d: %s", cfg->file, line, err + used);
    else
        settings_problems_add(problems, "%s: %s", cfg->file, err);
    return -GW_ERR_INVALID;
}

int conffile_load(const char *path, struct gw_config *out, struct conffile_problems *problems)
{
    static const char *const keys[] = {"lwm2m",    "mqtt",     "store", "objects", "observe",
                                       "mappings", "commands", "http",  NULL};
    const config_setting_t *root;
    struct settings ctx;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = settings_open(&ctx, path, problems)) != GW_OK)
        goto out;
    out->file = settings_own(&ctx, path);
    root = settings_root(&ctx);
    settings_check_keys(&ctx, root, "", keys);
    load_lwm2m(&ctx, settings_typed(&ctx, root, "", "lwm2m", GW_KIND_GROUP), &out->lwm2m);
    load_mqtt(&ctx, settings_typed(&ctx, root, "", "mqtt", GW_KIND_GROUP), &out->mqtt);
    load_store(&ctx, settings_typed(&ctx, root, "", "store", GW_KIND_GROUP), &out->store);
    load_objects(&ctx, settings_typed(&ctx, root, "", "objects", GW_KIND_GROUP), out);
    load_http(&ctx, settings_typed(&ctx, root, "", "http", GW_KIND_GROUP), &out->http);
    load_observe(&ctx, root, &out->rules);
    load_mappings(&ctx, root, &out->rules);
    load_commands(&ctx, root, &out->rules);
    rc = settings_finish(&ctx, problems);
    if (rc == GW_OK)
        rc = check_rules_compile(out, problems);

out:
    settings_close(&ctx);
    if (rc != GW_OK)
        conffile_clear(out);
    return rc;
}

/* Replaces `*dst` by a copy of `v`; the old value is wiped first when `secret`. */
static int replace(char **dst, const char *v, bool secret)
{
    char *copy = strdup(v);

    if (!copy)
        return -GW_ERR_NOMEM;
    if (secret && *dst)
        explicit_bzero(*dst, strlen(*dst));
    free(*dst);
    *dst = copy;
    return GW_OK;
}

int conffile_apply_env(struct gw_config *cfg, struct conffile_problems *problems)
{
    const char *uri = getenv("LWM2M_GW_MQTT_URI"), *user = getenv("LWM2M_GW_MQTT_USERNAME");
    const char *pass = getenv("LWM2M_GW_MQTT_PASSWORD"), *why = NULL;
    const struct bridge_tls *t = &cfg->mqtt.tls;
    bool tls = false;
    int rc = GW_OK;

    /* An empty variable counts as unset: compose files often pass "${VAR:-}". */
    if (uri && *uri) {
        why = mqtt_uri_problem(uri, &tls);
        if (!why && !tls && (t->ca_file || t->cert_file || t->key_file))
            why = "mqtt.tls is set but uri is not ssl:// (nor mqtts://, wss://)";
        if (why)
            rc = settings_problems_add(problems, "LWM2M_GW_MQTT_URI: %s", why);
        else
            rc = replace(&cfg->mqtt.uri, uri, false);
        if (rc != GW_OK || why)
            return rc ? rc : -GW_ERR_INVALID;
    }
    if (user && *user && (rc = replace(&cfg->mqtt.username, user, false)) != GW_OK)
        return rc;
    if (pass && *pass && (rc = replace(&cfg->mqtt.password, pass, true)) != GW_OK)
        return rc;
    /* An addition to SPEC section 1, for containers and for tools/run.sh: where the store
     * lives is a property of the machine more than of the configuration. */
    const char *store = getenv("LWM2M_GW_STORE_PATH");
    if (store && *store && (rc = replace(&cfg->store.path, store, false)) != GW_OK)
        return rc;
    /* The same for the metrics listener: a container publishes it on its own port. */
    const char *http = getenv("LWM2M_GW_HTTP_LISTEN");
    if (http && *http) {
        struct listen_uri l;
        char err[CONFFILE_ERR_MAX];
        rc = listen_parse(http, LISTEN_HTTP, &l, err, sizeof(err));
        if (rc == -GW_ERR_INVALID) {
            rc = settings_problems_add(problems, "LWM2M_GW_HTTP_LISTEN: %s", err);
            return rc ? rc : -GW_ERR_INVALID;
        }
        if (rc != GW_OK)
            return rc;
        listen_clear(&cfg->http);
        cfg->http = l;
    }
    return GW_OK;
}

void conffile_clear(struct gw_config *cfg)
{
    struct server_security *s = &cfg->lwm2m.security;

    for (size_t i = 0; i < cfg->lwm2m.n_listen; i++)
        listen_clear(&cfg->lwm2m.listen[i]);
    listen_clear(&cfg->http);
    free(cfg->lwm2m.listen);
    for (size_t i = 0; i < s->n_psk; i++) {
        free(s->psk[i].endpoint);
        free(s->psk[i].identity);
        if (s->psk[i].key)
            explicit_bzero(s->psk[i].key, s->psk[i].key_len);
        free(s->psk[i].key);
    }
    free(s->psk);
    for (size_t i = 0; i < s->n_rpk; i++) {
        free(s->rpk[i].endpoint);
        free(s->rpk[i].public_key);
    }
    free(s->rpk);
    for (size_t i = 0; i < s->n_cert_endpoints; i++) {
        free(s->cert_endpoints[i].cn);
        free(s->cert_endpoints[i].endpoint);
    }
    free(s->cert_endpoints);
    free(s->psk_file);
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);

    free(cfg->mqtt.uri);
    free(cfg->mqtt.client_id);
    free(cfg->mqtt.topic_prefix);
    free(cfg->mqtt.username);
    if (cfg->mqtt.password)
        explicit_bzero(cfg->mqtt.password, strlen(cfg->mqtt.password));
    free(cfg->mqtt.password);
    free(cfg->mqtt.tls.ca_file);
    free(cfg->mqtt.tls.cert_file);
    free(cfg->mqtt.tls.key_file);
    free(cfg->store.path);
    for (size_t i = 0; i < cfg->n_object_dirs; i++)
        free(cfg->object_dirs[i]);
    free(cfg->object_dirs);
    mappings_config_clear(&cfg->rules);
    free(cfg->file);
    memset(cfg, 0, sizeof(*cfg));
}
