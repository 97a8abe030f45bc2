/* shed.c - the share of notifications let through in an overload. When the MQTT side takes
 * values more slowly than devices notify, the bridge's queue fills and drops the excess, but
 * only after the loop has read, decoded and rendered each one: CPU the broker and the MQTT
 * client then lack. So while the queue drops values, the share let through is SHED_MARGIN of
 * what the MQTT side took since the last look, over what arrived (read, or dropped by the
 * kernel): less comes in than goes out, and the queue drains. That share is set again at every
 * look while the queue is more than half full, so that it follows the MQTT side: after a stall
 * of the broker it opens as soon as the broker takes values again, rather than stay at the
 * nothing the stall left until the queue had drained to half. At most half full, the share
 * doubles back up; once the queue is empty, everything is let through. */
#include "shed.h"

#define SHED_MARGIN 0.9

double shed_share(double pass, const struct shed_look *l)
{
    if (l->dropped || (pass < 1 && l->waiting > l->max / 2)) {
        /* what was read: taken by the MQTT side, dropped at the queue, or left in it */
        int64_t read = (int64_t)l->handed + (int64_t)l->dropped + (int64_t)l->waiting -
                       (int64_t)l->waiting_was;
        double arrived = (double)(read > 0 ? read : 0) + (double)l->shed;
        if (arrived <= 0)
            return pass; /* nothing came: nothing to go by */
        double share = SHED_MARGIN * (double)l->handed / arrived;
        return share < 1 ? share : 1;
    }
    if (l->waiting == 0)
        return 1;
    if (l->waiting <= l->max / 2)
        return pass * 2 + 0.05 < 1 ? pass * 2 + 0.05 : 1;
    return pass;
}
