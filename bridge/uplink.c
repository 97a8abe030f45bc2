/* uplink.c - what the LwM2M side reports, published: the lifecycle topics of every device
 * (status, registration, events) and its values, translated by the mapping rules. Runs on the
 * loop thread, inside the server's callbacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_internal.h"
#include "gw.h"

static void publish_device(struct bridge *b, enum bridge_counter kind, const char *ep,
                           const char *leaf, const char *text, bool retain)
{
    char topic[512];
    if (mappings_device_topic(b->prefix, ep, leaf, topic, sizeof(topic)) < 0) {
        log_warn("mqtt-topic-too-long ep=%s leaf=%s", ep, leaf);
        return;
    }
    bridge_publish(b, kind, topic, text ? text : "", text ? strlen(text) : 0, -1, retain);
}

static void publish_json(struct bridge *b, enum bridge_counter kind, const char *ep,
                         const char *leaf, char *json, bool retain)
{
    if (!json) {
        log_error("mqtt-publish-dropped ep=%s leaf=%s reason=\"out of memory\"", ep, leaf);
        return;
    }
    publish_device(b, kind, ep, leaf, json, retain);
    free(json);
}

/* Registrations are persisted so that a restarted gateway still knows the devices that keep
 * sending Updates to their old location. */
static void persist(struct bridge *b, const struct registration *reg)
{
    store_registration_put(b->store, reg, gw_now_wall_ms() + (int64_t)reg->lifetime * 1000);
}

static void cb_registered(void *ctx, const struct registration *reg)
{
    struct bridge *b = ctx;
    persist(b, reg);
    publish_device(b, BR_PUB_STATUS, reg->ep, "status", "online", true);
    publish_json(b, BR_PUB_REGISTRATION, reg->ep, "registration", mappings_registration_json(reg),
                 true);
    publish_json(b, BR_PUB_EVENT, reg->ep, "event",
                 mappings_event_json("registered", reg, 0, gw_now_wall_ms()), false);
}

static void cb_updated(void *ctx, const struct registration *reg, unsigned changed)
{
    struct bridge *b = ctx;
    persist(b, reg);
    publish_json(b, BR_PUB_REGISTRATION, reg->ep, "registration", mappings_registration_json(reg),
                 true);
    publish_json(b, BR_PUB_EVENT, reg->ep, "event",
                 mappings_event_json("updated", reg, changed, gw_now_wall_ms()), false);
}

static void cb_gone(void *ctx, const struct registration *reg, enum reg_gone why)
{
    struct bridge *b = ctx;
    if (why == GW_GONE_REPLACED)
        return; /* the new registration's messages follow at once and say it all */
    store_registration_delete(b->store, reg->ep);
    const char *event = why == GW_GONE_EXPIRED ? "expired" : "deregistered";
    publish_device(b, BR_PUB_STATUS, reg->ep, "status", "offline", true);
    publish_device(b, BR_PUB_REGISTRATION, reg->ep, "registration", NULL,
                   true); /* empty retained: cleared */
    publish_json(b, BR_PUB_EVENT, reg->ep, "event",
                 mappings_event_json(event, reg, 0, gw_now_wall_ms()), false);
}

/* ---- values: observations and notifications ---- */

static size_t cb_observations(void *ctx, const struct registration *reg, struct observe_spec *out,
                              size_t cap)
{
    struct bridge *b = ctx;
    size_t n = b->rules ? mappings_observations(b->rules, reg, out, cap) : 0;
    return downlink_observations(b, reg->ep, out, n, cap);
}

static void cb_values(void *ctx, const struct registration *reg, const struct data_path *path,
                      const struct data_records *records, int64_t received_at)
{
    struct bridge *b = ctx;
    (void)path;
    if (!b->rules)
        return;
    publications_reset(&b->pubs);
    int rc = mappings_render(b->rules, b->model, reg->ep, records, received_at, &b->pubs);
    if (rc < 0)
        log_warn("values-dropped ep=%s records=%zu reason=\"%s\"", reg->ep, records->n,
                 gw_strerror(rc));
    /* What was rendered before a failure still goes out. */
    for (size_t i = 0; i < b->pubs.n; i++) {
        const struct publication *p = &b->pubs.v[i];
        bridge_publish(b, BR_PUB_DATA, p->topic, p->payload, p->len, p->qos, p->retain);
    }
}

int bridge_set_rules(struct bridge *b, const struct mappings_config *rules, char *err,
                     size_t errlen)
{
    struct mappings *m = mappings_new(rules, b->prefix, b->qos, err, errlen);
    if (!m)
        return -GW_ERR_INVALID;
    mappings_free(b->rules);
    b->rules = m;
    bridge_resubscribe(b);
    return GW_OK;
}

static int restore_registration(void *arg, const struct registration *reg, int64_t expires_at)
{
    struct bridge *b = arg;
    int rc = server_restore(b->server, reg, expires_at);
    if (rc < 0 && rc != -GW_ERR_EXISTS)
        log_warn("restore-failed ep=%s reason=\"%s\"", reg->ep, gw_strerror(rc));
    return GW_OK;
}

static int restore_observation(void *arg, const char *ep, const struct observe_spec *spec)
{
    struct bridge *b = arg;
    struct ep_observations *o = downlink_requested(b, ep, true);
    if (o && o->n < GW_OBSERVE_MAX)
        o->spec[o->n++] = *spec;
    return GW_OK;
}

int bridge_attach(struct bridge *b, struct server *lw)
{
    b->server = lw;
    if (store_registrations_load(b->store, restore_registration, b) < 0 ||
        store_observations_load(b->store, restore_observation, b) < 0)
        return -GW_ERR_STORE;
    return hold_load(b->hold);
}

static const struct server_callbacks callbacks = {
    .on_registered = cb_registered,
    .on_updated = cb_updated,
    .on_gone = cb_gone,
    .observations = cb_observations,
    .on_values = cb_values,
    .on_ready = downlink_on_ready,
    .on_result = downlink_on_result,
};

const struct server_callbacks *bridge_server_callbacks(void)
{
    return &callbacks;
}
