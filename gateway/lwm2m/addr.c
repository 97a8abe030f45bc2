/* addr.c - a peer's address as text (see addr.h). */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>

void addr_format(const coap_address_t *a, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (a->addr.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->addr.sin.sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(a->addr.sin.sin_port));
    } else if (a->addr.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->addr.sin6.sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(a->addr.sin6.sin6_port));
    } else {
        snprintf(buf, len, "unknown");
    }
}
