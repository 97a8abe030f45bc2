/* test_conffile.c - unit tests of gateway/conffile.c: the sections of the configuration file of
 * SPEC section 2 (defaults, rules, cross-checks), the environment overrides, and the listen URI
 * parser it relies on (gateway/lwm2m/listen.c). The generic machinery under it is tested by
 * test_settings.c. Each test writes a small file into a temporary directory. */
#include "conffile_testutil.h"

/* ---- the example file and the defaults ---- */

static void test_example_config_loads_without_problems(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(conffile_load(GW_SOURCE_DIR "/conf/gateway.conf", &cfg, &p), GW_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(cfg.lwm2m.n_listen, 1);
    assert_int_equal(cfg.lwm2m.listen[0].scheme, GW_SCHEME_COAP);
    assert_string_equal(cfg.lwm2m.listen[0].host, "0.0.0.0");
    assert_int_equal(cfg.lwm2m.listen[0].port, 5683);
    assert_true(cfg.lwm2m.security.allow_nosec);
    assert_string_equal(cfg.mqtt.uri, "tcp://127.0.0.1:1883");
    assert_string_equal(cfg.store.path, "/var/lib/lwm2m-mqtt-gateway/state.db");
    assert_int_equal(cfg.rules.n_observe, 2);
    assert_string_equal(cfg.rules.observe[0].path, "/3303");
    assert_int_equal(cfg.rules.observe[0].pmin, 10);
    assert_int_equal(cfg.rules.observe[0].pmax, 300);
    assert_int_equal(cfg.rules.observe[1].pmin, -1);
    assert_true(cfg.rules.observe[1].line > cfg.rules.observe[0].line);
    assert_int_equal(cfg.rules.n_mappings, 2);
    assert_int_equal(cfg.rules.mappings[0].payload, GW_PAYLOAD_VALUE);
    assert_true(cfg.rules.mappings[0].retain);
    assert_string_equal(cfg.rules.mappings[1].endpoint, "meter-*");
    assert_int_equal(cfg.rules.mappings[1].payload, GW_PAYLOAD_INSTANCE);
    assert_int_equal(cfg.rules.n_commands, 2);
    assert_int_equal(cfg.rules.commands[0].op, GW_OP_EXECUTE);
    assert_int_equal(cfg.rules.commands[1].op, GW_OP_WRITE);
    assert_string_equal(cfg.rules.commands[1].path, "/3308/{iid}/5900");
    conffile_clear(&cfg);
}

static void test_empty_file_gives_every_default(void **state)
{
    struct gw_config cfg;
    (void)state;

    loads("# nothing\n", &cfg);
    assert_string_equal(cfg.file, conf);
    assert_int_equal(cfg.lwm2m.n_listen, 1);
    assert_string_equal(cfg.lwm2m.listen[0].uri, "coap://0.0.0.0:5683");
    assert_int_equal(cfg.lwm2m.lifetime_min, 30);
    assert_int_equal(cfg.lwm2m.lifetime_max, 604800);
    assert_true(cfg.lwm2m.security.allow_nosec);
    assert_string_equal(cfg.mqtt.uri, "tcp://127.0.0.1:1883");
    assert_string_equal(cfg.mqtt.client_id, "lwm2m-gw");
    assert_string_equal(cfg.mqtt.topic_prefix, "lwm2m");
    assert_int_equal(cfg.mqtt.qos, 1);
    assert_null(cfg.mqtt.username);
    assert_null(cfg.mqtt.password);
    assert_int_equal(cfg.mqtt.version, 4);
    assert_int_equal(cfg.mqtt.keepalive, 60);
    assert_int_equal(cfg.mqtt.reconnect_min, 1);
    assert_int_equal(cfg.mqtt.reconnect_max, 60);
    assert_int_equal(cfg.mqtt.max_buffered, 10000);
    assert_true(cfg.mqtt.tls.verify_hostname);
    assert_string_equal(cfg.store.path, "/var/lib/lwm2m-mqtt-gateway/state.db");
    assert_int_equal(cfg.store.hold_ttl, 86400);
    assert_int_equal(cfg.store.hold_max, 100);
    assert_int_equal(cfg.n_object_dirs, 0);
    assert_int_equal(cfg.rules.n_observe + cfg.rules.n_mappings + cfg.rules.n_commands, 0);
    conffile_clear(&cfg);
    conffile_clear(&cfg); /* harmless when already cleared */
}

/* ---- a failed load ---- */

static void test_failed_load_leaves_config_cleared(void **state)
{
    struct gw_config cfg, zero;
    struct conffile_problems p = {0};
    (void)state;

    memset(&zero, 0, sizeof(zero));
    assert_int_equal(load("observe = ( { path = \"/3\"; } );\nmqtt: { qos = 9; };\n", &cfg, &p),
                     -GW_ERR_INVALID);
    assert_memory_equal(&cfg, &zero, sizeof(cfg));
    conffile_problems_clear(&p);
}

/* ---- lwm2m ---- */

static void test_listen_uri_gives_scheme_host_and_default_port(void **state)
{
    struct listen_uri l;
    char err[256];
    (void)state;

    assert_int_equal(listen_parse("coap://0.0.0.0", LISTEN_COAP, &l, err, sizeof(err)), GW_OK);
    assert_int_equal(l.scheme, GW_SCHEME_COAP);
    assert_string_equal(l.host, "0.0.0.0");
    assert_int_equal(l.port, 5683);
    assert_string_equal(l.uri, "coap://0.0.0.0");
    listen_clear(&l);
    assert_int_equal(listen_parse("coaps://[::]", LISTEN_COAP, &l, err, sizeof(err)), GW_OK);
    assert_int_equal(l.scheme, GW_SCHEME_COAPS);
    assert_string_equal(l.host, "::");
    assert_int_equal(l.port, 5684);
    listen_clear(&l);
    assert_int_equal(
        listen_parse("coaps://[2001:db8::1]:15684/", LISTEN_COAP, &l, err, sizeof(err)), GW_OK);
    assert_string_equal(l.host, "2001:db8::1");
    assert_int_equal(l.port, 15684);
    listen_clear(&l);
    assert_int_equal(
        listen_parse("coap://gw-1.example.com:65535", LISTEN_COAP, &l, err, sizeof(err)), GW_OK);
    assert_string_equal(l.host, "gw-1.example.com");
    assert_int_equal(l.port, 65535);
    listen_clear(&l);
    listen_clear(&l);
    assert_null(l.uri);
}

static void test_listen_uri_refuses_what_cannot_be_bound(void **state)
{
    static const char *const bad[] = {
        "",
        "http://0.0.0.0",
        "coap://",
        "coap://:5683",
        "coap://[::1",
        "coap://[zz]:5683",
        "coap://[]:5683",
        "coap://1.2.3.4:0",
        "coap://1.2.3.4:65536",
        "coap://1.2.3.4:",
        "coap://1.2.3.4:x",
        "coap://300.1.1.1",
        "coap://host/rd",
        "coap://-bad.example",
        "coap://a..b",
        "coap://u@host",
        "coap://::1:5683",
    };
    struct listen_uri l;
    char err[256];
    (void)state;

    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (listen_parse(bad[i], LISTEN_COAP, &l, err, sizeof(err)) != -GW_ERR_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(err[0] != '\0');
        assert_null(l.uri);
    }
    assert_int_equal(listen_parse("coap://1.2.3.4:99999", LISTEN_COAP, &l, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_string_equal(err, "'coap://1.2.3.4:99999' port must be 1-65535");
}

static void test_bad_listen_in_file_is_reported_with_its_index(void **state)
{
    (void)state;
    fails_with("lwm2m: {\n listen = [ \"coap://0.0.0.0\",\n  \"udp://0.0.0.0\" ];\n};\n", 3,
               "lwm2m.listen[1]: 'udp://0.0.0.0' must start with coap:// or coaps://");
    fails_with("lwm2m: { listen = [ ]; };\n", 1, "lwm2m.listen must not be empty");
}

static void test_http_listener_is_optional_and_checked(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    loads("mqtt: { uri = \"tcp://a\"; };\n", &cfg);
    assert_null(cfg.http.uri);
    conffile_clear(&cfg);
    loads("http: { listen = \"http://127.0.0.1\"; };\n", &cfg);
    assert_int_equal(cfg.http.scheme, GW_SCHEME_HTTP);
    assert_string_equal(cfg.http.host, "127.0.0.1");
    assert_int_equal(cfg.http.port, 9464);
    conffile_clear(&cfg);
    fails_with("http: {\n listen = \"coap://0.0.0.0:80\";\n};\n", 2,
               "http.listen: 'coap://0.0.0.0:80' must start with http://");
    fails_with("http: {\n listen = \"http://0.0.0.0:80/metrics\";\n};\n", 2,
               "http.listen: 'http://0.0.0.0:80/metrics' has unexpected text '/metrics' after the "
               "host and port");
    fails_with("http: {\n listne = \"http://0.0.0.0\";\n};\n", 2,
               "unknown key 'http.listne' (did you mean 'listen'?)");
    fails_with("lwm2m: {\n listen = [ \"http://0.0.0.0\" ];\n};\n", 2,
               "lwm2m.listen[0]: 'http://0.0.0.0' must start with coap:// or coaps://");

    loads("http: { listen = \"http://127.0.0.1:1\"; };\n", &cfg);
    setenv("LWM2M_GW_HTTP_LISTEN", "http://[::1]:9999", 1);
    assert_int_equal(conffile_apply_env(&cfg, &p), GW_OK);
    assert_string_equal(cfg.http.host, "::1");
    assert_int_equal(cfg.http.port, 9999);
    setenv("LWM2M_GW_HTTP_LISTEN", "tcp://0.0.0.0", 1);
    assert_int_equal(conffile_apply_env(&cfg, &p), -GW_ERR_INVALID);
    unsetenv("LWM2M_GW_HTTP_LISTEN");
    assert_int_equal(p.n, 1);
    assert_string_equal(p.lines[0],
                        "LWM2M_GW_HTTP_LISTEN: 'tcp://0.0.0.0' must start with http://");
    assert_int_equal(cfg.http.port, 9999);
    conffile_clear(&cfg);
    conffile_problems_clear(&p);
}

static void test_coaps_listener_without_credentials_is_an_error(void **state)
{
    (void)state;
    fails_with("lwm2m: {\n listen = [ \"coap://0.0.0.0\", \"coaps://0.0.0.0\" ];\n};\n", 2,
               "lwm2m.listen[1]: coaps listener but no credentials (set lwm2m.security psk, "
               "psk_file, rpk or cert_file)");
}

static void test_nosec_disabled_without_coaps_listener_is_an_error(void **state)
{
    (void)state;
    fails_with("lwm2m: {\n security: {\n  allow_nosec = false;\n };\n};\n", 3,
               "lwm2m.security.allow_nosec is false and there is no coaps listener: no listener "
               "would accept any device");
}

static void test_duplicate_psk_endpoint_or_identity_is_an_error(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(load("lwm2m: { security: { psk = (\n"
                          "  { endpoint = \"a\"; identity = \"x\"; key = \"k\"; },\n"
                          "  { endpoint = \"a\"; identity = \"y\"; key = \"k\"; },\n"
                          "  { endpoint = \"b\"; identity = \"x\"; key = \"k\"; }\n"
                          "); }; };\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 2);
    snprintf(line, sizeof(line),
             "%s:3: lwm2m.security.psk[1].endpoint 'a' is already used by "
             "lwm2m.security.psk[0]",
             conf);
    assert_string_equal(p.lines[0], line);
    snprintf(line, sizeof(line),
             "%s:4: lwm2m.security.psk[2].identity 'x' is already used by "
             "lwm2m.security.psk[0]",
             conf);
    assert_string_equal(p.lines[1], line);
    conffile_problems_clear(&p);
}

static void test_rpk_needs_a_der_key_and_the_gateway_key_file(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(load("lwm2m: { security: { rpk = (\n"
                          "  { endpoint = \"a\"; public_key = \"hex:3059\"; },\n"
                          "  { endpoint = \"b\"; public_key = \"hex:0459\"; },\n"
                          "  { endpoint = \"c\"; public_key = \"3059\"; }\n"
                          "); }; };\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 3);
    assert_true(strstr(p.lines[0], ":1: lwm2m.security.rpk needs key_file"));
    assert_true(strstr(p.lines[1], ":3: lwm2m.security.rpk[1].public_key is not a DER"));
    assert_true(strstr(p.lines[2],
                       ":4: lwm2m.security.rpk[2].public_key: must start with hex: or base64:"));
    conffile_problems_clear(&p);
}

static void test_security_files_must_be_readable_and_cert_needs_key(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    char text[1024];
    (void)state;

    snprintf(text, sizeof(text),
             "lwm2m: { security: {\n ca_file = \"%s\";\n cert_file = \"%s/gateway.conf\";\n"
             " psk_file = \"%s/none.txt\";\n cert_endpoints = ( { cn = \"x\"; } );\n}; };\n",
             dir, dir, dir);
    assert_int_equal(load(text, &cfg, &p), -GW_ERR_INVALID);
    assert_int_equal(p.n, 4);
    snprintf(line, sizeof(line), "%s:2: lwm2m.security.ca_file: '%s' is a directory", conf, dir);
    assert_string_equal(p.lines[0], line);
    assert_true(strstr(p.lines[1], ":3: lwm2m.security.cert_file is set but key_file is not"));
    assert_true(strstr(p.lines[2], ":4: lwm2m.security.psk_file: cannot read '"));
    assert_true(strstr(p.lines[2], "none.txt': No such file or directory"));
    assert_true(strstr(p.lines[3], ":5: lwm2m.security.cert_endpoints[0].endpoint is required"));
    conffile_problems_clear(&p);
}

static void test_lifetime_max_below_min_is_an_error(void **state)
{
    (void)state;
    fails_with("lwm2m: {\n lifetime_min = 600;\n lifetime_max = 60;\n};\n", 3,
               "lwm2m.lifetime_max (60) must be >= lifetime_min (600)");
    fails_with("lwm2m: {\n lifetime_min = 700000;\n};\n", 2,
               "lwm2m.lifetime_max (604800) must be >= lifetime_min (700000)");
}

/* ---- mqtt ---- */

static void test_mqtt_uri_accepts_every_scheme(void **state)
{
    static const char *const good[] = {
        "tcp://broker",       "ssl://broker.example.com:8883", "mqtt://10.0.0.1:1883",
        "mqtts://[::1]:8883", "ws://broker:80/mqtt",           "wss://broker/mqtt",
    };
    struct gw_config cfg;
    char text[256];
    (void)state;

    for (size_t i = 0; i < GW_ARRAY_LEN(good); i++) {
        snprintf(text, sizeof(text), "mqtt: { uri = \"%s\"; };\n", good[i]);
        loads(text, &cfg);
        assert_string_equal(cfg.mqtt.uri, good[i]);
        conffile_clear(&cfg);
    }
}

static void test_mqtt_uri_problems_never_show_the_uri(void **state)
{
    (void)state;
    fails_with("mqtt: { uri = \"http://broker\"; };\n", 1,
               "mqtt.uri: scheme must be tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://");
    fails_with("mqtt: { uri = \"tcp://\"; };\n", 1, "mqtt.uri: has no valid host");
    fails_with("mqtt: { uri = \"tcp://[::1:1883\"; };\n", 1, "mqtt.uri: has no valid host");
    fails_with("mqtt: { uri = \"tcp://broker:0\"; };\n", 1, "mqtt.uri: port must be 1-65535");
    fails_with("mqtt: { uri = \"tcp://broker/x\"; };\n", 1,
               "mqtt.uri: unexpected text after the host and port");
    fails_with("mqtt: { uri = \"tcp://me:hunter2@broker\"; };\n", 1,
               "mqtt.uri: user:password@ is not supported (use username and password)");
}

static void test_topic_prefix_must_be_a_plain_topic(void **state)
{
    struct gw_config cfg;
    (void)state;
    fails_with("mqtt: { topic_prefix = \"a/+\"; };\n", 1,
               "mqtt.topic_prefix must not contain '+' or '#'");
    fails_with("mqtt: { topic_prefix = \"a/#\"; };\n", 1,
               "mqtt.topic_prefix must not contain '+' or '#'");
    fails_with("mqtt: { topic_prefix = \"/a\"; };\n", 1,
               "mqtt.topic_prefix must not start or end with '/'");
    fails_with("mqtt: { topic_prefix = \"a/\"; };\n", 1,
               "mqtt.topic_prefix must not start or end with '/'");
    fails_with("mqtt: { topic_prefix = \"a//b\"; };\n", 1,
               "mqtt.topic_prefix must not have an empty level ('//')");
    fails_with("mqtt: { topic_prefix = \"\"; };\n", 1, "mqtt.topic_prefix must not be empty");
    loads("mqtt: { topic_prefix = \"site-1/lwm2m\"; };\n", &cfg);
    assert_string_equal(cfg.mqtt.topic_prefix, "site-1/lwm2m");
    conffile_clear(&cfg);
}

static void test_mqtt_version_is_a_name_or_protocol_level(void **state)
{
    static const struct {
        const char *text;
        int version;
    } good[] = {{"\"3.1.1\"", 4}, {"\"5\"", 5}, {"4", 4}, {"5", 5}};
    struct gw_config cfg;
    char text[128];
    (void)state;

    for (size_t i = 0; i < GW_ARRAY_LEN(good); i++) {
        snprintf(text, sizeof(text), "mqtt: { version = %s; };\n", good[i].text);
        loads(text, &cfg);
        assert_int_equal(cfg.mqtt.version, good[i].version);
        conffile_clear(&cfg);
    }
    fails_with("mqtt: { version = 3; };\n", 1,
               "mqtt.version must be \"3.1.1\" or \"5\" (or the protocol level 4 or 5)");
    fails_with("mqtt: { version = \"4\"; };\n", 1,
               "mqtt.version must be \"3.1.1\" or \"5\" (or the protocol level 4 or 5)");
}

static void test_mqtt_numbers_are_range_checked(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(load("mqtt: {\n keepalive = 4;\n reconnect_min = 10;\n reconnect_max = 5;\n"
                          " max_buffered = -1;\n client_id = \"\";\n};\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 4);
    assert_true(strstr(p.lines[0], ":2: mqtt.keepalive must be between 5 and 65535"));
    assert_true(strstr(p.lines[1], ":4: mqtt.reconnect_max (5) must be >= reconnect_min (10)"));
    assert_true(strstr(p.lines[2], ":5: mqtt.max_buffered must be between 0 and 2147483647"));
    assert_true(strstr(p.lines[3], ":6: mqtt.client_id must not be empty"));
    conffile_problems_clear(&p);
}

static void test_mqtt_settings_are_copied(void **state)
{
    struct gw_config cfg;
    char text[512];
    (void)state;

    snprintf(text, sizeof(text),
             "mqtt: { uri = \"ssl://b:8883\"; client_id = \"gw-7\"; qos = 2; username = \"u\";"
             " password = \"\"; keepalive = 30; tls: { ca_file = \"%s\"; cert_file = \"%s\";"
             " key_file = \"%s\"; verify_hostname = false; }; };\n",
             conf, conf, conf);
    loads(text, &cfg);
    assert_string_equal(cfg.mqtt.client_id, "gw-7");
    assert_int_equal(cfg.mqtt.qos, 2);
    assert_string_equal(cfg.mqtt.username, "u");
    assert_string_equal(cfg.mqtt.password, "");
    assert_int_equal(cfg.mqtt.keepalive, 30);
    assert_string_equal(cfg.mqtt.tls.ca_file, conf);
    assert_string_equal(cfg.mqtt.tls.key_file, conf);
    assert_false(cfg.mqtt.tls.verify_hostname);
    conffile_clear(&cfg);
}

static void test_tls_with_tcp_uri_is_an_error(void **state)
{
    (void)state;
    fails_with("mqtt: {\n uri = \"tcp://broker\";\n tls: { verify_hostname = true; };\n};\n", 3,
               "mqtt.tls is set but uri is not ssl:// (nor mqtts://, wss://)");
    fails_with("mqtt: {\n tls: { };\n};\n", 2,
               "mqtt.tls is set but uri is not ssl:// (nor mqtts://, wss://)");
}

/* ---- store, objects ---- */

static void test_store_and_object_dirs_are_checked(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    char text[512];
    (void)state;

    snprintf(text, sizeof(text),
             "store: { path = \"/tmp/x.db\"; hold_ttl = 0; hold_max = 7; };\n"
             "objects: { dirs = [ \"%s\" ]; };\n",
             dir);
    loads(text, &cfg);
    assert_string_equal(cfg.store.path, "/tmp/x.db");
    assert_int_equal(cfg.store.hold_ttl, 0);
    assert_int_equal(cfg.store.hold_max, 7);
    assert_int_equal(cfg.n_object_dirs, 1);
    assert_string_equal(cfg.object_dirs[0], dir);
    conffile_clear(&cfg);

    snprintf(text, sizeof(text),
             "store: { hold_ttl = -1; };\nobjects: { dirs = [ \"%s\",\n \"%s/nope\" ]; };\n", conf,
             dir);
    assert_int_equal(load(text, &cfg, &p), -GW_ERR_INVALID);
    assert_int_equal(p.n, 3);
    assert_true(strstr(p.lines[0], ":1: store.hold_ttl must be between 0 and 4294967295"));
    assert_true(strstr(p.lines[1], ":2: objects.dirs[0]: '"));
    assert_true(strstr(p.lines[1], "' is not a directory"));
    assert_true(strstr(p.lines[2], ":3: objects.dirs[1]: cannot open '"));
    conffile_problems_clear(&p);
}

/* ---- observe, mappings, commands ---- */

static void test_observe_rules_are_validated(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    loads("observe = (\n { path = \"/3303/0/5700\"; endpoint = \"t-*\"; pmin = 5; pmax = 5;"
          " gt = 30.5; lt = -2; st = 0.5; }\n);\n",
          &cfg);
    assert_int_equal(cfg.rules.n_observe, 1);
    assert_int_equal(cfg.rules.observe[0].line, 2);
    assert_string_equal(cfg.rules.observe[0].endpoint, "t-*");
    assert_true(cfg.rules.observe[0].has_gt && cfg.rules.observe[0].has_lt);
    assert_true(cfg.rules.observe[0].has_st);
    assert_true(cfg.rules.observe[0].gt == 30.5 && cfg.rules.observe[0].lt == -2.0);
    conffile_clear(&cfg);

    assert_int_equal(load("observe = (\n { pmin = 1; },\n { path = \"/3/*\"; },\n"
                          " { path = \"/3\"; pmin = 10; pmax = 5; },\n { path = \"/3\"; gt = "
                          "\"1\"; }\n);\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 4);
    assert_true(strstr(p.lines[0], ":2: observe[0].path is required"));
    assert_true(strstr(p.lines[1], ":3: observe[1].path: '/3/*' level 2: '*' is not allowed"));
    assert_true(strstr(p.lines[2], ":4: observe[2].pmax (5) must be >= pmin (10)"));
    assert_true(strstr(p.lines[3], ":5: observe[3].gt must be a number"));
    conffile_problems_clear(&p);
}

static void test_mapping_topic_with_unknown_variable_names_the_rule(void **state)
{
    (void)state;
    fails_with("mappings = (\n { path = \"/3\"; topic = \"{prefix}/{ep}\"; },\n"
               " { path = \"/3303/*\"; topic = \"{prefix}/{foo}\"; }\n);\n",
               3, "mappings[1].topic: unknown variable {foo}");
}

static void test_mapping_defaults_and_bad_values(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    loads("mappings = ( { path = \"/3/0/*\"; topic = \"x/{ep}/{rid}\"; } );\n", &cfg);
    assert_int_equal(cfg.rules.mappings[0].payload, GW_PAYLOAD_JSON);
    assert_int_equal(cfg.rules.mappings[0].qos, -1);
    assert_false(cfg.rules.mappings[0].retain);
    assert_null(cfg.rules.mappings[0].endpoint);
    assert_int_equal(cfg.rules.mappings[0].line, 1);
    conffile_clear(&cfg);

    assert_int_equal(load("mappings = (\n { path = \"/3/0\"; topic = \"t/{ep}\"; payload = "
                          "\"xml\"; qos = 3; retain = \"yes\"; },\n { topic = \"t\"; },\n"
                          " { path = \"/3\"; }\n);\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 5);
    assert_true(strstr(p.lines[0], ":2: mappings[0].payload must be \"value\", \"json\""));
    assert_true(strstr(p.lines[1], ":2: mappings[0].retain must be true or false"));
    assert_true(strstr(p.lines[2], ":2: mappings[0].qos must be between 0 and 2"));
    assert_true(strstr(p.lines[3], ":3: mappings[1].path is required"));
    assert_true(strstr(p.lines[4], ":4: mappings[2].topic is required"));
    conffile_problems_clear(&p);
}

static void test_command_rules_are_validated(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    loads("commands = (\n { topic = \"{prefix}/{ep}/read\"; op = \"read-composite\"; },\n"
          " { topic = \"{prefix}/{ep}/sp/{iid}/{rid}\"; op = \"write\";"
          " path = \"/3308/{iid}/{rid}\"; format = \"senml-cbor\"; }\n);\n",
          &cfg);
    assert_int_equal(cfg.rules.n_commands, 2);
    assert_int_equal(cfg.rules.commands[0].op, GW_OP_READ_COMPOSITE);
    assert_null(cfg.rules.commands[0].path);
    assert_null(cfg.rules.commands[0].format);
    assert_string_equal(cfg.rules.commands[1].format, "senml-cbor");
    assert_int_equal(cfg.rules.commands[1].line, 3);
    conffile_clear(&cfg);

    assert_int_equal(load("commands = (\n"
                          " { topic = \"{prefix}/{ep}/sp\"; op = \"write\"; path = "
                          "\"/3308/{iid}/5900\"; },\n"
                          " { topic = \"{prefix}/{ep}/x\"; op = \"write\"; },\n"
                          " { topic = \"{prefix}/{ep}/y\"; op = \"read\"; path = \"/3\";"
                          " format = \"xml\"; },\n"
                          " { topic = \"{prefix}/{ep}/z\"; path = \"/3\"; }\n"
                          ");\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 4);
    assert_true(strstr(p.lines[0], ":2: commands[0].path uses {iid} but the topic does not bind"));
    assert_true(strstr(p.lines[1], ":3: commands[1].path is required"));
    assert_true(strstr(p.lines[2], ":4: commands[2].format must be one of text, opaque"));
    assert_true(strstr(p.lines[3], ":5: commands[3].op is required"));
    conffile_problems_clear(&p);
}

/* ---- environment ---- */

static void test_env_overrides_uri_username_and_password(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    loads("mqtt: { uri = \"tcp://a\"; username = \"file-user\"; password = \"file-pw\"; };\n",
          &cfg);
    setenv("LWM2M_GW_MQTT_URI", "ssl://b:8883", 1);
    setenv("LWM2M_GW_MQTT_USERNAME", "env-user", 1);
    setenv("LWM2M_GW_MQTT_PASSWORD", "env-pw", 1);
    assert_int_equal(conffile_apply_env(&cfg, &p), GW_OK);
    assert_string_equal(cfg.mqtt.uri, "ssl://b:8883");
    assert_string_equal(cfg.mqtt.username, "env-user");
    assert_string_equal(cfg.mqtt.password, "env-pw");
    setenv("LWM2M_GW_MQTT_USERNAME", "", 1); /* empty: as if unset */
    unsetenv("LWM2M_GW_MQTT_URI");
    unsetenv("LWM2M_GW_MQTT_PASSWORD");
    assert_int_equal(conffile_apply_env(&cfg, &p), GW_OK);
    assert_string_equal(cfg.mqtt.username, "env-user");
    unsetenv("LWM2M_GW_MQTT_USERNAME");
    assert_int_equal(p.n, 0);
    conffile_clear(&cfg);
}

static void test_env_bad_uri_is_reported_without_its_secret(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    char text[256];
    (void)state;

    loads("mqtt: { uri = \"tcp://a\"; };\n", &cfg);
    setenv("LWM2M_GW_MQTT_URI", "tcp://me:hunter2@b", 1);
    assert_int_equal(conffile_apply_env(&cfg, &p), -GW_ERR_INVALID);
    unsetenv("LWM2M_GW_MQTT_URI");
    assert_int_equal(p.n, 1);
    assert_string_equal(p.lines[0], "LWM2M_GW_MQTT_URI: user:password@ is not supported (use "
                                    "username and password)");
    assert_false(any_contains(&p, "hunter2"));
    assert_string_equal(cfg.mqtt.uri, "tcp://a");
    conffile_clear(&cfg);
    conffile_problems_clear(&p);

    snprintf(text, sizeof(text), "mqtt: { uri = \"ssl://a\"; tls: { ca_file = \"%s\"; }; };\n",
             conf);
    loads(text, &cfg);
    setenv("LWM2M_GW_MQTT_URI", "tcp://b", 1);
    assert_int_equal(conffile_apply_env(&cfg, &p), -GW_ERR_INVALID);
    unsetenv("LWM2M_GW_MQTT_URI");
    assert_int_equal(p.n, 1);
    assert_string_equal(p.lines[0], "LWM2M_GW_MQTT_URI: mqtt.tls is set but uri is not ssl:// "
                                    "(nor mqtts://, wss://)");
    assert_string_equal(cfg.mqtt.uri, "ssl://a");
    conffile_clear(&cfg);
    conffile_problems_clear(&p);
}

static void test_rules_that_only_fail_together_are_reported_with_their_line(void **state)
{
    (void)state;
    fails_with("mappings = (\n"
               "  { path = \"/3/0\"; topic = \"{prefix}/{ep}/x/{rid}\"; payload = \"instance\"; }\n"
               ");\n",
               2,
               "mappings[0].topic: {rid} cannot be used with payload \"instance\", which "
               "publishes a whole object instance");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_config_loads_without_problems),
        cmocka_unit_test(test_empty_file_gives_every_default),
        cmocka_unit_test(test_failed_load_leaves_config_cleared),
        cmocka_unit_test(test_listen_uri_gives_scheme_host_and_default_port),
        cmocka_unit_test(test_listen_uri_refuses_what_cannot_be_bound),
        cmocka_unit_test(test_bad_listen_in_file_is_reported_with_its_index),
        cmocka_unit_test(test_http_listener_is_optional_and_checked),
        cmocka_unit_test(test_coaps_listener_without_credentials_is_an_error),
        cmocka_unit_test(test_nosec_disabled_without_coaps_listener_is_an_error),
        cmocka_unit_test(test_duplicate_psk_endpoint_or_identity_is_an_error),
        cmocka_unit_test(test_rpk_needs_a_der_key_and_the_gateway_key_file),
        cmocka_unit_test(test_security_files_must_be_readable_and_cert_needs_key),
        cmocka_unit_test(test_lifetime_max_below_min_is_an_error),
        cmocka_unit_test(test_mqtt_uri_accepts_every_scheme),
        cmocka_unit_test(test_mqtt_uri_problems_never_show_the_uri),
        cmocka_unit_test(test_topic_prefix_must_be_a_plain_topic),
        cmocka_unit_test(test_mqtt_version_is_a_name_or_protocol_level),
        cmocka_unit_test(test_mqtt_numbers_are_range_checked),
        cmocka_unit_test(test_mqtt_settings_are_copied),
        cmocka_unit_test(test_tls_with_tcp_uri_is_an_error),
        cmocka_unit_test(test_store_and_object_dirs_are_checked),
        cmocka_unit_test(test_observe_rules_are_validated),
        cmocka_unit_test(test_mapping_topic_with_unknown_variable_names_the_rule),
        cmocka_unit_test(test_mapping_defaults_and_bad_values),
        cmocka_unit_test(test_command_rules_are_validated),
        cmocka_unit_test(test_env_overrides_uri_username_and_password),
        cmocka_unit_test(test_env_bad_uri_is_reported_without_its_secret),
        cmocka_unit_test(test_rules_that_only_fail_together_are_reported_with_their_line),
    };
    return cmocka_run_group_tests(tests, conffile_test_setup, conffile_test_teardown);
}
