/* test_shed.c - shed_share: the share of notifications let through in an overload, look by look
 * (a look every 100 ms), through a stall of the broker and its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shed.h"

#define MAX 10000 /* mqtt.max_buffered */

static double look(double pass, uint64_t handed, uint64_t dropped, uint64_t shed, size_t was,
                   size_t now)
{
    struct shed_look l = {.handed = handed,
                          .dropped = dropped,
                          .shed = shed,
                          .waiting_was = was,
                          .waiting = now,
                          .max = MAX};
    return shed_share(pass, &l);
}

static void test_shed_nothing_while_the_queue_keeps_up(void **state)
{
    (void)state;
    assert_float_equal(look(1, 3000, 0, 0, 0, 0), 1, 1e-6);
    assert_float_equal(look(1, 3000, 0, 0, 20, 180), 1, 1e-6);
}

static void test_shed_nothing_before_the_queue_drops(void **state)
{
    (void)state;
    /* a burst fills the queue past half: the queue is there to hold it */
    assert_float_equal(look(1, 3000, 0, 0, 4000, 9000), 1, 1e-6);
}

static void test_shed_lets_through_nine_tenths_of_what_the_mqtt_side_took(void **state)
{
    (void)state;
    /* 3,000 taken, 1,000 dropped by the full queue: 4,000 arrived */
    assert_float_equal(look(1, 3000, 1000, 0, MAX, MAX), 0.9 * 3000 / 4000, 1e-6);
    /* shedding already: what the kernel dropped arrived too */
    assert_float_equal(look(0.5, 3000, 200, 2800, MAX, MAX), 0.9 * 3000 / 6000, 1e-6);
}

static void test_shed_follows_the_mqtt_side_above_half(void **state)
{
    (void)state;
    /* no drop, the queue above half and shedding: set again from what moved; here more
     * arrives than is taken (3,000 taken, 100 more queued, 2,000 shed) */
    assert_float_equal(look(0.6, 3000, 0, 2000, 8000, 8100), 0.9 * 3000 / 5100, 1e-6);
}

static void test_shed_a_stall_then_the_broker_takes_again(void **state)
{
    (void)state;
    /* the broker stops: the queue is full, nothing is taken, everything is shed */
    double pass = look(1, 0, 1500, 0, MAX, MAX);
    assert_float_equal(pass, 0, 1e-6);
    pass = look(pass, 0, 0, 1500, MAX, MAX);
    assert_float_equal(pass, 0, 1e-6);
    /* the broker is back and takes 3,000 a look while 1,500 arrive: the queue, still above
     * half, drains by itself, and all that arrives is let through at once */
    pass = look(pass, 3000, 0, 1500, MAX, MAX - 3000);
    assert_float_equal(pass, 1, 1e-6);
}

static void test_shed_nothing_came_keeps_the_share(void **state)
{
    (void)state;
    assert_float_equal(look(0.3, 0, 0, 0, 8000, 8000), 0.3, 1e-6);
}

static void test_shed_doubles_back_up_at_most_half_full_and_ends_empty(void **state)
{
    (void)state;
    double pass = look(0.1, 3000, 0, 100, 6000, 5000);
    assert_float_equal(pass, 0.25, 1e-6);
    pass = look(pass, 3000, 0, 100, 5000, 4000);
    assert_float_equal(pass, 0.55, 1e-6);
    assert_float_equal(look(pass, 3000, 0, 100, 4000, 3000), 1, 1e-6);
    assert_float_equal(look(0.1, 3000, 0, 100, 100, 0), 1, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shed_nothing_while_the_queue_keeps_up),
        cmocka_unit_test(test_shed_nothing_before_the_queue_drops),
        cmocka_unit_test(test_shed_lets_through_nine_tenths_of_what_the_mqtt_side_took),
        cmocka_unit_test(test_shed_follows_the_mqtt_side_above_half),
        cmocka_unit_test(test_shed_a_stall_then_the_broker_takes_again),
        cmocka_unit_test(test_shed_nothing_came_keeps_the_share),
        cmocka_unit_test(test_shed_doubles_back_up_at_most_half_full_and_ends_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
