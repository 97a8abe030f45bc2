/* sim.h - the simulated devices of devsim: what the command line asks for (struct options,
 * struct action) and the simulator that carries it out over CoAP (struct sim, opaque). */
#ifndef GW_DEVSIM_SIM_H
#define GW_DEVSIM_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "data.h"

/* Longest host name in --server. */
#define GW_HOST_MAX 256
/* Longest binding value an Update may carry (b=...). */
#define GW_BINDING_MAX 32
/* Most paths one Send may name. */
#define GW_SEND_PATHS_MAX 16
/* Longest pre-shared key, in bytes (--psk-key, --psk-file). */
#define GW_PSK_KEY_MAX 128
/* --bind: the source ports of the devices on each address, up to GW_BIND_PORT_LAST (below
 * Linux's ephemeral range, 32768 and up). */
#define GW_BIND_PORT_BASE 20000
#define GW_BIND_PORT_LAST 32767
/* Longest PSK identity, {ep} replaced (OpenSSL takes up to 256 bytes). */
#define GW_PSK_IDENTITY_MAX 255

enum gw_op {
    GW_OP_REGISTER,
    GW_OP_UPDATE,
    GW_OP_DEREGISTER,
    GW_OP_SEND,
};

enum gw_action_kind {
    GW_ACTION_REQUEST, /* one request per device: register, update, deregister or send */
    GW_ACTION_WAIT,    /* wait:S and serve[:S] */
    GW_ACTION_SILENT,
    GW_ACTION_MUTE,   /* from here on, drop every request from the server */
    GW_ACTION_UNMUTE, /* answer the server again */
};

/* One line of --psk-file: the credentials of one endpoint. */
struct psk_entry {
    char *endpoint;
    char *identity;
    uint8_t key[GW_PSK_KEY_MAX];
    size_t key_len;
};

/* The command line options. Strings are borrowed from argv, but for psk_entries. */
struct options {
    char server_host[GW_HOST_MAX]; /* from --server, without brackets */
    uint16_t server_port;
    bool server_is_name; /* the host is a name, not an address literal: sent as SNI */
    /* coaps:// (DTLS 1.2): PSK (psk_identity or psk_entries) or X.509 (cert and key). */
    bool dtls;
    const char *psk_identity;        /* --psk-identity, "{ep}" stands for the endpoint name */
    uint8_t psk_key[GW_PSK_KEY_MAX]; /* --psk-key, decoded */
    size_t psk_key_len;
    struct psk_entry *psk_entries; /* --psk-file, owned, sorted by endpoint name */
    size_t psk_count;
    const char *cert; /* --cert, --key, --ca: PEM file names, "{ep}" replaced per device */
    const char *key;
    const char *ca;      /* NULL: the server's certificate is not verified */
    const char *ciphers; /* --ciphers: OpenSSL cipher list, or NULL for libcoap's */
    unsigned long count;
    const char *ep;        /* single device name, or NULL */
    const char *ep_prefix; /* names are ep_prefix + index when ep is NULL */
    const char *version;   /* "1.0", "1.1" or "1.2" */
    unsigned long lifetime;
    const char *binding; /* overrides the b= value of Register, or NULL */
    bool queue;
    const char *objects;
    const char *root; /* alternate root path without trailing '/', or NULL */
    unsigned long timeout_ms;
    unsigned long concurrency;
    bool quiet;
    double rate;            /* changes per second of the changing resources, 0 for none */
    double rate_after;      /* --rate-after: seconds from the start to the first change */
    const char *format;     /* --format name ("tlv", "senml-json", ...), or NULL for the default */
    bool notify_con;        /* notifications are confirmable */
    bool trace;             /* one JSON line per served request and per notification */
    double awake;           /* --awake: seconds a device listens after each uplink; < 0: always */
    bool unresponsive;      /* --unresponsive: every request from the server is dropped */
    unsigned long delay_ms; /* --delay-ms: requests answered separately, this late; 0: not */
    /* --bind: device i's socket is bound to IPv4 address bind_first + i mod bind_count (host
     * byte order), so that more devices than one address has ports can run; 0: any. */
    uint32_t bind_first;
    uint32_t bind_count;
    bool stamp; /* --stamp: 3303/x/5700 is the wall clock in microseconds at each change */
    /* Set (from a signal handler) to end the current wait or serve action early. */
    const volatile sig_atomic_t *interrupted;
};

/* One ACTION of the command line. */
struct action {
    enum gw_action_kind kind;
    enum gw_op op;     /* GW_ACTION_REQUEST */
    bool has_lifetime; /* update: carries lt= */
    unsigned long lifetime;
    char binding[GW_BINDING_MAX]; /* update: b= value, "" for none */
    char *payload;                /* update: owned link-format payload, or NULL for none */
    double wait_seconds;          /* GW_ACTION_WAIT; INFINITY for serve without a time */
    struct data_path send_paths[GW_SEND_PATHS_MAX]; /* send: the paths to report */
    size_t send_count; /* send: 0 means the resources that change (--rate) */
};

struct sim;

/* Creates the simulator: resolves the server, builds the objects of the devices from
 * opt->objects, and gives each device a CoAP context of its own (its resources and their
 * observers) with one client session (own UDP socket). `opt` is borrowed and must outlive the
 * simulator. Takes ownership of `register_payload` (the link-format body of Register), also on
 * failure. Returns NULL after printing the reason on stderr. */
struct sim *sim_new(const struct options *opt, char *register_payload);

/* Releases every device and the simulator, without telling observers (a device that goes
 * away says nothing). DTLS sessions end with a close_notify, unless sim_set_silent was
 * called. sim_free(NULL) is harmless. */
void sim_free(struct sim *sim);

/* Sends the request of `act` (a GW_ACTION_REQUEST) for every device, at most
 * opt->concurrency at once, printing one JSON line per finished request unless quiet.
 * Returns when every request is answered or has timed out. Devices go on answering the
 * server and notifying meanwhile. */
void sim_run_requests(struct sim *sim, const struct action *act);

/* Keeps serving CoAP (answering the server, changing values, notifying) for `seconds`
 * (INFINITY: until opt->interrupted is set), or until opt->interrupted is set. */
void sim_run_wait(struct sim *sim, double seconds);

/* Mutes (or unmutes) every device: a muted device drops each request from the server without
 * an answer, as --unresponsive does from the start. */
void sim_set_muted(struct sim *sim, bool muted);

/* With coaps://, prints the DTLS part of the summary line: `,"handshakes":N,...` (see
 * README.md); nothing for coap://. */
void sim_print_dtls_summary(const struct sim *sim, FILE *out);

/* The silent action: the devices stop as if they lost power, and sim_free sends no DTLS
 * close_notify either. */
void sim_set_silent(struct sim *sim);

/* Requests that got a 2.xx answer, and all others (errors, timeouts, not sent). */
unsigned long sim_ok_count(const struct sim *sim);
unsigned long sim_failed_count(const struct sim *sim);

/* Notifications the devices built (and handed to libcoap to send) since the start. */
unsigned long sim_notification_count(const struct sim *sim);

/* Monotonic time in milliseconds, for durations. */
double sim_now_ms(void);

#endif
