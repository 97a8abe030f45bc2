/* sock.c - the process's own sockets, for the few settings the libraries we use do not expose
 * (libcoap 4.3.1 hides its listeners' descriptors, Paho MQTT C its connection's). */
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gw.h"

void gw_each_socket(void (*fn)(int fd, void *arg), void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        struct stat st;
        if (*end || end == de->d_name || fd == self || fstat((int)fd, &st) != 0 ||
            !S_ISSOCK(st.st_mode))
            continue;
        fn((int)fd, arg);
    }
    closedir(d);
}

static bool share_port;

void gw_share_port(bool on)
{
    share_port = on;
}

/* libcoap 4.3.1 creates and binds a listener's socket inside coap_new_endpoint(), with no hook
 * for an option that must be set before bind(2): SO_REUSEPORT. So the process has its own
 * bind(): the executable's definitions come first in the dynamic linker's search, libcoap's
 * call lands here, and between gw_share_port(true) and gw_share_port(false) a datagram socket
 * joins its port's SO_REUSEPORT group. Every other call is the plain system call, as the C
 * library's bind() is. */
int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    int type, on = 1;
    socklen_t type_len = sizeof(type);
    if (share_port && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) == 0 &&
        type == SOCK_DGRAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    return (int)syscall(SYS_bind, fd, addr, len);
}
