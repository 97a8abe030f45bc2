/* store.c - the SQLite database behind the gateway's durable state.
 * WAL mode with synchronous=NORMAL: a crash of the process loses nothing committed, and only a
 * power cut can lose the last transactions, at a fraction of the cost of a sync per write.
 * Writes share one transaction, begun by the first write and ended by store_commit(), and every
 * statement is prepared once at open: a registration storm costs a bind and a step per write.
 * The schema carries a version in user_version so that later releases migrate in place. */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "gw.h"

#define SCHEMA_VERSION 2

/* What migrates a database from version i to i + 1. Version 1 (the first store.c) only had a
 * version and no tables. Never edit a released step: add one. */
static const char *const migrations[SCHEMA_VERSION] = {
    [0] = "",
    [1] = "CREATE TABLE requests ("
          " seq INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: arrival order */
          " ep TEXT NOT NULL, body TEXT NOT NULL, response_topic TEXT, correlation BLOB,"
          " received_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
          " held INTEGER NOT NULL DEFAULT 0,"
          " answer_topic TEXT, answer TEXT);" /* the final answer, until the broker has it */
          "CREATE TABLE registrations ("
          " ep TEXT PRIMARY KEY NOT NULL, id TEXT NOT NULL, lifetime INTEGER NOT NULL,"
          " lwm2m TEXT NOT NULL, binding TEXT NOT NULL, queue_mode INTEGER NOT NULL,"
          " sms TEXT NOT NULL, root TEXT NOT NULL, ct TEXT NOT NULL, objects TEXT NOT NULL,"
          " address TEXT NOT NULL, registered_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
          " expires_at INTEGER NOT NULL);"
          "CREATE TABLE observations ("
          " id INTEGER PRIMARY KEY," /* insertion order */
          " ep TEXT NOT NULL, path TEXT NOT NULL, pmin INTEGER, pmax INTEGER, gt REAL, lt REAL,"
          " st REAL, UNIQUE (ep, path));",
};

enum stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_REQ_PUT,
    ST_REQ_HELD,
    ST_REQ_ANSWER,
    ST_REQ_DELETE,
    ST_REQ_LOAD,
    ST_REG_PUT,
    ST_REG_DELETE,
    ST_REG_LOAD,
    ST_OBS_PUT,
    ST_OBS_DELETE,
    ST_OBS_LOAD,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_REQ_PUT] = "INSERT INTO requests (ep, body, response_topic, correlation, received_at,"
                   " expires_at, held) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_REQ_HELD] = "UPDATE requests SET held = 1 WHERE seq = ?1",
    [ST_REQ_ANSWER] = "UPDATE requests SET answer_topic = ?2, answer = ?3 WHERE seq = ?1",
    [ST_REQ_DELETE] = "DELETE FROM requests WHERE seq = ?1",
    [ST_REQ_LOAD] = "SELECT seq, ep, body, response_topic, correlation, received_at, expires_at,"
                    " held, answer_topic, answer FROM requests ORDER BY seq",
    [ST_REG_PUT] = "INSERT OR REPLACE INTO registrations (ep, id, lifetime, lwm2m, binding,"
                   " queue_mode, sms, root, ct, objects, address, registered_at, updated_at,"
                   " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
                   " ?14)",
    [ST_REG_DELETE] = "DELETE FROM registrations WHERE ep = ?1",
    [ST_REG_LOAD] = "SELECT ep, id, lifetime, lwm2m, binding, queue_mode, sms, root, ct, objects,"
                    " address, registered_at, updated_at, expires_at FROM registrations"
                    " ORDER BY ep",
    /* An upsert, not INSERT OR REPLACE: a replaced observation keeps its place in the order. */
    [ST_OBS_PUT] = "INSERT INTO observations (ep, path, pmin, pmax, gt, lt, st)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (ep, path) DO UPDATE SET"
                   " pmin = excluded.pmin, pmax = excluded.pmax, gt = excluded.gt,"
                   " lt = excluded.lt, st = excluded.st",
    [ST_OBS_DELETE] = "DELETE FROM observations WHERE ep = ?1 AND path = ?2",
    [ST_OBS_LOAD] = "SELECT ep, path, pmin, pmax, gt, lt, st FROM observations ORDER BY ep, id",
};

/* Longest text of one object link: "65535/-2147483648;" and 7 escaped bytes of ver, a comma. */
#define OBJECT_TEXT_MAX 48
#define PATH_TEXT_MAX 32 /* "/65535/65535/65535/65535" */

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    bool in_tx; /* a write began a transaction that store_commit() has not ended */
    bool lost;  /* SQLite rolled that transaction back after a failed write */
    char *text; /* objects of a registration being written, reused by every put */
    size_t text_cap;
    struct object_link *objects; /* objects of a registration being loaded */
    size_t objects_cap;
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

/* Logs the failure of `op` that SQLite just reported and returns -GW_ERR_STORE. When SQLite
 * rolled the open transaction back with it, the writes since the last commit are gone: the
 * next store_commit() reports it. */
static int fail(struct store *s, const char *op, const char *ep)
{
    bool rolled_back = s->in_tx && sqlite3_get_autocommit(s->db);
    if (rolled_back) {
        s->in_tx = false;
        s->lost = true;
    }
    log_error("store-failed path=%s op=%s%s%s reason=\"%s\"%s", s->path, op, ep ? " ep=" : "",
              ep ? ep : "", sqlite3_errmsg(s->db), rolled_back ? " uncommitted=rolled-back" : "");
    return -GW_ERR_STORE;
}

/* Logs a stored row that this code cannot have written and returns -GW_ERR_STORE. */
static int corrupt(struct store *s, const char *op, const char *ep, const char *what)
{
    log_error("store-failed path=%s op=%s%s%s reason=\"stored row is invalid: %s\"", s->path, op,
              ep ? " ep=" : "", ep ? ep : "", what);
    return -GW_ERR_STORE;
}

/* Runs the first column of a one-row `sql` (a PRAGMA) and copies it as text into `out`. */
static int query_text(struct store *s, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = -GW_ERR_STORE;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        log_error("store-failed path=%s sql=\"%s\" reason=\"%s\"", s->path, sql,
                  sqlite3_errmsg(s->db));
        goto out;
    }
    const unsigned char *text = sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", text ? (const char *)text : "");
    rc = GW_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Brings the schema to SCHEMA_VERSION in one transaction, or refuses a newer one. */
static int migrate(struct store *s)
{
    char text[32];
    if (exec(s, "BEGIN IMMEDIATE") < 0)
        return -GW_ERR_STORE;
    if (query_text(s, "PRAGMA user_version", text, sizeof(text)) < 0)
        goto out_rollback;
    long version = strtol(text, NULL, 10);
    if (version < 0 || version > SCHEMA_VERSION) {
        log_error("store-failed path=%s reason=\"schema version %ld is %s this gateway knows "
                  "(%d): refusing to touch it\"",
                  s->path, version, version < 0 ? "not one" : "newer than", SCHEMA_VERSION);
        goto out_rollback;
    }
    if (version == SCHEMA_VERSION)
        return exec(s, "COMMIT") < 0 ? -GW_ERR_STORE : GW_OK;
    for (long v = version; v < SCHEMA_VERSION; v++)
        if (exec(s, migrations[v]) < 0)
            goto out_rollback;
    if (exec(s, "PRAGMA user_version=" GW_STRINGIFY(SCHEMA_VERSION)) < 0 || exec(s, "COMMIT") < 0)
        goto out_rollback;
    log_info("store-migrated path=%s from=%ld to=%d", s->path, version, SCHEMA_VERSION);
    return GW_OK;

out_rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -GW_ERR_STORE;
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
    char mode[16];
    if (query_text(s, "PRAGMA journal_mode=WAL", mode, sizeof(mode)) < 0 ||
        exec(s, "PRAGMA synchronous=NORMAL") < 0 || migrate(s) < 0)
        goto out_close;
    if (strcmp(mode, "wal") != 0)
        log_warn("store-no-wal path=%s journal_mode=%s", s->path, mode);
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            fail(s, "prepare", NULL);
            goto out_close;
        }
    }
    log_info("store-opened path=%s schema=%d", s->path, SCHEMA_VERSION);
    return s;

out_close:
    store_close(s);
    return NULL;
}

static void rollback(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
}

int store_commit(struct store *s)
{
    if (s->lost) {
        /* A failed write took the transaction down with it (logged then): what was written
         * after it goes too, so that the caller can treat the whole turn as not stored. */
        rollback(s);
        s->lost = false;
        return -GW_ERR_STORE;
    }
    if (!s->in_tx)
        return GW_OK;
    sqlite3_stmt *st = s->st[ST_COMMIT];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        log_error("store-failed path=%s op=commit reason=\"%s\" uncommitted=rolled-back", s->path,
                  sqlite3_errmsg(s->db));
        sqlite3_reset(st);
        rollback(s);
        return -GW_ERR_STORE;
    }
    sqlite3_reset(st);
    s->in_tx = false;
    return GW_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->db) {
        if (s->st[ST_COMMIT])
            store_commit(s);
        for (int i = 0; i < ST_COUNT; i++)
            sqlite3_finalize(s->st[i]);
        /* The last connection to close checkpoints the WAL into the database and removes it. */
        if (sqlite3_close(s->db) != SQLITE_OK)
            log_error("store-failed path=%s op=close reason=\"%s\"", s->path,
                      sqlite3_errmsg(s->db));
    }
    free(s->text);
    free(s->objects);
    free(s->path);
    free(s);
}

/* Prepares statement `which` for a write: opens the transaction when none is. */
static sqlite3_stmt *write_stmt(struct store *s, enum stmt which, const char *op, const char *ep)
{
    if (!s->in_tx) {
        sqlite3_stmt *begin = s->st[ST_BEGIN];
        int rc = sqlite3_step(begin);
        if (rc != SQLITE_DONE) {
            fail(s, op, ep);
            sqlite3_reset(begin);
            return NULL;
        }
        sqlite3_reset(begin);
        s->in_tx = true;
    }
    return s->st[which];
}

/* Steps the write statement `st` and resets it. `bind_rc` is the bitwise OR of what binding
 * its parameters returned: SQLITE_OK (0) when every bind succeeded. */
static int run_write(struct store *s, sqlite3_stmt *st, int bind_rc, const char *op, const char *ep)
{
    int rc = GW_OK;
    if (bind_rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        rc = fail(s, op, ep);
    sqlite3_reset(st);
    return rc;
}

/* Binds `text` as parameter `i` without copying it (it outlives the step). */
static int bind_text(sqlite3_stmt *st, int i, const char *text)
{
    return text ? sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* Copies text column `col` into `out` of `cap` bytes. False when NULL or too long. */
static bool column_copy(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    if (!text || len >= cap)
        return false;
    memcpy(out, text, len + 1);
    return true;
}

/* ---- requests ---- */

int store_request_put(struct store *s, struct stored_request *r)
{
    sqlite3_stmt *st = write_stmt(s, ST_REQ_PUT, "request-put", r->ep);
    if (!st)
        return -GW_ERR_STORE;
    int b = bind_text(st, 1, r->ep);
    b |= bind_text(st, 2, r->body);
    b |= bind_text(st, 3, r->response_topic);
    /* A present but empty Correlation Data stays a zero-length blob, distinct from NULL. */
    if (r->correlation)
        b |= sqlite3_bind_blob64(st, 4, r->correlation, r->correlation_len, SQLITE_STATIC);
    else
        b |= sqlite3_bind_null(st, 4);
    b |= sqlite3_bind_int64(st, 5, r->received_at);
    b |= sqlite3_bind_int64(st, 6, r->expires_at);
    b |= sqlite3_bind_int(st, 7, r->held);
    int rc = run_write(s, st, b, "request-put", r->ep);
    if (rc == GW_OK)
        r->seq = sqlite3_last_insert_rowid(s->db);
    return rc;
}

static int request_by_seq(struct store *s, enum stmt which, int64_t seq, const char *op)
{
    sqlite3_stmt *st = write_stmt(s, which, op, NULL);
    if (!st)
        return -GW_ERR_STORE;
    return run_write(s, st, sqlite3_bind_int64(st, 1, seq), op, NULL);
}

int store_request_set_held(struct store *s, int64_t seq)
{
    return request_by_seq(s, ST_REQ_HELD, seq, "request-held");
}

int store_request_set_answer(struct store *s, int64_t seq, const char *topic, const char *answer)
{
    sqlite3_stmt *st = write_stmt(s, ST_REQ_ANSWER, "request-answer", NULL);
    if (!st)
        return -GW_ERR_STORE;
    int b = sqlite3_bind_int64(st, 1, seq);
    b |= bind_text(st, 2, topic);
    b |= bind_text(st, 3, answer);
    return run_write(s, st, b, "request-answer", NULL);
}

int store_request_delete(struct store *s, int64_t seq)
{
    return request_by_seq(s, ST_REQ_DELETE, seq, "request-delete");
}

int store_requests_load(struct store *s, int (*fn)(void *arg, const struct stored_request *r),
                        void *arg)
{
    static const uint8_t empty[1];
    sqlite3_stmt *st = s->st[ST_REQ_LOAD];
    assert(!sqlite3_stmt_busy(st)); /* a load from inside the same load's callback */
    int ret = GW_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct stored_request r = {
            .seq = sqlite3_column_int64(st, 0),
            .ep = (const char *)sqlite3_column_text(st, 1),
            .body = (const char *)sqlite3_column_text(st, 2),
            .response_topic = (const char *)sqlite3_column_text(st, 3),
            .received_at = sqlite3_column_int64(st, 5),
            .expires_at = sqlite3_column_int64(st, 6),
            .held = sqlite3_column_int(st, 7) != 0,
            .answer_topic = (const char *)sqlite3_column_text(st, 8),
            .answer = (const char *)sqlite3_column_text(st, 9),
        };
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            r.correlation = sqlite3_column_blob(st, 4);
            r.correlation_len = (size_t)sqlite3_column_bytes(st, 4);
            if (!r.correlation) /* SQLite hands NULL for a zero-length blob */
                r.correlation = empty;
        }
        if (!r.ep || !r.body) {
            ret = corrupt(s, "requests-load", r.ep, "no endpoint or body");
            goto out;
        }
        if ((ret = fn(arg, &r)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        ret = fail(s, "requests-load", NULL);
out:
    sqlite3_reset(st);
    return ret;
}

/* ---- registrations ---- */

/* Writes `ver` into `p`, %XX-escaping every byte that the object list uses as a delimiter or
 * that is not printable ASCII, so that any value parses back exactly. Returns the end. */
static char *ver_escape(char *p, const char *ver, size_t cap)
{
    for (size_t i = 0; i < cap && ver[i]; i++) {
        unsigned char c = (unsigned char)ver[i];
        if (c <= ' ' || c >= 0x7f || c == ',' || c == ';' || c == '%')
            p += sprintf(p, "%%%02X", c);
        else
            *p++ = (char)c;
    }
    return p;
}

/* Serializes the objects into s->text: "oid[/iid][;ver]" joined by ',' ("3/0,3303;1.1"); no
 * "/iid" for iid -1. Returns GW_OK or -GW_ERR_NOMEM. */
static int objects_format(struct store *s, const struct object_link *o, size_t n)
{
    size_t need = n * OBJECT_TEXT_MAX + 1;
    if (need > s->text_cap) {
        char *grown = realloc(s->text, need);
        if (!grown)
            return -GW_ERR_NOMEM;
        s->text = grown;
        s->text_cap = need;
    }
    char *p = s->text;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ',';
        p += sprintf(p, "%u", (unsigned)o[i].oid);
        if (o[i].iid != -1)
            p += sprintf(p, "/%" PRId32, o[i].iid);
        if (o[i].ver[0]) {
            *p++ = ';';
            p = ver_escape(p, o[i].ver, sizeof(o[i].ver) - 1);
        }
    }
    *p = '\0';
    return GW_OK;
}

/* Reads a decimal integer in [min, max] at *p, advancing it. False when there is none. */
static bool parse_int(const char **p, int64_t min, int64_t max, int64_t *out)
{
    const char *q = *p;
    bool neg = *q == '-';
    if (neg)
        q++;
    if (*q < '0' || *q > '9')
        return false;
    int64_t v = 0;
    for (; *q >= '0' && *q <= '9'; q++)
        if ((v = v * 10 + (*q - '0')) > ((int64_t)1 << 32)) /* past every bound used */
            return false;
    v = neg ? -v : v;
    if (v < min || v > max)
        return false;
    *out = v;
    *p = q;
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses what objects_format() wrote into s->objects. Returns the count, or -1 when `text` is
 * not of that form (or -2 when out of memory). */
static long objects_parse(struct store *s, const char *text)
{
    if (!*text)
        return 0;
    size_t n = 1;
    for (const char *c = text; *c; c++)
        n += *c == ',';
    if (n > s->objects_cap) {
        struct object_link *grown = realloc(s->objects, n * sizeof(*grown));
        if (!grown)
            return -2;
        s->objects = grown;
        s->objects_cap = n;
    }
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        struct object_link *o = &s->objects[i];
        int64_t v;
        memset(o, 0, sizeof(*o));
        if (i > 0 && *p++ != ',')
            return -1;
        if (!parse_int(&p, 0, UINT16_MAX, &v))
            return -1;
        o->oid = (uint16_t)v;
        o->iid = -1;
        if (*p == '/') {
            p++;
            if (!parse_int(&p, INT32_MIN, INT32_MAX, &v))
                return -1;
            o->iid = (int32_t)v;
        }
        if (*p == ';') {
            size_t len = 0;
            for (p++; *p && *p != ','; p++) {
                int c = (unsigned char)*p;
                if (c == '%') {
                    int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
                    if (lo < 0)
                        return -1;
                    c = hi * 16 + lo;
                    p += 2;
                }
                if (c == 0 || len + 1 >= sizeof(o->ver))
                    return -1;
                o->ver[len++] = (char)c;
            }
        }
    }
    return *p ? -1 : (long)n;
}

int store_registration_put(struct store *s, const struct registration *reg, int64_t expires_at)
{
    if (objects_format(s, reg->objects, reg->n_objects) < 0) {
        log_error("store-failed path=%s op=registration-put ep=%s reason=\"out of memory\"",
                  s->path, reg->ep);
        return -GW_ERR_STORE;
    }
    sqlite3_stmt *st = write_stmt(s, ST_REG_PUT, "registration-put", reg->ep);
    if (!st)
        return -GW_ERR_STORE;
    int b = bind_text(st, 1, reg->ep);
    b |= bind_text(st, 2, reg->id);
    b |= sqlite3_bind_int64(st, 3, reg->lifetime);
    b |= bind_text(st, 4, reg->lwm2m);
    b |= bind_text(st, 5, reg->binding);
    b |= sqlite3_bind_int(st, 6, reg->queue_mode);
    b |= bind_text(st, 7, reg->sms);
    b |= bind_text(st, 8, reg->root);
    b |= bind_text(st, 9, reg->ct);
    b |= bind_text(st, 10, s->text);
    b |= bind_text(st, 11, reg->address);
    b |= sqlite3_bind_int64(st, 12, reg->registered_at);
    b |= sqlite3_bind_int64(st, 13, reg->updated_at);
    b |= sqlite3_bind_int64(st, 14, expires_at);
    return run_write(s, st, b, "registration-put", reg->ep);
}

int store_registration_delete(struct store *s, const char *ep)
{
    sqlite3_stmt *st = write_stmt(s, ST_REG_DELETE, "registration-delete", ep);
    if (!st)
        return -GW_ERR_STORE;
    return run_write(s, st, bind_text(st, 1, ep), "registration-delete", ep);
}

/* Fills `reg` from the current row of the registrations query. Returns NULL or what is wrong. */
static const char *registration_row(struct store *s, sqlite3_stmt *st, struct registration *reg)
{
    memset(reg, 0, sizeof(*reg));
    if (!column_copy(st, 0, reg->ep, sizeof(reg->ep)))
        return "ep";
    int64_t lifetime = sqlite3_column_int64(st, 2);
    if (!column_copy(st, 1, reg->id, sizeof(reg->id)))
        return "id";
    if (lifetime < 0 || lifetime > UINT32_MAX)
        return "lifetime";
    reg->lifetime = (uint32_t)lifetime;
    if (!column_copy(st, 3, reg->lwm2m, sizeof(reg->lwm2m)))
        return "lwm2m";
    if (!column_copy(st, 4, reg->binding, sizeof(reg->binding)))
        return "binding";
    reg->queue_mode = sqlite3_column_int(st, 5) != 0;
    if (!column_copy(st, 6, reg->sms, sizeof(reg->sms)))
        return "sms";
    if (!column_copy(st, 7, reg->root, sizeof(reg->root)))
        return "root";
    if (!column_copy(st, 8, reg->ct, sizeof(reg->ct)))
        return "ct";
    const char *objects = (const char *)sqlite3_column_text(st, 9);
    long n = objects ? objects_parse(s, objects) : -1;
    if (n == -2)
        return "objects (out of memory)";
    if (n < 0)
        return "objects";
    reg->objects = n > 0 ? s->objects : NULL;
    reg->n_objects = (size_t)n;
    if (!column_copy(st, 10, reg->address, sizeof(reg->address)))
        return "address";
    reg->registered_at = sqlite3_column_int64(st, 11);
    reg->updated_at = sqlite3_column_int64(st, 12);
    return NULL;
}

int store_registrations_load(struct store *s,
                             int (*fn)(void *arg, const struct registration *reg,
                                       int64_t expires_at),
                             void *arg)
{
    sqlite3_stmt *st = s->st[ST_REG_LOAD];
    assert(!sqlite3_stmt_busy(st)); /* a load from inside the same load's callback */
    struct registration reg;
    int ret = GW_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *bad = registration_row(s, st, &reg);
        if (bad) {
            ret = corrupt(s, "registrations-load", (const char *)sqlite3_column_text(st, 0), bad);
            goto out;
        }
        if ((ret = fn(arg, &reg, sqlite3_column_int64(st, 13))) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        ret = fail(s, "registrations-load", NULL);
out:
    sqlite3_reset(st);
    return ret;
}

/* ---- observations ---- */

static int bind_period(sqlite3_stmt *st, int i, int32_t seconds)
{
    return seconds >= 0 ? sqlite3_bind_int(st, i, seconds) : sqlite3_bind_null(st, i);
}

static int bind_attr(sqlite3_stmt *st, int i, bool has, double v)
{
    return has ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

int store_observation_put(struct store *s, const char *ep, const struct observe_spec *spec)
{
    char path[PATH_TEXT_MAX];
    if (data_path_format(&spec->path, path, sizeof(path)) < 0) {
        log_error("store-failed path=%s op=observation-put ep=%s reason=\"path too deep\"", s->path,
                  ep);
        return -GW_ERR_STORE;
    }
    sqlite3_stmt *st = write_stmt(s, ST_OBS_PUT, "observation-put", ep);
    if (!st)
        return -GW_ERR_STORE;
    int b = bind_text(st, 1, ep);
    b |= bind_text(st, 2, path);
    b |= bind_period(st, 3, spec->pmin);
    b |= bind_period(st, 4, spec->pmax);
    b |= bind_attr(st, 5, spec->has_gt, spec->gt);
    b |= bind_attr(st, 6, spec->has_lt, spec->lt);
    b |= bind_attr(st, 7, spec->has_st, spec->st);
    /* SQLITE_STATIC for `path`, a local: run_write steps before this function returns. */
    return run_write(s, st, b, "observation-put", ep);
}

int store_observation_delete(struct store *s, const char *ep, const struct data_path *path)
{
    char text[PATH_TEXT_MAX];
    if (data_path_format(path, text, sizeof(text)) < 0) {
        log_error("store-failed path=%s op=observation-delete ep=%s reason=\"path too deep\"",
                  s->path, ep);
        return -GW_ERR_STORE;
    }
    sqlite3_stmt *st = write_stmt(s, ST_OBS_DELETE, "observation-delete", ep);
    if (!st)
        return -GW_ERR_STORE;
    int b = bind_text(st, 1, ep);
    b |= bind_text(st, 2, text);
    return run_write(s, st, b, "observation-delete", ep);
}

/* Column `col` as a period in seconds, -1 for NULL. False when out of range. */
static bool column_period(sqlite3_stmt *st, int col, int32_t *out)
{
    int64_t v = sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
    if (v < -1 || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static bool column_attr(sqlite3_stmt *st, int col, double *out)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return false;
    *out = sqlite3_column_double(st, col);
    return true;
}

int store_observations_load(struct store *s,
                            int (*fn)(void *arg, const char *ep, const struct observe_spec *spec),
                            void *arg)
{
    sqlite3_stmt *st = s->st[ST_OBS_LOAD];
    assert(!sqlite3_stmt_busy(st)); /* a load from inside the same load's callback */
    int ret = GW_OK, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ep = (const char *)sqlite3_column_text(st, 0);
        const char *path = (const char *)sqlite3_column_text(st, 1);
        struct observe_spec spec = {0};
        if (!ep || !path ||
            data_path_parse(path, (size_t)sqlite3_column_bytes(st, 1), &spec.path) < 0 ||
            !column_period(st, 2, &spec.pmin) || !column_period(st, 3, &spec.pmax)) {
            ret = corrupt(s, "observations-load", ep, "path or period");
            goto out;
        }
        spec.has_gt = column_attr(st, 4, &spec.gt);
        spec.has_lt = column_attr(st, 5, &spec.lt);
        spec.has_st = column_attr(st, 6, &spec.st);
        if ((ret = fn(arg, ep, &spec)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        ret = fail(s, "observations-load", NULL);
out:
    sqlite3_reset(st);
    return ret;
}
