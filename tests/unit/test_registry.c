/* test_registry.c - lookups, unique ids and expiry order of gateway/lwm2m/registry.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw.h"
#include "registry.h"

static struct reg_entry *entry(const char *ep, int64_t expires_at)
{
    struct reg_entry *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    snprintf(e->r.ep, sizeof(e->r.ep), "%s", ep);
    e->expiry.key = expires_at;
    snprintf(e->r.address, sizeof(e->r.address), "127.0.0.1:%d", (int)(expires_at % 65536));
    return e;
}

static void test_entries_are_found_by_endpoint_and_by_id(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    struct reg_entry *e = entry("dev-1", 100);
    assert_int_equal(registry_add(reg, e), GW_OK);
    assert_int_equal(strlen(e->r.id), GW_ID_LEN);
    assert_ptr_equal(registry_by_ep(reg, "dev-1"), e);
    assert_ptr_equal(registry_by_id(reg, e->r.id), e);
    assert_null(registry_by_ep(reg, "dev-2"));
    assert_null(registry_by_id(reg, "zzzzzzzz"));
    registry_remove(reg, registry_by_ep(reg, "dev-1"));
    assert_null(registry_by_ep(reg, "dev-1"));
    assert_int_equal(registry_count(reg), 0);
    registry_free(reg);
}

static void test_ids_are_unique_across_many_entries(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    char ep[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(ep, sizeof(ep), "dev-%d", i);
        assert_int_equal(registry_add(reg, entry(ep, i)), GW_OK);
    }
    /* every id maps back to its own entry: no two share one */
    for (int i = 0; i < 20000; i++) {
        snprintf(ep, sizeof(ep), "dev-%d", i);
        struct reg_entry *e = registry_by_ep(reg, ep);
        assert_ptr_equal(registry_by_id(reg, e->r.id), e);
    }
    assert_int_equal(registry_count(reg), 20000);
    registry_free(reg);
}

static void test_first_expiry_follows_moves_and_removals(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    /* insertion order unrelated to expiry order */
    static const int64_t when[] = {50, 10, 90, 30, 70, 20, 80, 40, 60};
    char ep[16];
    for (size_t i = 0; i < GW_ARRAY_LEN(when); i++) {
        snprintf(ep, sizeof(ep), "d%zu", i);
        registry_add(reg, entry(ep, when[i]));
    }
    assert_int_equal(registry_first_expiry(reg)->expiry.key, 10);
    registry_set_expiry(reg, registry_by_ep(reg, "d1"), 100); /* 10 -> 100 */
    assert_int_equal(registry_first_expiry(reg)->expiry.key, 20);
    registry_set_expiry(reg, registry_by_ep(reg, "d2"), 5); /* 90 -> 5 */
    assert_string_equal(registry_first_expiry(reg)->r.ep, "d2");
    /* draining the heap yields ascending expiries */
    int64_t last = -1;
    size_t n = 0;
    struct reg_entry *e;
    while ((e = registry_first_expiry(reg))) {
        assert_true(e->expiry.key >= last);
        last = e->expiry.key;
        registry_remove(reg, e);
        n++;
    }
    assert_int_equal(n, GW_ARRAY_LEN(when));
    registry_free(reg);
}

static void test_removing_from_the_middle_keeps_heap_order(void **state)
{
    (void)state;
    struct registry *reg = registry_new();
    char ep[16];
    for (int i = 0; i < 200; i++) {
        snprintf(ep, sizeof(ep), "d%d", i);
        registry_add(reg, entry(ep, (i * 7919) % 1000));
    }
    for (int i = 0; i < 200; i += 3) {
        snprintf(ep, sizeof(ep), "d%d", i);
        registry_remove(reg, registry_by_ep(reg, ep));
    }
    int64_t last = -1;
    struct reg_entry *e;
    while ((e = registry_first_expiry(reg))) {
        assert_true(e->expiry.key >= last);
        last = e->expiry.key;
        registry_remove(reg, e);
    }
    registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_are_found_by_endpoint_and_by_id),
        cmocka_unit_test(test_ids_are_unique_across_many_entries),
        cmocka_unit_test(test_first_expiry_follows_moves_and_removals),
        cmocka_unit_test(test_removing_from_the_middle_keeps_heap_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
