/* observe.c - when a simulated device notifies. libcoap keeps the observers (it adds them on
 * GET with Observe=0, drops them on Observe=1, on RST and when a confirmable notification
 * fails) and sends a notification to every observer of a resource when told; this file
 * decides when to tell it, by the Write-Attributes of TS Core 5.1.2: not before pmin after the
 * last notification, at the latest at pmax, and for a numeric resource with gt, lt or st
 * only on crossing gt or lt or on a change of at least st. Devices with a deadline wait in
 * one binary min-heap, so that a thousand observed devices cost a heap step, not a scan.
 * Observe-Composite observations (composite.c) share the root's resource and are notified at
 * once on any change of a value they name, without pmin or pmax. */

#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the timetable ---------------------------------------------------------------------- */

static void heap_set(struct sim *sim, size_t i, struct device *dev)
{
    sim->heap[i] = dev;
    dev->heap_pos = i;
}

static void sift_up(struct sim *sim, size_t i)
{
    struct device *dev = sim->heap[i];
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (sim->heap[up]->due_ms <= dev->due_ms)
            break;
        heap_set(sim, i, sim->heap[up]);
        i = up;
    }
    heap_set(sim, i, dev);
}

static void sift_down(struct sim *sim, size_t i)
{
    struct device *dev = sim->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= sim->heap_n)
            break;
        if (child + 1 < sim->heap_n && sim->heap[child + 1]->due_ms < sim->heap[child]->due_ms)
            child++;
        if (sim->heap[child]->due_ms >= dev->due_ms)
            break;
        heap_set(sim, i, sim->heap[child]);
        i = child;
    }
    heap_set(sim, i, dev);
}

void observe_unschedule(struct device *dev)
{
    struct sim *sim = dev->sim;
    size_t i = dev->heap_pos;
    if (i == SIZE_MAX)
        return;
    dev->heap_pos = SIZE_MAX;
    struct device *last = sim->heap[--sim->heap_n];
    if (last == dev)
        return;
    heap_set(sim, i, last);
    sift_up(sim, i);
    sift_down(sim, last->heap_pos);
}

/* Files `dev` under its deadline `due` (INFINITY: takes it out). */
static void schedule(struct device *dev, double due)
{
    struct sim *sim = dev->sim;
    dev->due_ms = due;
    if (isinf(due)) {
        observe_unschedule(dev);
    } else if (dev->heap_pos == SIZE_MAX) {
        heap_set(sim, sim->heap_n++, dev);
        sift_up(sim, dev->heap_pos);
    } else {
        sift_up(sim, dev->heap_pos);
        sift_down(sim, dev->heap_pos);
    }
}

double observe_next_due(const struct sim *sim)
{
    return sim->heap_n > 0 ? sim->heap[0]->due_ms : INFINITY;
}

/* ---- attributes ------------------------------------------------------------------------- */

/* The pmin and pmax in force for an observation of node `idx`: its own, else those of the
 * enclosing instance, else the object's (a resource instance goes by its resource). No pmax
 * is 0; a pmax below pmin is ignored, as TS Core 5.1.2 asks. */
static void periods(const struct device *dev, unsigned idx, double *pmin, double *pmax)
{
    const struct layout *l = dev->layout;
    unsigned found = 0;
    *pmin = 0.0;
    *pmax = 0.0;
    for (int j = (int)idx; j >= 0 && found != (GW_ATTR_PMIN | GW_ATTR_PMAX);
         j = l->defs[j].parent) {
        const struct attrs *a = &dev->nodes[j].attrs;
        if ((a->has & GW_ATTR_PMIN) && !(found & GW_ATTR_PMIN)) {
            *pmin = a->pmin;
            found |= GW_ATTR_PMIN;
        }
        if ((a->has & GW_ATTR_PMAX) && !(found & GW_ATTR_PMAX)) {
            *pmax = a->pmax;
            found |= GW_ATTR_PMAX;
        }
    }
    if (*pmax < *pmin)
        *pmax = 0.0;
}

/* Parses a number attribute value: finite, `len` bytes, no trailing text. */
static bool parse_number(const char *text, size_t len, double *out)
{
    char buf[48];
    char *end;
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool numeric_type(enum data_type t)
{
    return t == GW_TYPE_INTEGER || t == GW_TYPE_UNSIGNED || t == GW_TYPE_FLOAT;
}

coap_pdu_code_t observe_write_attributes(struct device *dev, unsigned idx, const char *query,
                                         size_t len, char *why, size_t whylen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"pmin", GW_ATTR_PMIN},
                 {"pmax", GW_ATTR_PMAX},
                 {"gt", GW_ATTR_GT},
                 {"lt", GW_ATTR_LT},
                 {"st", GW_ATTR_ST}};
    const struct node_def *d = &dev->layout->defs[idx];
    struct attrs a = dev->nodes[idx].attrs;

    if (d->path.depth > 3) {
        snprintf(why, whylen, "attributes go on an object, an instance or a resource");
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    }
    /* libcoap joins the Uri-Query options with '&' */
    for (size_t at = 0; at < len;) {
        const char *param = query + at;
        const char *amp = memchr(param, '&', len - at);
        size_t plen = amp ? (size_t)(amp - param) : len - at;
        at += plen + 1;
        const char *eq = memchr(param, '=', plen);
        size_t nlen = eq ? (size_t)(eq - param) : plen;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strlen(names[i].name) == nlen && memcmp(names[i].name, param, nlen) == 0)
                bit = names[i].bit;
        if (bit == 0) {
            snprintf(why, whylen, "unsupported attribute '%.*s'", (int)(nlen > 40 ? 40 : nlen),
                     param);
            return COAP_RESPONSE_CODE_BAD_REQUEST;
        }
        if (bit & (GW_ATTR_GT | GW_ATTR_LT | GW_ATTR_ST) &&
            (d->path.depth != 3 || !d->has_value || !numeric_type(d->type))) {
            snprintf(why, whylen, "%.*s applies to a numeric single resource only", (int)nlen,
                     param);
            return COAP_RESPONSE_CODE_BAD_REQUEST;
        }
        if (eq == NULL) { /* an attribute without value is removed */
            a.has &= ~bit;
            continue;
        }
        double v;
        if (!parse_number(eq + 1, plen - nlen - 1, &v) ||
            (v < 0 && !(bit & (GW_ATTR_GT | GW_ATTR_LT)))) {
            snprintf(why, whylen, "%.*s needs a %snumber", (int)nlen, param,
                     bit & (GW_ATTR_GT | GW_ATTR_LT) ? "" : "non-negative ");
            return COAP_RESPONSE_CODE_BAD_REQUEST;
        }
        a.has |= bit;
        switch (bit) {
        case GW_ATTR_PMIN:
            a.pmin = v;
            break;
        case GW_ATTR_PMAX:
            a.pmax = v;
            break;
        case GW_ATTR_GT:
            a.gt = v;
            break;
        case GW_ATTR_LT:
            a.lt = v;
            break;
        default:
            a.st = v;
            break;
        }
    }
    /* TS Core 5.1.2: lt < gt, and lt + 2 st < gt when all three are set */
    if ((a.has & GW_ATTR_GT) && (a.has & GW_ATTR_LT) &&
        (a.lt >= a.gt || ((a.has & GW_ATTR_ST) && a.lt + 2 * a.st >= a.gt))) {
        snprintf(why, whylen, "lt must stay below gt (by more than 2 st)");
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    }
    dev->nodes[idx].attrs = a;
    observe_flush(dev, sim_now_ms()); /* the deadlines may have moved */
    return COAP_RESPONSE_CODE_CHANGED;
}

/* ---- observations ----------------------------------------------------------------------- */

void observe_started(struct device *dev, unsigned idx, double now_ms)
{
    struct node *n = &dev->nodes[idx];
    n->observed = true;
    n->pending = false;
    n->last_ms = now_ms;
    n->last_number = objects_number(dev, idx);
    observe_flush(dev, now_ms);
}

/* Whether `value` moved across `threshold`. */
static bool crosses(double before, double after, double threshold)
{
    return (before > threshold) != (after > threshold);
}

/* Whether a change of the value below observation `obs` from `before` to `after` is worth a
 * notification: always for objects, instances and non-numeric values; for a resource with
 * gt, lt or st, only when it crosses gt or lt or moved by st since the last notification. */
static bool worth_notifying(const struct device *dev, unsigned obs, double before, double after)
{
    const struct layout *l = dev->layout;
    const struct node_def *d = &l->defs[obs];
    if (d->path.depth < 3 || !d->has_value || isnan(before) || isnan(after))
        return true;
    unsigned res = d->path.depth == 4 ? (unsigned)d->parent : obs;
    const struct attrs *a = &dev->nodes[res].attrs;
    if (!(a->has & (GW_ATTR_GT | GW_ATTR_LT | GW_ATTR_ST)))
        return true;
    return ((a->has & GW_ATTR_GT) && crosses(before, after, a->gt)) ||
           ((a->has & GW_ATTR_LT) && crosses(before, after, a->lt)) ||
           ((a->has & GW_ATTR_ST) && fabs(after - dev->nodes[obs].last_number) >= a->st);
}

void observe_changed(struct device *dev, unsigned idx, double before, double after)
{
    const struct layout *l = dev->layout;
    for (int j = (int)idx; j >= 0; j = l->defs[j].parent) {
        struct node *n = &dev->nodes[j];
        if (n->observed && !n->pending && worth_notifying(dev, (unsigned)j, before, after))
            n->pending = true;
    }
    if (dev->root.observed && !dev->root.pending && composite_concerns(dev, idx))
        dev->root.pending = true;
}

void observe_forget(struct device *dev, unsigned idx)
{
    struct node *n = &dev->nodes[idx];
    n->observed = false;
    n->pending = false;
    memset(&n->attrs, 0, sizeof(n->attrs));
}

/* When observation `idx` must notify next, INFINITY when only a change can make it. */
static double node_due(const struct device *dev, unsigned idx)
{
    const struct node *n = &dev->nodes[idx];
    double pmin, pmax;
    if (!n->observed)
        return INFINITY;
    periods(dev, idx, &pmin, &pmax);
    if (n->pending)
        return n->last_ms + pmin * 1e3;
    return pmax > 0.0 ? n->last_ms + pmax * 1e3 : INFINITY;
}

/* Has libcoap notify the observers of `n` with the values of now. Returns false when no
 * observer is left. */
static bool notify_node(struct device *dev, struct node *n)
{
    n->pending = false;
    if (n->resource == NULL || !coap_resource_notify_observers(n->resource, NULL)) {
        n->observed = false; /* the last observer is gone */
        return false;
    }
    /* The clock, not the caller's `now`: a loop busy with a thousand devices would otherwise
     * date the notification early, and the next one could come before pmin. */
    n->last_ms = sim_now_ms();
    n->armed = true;
    dev->io_wanted = true;
    radio_uplink(dev);
    return true;
}

static void notify(struct device *dev, unsigned idx)
{
    if (notify_node(dev, &dev->nodes[idx]))
        dev->nodes[idx].last_number = objects_number(dev, idx);
}

void observe_flush(struct device *dev, double now_ms)
{
    double due = INFINITY;
    for (unsigned i = 0; i < dev->layout->n; i++) {
        if (!dev->nodes[i].observed)
            continue;
        double at = node_due(dev, i);
        if (at <= now_ms) {
            notify(dev, i);
            at = node_due(dev, i);
        }
        if (at < due)
            due = at;
    }
    if (dev->root.observed && dev->root.pending && !notify_node(dev, &dev->root))
        dev->composite_n = 0; /* every Observe-Composite has ended */
    schedule(dev, due);
}

void observe_run_due(struct sim *sim, double now_ms)
{
    while (sim->heap_n > 0 && sim->heap[0]->due_ms <= now_ms) {
        struct device *dev = sim->heap[0];
        observe_flush(dev, now_ms); /* moves it past now_ms, or out */
        if (dev->io_wanted)
            sim_device_send(dev);
        if (dev->heap_pos == 0 && dev->due_ms <= now_ms)
            break; /* a pmax too small to move the clock: wait for the next round */
    }
}
