/* bench_codec.c - decode and encode throughput of every content format on realistic payloads
 * (the Device object instance /3/0, a Temperature notification /3303/0) in MB/s and values/s,
 * beside a memcpy of the same bytes in the same run. Not a test: CTest never runs it, nothing is
 * asserted about time. tools/bench.sh runs it; `bench_codec [SECONDS]` sets the least time of
 * one measurement (0.5 s), each figure being the median of 5 measurements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "gw.h"

#define RUNS 5
#define BUF_CAP 65536

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What one measured operation needs; the three loops below share it. */
struct job {
    enum codec_format fmt;
    struct codec_ctx ctx;
    const uint8_t *payload; /* the encoded form of `src` */
    size_t len;
    const struct data_records *src;
    struct data_records out; /* reused by every decode, as the gateway reuses its lists */
    uint8_t *buf;            /* BUF_CAP bytes for encodes and copies */
    int failures;
};

typedef void (*loop_fn)(struct job *j, size_t iters);

static void decode_loop(struct job *j, size_t iters)
{
    char err[160];
    for (size_t i = 0; i < iters; i++) {
        data_records_reset(&j->out);
        if (codec_decode(j->fmt, j->payload, j->len, &j->ctx, &j->out, err, sizeof(err)) < 0)
            j->failures++;
    }
}

static void encode_loop(struct job *j, size_t iters)
{
    char err[160];
    size_t written;
    for (size_t i = 0; i < iters; i++)
        if (codec_encode(j->fmt, j->src, &j->ctx, j->buf, BUF_CAP, &written, err, sizeof(err)) < 0)
            j->failures++;
}

static void memcpy_loop(struct job *j, size_t iters)
{
    for (size_t i = 0; i < iters; i++) {
        memcpy(j->buf, j->payload, j->len);
        __asm__ volatile("" : : "r"(j->buf) : "memory"); /* the copy must happen every time */
    }
}

static double timed(loop_fn fn, struct job *j, size_t iters)
{
    double t0 = now_s();
    fn(j, iters);
    return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds per operation: the median of RUNS runs of at least `min_s` each. */
static double measure(loop_fn fn, struct job *j, double min_s)
{
    size_t iters = 1;
    double t;
    while ((t = timed(fn, j, iters)) < min_s / 20)
        iters *= t < min_s / 2000 ? 16 : 2;
    iters = (size_t)((double)iters * min_s / t * 1.1) + 1;
    double per_op[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double run;
        while ((run = timed(fn, j, iters)) < min_s) /* a slower machine state: run longer */
            iters += iters / 4 + 1;
        per_op[r] = run / (double)iters;
    }
    qsort(per_op, RUNS, sizeof(per_op[0]), cmp_double);
    return per_op[RUNS / 2];
}

/* ---- the payloads ---- */

static void add(struct data_records *r, struct data_path p, struct data_value v, bool has_time,
                double time)
{
    if (data_records_add(r, &p, &v, has_time, time) < 0) {
        fprintf(stderr, "bench_codec: out of memory\n");
        exit(1);
    }
}

static struct data_value str(const char *s)
{
    struct data_value v = {.type = GW_TYPE_STRING};
    v.v.bytes.p = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return v;
}

static struct data_value integer(int64_t i)
{
    return (struct data_value){.type = GW_TYPE_INTEGER, .v.i = i};
}

static struct data_value flt(double f)
{
    return (struct data_value){.type = GW_TYPE_FLOAT, .v.f = f};
}

#define P3(o, i, r) data_path_make(3, o, i, r)
#define P4(o, i, r, k) data_path_make(4, o, i, r, k)

/* The Device object instance of TS Core's examples (13 resources, 4 of them multiple), plus
 * Device Type and Hardware Version: 15 resources, 18 values. */
static void device_records(struct data_records *r)
{
    add(r, P3(3, 0, 0), str("Open Mobile Alliance"), false, 0);
    add(r, P3(3, 0, 1), str("Lightweight M2M Client"), false, 0);
    add(r, P3(3, 0, 2), str("345000123"), false, 0);
    add(r, P3(3, 0, 3), str("1.0"), false, 0);
    add(r, P4(3, 0, 6, 0), integer(1), false, 0);
    add(r, P4(3, 0, 6, 1), integer(5), false, 0);
    add(r, P4(3, 0, 7, 0), integer(3800), false, 0);
    add(r, P4(3, 0, 7, 1), integer(5000), false, 0);
    add(r, P4(3, 0, 8, 0), integer(125), false, 0);
    add(r, P4(3, 0, 8, 1), integer(900), false, 0);
    add(r, P3(3, 0, 9), integer(100), false, 0);
    add(r, P3(3, 0, 10), integer(15), false, 0);
    add(r, P4(3, 0, 11, 0), integer(0), false, 0);
    add(r, P3(3, 0, 13), (struct data_value){.type = GW_TYPE_TIME, .v.i = 1367491215}, false, 0);
    add(r, P3(3, 0, 14), str("+02:00"), false, 0);
    add(r, P3(3, 0, 16), str("U"), false, 0);
    add(r, P3(3, 0, 17), str("Smart Meter"), false, 0);
    add(r, P3(3, 0, 18), str("HW-2.1"), false, 0);
}

/* A Temperature notification: value, units, min and max measured, at one time when the format
 * has times (SenML's bt/t, LwM2M JSON's t). */
static void temperature_records(struct data_records *r, bool timed_)
{
    double t = 1700000000.0;
    add(r, P3(3303, 0, 5700), flt(21.5), timed_, t);
    add(r, P3(3303, 0, 5701), str("Cel"), timed_, t);
    add(r, P3(3303, 0, 5601), flt(-10.25), timed_, t);
    add(r, P3(3303, 0, 5602), flt(35.7), timed_, t);
}

/* ---- one row of the table ---- */

static void row(const char *format, const char *payload, enum codec_format fmt,
                struct data_path base, const struct data_records *src, const struct model *m,
                uint8_t *buf, double min_s)
{
    struct job j = {.fmt = fmt, .ctx = {.base = base, .model = m}, .src = src, .buf = buf};
    static uint8_t encoded[BUF_CAP];
    char err[160];
    size_t len;
    printf("%-11s %-22s ", format, payload);
    fflush(stdout);
    if (codec_encode(fmt, src, &j.ctx, encoded, sizeof(encoded), &len, err, sizeof(err)) < 0) {
        printf("cannot encode: %s\n", err);
        return;
    }
    j.payload = encoded;
    j.len = len;
    if (codec_decode(fmt, encoded, len, &j.ctx, &j.out, err, sizeof(err)) < 0) {
        printf("cannot decode its own encoding: %s\n", err);
        goto out;
    }
    size_t values = j.out.n;

    double t_dec = measure(decode_loop, &j, min_s);
    double t_enc = measure(encode_loop, &j, min_s);
    double t_cpy = measure(memcpy_loop, &j, min_s);
    if (j.failures) {
        printf("%d operations failed during the measurement\n", j.failures);
        goto out;
    }
    double mb = (double)len / 1e6;
    printf("%5zu %4zu %8.1f %7.2f %8.0f %8.1f %7.2f %8.0f %9.0f\n", len, values, mb / t_dec,
           (double)values / t_dec / 1e6, t_dec / t_cpy, mb / t_enc, (double)values / t_enc / 1e6,
           t_enc / t_cpy, mb / t_cpy);
out:
    data_records_clear(&j.out);
}

static void cpu_name(char *buf, size_t len)
{
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, len, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    double min_s = argc > 1 ? atof(argv[1]) : 0.5;
    if (min_s <= 0) {
        fprintf(stderr, "usage: bench_codec [SECONDS per measurement, default 0.5]\n");
        return 2;
    }
    struct model *m = model_new();
    uint8_t *buf = malloc(BUF_CAP);
    if (!m || !buf) {
        fprintf(stderr, "bench_codec: out of memory\n");
        free(buf);
        model_free(m);
        return 1;
    }
    struct data_records device = {0}, temp = {0}, temp_timed = {0}, manuf = {0}, sensor = {0},
                        block = {0};
    device_records(&device);
    temperature_records(&temp, false);
    temperature_records(&temp_timed, true);
    add(&manuf, P3(3, 0, 0), str("Open Mobile Alliance"), false, 0);
    add(&sensor, P3(3303, 0, 5700), flt(21.5), false, 0);
    static uint8_t fw[1024];
    for (size_t i = 0; i < sizeof(fw); i++)
        fw[i] = (uint8_t)(i * 131 + 7);
    struct data_value v = {.type = GW_TYPE_OPAQUE};
    v.v.bytes.p = fw;
    v.v.bytes.len = sizeof(fw);
    add(&block, P3(5, 0, 0), v, false, 0);

    char cpu[128];
    cpu_name(cpu, sizeof(cpu));
    printf("bench_codec: %s; median of %d runs of >= %.2f s each\n", cpu, RUNS, min_s);
    printf("MB/s = payload bytes per second; Mval/s = values (records) per second, in millions;\n"
           "x cpy = time of one decode or encode / time of a memcpy of the same payload bytes\n\n");
    printf("%-11s %-22s %5s %4s %8s %7s %8s %8s %7s %8s %9s\n", "format", "payload", "bytes",
           "vals", "dec MB/s", "Mval/s", "x cpy", "enc MB/s", "Mval/s", "x cpy", "cpy MB/s");

    const struct data_path dev0 = data_path_make(2, 3, 0), t0 = data_path_make(2, 3303, 0);
    const struct {
        const char *name;
        enum codec_format fmt;
    } multi[] = {{"TLV", GW_FMT_TLV},
                 {"SenML JSON", GW_FMT_SENML_JSON},
                 {"SenML CBOR", GW_FMT_SENML_CBOR},
                 {"LwM2M JSON", GW_FMT_LWM2M_JSON}};
    for (size_t i = 0; i < GW_ARRAY_LEN(multi); i++) {
        bool has_time = multi[i].fmt != GW_FMT_TLV;
        row(multi[i].name, "Device /3/0", multi[i].fmt, dev0, &device, m, buf, min_s);
        row(multi[i].name, has_time ? "3303 notify /3303/0 +t" : "3303 notify /3303/0",
            multi[i].fmt, t0, has_time ? &temp_timed : &temp, m, buf, min_s);
    }
    /* The single-value formats carry one resource: one of each payload, and a firmware block. */
    row("text", "Device /3/0/0", GW_FMT_TEXT, data_path_make(3, 3, 0, 0), &manuf, m, buf, min_s);
    row("text", "3303 /3303/0/5700", GW_FMT_TEXT, data_path_make(3, 3303, 0, 5700), &sensor, m, buf,
        min_s);
    row("CBOR", "Device /3/0/0", GW_FMT_CBOR, data_path_make(3, 3, 0, 0), &manuf, m, buf, min_s);
    row("CBOR", "3303 /3303/0/5700", GW_FMT_CBOR, data_path_make(3, 3303, 0, 5700), &sensor, m, buf,
        min_s);
    row("opaque", "firmware /5/0/0 1 KiB", GW_FMT_OPAQUE, data_path_make(3, 5, 0, 0), &block, m,
        buf, min_s);

    data_records_clear(&device);
    data_records_clear(&temp);
    data_records_clear(&temp_timed);
    data_records_clear(&manuf);
    data_records_clear(&sensor);
    data_records_clear(&block);
    free(buf);
    model_free(m);
    return 0;
}
