/* lifecycle.c - the topics and JSON documents of a device's life (SPEC section 3): the
 * retained registration document and the events registered, updated, deregistered, expired.
 * Pure: the caller passes the time in. */
#include "mappings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw.h"

int mappings_device_topic(const char *prefix, const char *ep, const char *leaf, char *buf,
                          size_t len)
{
    int n = leaf ? snprintf(buf, len, "%s/%s/%s", prefix, ep, leaf)
                 : snprintf(buf, len, "%s/%s", prefix, ep);
    return n < 0 || (size_t)n >= len ? -GW_ERR_FULL : GW_OK;
}

/* The object links as paths ("/3/0", "/3303"), in the order the device sent them. */
static json_t *objects_json(const struct registration *reg)
{
    json_t *a = json_array();
    char path[24];
    for (size_t i = 0; a && i < reg->n_objects; i++) {
        const struct object_link *o = &reg->objects[i];
        if (o->iid < 0)
            snprintf(path, sizeof(path), "/%u", o->oid);
        else
            snprintf(path, sizeof(path), "/%u/%d", o->oid, (int)o->iid);
        json_array_append_new(a, json_string(path));
    }
    return a;
}

/* {"3303":"1.1"}: the objects that carried a `ver` attribute, or NULL when none did. */
static json_t *versions_json(const struct registration *reg)
{
    json_t *v = NULL;
    char oid[8];
    for (size_t i = 0; i < reg->n_objects; i++) {
        const struct object_link *o = &reg->objects[i];
        if (!o->ver[0])
            continue;
        if (!v && !(v = json_object()))
            return NULL;
        snprintf(oid, sizeof(oid), "%u", o->oid);
        json_object_set_new(v, oid, json_string(o->ver));
    }
    return v;
}

static void add_binding(json_t *o, const struct registration *reg)
{
    json_object_set_new(o, "binding", json_string(reg->binding));
    json_object_set_new(o, "queue_mode", json_boolean(reg->queue_mode));
}

static void add_objects(json_t *o, const struct registration *reg)
{
    json_object_set_new(o, "objects", objects_json(reg));
    json_t *versions = versions_json(reg);
    if (versions)
        json_object_set_new(o, "object_versions", versions);
    if (reg->root[0])
        json_object_set_new(o, "root_path", json_string(reg->root));
    if (reg->ct[0])
        json_object_set_new(o, "content_formats", json_string(reg->ct));
}

static char *dump(json_t *o)
{
    if (!o)
        return NULL;
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

char *mappings_registration_json(const struct registration *reg)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "ep", json_string(reg->ep));
    json_object_set_new(o, "location", json_sprintf("/rd/%s", reg->id));
    json_object_set_new(o, "lifetime", json_integer(reg->lifetime));
    json_object_set_new(o, "lwm2m", json_string(reg->lwm2m));
    add_binding(o, reg);
    if (reg->sms[0])
        json_object_set_new(o, "sms", json_string(reg->sms));
    add_objects(o, reg);
    json_object_set_new(o, "address", json_string(reg->address));
    json_object_set_new(o, "registered_at", json_integer(reg->registered_at));
    json_object_set_new(o, "updated_at", json_integer(reg->updated_at));
    return dump(o);
}

char *mappings_event_json(const char *event, const struct registration *reg, unsigned changed,
                          int64_t ts)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "event", json_string(event));
    json_object_set_new(o, "ep", json_string(reg->ep));
    json_object_set_new(o, "ts", json_integer(ts));
    if (strcmp(event, "registered") == 0) {
        json_object_set_new(o, "lifetime", json_integer(reg->lifetime));
        json_object_set_new(o, "lwm2m", json_string(reg->lwm2m));
        add_binding(o, reg);
        json_object_set_new(o, "address", json_string(reg->address));
    } else if (strcmp(event, "updated") == 0) {
        if (changed & GW_CHANGED_LIFETIME)
            json_object_set_new(o, "lifetime", json_integer(reg->lifetime));
        if (changed & GW_CHANGED_BINDING)
            add_binding(o, reg);
        if (changed & GW_CHANGED_SMS)
            json_object_set_new(o, "sms", json_string(reg->sms));
        if (changed & GW_CHANGED_OBJECTS)
            add_objects(o, reg);
        if (changed & GW_CHANGED_ADDRESS)
            json_object_set_new(o, "address", json_string(reg->address));
    }
    return dump(o);
}
