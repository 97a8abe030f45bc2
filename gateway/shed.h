/* shed.h - how large a share of incoming notifications to let through when values arrive faster
 * than the MQTT side takes them (main.c looks every SHED_EVERY_MS and has the kernel drop the
 * rest unread: server_shed_notifications). */
#ifndef SHED_H
#define SHED_H

#include <stddef.h>
#include <stdint.h>

#define SHED_EVERY_MS 100 /* between two looks while values move */
#define SHED_IDLE_MS 1000 /* between two looks in which nothing moved */

/* What happened since the last look. */
struct shed_look {
    uint64_t handed;    /* values the MQTT side took */
    uint64_t dropped;   /* values the full queue dropped */
    uint64_t shed;      /* notifications the kernel dropped unread */
    size_t waiting_was; /* values in the queue at the last look */
    size_t waiting;     /* and now */
    size_t max;         /* its bound, mqtt.max_buffered */
};

/* The share of notifications to let through from now on (0 to 1), after `pass` until now. */
double shed_share(double pass, const struct shed_look *l);

#endif
