/* uplink.c - what the LwM2M side reports, published: the lifecycle topics of every device
 * (status, registration, events) and its values, translated by the mapping rules. Runs on the
 * loop thread, inside the server's callbacks. */
#include <stdlib.h>
#include <string.h>

#include "bridge_internal.h"
#include "gw.h"

static void publish_device(struct bridge *b, const char *ep, const char *leaf, const char *text,
                           bool retain)
{
    char topic[512];
    if (mappings_device_topic(b->prefix, ep, leaf, topic, sizeof(topic)) < 0) {
        log_warn("mqtt-topic-too-long ep=%s leaf=%s", ep, leaf);
        return;
    }
    bridge_publish(b, topic, text ? text : "", text ? strlen(text) : 0, -1, retain);
}

static void publish_json(struct bridge *b, const char *ep, const char *leaf, char *json,
                         bool retain)
{
    if (!json) {
        log_error("mqtt-publish-dropped ep=%s leaf=%s reason=\"out of memory\"", ep, leaf);
        return;
    }
    publish_device(b, ep, leaf, json, retain);
    free(json);
}

static void cb_registered(void *ctx, const struct registration *reg)
{
    struct bridge *b = ctx;
    publish_device(b, reg->ep, "status", "online", true);
    publish_json(b, reg->ep, "registration", mappings_registration_json(reg), true);
    publish_json(b, reg->ep, "event", mappings_event_json("registered", reg, 0, gw_now_wall_ms()),
                 false);
}

static void cb_updated(void *ctx, const struct registration *reg, unsigned changed)
{
    struct bridge *b = ctx;
    publish_json(b, reg->ep, "registration", mappings_registration_json(reg), true);
    publish_json(b, reg->ep, "event",
                 mappings_event_json("updated", reg, changed, gw_now_wall_ms()), false);
}

static void cb_gone(void *ctx, const struct registration *reg, enum reg_gone why)
{
    struct bridge *b = ctx;
    if (why == GW_GONE_REPLACED)
        return; /* the new registration's messages follow at once and say it all */
    const char *event = why == GW_GONE_EXPIRED ? "expired" : "deregistered";
    publish_device(b, reg->ep, "status", "offline", true);
    publish_device(b, reg->ep, "registration", NULL, true); /* empty retained: cleared */
    publish_json(b, reg->ep, "event", mappings_event_json(event, reg, 0, gw_now_wall_ms()), false);
}

/* ---- values: observations and notifications ---- */

static size_t cb_observations(void *ctx, const struct registration *reg, struct observe_spec *out,
                              size_t cap)
{
    struct bridge *b = ctx;
    return b->rules ? mappings_observations(b->rules, reg, out, cap) : 0;
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
        bridge_publish(b, p->topic, p->payload, p->len, p->qos, p->retain);
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
    return GW_OK;
}

static const struct server_callbacks callbacks = {
    .on_registered = cb_registered,
    .on_updated = cb_updated,
    .on_gone = cb_gone,
    .observations = cb_observations,
    .on_values = cb_values,
};

const struct server_callbacks *bridge_server_callbacks(void)
{
    return &callbacks;
}
