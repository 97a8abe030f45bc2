/* bench_store.c - what batching buys the hold store: puts of realistic requests into a fresh
 * SQLite database (bridge/store.c, WAL, synchronous=NORMAL), committed once per 1000 puts as the
 * daemon does once per turn of its loop, against a commit after every put. Not a test: CTest
 * never runs it. `bench_store [N]` sets the number of requests (100000). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gw.h"
#include "store.h"

#define BATCH 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Puts `n` requests into a new database at `path`, committing every `batch` puts. Returns the
 * rate in puts per second, or -1 on a failure (logged by the store). */
static double run(const char *path, long n, long batch)
{
    static const uint8_t corr[16] = {0x5a, 0x01, 0x00, 0x7f};
    struct store_config cfg = {.path = (char *)path, .hold_ttl = 86400, .hold_max = 100};
    struct store *s = store_open(&cfg);
    if (!s)
        return -1;
    char ep[32];
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        snprintf(ep, sizeof(ep), "meter-%ld", i % 10000);
        struct stored_request r = {
            .ep = ep,
            .body = "{\"op\":\"write\",\"path\":\"/3303/0/5750\",\"value\":\"kitchen\"}",
            .response_topic = "replies/app-7",
            .correlation = corr,
            .correlation_len = sizeof(corr),
            .received_at = 1700000000000 + i,
            .expires_at = 1700086400000 + i,
        };
        if (store_request_put(s, &r) < 0 || ((i + 1) % batch == 0 && store_commit(s) < 0)) {
            store_close(s);
            return -1;
        }
    }
    if (store_commit(s) < 0) {
        store_close(s);
        return -1;
    }
    double elapsed = now_s() - t0;
    store_close(s);
    return (double)n / elapsed;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (n <= 0) {
        fprintf(stderr, "usage: bench_store [N]\n");
        return 2;
    }
    log_set_level(GW_LOG_WARN);
    char dir[] = "/tmp/bench_store.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char batched_path[64], single_path[64];
    snprintf(batched_path, sizeof(batched_path), "%s/batched.db", dir);
    snprintf(single_path, sizeof(single_path), "%s/single.db", dir);
    double batched = run(batched_path, n, BATCH);
    double single = run(single_path, n, 1);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    if (batched < 0 || single < 0)
        return 1;
    printf("%-28s %12s\n", "store_request_put", "puts/s");
    printf("%-28s %12.0f\n", "commit per 1000 puts", batched);
    printf("%-28s %12.0f\n", "commit per put", single);
    printf("%-28s %12.1fx\n", "ratio", batched / single);
    return 0;
}
