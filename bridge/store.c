/* store.c - the SQLite database behind the gateway's durable state.
 * WAL mode with synchronous=NORMAL: a crash of the process loses nothing committed, and only a
 * power cut can lose the last transactions, at a fraction of the cost of a sync per write.
 * The schema carries a version in user_version so that later releases migrate in place. */
#include "store.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "gw.h"

#define SCHEMA_VERSION 1

struct store {
    sqlite3 *db;
    char *path;
};

/* Creates every missing directory above `path`, like mkdir -p on its dirname. */
static int make_parent_dirs(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -GW_ERR_NOMEM;
    char *dir = dirname(copy);
    int rc = GW_OK;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
            rc = -GW_ERR_IO;
        *p = '/';
    }
    if (rc == GW_OK && mkdir(dir, 0750) < 0 && errno != EEXIST)
        rc = -GW_ERR_IO;
    free(copy);
    return rc;
}

static int exec(struct store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store-failed path=%s sql=\"%.40s\" reason=\"%s\"", s->path, sql,
                  msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -GW_ERR_STORE;
    }
    return GW_OK;
}

struct store *store_open(const struct store_config *cfg)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(cfg->path))) {
        free(s);
        return NULL;
    }
    if (make_parent_dirs(s->path) < 0) {
        log_error("store-failed path=%s reason=\"cannot create its directory: %s\"", s->path,
                  strerror(errno));
        goto out_close;
    }
    int rc = sqlite3_open_v2(
        s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error("store-failed path=%s reason=\"%s\"", s->path,
                  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto out_close;
    }
    sqlite3_busy_timeout(s->db, 2000);
    if (exec(s, "PRAGMA journal_mode=WAL") < 0 || exec(s, "PRAGMA synchronous=NORMAL") < 0 ||
        exec(s, "PRAGMA user_version=" GW_STRINGIFY(SCHEMA_VERSION)) < 0)
        goto out_close;
    log_info("store-opened path=%s schema=%d", s->path, SCHEMA_VERSION);
    return s;

out_close:
    store_close(s);
    return NULL;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close(s->db);
    free(s->path);
    free(s);
}
