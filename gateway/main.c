/* main.c - the daemon: command line, configuration, wiring, and the event loop.
 * One thread owns all gateway state and waits in one epoll on the CoAP server's descriptor, the
 * bridge's eventfd (Paho's inbox), a timerfd armed for the earliest deadline of any module,
 * a signalfd, and the HTTP listener's descriptor when there is one. Nothing runs at a fixed rate:
 * an idle gateway sleeps in epoll_wait. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bridge.h"
#include "conffile.h"
#include "gw.h"
#include "http.h"
#include "lwm2m.h"
#include "shed.h"

#define DEFAULT_CONFIG "/etc/lwm2m-mqtt-gateway/gateway.conf"
#define STOP_TIMEOUT_MS 3000

enum exit_code { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lwm2m-mqtt-gateway [-c FILE] [--check-config] [--log-level LEVEL] "
            "[--version] [--help]\n"
            "\n"
            "  -c, --config FILE    configuration file (default " DEFAULT_CONFIG ")\n"
            "      --check-config   validate the configuration, print every problem, exit\n"
            "      --log-level L    error, warn, info (default) or debug\n"
            "  -V, --version        print the version and exit\n"
            "  -h, --help           print this help and exit\n"
            "\n"
            "environment: LWM2M_GW_MQTT_URI, LWM2M_GW_MQTT_USERNAME, LWM2M_GW_MQTT_PASSWORD,\n"
            "             LWM2M_GW_STORE_PATH, LWM2M_GW_LOG_LEVEL override the file (the\n"
            "             command line wins over LWM2M_GW_LOG_LEVEL)\n"
            "exit status: 0 clean stop, 1 invalid configuration, 2 bad usage, 3 runtime failure\n");
}

static void print_problems(const struct conffile_problems *p)
{
    for (size_t i = 0; i < p->n; i++)
        fprintf(stderr, "%s\n", p->lines[i]);
}

struct daemon {
    struct gw_config cfg;
    struct model *model;
    struct server *lwm2m;
    struct bridge *bridge;
    struct http *http; /* NULL: no http.listen */
    int epfd;
    int sigfd;
    int timerfd;
    int64_t armed_at; /* the deadline the timerfd is armed for, -1 when disarmed */
    struct {
        int64_t at; /* monotonic ms of the next look */
        struct bridge_flow last;
        uint64_t kernel; /* the listeners' drops then, while `watching` */
        bool watching;
        double pass; /* the share of notifications let through: 1 unless overloaded */
        bool open;   /* a period of shedding not yet over */
    } shed;
};

static int watch(int epfd, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int64_t earliest(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void arm_timer(struct daemon *d, int64_t deadline)
{
    if (deadline == d->armed_at)
        return;
    struct itimerspec its = {0};
    if (deadline >= 0) {
        if (deadline == 0)
            deadline = 1; /* 0 would disarm */
        its.it_value.tv_sec = deadline / 1000;
        its.it_value.tv_nsec = (deadline % 1000) * 1000000L;
    }
    timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
    d->armed_at = deadline;
}

/* SIGHUP: re-read the file and take its observe, mappings and commands rules. A file with
 * problems is reported and the rules in force stay. Registrations are not touched. */
static void reload(struct daemon *d)
{
    struct gw_config fresh;
    struct conffile_problems problems = {0};
    if (conffile_load(d->cfg.file, &fresh, &problems) < 0) {
        for (size_t i = 0; i < problems.n; i++)
            log_error("reload-problem %s", problems.lines[i]);
        log_error("reload-failed file=%s problems=%zu reason=\"the rules in force stay\"",
                  d->cfg.file, problems.n);
        conffile_problems_clear(&problems);
        return;
    }
    char err[256];
    if (bridge_set_rules(d->bridge, &fresh.rules, err, sizeof(err)) < 0) {
        log_error("reload-failed file=%s reason=\"%s\" kept=\"the rules in force\"", d->cfg.file,
                  err);
        conffile_clear(&fresh);
        conffile_problems_clear(&problems);
        return;
    }
    struct mappings_config old = d->cfg.rules;
    d->cfg.rules = fresh.rules;
    fresh.rules = old;
    conffile_clear(&fresh);
    /* The devices registered now get the observations of the new rules. */
    server_refresh_observations(d->lwm2m);
    conffile_problems_clear(&problems);
    log_info("reloaded file=%s observe=%zu mappings=%zu commands=%zu", d->cfg.file,
             d->cfg.rules.n_observe, d->cfg.rules.n_mappings, d->cfg.rules.n_commands);
}

/* Overload: every SHED_EVERY_MS while the bridge's queue drops values, or while notifications
 * are shed, the share of them let through is set again (shed.c) and the kernel drops the rest
 * before they are read (server_shed_notifications: requests, acknowledgements and DTLS are
 * still read). A look in which nothing moved (the broker away, the devices quiet) puts the next
 * one SHED_IDLE_MS away. */
static void shed_notifications(struct daemon *d)
{
    int64_t now = gw_now_mono_ms();
    if (now < d->shed.at)
        return;
    struct bridge_flow f = bridge_value_flow(d->bridge);
    uint64_t handed = f.handed - d->shed.last.handed, dropped = f.dropped - d->shed.last.dropped;
    uint64_t shed = 0; /* the kernel's drops at the listeners, read only while they matter */
    bool watching = dropped || d->shed.pass < 1 || d->shed.open;
    if (watching) {
        uint64_t counters[SRV_COUNTERS];
        server_counters(d->lwm2m, counters);
        if (d->shed.watching)
            shed = counters[SRV_DATAGRAMS_DROPPED] - d->shed.kernel;
        d->shed.kernel = counters[SRV_DATAGRAMS_DROPPED];
    }
    d->shed.watching = watching;
    bool moved = handed || dropped || shed || f.waiting != d->shed.last.waiting;
    struct shed_look look = {.handed = handed,
                             .dropped = dropped,
                             .shed = shed,
                             .waiting_was = d->shed.last.waiting,
                             .waiting = f.waiting,
                             .max = f.max};
    d->shed.last = f;
    d->shed.pass = shed_share(d->shed.pass, &look);
    d->shed.at = now + (moved ? SHED_EVERY_MS : SHED_IDLE_MS);
    d->shed.open = server_shed_notifications(
        d->lwm2m, d->shed.pass >= 1 ? 0 : (uint32_t)((1 - d->shed.pass) * UINT32_MAX));
}

/* Returns EXIT_OK after SIGTERM or SIGINT, EXIT_RUNTIME when the loop itself fails. */
static int run(struct daemon *d)
{
    struct epoll_event events[8];
    for (;;) {
        int64_t deadline =
            earliest(server_next_deadline(d->lwm2m), bridge_next_deadline(d->bridge));
        if (d->http)
            deadline = earliest(deadline, http_next_deadline(d->http));
        if (d->shed.pass < 1 || d->shed.open)
            deadline = earliest(deadline, d->shed.at); /* to let them through again */
        arm_timer(d, deadline);
        int n = epoll_wait(d->epfd, events, (int)GW_ARRAY_LEN(events), -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("loop-failed reason=\"epoll_wait: %s\"", strerror(errno));
            return EXIT_RUNTIME;
        }
        bool coap = false, mqtt = false, http = false;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == d->sigfd) {
                struct signalfd_siginfo si;
                while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                    if (si.ssi_signo == SIGHUP) {
                        reload(d);
                    } else {
                        log_info("stopping signal=%s", strsignal((int)si.ssi_signo));
                        return EXIT_OK;
                    }
                }
            } else if (fd == d->timerfd) {
                uint64_t expirations;
                ssize_t r = read(d->timerfd, &expirations, sizeof(expirations));
                (void)r;
                d->armed_at = -1;
                coap = mqtt = http = true;
            } else if (fd == bridge_fd(d->bridge)) {
                mqtt = true;
            } else if (d->http && fd == http_fd(d->http)) {
                http = true;
            } else {
                coap = true;
            }
        }
        if (mqtt)
            bridge_process(d->bridge);
        if (coap)
            server_process(d->lwm2m);
        if (http && d->http)
            http_process(d->http);
        /* One commit for whatever this turn wrote (requests accepted, registrations). */
        bridge_commit(d->bridge);
        shed_notifications(d);
    }
}

static char *http_metrics(void *ctx)
{
    struct daemon *d = ctx;
    return bridge_metrics_text(d->bridge);
}

static bool http_state(void *ctx, char *buf, size_t len)
{
    struct daemon *d = ctx;
    bool connected = bridge_connected(d->bridge);
    snprintf(buf, len, "{\"status\":\"%s\",\"mqtt\":\"%s\",\"registered\":%zu}\n",
             connected ? "ok" : "degraded", connected ? "connected" : "disconnected",
             server_count(d->lwm2m));
    return connected;
}

/* The object model: the built-in objects, then every DDF file of objects.dirs (a file that
 * does not load is logged and skipped; the others still count). */
static int load_model(struct daemon *d)
{
    d->model = model_new();
    if (!d->model) {
        log_error("startup-failed reason=\"out of memory\"");
        return -GW_ERR_NOMEM;
    }
    for (size_t i = 0; i < d->cfg.n_object_dirs; i++) {
        int n = model_load_dir(d->model, d->cfg.object_dirs[i]);
        if (n < 0) {
            log_error("startup-failed dir=%s reason=\"cannot read the object directory: %s\"",
                      d->cfg.object_dirs[i], gw_strerror(n));
            return n;
        }
        log_info("objects-loaded dir=%s files=%d", d->cfg.object_dirs[i], n);
    }
    return GW_OK;
}

static int setup_fds(struct daemon *d)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    /* Blocked before any thread exists (Paho starts its own), so that every thread inherits
     * the mask and the signals reach only the signalfd. */
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->armed_at = -1;
    if (d->sigfd < 0 || d->timerfd < 0 || d->epfd < 0) {
        log_error("startup-failed reason=\"%s\"", strerror(errno));
        return -GW_ERR_IO;
    }
    return GW_OK;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = DEFAULT_CONFIG, *level_arg = NULL;
    bool check_only = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            file = optarg;
            break;
        case 'k':
            check_only = true;
            break;
        case 'l':
            level_arg = optarg;
            break;
        case 'V':
            printf("lwm2m-mqtt-gateway %s\n", GW_VERSION);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lwm2m-mqtt-gateway: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }

    enum gw_log_level level = GW_LOG_INFO;
    const char *env_level = getenv("LWM2M_GW_LOG_LEVEL");
    if (env_level && *env_level && log_parse_level(env_level, &level) < 0) {
        fprintf(stderr,
                "lwm2m-mqtt-gateway: LWM2M_GW_LOG_LEVEL: '%s' is not one of error, "
                "warn, info, debug\n",
                env_level);
        return EXIT_USAGE;
    }
    if (level_arg && log_parse_level(level_arg, &level) < 0) {
        fprintf(stderr,
                "lwm2m-mqtt-gateway: --log-level: '%s' is not one of error, warn, "
                "info, debug\n",
                level_arg);
        usage(stderr);
        return EXIT_USAGE;
    }
    log_set_level(level);

    struct daemon d = {.epfd = -1, .sigfd = -1, .timerfd = -1, .shed.pass = 1};
    struct conffile_problems problems = {0};
    int rc = conffile_load(file, &d.cfg, &problems);
    if (rc == GW_OK)
        rc = conffile_apply_env(&d.cfg, &problems);
    print_problems(&problems);
    if (rc < 0) {
        fprintf(stderr, "lwm2m-mqtt-gateway: %s: %zu problem%s, not starting\n", file, problems.n,
                problems.n == 1 ? "" : "s");
        conffile_problems_clear(&problems);
        conffile_clear(&d.cfg);
        return EXIT_CONFIG;
    }
    conffile_problems_clear(&problems);
    if (check_only) {
        printf("%s: ok\n", file);
        conffile_clear(&d.cfg);
        return EXIT_OK;
    }

    int status = EXIT_RUNTIME;
    if (load_model(&d) < 0)
        goto out;
    if (setup_fds(&d) < 0)
        goto out;
    d.bridge = bridge_new(&d.cfg.mqtt, &d.cfg.store, &d.cfg.rules, d.model);
    if (!d.bridge)
        goto out;
    /* The gateway's own topics live at {prefix}/gateway/: no device may take that name. */
    static const char *const reserved[] = {"gateway", NULL};
    d.cfg.lwm2m.reserved_endpoints = reserved;
    d.cfg.lwm2m.model = d.model;
    d.lwm2m = server_new(&d.cfg.lwm2m, bridge_server_callbacks(), d.bridge);
    if (!d.lwm2m)
        goto out;
    int held = bridge_attach(d.bridge, d.lwm2m);
    if (held < 0) {
        log_error("startup-failed reason=\"the store cannot be read\"");
        goto out;
    }
    bridge_commit(d.bridge);
    if (d.cfg.http.uri) {
        const struct http_routes routes = {.metrics = http_metrics, .state = http_state, .ctx = &d};
        if (!(d.http = http_new(&d.cfg.http, &routes)) || watch(d.epfd, http_fd(d.http)) < 0)
            goto out;
    }
    if (watch(d.epfd, d.sigfd) < 0 || watch(d.epfd, d.timerfd) < 0 ||
        watch(d.epfd, bridge_fd(d.bridge)) < 0 || watch(d.epfd, server_fd(d.lwm2m)) < 0) {
        log_error("startup-failed reason=\"epoll_ctl: %s\"", strerror(errno));
        goto out;
    }
    log_info("started version=%s config=%s listeners=%zu mqtt=%s prefix=%s http=%s objects=%zu "
             "observe=%zu mappings=%zu commands=%zu held=%d registrations=%zu",
             GW_VERSION, file, d.cfg.lwm2m.n_listen, d.cfg.mqtt.uri, d.cfg.mqtt.topic_prefix,
             d.cfg.http.uri ? d.cfg.http.uri : "off", model_count(d.model), d.cfg.rules.n_observe,
             d.cfg.rules.n_mappings, d.cfg.rules.n_commands, held, server_count(d.lwm2m));
    status = run(&d);

out:
    if (d.bridge && d.lwm2m)
        bridge_drain(d.bridge);
    http_free(d.http);
    server_free(d.lwm2m);
    bridge_free(d.bridge, STOP_TIMEOUT_MS);
    model_free(d.model);
    if (d.epfd >= 0)
        close(d.epfd);
    if (d.sigfd >= 0)
        close(d.sigfd);
    if (d.timerfd >= 0)
        close(d.timerfd);
    conffile_clear(&d.cfg);
    log_info("stopped status=%d", status);
    return status;
}
