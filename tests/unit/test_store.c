/* test_store.c - bridge/store.c on a real SQLite file in a fresh temporary directory per test:
 * what is put comes back from the loads, in order, across a reopen and across a SIGKILL, and
 * the schema is migrated from version 1 or refused when newer than the code. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gw.h"
#include "store.h"

struct fixture {
    char dir[64];   /* the temporary directory, removed with everything in it */
    char path[128]; /* the database, in a subdirectory store_open() must create */
    struct store_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/state/gw.db", f->dir);
    f->cfg.path = f->path;
    f->cfg.hold_ttl = 86400;
    f->cfg.hold_max = 100;
    *state = f;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static struct store *open_store(struct fixture *f)
{
    struct store *s = store_open(&f->cfg);
    assert_non_null(s);
    return s;
}

/* Runs `sql` on the database file through a connection of our own, beside the store's. */
static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* ---- what the loads hand over, copied (it lives for the call only) ---- */

struct request_copy {
    int64_t seq;
    char ep[32], body[64], topic[64];
    bool has_topic, has_correlation;
    uint8_t correlation[32];
    size_t correlation_len;
    int64_t received_at, expires_at;
    bool held;
};

struct requests {
    struct request_copy v[16];
    size_t n;
    size_t stop_after; /* return 7 from the callback after this many; 0: never */
};

static int collect_request(void *arg, const struct stored_request *r)
{
    struct requests *l = arg;
    assert_true(l->n < GW_ARRAY_LEN(l->v));
    struct request_copy *c = &l->v[l->n++];
    c->seq = r->seq;
    snprintf(c->ep, sizeof(c->ep), "%s", r->ep);
    snprintf(c->body, sizeof(c->body), "%s", r->body);
    c->has_topic = r->response_topic != NULL;
    if (r->response_topic)
        snprintf(c->topic, sizeof(c->topic), "%s", r->response_topic);
    c->has_correlation = r->correlation != NULL;
    assert_true(r->correlation_len <= sizeof(c->correlation));
    if (r->correlation)
        memcpy(c->correlation, r->correlation, r->correlation_len);
    c->correlation_len = r->correlation_len;
    c->received_at = r->received_at;
    c->expires_at = r->expires_at;
    c->held = r->held;
    return l->stop_after && l->n == l->stop_after ? 7 : 0;
}

static void load_requests(struct store *s, struct requests *l)
{
    memset(l, 0, sizeof(*l));
    assert_int_equal(store_requests_load(s, collect_request, l), GW_OK);
}

static int64_t put_request(struct store *s, const char *ep, const char *body)
{
    struct stored_request r = {
        .ep = ep, .body = body, .received_at = 1000, .expires_at = 2000, .seq = -5};
    assert_int_equal(store_request_put(s, &r), GW_OK);
    assert_true(r.seq > 0);
    return r.seq;
}

struct registration_copy {
    struct registration r;
    struct object_link objects[8];
    int64_t expires_at;
};

struct registrations {
    struct registration_copy v[8];
    size_t n;
};

static int collect_registration(void *arg, const struct registration *reg, int64_t expires_at)
{
    struct registrations *l = arg;
    assert_true(l->n < GW_ARRAY_LEN(l->v));
    struct registration_copy *c = &l->v[l->n++];
    c->r = *reg;
    assert_true(reg->n_objects <= GW_ARRAY_LEN(c->objects));
    if (reg->n_objects)
        memcpy(c->objects, reg->objects, reg->n_objects * sizeof(*reg->objects));
    c->r.objects = c->objects;
    c->expires_at = expires_at;
    return 0;
}

static void load_registrations(struct store *s, struct registrations *l)
{
    memset(l, 0, sizeof(*l));
    assert_int_equal(store_registrations_load(s, collect_registration, l), GW_OK);
}

struct observations {
    struct {
        char ep[32];
        struct observe_spec spec;
    } v[16];
    size_t n;
};

static int collect_observation(void *arg, const char *ep, const struct observe_spec *spec)
{
    struct observations *l = arg;
    assert_true(l->n < GW_ARRAY_LEN(l->v));
    snprintf(l->v[l->n].ep, sizeof(l->v[l->n].ep), "%s", ep);
    l->v[l->n++].spec = *spec;
    return 0;
}

static void load_observations(struct store *s, struct observations *l)
{
    memset(l, 0, sizeof(*l));
    assert_int_equal(store_observations_load(s, collect_observation, l), GW_OK);
}

static struct observe_spec spec_of(int depth, int oid, int iid, int rid)
{
    struct observe_spec spec = {
        .path = data_path_make(depth, oid, iid, rid), .pmin = -1, .pmax = -1};
    return spec;
}

/* Redirects stderr (where the log goes) into `file` until capture_end(). */
static int capture_begin(const char *file)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return saved;
}

static void capture_end(int saved, const char *file, char *out, size_t cap)
{
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    FILE *fp = fopen(file, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, cap - 1, fp);
    out[n] = '\0';
    fclose(fp);
}

/* ---- requests ---- */

static void test_requests_put_load_set_held_delete(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    static const uint8_t corr[] = {1, 2, 3};
    struct stored_request r = {.ep = "meter-1",
                               .body = "{\"op\":\"read\",\"path\":\"/3/0\"}",
                               .response_topic = "replies/1",
                               .correlation = corr,
                               .correlation_len = sizeof(corr),
                               .received_at = 1700000000123,
                               .expires_at = 1700000086400,
                               .held = false};
    assert_int_equal(store_request_put(s, &r), GW_OK);
    int64_t first = r.seq;
    int64_t second = put_request(s, "meter-2", "{}");
    int64_t third = put_request(s, "meter-1", "{\"op\":\"execute\"}");
    assert_true(first < second && second < third);
    assert_int_equal(store_request_set_held(s, second), GW_OK);
    assert_int_equal(store_request_delete(s, third), GW_OK);
    assert_int_equal(store_request_delete(s, 9999), GW_OK); /* absent is fine */
    assert_int_equal(store_commit(s), GW_OK);

    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0].seq, first);
    assert_string_equal(l.v[0].ep, "meter-1");
    assert_string_equal(l.v[0].body, r.body);
    assert_true(l.v[0].has_topic);
    assert_string_equal(l.v[0].topic, "replies/1");
    assert_int_equal(l.v[0].correlation_len, 3);
    assert_memory_equal(l.v[0].correlation, corr, 3);
    assert_int_equal(l.v[0].received_at, 1700000000123);
    assert_int_equal(l.v[0].expires_at, 1700000086400);
    assert_false(l.v[0].held);
    assert_int_equal(l.v[1].seq, second);
    assert_string_equal(l.v[1].ep, "meter-2");
    assert_true(l.v[1].held);
    assert_false(l.v[1].has_correlation);
    store_close(s);
}

static void test_requests_keep_arrival_order_across_reopen(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    int64_t a = put_request(s, "dev-b", "a");
    int64_t b = put_request(s, "dev-a", "b");
    assert_int_equal(store_commit(s), GW_OK);
    store_close(s);

    s = open_store(f);
    int64_t c = put_request(s, "dev-c", "c");
    assert_int_equal(store_request_delete(s, c), GW_OK);
    int64_t d = put_request(s, "dev-a", "d");
    assert_true(d > c); /* a sequence number is never reused, not even the last one's */
    assert_int_equal(store_commit(s), GW_OK);
    store_close(s);

    s = open_store(f);
    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.v[0].seq, a);
    assert_string_equal(l.v[0].body, "a");
    assert_int_equal(l.v[1].seq, b);
    assert_string_equal(l.v[1].body, "b");
    assert_int_equal(l.v[2].seq, d);
    assert_string_equal(l.v[2].body, "d");
    store_close(s);
}

static void test_close_commits_pending_writes(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    put_request(s, "dev-1", "pending");
    struct registration reg = {.ep = "dev-1", .id = "abcdefgh", .lifetime = 60};
    assert_int_equal(store_registration_put(s, &reg, 5000), GW_OK);
    store_close(s); /* no store_commit() */

    s = open_store(f);
    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].body, "pending");
    struct registrations rl;
    load_registrations(s, &rl);
    assert_int_equal(rl.n, 1);
    store_close(s);
}

static void test_committed_writes_survive_sigkill(void **state)
{
    struct fixture *f = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *s = store_open(&f->cfg);
        if (!s)
            _exit(2);
        struct stored_request r = {.ep = "dev-1", .body = "committed"};
        if (store_request_put(s, &r) != GW_OK || store_commit(s) != GW_OK)
            _exit(3);
        r.body = "uncommitted";
        if (store_request_put(s, &r) != GW_OK)
            _exit(4);
        kill(getpid(), SIGKILL);
        _exit(5);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    struct store *s = open_store(f);
    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].body, "committed");
    store_close(s);
}

static void test_correlation_with_zero_bytes_round_trips(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    static const uint8_t corr[] = {0, 0, 0xff, 0, 7, 0};
    struct stored_request r = {
        .ep = "dev-1", .body = "{}", .correlation = corr, .correlation_len = sizeof(corr)};
    assert_int_equal(store_request_put(s, &r), GW_OK);
    r.correlation_len = 0; /* present but empty is not "none" */
    assert_int_equal(store_request_put(s, &r), GW_OK);
    store_close(s);

    s = open_store(f);
    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 2);
    assert_true(l.v[0].has_correlation);
    assert_int_equal(l.v[0].correlation_len, sizeof(corr));
    assert_memory_equal(l.v[0].correlation, corr, sizeof(corr));
    assert_true(l.v[1].has_correlation);
    assert_int_equal(l.v[1].correlation_len, 0);
    store_close(s);
}

static void test_null_response_topic_round_trips_as_null(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    put_request(s, "dev-1", "{}");
    struct stored_request r = {.ep = "dev-1", .body = "{}", .response_topic = ""};
    assert_int_equal(store_request_put(s, &r), GW_OK);
    store_close(s);

    s = open_store(f);
    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 2);
    assert_false(l.v[0].has_topic);
    assert_false(l.v[0].has_correlation);
    assert_true(l.v[1].has_topic); /* "" stays "", not NULL */
    assert_string_equal(l.v[1].topic, "");
    store_close(s);
}

static void test_load_stops_at_first_nonzero_return(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    for (int i = 0; i < 5; i++)
        put_request(s, "dev-1", "{}");
    struct requests l = {.stop_after = 2};
    assert_int_equal(store_requests_load(s, collect_request, &l), 7);
    assert_int_equal(l.n, 2);
    load_requests(s, &l); /* the statement was reset: a second load starts over */
    assert_int_equal(l.n, 5);
    store_close(s);
}

static void test_failed_write_is_reported_and_keeps_the_others(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    put_request(s, "dev-1", "kept");
    struct stored_request bad = {.ep = "dev-1", .body = NULL};
    char log[1024], file[128];
    snprintf(file, sizeof(file), "%s/log", f->dir);
    int saved = capture_begin(file);
    int rc = store_request_put(s, &bad);
    capture_end(saved, file, log, sizeof(log));
    assert_int_equal(rc, -GW_ERR_STORE);
    assert_non_null(strstr(log, "store-failed"));
    assert_non_null(strstr(log, "op=request-put ep=dev-1"));
    assert_null(strchr(strchr(log, '\n') + 1, '\n')); /* logged once */
    assert_int_equal(store_commit(s), GW_OK);
    store_close(s);

    s = open_store(f);
    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].body, "kept");
    store_close(s);
}

/* ---- registrations ---- */

static struct registration registration_of(const char *ep, struct object_link *objects, size_t n)
{
    struct registration reg = {
        .lifetime = 86400,
        .queue_mode = true,
        .objects = objects,
        .n_objects = n,
        .registered_at = 1700000000000,
        .updated_at = 1700000001000,
    };
    snprintf(reg.ep, sizeof(reg.ep), "%s", ep);
    snprintf(reg.id, sizeof(reg.id), "k3Jx9aQ2");
    snprintf(reg.lwm2m, sizeof(reg.lwm2m), "1.1");
    snprintf(reg.binding, sizeof(reg.binding), "UQ");
    snprintf(reg.sms, sizeof(reg.sms), "+15550100");
    snprintf(reg.root, sizeof(reg.root), "/lwm2m");
    snprintf(reg.ct, sizeof(reg.ct), "11543");
    snprintf(reg.address, sizeof(reg.address), "[2001:db8::1]:5683");
    return reg;
}

static void assert_registration_equal(const struct registration *a, const struct registration *b)
{
    assert_string_equal(a->ep, b->ep);
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->lifetime, b->lifetime);
    assert_string_equal(a->lwm2m, b->lwm2m);
    assert_string_equal(a->binding, b->binding);
    assert_int_equal(a->queue_mode, b->queue_mode);
    assert_string_equal(a->sms, b->sms);
    assert_string_equal(a->root, b->root);
    assert_string_equal(a->ct, b->ct);
    assert_string_equal(a->address, b->address);
    assert_int_equal(a->registered_at, b->registered_at);
    assert_int_equal(a->updated_at, b->updated_at);
    assert_int_equal(a->n_objects, b->n_objects);
    for (size_t i = 0; i < a->n_objects; i++) {
        assert_int_equal(a->objects[i].oid, b->objects[i].oid);
        assert_int_equal(a->objects[i].iid, b->objects[i].iid);
        assert_string_equal(a->objects[i].ver, b->objects[i].ver);
    }
}

static void test_registration_round_trips_every_field(void **state)
{
    struct fixture *f = *state;
    struct object_link objects[] = {
        {.oid = 1, .iid = 0},
        {.oid = 3, .iid = 0, .ver = "1.1"},
        {.oid = 3303, .iid = -1, .ver = "1.0"},
        {.oid = 65535, .iid = 65535},
        {.oid = 0, .iid = -1},
        {.oid = 7, .iid = 2, .ver = "a,b;%\x7f"}, /* every delimiter, escaped */
    };
    struct registration reg = registration_of("meter-17", objects, GW_ARRAY_LEN(objects));
    struct registration bare = registration_of("bare", NULL, 0);
    bare.queue_mode = false;
    bare.sms[0] = bare.root[0] = bare.ct[0] = '\0';
    struct store *s = open_store(f);
    assert_int_equal(store_registration_put(s, &reg, 1700086400000), GW_OK);
    assert_int_equal(store_registration_put(s, &bare, 42), GW_OK);
    store_close(s);

    s = open_store(f);
    struct registrations l;
    load_registrations(s, &l);
    assert_int_equal(l.n, 2);
    assert_registration_equal(&l.v[0].r, &bare); /* ordered by endpoint name */
    assert_int_equal(l.v[0].expires_at, 42);
    assert_registration_equal(&l.v[1].r, &reg);
    assert_int_equal(l.v[1].expires_at, 1700086400000);
    store_close(s);
}

static void test_registration_put_replaces_by_ep(void **state)
{
    struct fixture *f = *state;
    struct object_link objects[] = {{.oid = 3, .iid = 0}, {.oid = 3303, .iid = 0}};
    struct registration first = registration_of("dev-1", objects, 2);
    struct registration other = registration_of("dev-2", objects, 1);
    struct store *s = open_store(f);
    assert_int_equal(store_registration_put(s, &first, 100), GW_OK);
    assert_int_equal(store_registration_put(s, &other, 100), GW_OK);
    struct registration again = registration_of("dev-1", objects + 1, 1);
    snprintf(again.id, sizeof(again.id), "zzzzzzzz");
    again.lifetime = 30;
    assert_int_equal(store_registration_put(s, &again, 200), GW_OK);
    assert_int_equal(store_commit(s), GW_OK);

    struct registrations l;
    load_registrations(s, &l);
    assert_int_equal(l.n, 2);
    assert_registration_equal(&l.v[0].r, &again);
    assert_int_equal(l.v[0].expires_at, 200);
    assert_registration_equal(&l.v[1].r, &other);

    assert_int_equal(store_registration_delete(s, "dev-1"), GW_OK);
    assert_int_equal(store_registration_delete(s, "nobody"), GW_OK);
    store_close(s);
    s = open_store(f);
    load_registrations(s, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].r.ep, "dev-2");
    store_close(s);
}

/* ---- observations ---- */

static void test_observations_put_load_delete(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_store(f);
    struct observe_spec temp = spec_of(3, 3303, 0, 5700);
    temp.pmin = 10;
    temp.pmax = 60;
    temp.gt = 30.5;
    temp.has_gt = true;
    temp.st = 0.25;
    temp.has_st = true;
    struct observe_spec device = spec_of(2, 3, 0, 0);
    struct observe_spec root = spec_of(0, 0, 0, 0);
    assert_int_equal(store_observation_put(s, "dev-b", &temp), GW_OK);
    assert_int_equal(store_observation_put(s, "dev-b", &device), GW_OK);
    assert_int_equal(store_observation_put(s, "dev-a", &root), GW_OK);
    assert_int_equal(store_observation_put(s, "dev-a", &device), GW_OK);
    store_close(s);

    s = open_store(f);
    struct observations l;
    load_observations(s, &l);
    assert_int_equal(l.n, 4); /* by endpoint, then in the order they were put */
    assert_string_equal(l.v[0].ep, "dev-a");
    assert_int_equal(l.v[0].spec.path.depth, 0);
    assert_string_equal(l.v[1].ep, "dev-a");
    assert_int_equal(l.v[1].spec.path.depth, 2);
    assert_int_equal(l.v[1].spec.pmin, -1);
    assert_int_equal(l.v[1].spec.pmax, -1);
    assert_false(l.v[1].spec.has_gt || l.v[1].spec.has_lt || l.v[1].spec.has_st);
    assert_string_equal(l.v[2].ep, "dev-b");
    struct observe_spec *t = &l.v[2].spec;
    assert_int_equal(t->path.depth, 3);
    assert_int_equal(t->path.id[0], 3303);
    assert_int_equal(t->path.id[2], 5700);
    assert_int_equal(t->pmin, 10);
    assert_int_equal(t->pmax, 60);
    assert_true(t->has_gt && t->gt == 30.5);
    assert_false(t->has_lt);
    assert_true(t->has_st && t->st == 0.25);
    assert_int_equal(l.v[3].spec.path.id[0], 3);

    /* One per (ep, path): a put of the same path replaces it and keeps its place. */
    temp.pmin = -1;
    temp.has_gt = false;
    assert_int_equal(store_observation_put(s, "dev-b", &temp), GW_OK);
    load_observations(s, &l);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.v[2].spec.path.id[0], 3303);
    assert_int_equal(l.v[2].spec.pmin, -1);
    assert_false(l.v[2].spec.has_gt);

    assert_int_equal(store_observation_delete(s, "dev-b", &temp.path), GW_OK);
    assert_int_equal(store_observation_delete(s, "dev-b", &temp.path), GW_OK);
    store_close(s);
    s = open_store(f);
    load_observations(s, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[2].ep, "dev-b");
    assert_int_equal(l.v[2].spec.path.id[0], 3);
    store_close(s);
}

/* ---- schema ---- */

static void test_version_1_database_is_migrated(void **state)
{
    struct fixture *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/v1.db", f->dir);
    sql_exec(f->path, "PRAGMA journal_mode=WAL; PRAGMA user_version=1;");

    struct store *s = open_store(f);
    put_request(s, "dev-1", "{}");
    struct observe_spec spec = spec_of(1, 3, 0, 0);
    assert_int_equal(store_observation_put(s, "dev-1", &spec), GW_OK);
    store_close(s);
    assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 2);

    s = open_store(f); /* opening a current database again changes nothing */
    struct requests l;
    load_requests(s, &l);
    assert_int_equal(l.n, 1);
    store_close(s);
    assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 2);
}

static void test_newer_schema_is_refused(void **state)
{
    struct fixture *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/v3.db", f->dir);
    sql_exec(f->path, "PRAGMA journal_mode=WAL; PRAGMA user_version=3;");
    char log[1024], file[128];
    snprintf(file, sizeof(file), "%s/log", f->dir);
    int saved = capture_begin(file);
    struct store *s = store_open(&f->cfg);
    capture_end(saved, file, log, sizeof(log));
    assert_null(s);
    assert_non_null(strstr(log, "store-failed"));
    assert_non_null(strstr(log, "schema version 3 is newer than this gateway knows (2)"));
    assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 3);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master"), 0);
}

static void test_open_fails_on_a_file_that_is_not_a_database(void **state)
{
    struct fixture *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/junk.db", f->dir);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 64; i++)
        fputs("this is not an SQLite database\n", fp);
    fclose(fp);
    assert_null(store_open(&f->cfg));

    snprintf(f->path, sizeof(f->path), "%s/junk.db/below/gw.db", f->dir);
    assert_null(store_open(&f->cfg));
}

int main(void)
{
    log_set_level(GW_LOG_WARN);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_requests_put_load_set_held_delete),
        T(test_requests_keep_arrival_order_across_reopen),
        T(test_close_commits_pending_writes),
        T(test_committed_writes_survive_sigkill),
        T(test_correlation_with_zero_bytes_round_trips),
        T(test_null_response_topic_round_trips_as_null),
        T(test_load_stops_at_first_nonzero_return),
        T(test_failed_write_is_reported_and_keeps_the_others),
        T(test_registration_round_trips_every_field),
        T(test_registration_put_replaces_by_ep),
        T(test_observations_put_load_delete),
        T(test_version_1_database_is_migrated),
        T(test_newer_schema_is_refused),
        T(test_open_fails_on_a_file_that_is_not_a_database),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
