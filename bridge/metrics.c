/* metrics.c - what the gateway counts, in two forms: the Prometheus text exposition format
 * (served over HTTP by the daemon) and the JSON summary on {prefix}/gateway/stats. Both come
 * from the one table below, so that they always say the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_internal.h"
#include "gw.h"

enum source {
    FROM_SERVER, /* enum server_counter */
    FROM_BRIDGE, /* enum bridge_counter */
    FROM_GAUGE,  /* enum gauge */
};

enum gauge {
    G_REGISTERED,
    G_OBSERVATIONS,
    G_HELD,
    G_MQTT_CONNECTED,
    G_MQTT_QUEUED,
    G_UPTIME,
    G_GAUGES
};

struct metric {
    const char *name;  /* the Prometheus family */
    const char *label; /* `kind="register"`, or NULL */
    const char *key;   /* its field in the stats JSON */
    const char *help;  /* for the first metric of a family */
    enum source from;
    int index;
    bool gauge;
    bool flag; /* 0 or 1; true or false in JSON */
};

#define COAP_IN "lwm2m_gw_coap_requests_total"
#define COAP_REFUSED "lwm2m_gw_coap_refused_total"
#define COAP_RESPONSES "lwm2m_gw_coap_responses_total"
#define DISCARDED "lwm2m_gw_notifications_discarded_total"
#define PUBLISHED "lwm2m_gw_mqtt_published_total"
#define MQTT_IN "lwm2m_gw_mqtt_requests_total"
#define ANSWERS "lwm2m_gw_answers_total"

static const struct metric metrics[] = {
    {"lwm2m_gw_registered_devices", NULL, "registered", "Devices registered now", FROM_GAUGE,
     G_REGISTERED, true, false},
    {"lwm2m_gw_observations", NULL, "observations", "Observations established now", FROM_GAUGE,
     G_OBSERVATIONS, true, false},
    {"lwm2m_gw_held_requests", NULL, "held",
     "MQTT requests in the store, waiting for a device "
     "or for the broker to take their answer",
     FROM_GAUGE, G_HELD, true, false},
    {"lwm2m_gw_mqtt_connected", NULL, "mqtt_connected", "1 while connected to the broker",
     FROM_GAUGE, G_MQTT_CONNECTED, true, true},
    {"lwm2m_gw_mqtt_queued", NULL, "mqtt_queued",
     "MQTT publications waiting in the gateway: the broker away, or its window of "
     "unacknowledged publications full",
     FROM_GAUGE, G_MQTT_QUEUED, true, false},
    {"lwm2m_gw_uptime_seconds", NULL, "uptime", "Seconds since the gateway started", FROM_GAUGE,
     G_UPTIME, true, false},

    {COAP_IN, "kind=\"register\"", "coap_register",
     "CoAP requests from devices, by kind, whatever their answer", FROM_SERVER, SRV_IN_REGISTER,
     false, false},
    {COAP_IN, "kind=\"update\"", "coap_update", NULL, FROM_SERVER, SRV_IN_UPDATE, false, false},
    {COAP_IN, "kind=\"deregister\"", "coap_deregister", NULL, FROM_SERVER, SRV_IN_DEREGISTER, false,
     false},
    {COAP_IN, "kind=\"send\"", "coap_send", NULL, FROM_SERVER, SRV_IN_SEND, false, false},
    {COAP_IN, "kind=\"other\"", "coap_other", NULL, FROM_SERVER, SRV_IN_OTHER, false, false},
    {COAP_REFUSED, "kind=\"register\"", "coap_register_refused",
     "CoAP requests from devices answered with an error (4.xx, 5.xx), by kind", FROM_SERVER,
     SRV_REFUSED_REGISTER, false, false},
    {COAP_REFUSED, "kind=\"update\"", "coap_update_refused", NULL, FROM_SERVER, SRV_REFUSED_UPDATE,
     false, false},
    {COAP_REFUSED, "kind=\"deregister\"", "coap_deregister_refused", NULL, FROM_SERVER,
     SRV_REFUSED_DEREGISTER, false, false},
    {COAP_REFUSED, "kind=\"send\"", "coap_send_refused", NULL, FROM_SERVER, SRV_REFUSED_SEND, false,
     false},
    {COAP_REFUSED, "kind=\"other\"", "coap_other_refused", NULL, FROM_SERVER, SRV_REFUSED_OTHER,
     false, false},
    {COAP_RESPONSES, "kind=\"notification\"", "notifications",
     "CoAP responses from devices: notifications of observations, answers to requests", FROM_SERVER,
     SRV_IN_NOTIFY, false, false},
    {COAP_RESPONSES, "kind=\"answer\"", "coap_answers", NULL, FROM_SERVER, SRV_IN_RESPONSE, false,
     false},
    {DISCARDED, "reason=\"unknown\"", "notifications_unknown",
     "Notifications not published: for no observation (reset), stale, undecodable", FROM_SERVER,
     SRV_NOTIFY_UNKNOWN, false, false},
    {DISCARDED, "reason=\"stale\"", "notifications_stale", NULL, FROM_SERVER, SRV_NOTIFY_STALE,
     false, false},
    {DISCARDED, "reason=\"undecodable\"", "notifications_undecodable", NULL, FROM_SERVER,
     SRV_NOTIFY_UNDECODABLE, false, false},
    {"lwm2m_gw_device_requests_total", NULL, "device_requests",
     "CoAP requests sent to devices (observe, write-attributes, MQTT requests)", FROM_SERVER,
     SRV_OUT_REQUEST, false, false},
    {"lwm2m_gw_device_requests_unanswered_total", NULL, "device_requests_unanswered",
     "CoAP requests to devices that ended without an answer", FROM_SERVER, SRV_REQUEST_UNANSWERED,
     false, false},
    {"lwm2m_gw_registrations_expired_total", NULL, "expired",
     "Registrations that ended at their lifetime", FROM_SERVER, SRV_EXPIRED, false, false},
    {"lwm2m_gw_coap_dropped_total", NULL, "coap_dropped",
     "CoAP datagrams the kernel dropped at the listeners before the gateway read them: a receive "
     "buffer was full, or notifications were shed while values arrived faster than the MQTT side "
     "took them",
     FROM_SERVER, SRV_DATAGRAMS_DROPPED, false, false},

    {PUBLISHED, "kind=\"status\"", "published_status",
     "MQTT publications handed to the client library, by kind", FROM_BRIDGE, BR_PUB_STATUS, false,
     false},
    {PUBLISHED, "kind=\"registration\"", "published_registration", NULL, FROM_BRIDGE,
     BR_PUB_REGISTRATION, false, false},
    {PUBLISHED, "kind=\"event\"", "published_event", NULL, FROM_BRIDGE, BR_PUB_EVENT, false, false},
    {PUBLISHED, "kind=\"data\"", "values_published", NULL, FROM_BRIDGE, BR_PUB_DATA, false, false},
    {PUBLISHED, "kind=\"answer\"", "published_answer", NULL, FROM_BRIDGE, BR_PUB_ANSWER, false,
     false},
    {PUBLISHED, "kind=\"stats\"", "published_stats", NULL, FROM_BRIDGE, BR_PUB_STATS, false, false},
    {"lwm2m_gw_mqtt_dropped_total", NULL, "dropped",
     "MQTT publications lost: the gateway's queue (mqtt.max_buffered) was full, the client "
     "library refused them or could not write them (QoS 0), or the broker did not acknowledge "
     "them",
     FROM_BRIDGE, BR_DROPPED, false, false},
    {MQTT_IN, "result=\"accepted\"", "requests", "MQTT messages on the request topics, by result",
     FROM_BRIDGE, BR_REQ_ACCEPTED, false, false},
    {MQTT_IN, "result=\"invalid\"", "invalid", NULL, FROM_BRIDGE, BR_REQ_INVALID, false, false},
    {MQTT_IN, "result=\"ignored\"", "ignored", NULL, FROM_BRIDGE, BR_REQ_IGNORED, false, false},
    {ANSWERS, "status=\"ok\"", "answers_ok", "Answers to MQTT requests, by status", FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_OK, false, false},
    {ANSWERS, "status=\"device-error\"", "answers_device_error", NULL, FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_DEVICE_ERROR, false, false},
    {ANSWERS, "status=\"timeout\"", "answers_timeout", NULL, FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_TIMEOUT, false, false},
    {ANSWERS, "status=\"invalid\"", "answers_invalid", NULL, FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_INVALID, false, false},
    {ANSWERS, "status=\"offline\"", "answers_offline", NULL, FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_OFFLINE, false, false},
    {ANSWERS, "status=\"expired\"", "answers_expired", NULL, FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_EXPIRED, false, false},
    {ANSWERS, "status=\"rejected\"", "answers_rejected", NULL, FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_REJECTED, false, false},
    {ANSWERS, "status=\"held\"", "answers_held", NULL, FROM_BRIDGE,
     BR_ANSWER_FIRST + GW_STATUS_HELD, false, false},
};

/* The values of every metric, in table order. */
static void collect(const struct bridge *b, uint64_t *out)
{
    uint64_t srv[SRV_COUNTERS] = {0}, gauge[G_GAUGES];
    if (b->server)
        server_counters(b->server, srv);
    gauge[G_REGISTERED] = b->server ? server_count(b->server) : 0;
    gauge[G_OBSERVATIONS] = b->server ? server_observation_count(b->server) : 0;
    gauge[G_HELD] = hold_count(b->hold);
    gauge[G_MQTT_CONNECTED] = b->connected;
    gauge[G_MQTT_QUEUED] = b->out_waiting + b->out_kept;
    gauge[G_UPTIME] = (uint64_t)((gw_now_mono_ms() - b->started_at) / 1000);
    for (size_t i = 0; i < GW_ARRAY_LEN(metrics); i++) {
        const struct metric *m = &metrics[i];
        out[i] = m->from == FROM_SERVER   ? srv[m->index]
                 : m->from == FROM_BRIDGE ? b->ctr[m->index]
                                          : gauge[m->index];
    }
}

char *bridge_metrics_text(const struct bridge *b)
{
    uint64_t v[GW_ARRAY_LEN(metrics)];
    collect(b, v);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < GW_ARRAY_LEN(metrics); i++) {
        const struct metric *m = &metrics[i];
        if (m->help)
            fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                    m->gauge ? "gauge" : "counter");
        fprintf(f, "%s%s%s%s %llu\n", m->name, m->label ? "{" : "", m->label ? m->label : "",
                m->label ? "}" : "", (unsigned long long)v[i]);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The summary on {prefix}/gateway/stats (not retained). */
void bridge_publish_stats(struct bridge *b)
{
    char topic[512];
    uint64_t v[GW_ARRAY_LEN(metrics)];
    snprintf(topic, sizeof(topic), "%s/gateway/stats", b->prefix);
    collect(b, v);
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    if (!f)
        return;
    fprintf(f, "{\"ts\":%lld", (long long)gw_now_wall_ms());
    for (size_t i = 0; i < GW_ARRAY_LEN(metrics); i++) {
        if (metrics[i].flag)
            fprintf(f, ",\"%s\":%s", metrics[i].key, v[i] ? "true" : "false");
        else
            fprintf(f, ",\"%s\":%llu", metrics[i].key, (unsigned long long)v[i]);
    }
    fputc('}', f);
    if (fclose(f) == 0)
        bridge_publish(b, BR_PUB_STATS, topic, json, len, -1, false);
    free(json);
}
