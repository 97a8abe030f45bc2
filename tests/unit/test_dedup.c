/* test_dedup.c - the answers kept for retransmitted requests (gateway/lwm2m/dedup.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "dedup.h"
#include "gw.h"

static struct sockaddr_in peer(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    return a;
}

static void test_the_same_peer_and_message_id_gets_the_same_answer(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(16, 1000);
    struct sockaddr_in a = peer(40000);
    assert_null(dedup_find(d, &a, sizeof(a), 7, 0));
    assert_int_equal(dedup_put(d, &a, sizeof(a), 7, 0x41, "ab12cd34", NULL, 0, 0), GW_OK);
    const struct dedup_reply *r = dedup_find(d, &a, sizeof(a), 7, 500);
    assert_non_null(r);
    assert_int_equal(r->code, 0x41);
    assert_string_equal(r->location, "ab12cd34");
    assert_null(r->diagnostic);
    dedup_free(d);
}

static void test_another_port_or_message_id_is_another_request(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(16, 1000);
    struct sockaddr_in a = peer(40000), b = peer(40001);
    dedup_put(d, &a, sizeof(a), 7, 0x80, "", "bad ep", 6, 0);
    assert_null(dedup_find(d, &b, sizeof(b), 7, 1));
    assert_null(dedup_find(d, &a, sizeof(a), 8, 1));
    const struct dedup_reply *r = dedup_find(d, &a, sizeof(a), 7, 1);
    assert_non_null(r);
    assert_string_equal(r->diagnostic, "bad ep");
    dedup_free(d);
}

static void test_answers_are_forgotten_after_their_lifetime(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(16, 1000);
    struct sockaddr_in a = peer(40000);
    dedup_put(d, &a, sizeof(a), 7, 0x44, "", NULL, 0, 0);
    assert_non_null(dedup_find(d, &a, sizeof(a), 7, 999));
    assert_null(dedup_find(d, &a, sizeof(a), 7, 1000));
    assert_int_equal(dedup_count(d), 0);
    dedup_free(d);
}

static void test_a_full_cache_forgets_the_oldest_first(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(3, 1000000);
    struct sockaddr_in a = peer(40000);
    for (uint16_t mid = 1; mid <= 5; mid++)
        dedup_put(d, &a, sizeof(a), mid, 0x44, "", NULL, 0, mid);
    assert_int_equal(dedup_count(d), 3);
    assert_null(dedup_find(d, &a, sizeof(a), 1, 10));
    assert_null(dedup_find(d, &a, sizeof(a), 2, 10));
    for (uint16_t mid = 3; mid <= 5; mid++)
        assert_non_null(dedup_find(d, &a, sizeof(a), mid, 10));
    dedup_free(d);
}

static void test_a_reused_message_id_keeps_only_the_newest_answer(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(8, 1000000);
    struct sockaddr_in a = peer(40000);
    dedup_put(d, &a, sizeof(a), 1, 0x41, "aaaaaaaa", NULL, 0, 0);
    dedup_put(d, &a, sizeof(a), 2, 0x44, "", NULL, 0, 1);
    dedup_put(d, &a, sizeof(a), 1, 0x42, "", NULL, 0, 2);
    assert_int_equal(dedup_count(d), 2);
    assert_int_equal(dedup_find(d, &a, sizeof(a), 1, 3)->code, 0x42);
    /* the FIFO stays consistent: the 7th new entry drops mid 2 (now the oldest), the 8th
     * drops mid 1 (moved behind it when its answer was replaced) */
    for (uint16_t mid = 10; mid < 17; mid++)
        dedup_put(d, &a, sizeof(a), mid, 0x44, "", NULL, 0, 3);
    assert_null(dedup_find(d, &a, sizeof(a), 2, 4));
    assert_non_null(dedup_find(d, &a, sizeof(a), 1, 4));
    dedup_put(d, &a, sizeof(a), 17, 0x44, "", NULL, 0, 3);
    assert_null(dedup_find(d, &a, sizeof(a), 1, 4));
    assert_int_equal(dedup_count(d), 8);
    dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_same_peer_and_message_id_gets_the_same_answer),
        cmocka_unit_test(test_another_port_or_message_id_is_another_request),
        cmocka_unit_test(test_answers_are_forgotten_after_their_lifetime),
        cmocka_unit_test(test_a_full_cache_forgets_the_oldest_first),
        cmocka_unit_test(test_a_reused_message_id_keeps_only_the_newest_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
