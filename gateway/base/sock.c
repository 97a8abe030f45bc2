/* sock.c - the process's own sockets, for the few settings the libraries we use do not expose
 * (libcoap 4.3.1 hides its listeners' descriptors, Paho MQTT C its connection's). */
#include <dirent.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

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
