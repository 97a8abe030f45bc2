/* test_blockwise.c - requests from devices put together from their blocks, and the Block
 * option helpers (gateway/lwm2m/blockwise.c). PDUs are libcoap's own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blockwise.h"
#include "gw.h"

#define PEER "127.0.0.1:40000"
#define KEY "2/rd"

static uint8_t body[4096]; /* the request body the blocks carry */

/* Block `num` of `body` (size 16 << szx), with M set when `more`; `len` bytes of payload
 * (the block size, unless told otherwise). */
static coap_pdu_t *block_pdu(unsigned num, bool more, unsigned szx, size_t len, int cf)
{
    coap_pdu_t *p = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 1, 2048);
    assert_non_null(p);
    if (cf >= 0) {
        uint8_t buf[4];
        coap_add_option(p, COAP_OPTION_CONTENT_FORMAT,
                        coap_encode_var_safe(buf, sizeof(buf), (unsigned)cf), buf);
    }
    block_write(p, COAP_OPTION_BLOCK1, (coap_block_t){.num = num, .m = more, .szx = szx & 7});
    if (len)
        coap_add_data(p, len, body + num * block_size(szx));
    return p;
}

static coap_pdu_t *response(void)
{
    coap_pdu_t *r = coap_pdu_init(COAP_MESSAGE_ACK, COAP_RESPONSE_CODE_CHANGED, 1, 2048);
    assert_non_null(r);
    return r;
}

/* Takes one block; returns what block_rx_take said, with the response's code in `*code`. */
static enum block_rx_result take(struct block_rx *rx, const char *peer, unsigned num, bool more,
                                 unsigned szx, size_t len, int cf, coap_pdu_code_t *code,
                                 uint8_t **out, size_t *out_len, int64_t now)
{
    coap_pdu_t *req = block_pdu(num, more, szx, len, cf);
    coap_pdu_t *res = response();
    coap_block_t b;
    assert_int_equal(block_read(req, COAP_OPTION_BLOCK1, &b), 1);
    enum block_rx_result r = block_rx_take(rx, peer, KEY, req, b, res, out, out_len, now);
    *code = coap_pdu_get_code(res);
    if (r != BLOCK_RX_FAILED) {
        coap_block_t echo;
        assert_int_equal(block_read(res, COAP_OPTION_BLOCK1, &echo), 1);
        assert_int_equal(echo.num, num);
        assert_int_equal(echo.m, more);
    }
    coap_delete_pdu(req);
    coap_delete_pdu(res);
    return r;
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7 + 3);
    return 0;
}

static void test_blocks_in_order_make_the_whole_body(void **state)
{
    (void)state;
    struct block_rx *rx = block_rx_new(4, 1000);
    coap_pdu_code_t code;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(take(rx, PEER, 0, true, 2, 64, 40, &code, &out, &len, 0), BLOCK_RX_CONTINUE);
    assert_int_equal(code, COAP_RESPONSE_CODE_CONTINUE);
    assert_int_equal(take(rx, PEER, 1, true, 2, 64, 40, &code, &out, &len, 1), BLOCK_RX_CONTINUE);
    assert_int_equal(block_rx_count(rx), 1);
    assert_int_equal(take(rx, PEER, 2, false, 2, 10, 40, &code, &out, &len, 2), BLOCK_RX_DONE);
    assert_int_equal(len, 138);
    assert_memory_equal(out, body, 138);
    assert_int_equal(block_rx_count(rx), 0);
    free(out);
    block_rx_free(rx);
}

static void test_a_retransmitted_block_is_asked_past_and_not_added_twice(void **state)
{
    (void)state;
    struct block_rx *rx = block_rx_new(4, 1000);
    coap_pdu_code_t code;
    uint8_t *out = NULL;
    size_t len = 0;
    take(rx, PEER, 0, true, 4, 256, -1, &code, &out, &len, 0);
    take(rx, PEER, 1, true, 4, 256, -1, &code, &out, &len, 0);
    assert_int_equal(take(rx, PEER, 1, true, 4, 256, -1, &code, &out, &len, 0), BLOCK_RX_CONTINUE);
    assert_int_equal(take(rx, PEER, 0, true, 4, 256, -1, &code, &out, &len, 0), BLOCK_RX_CONTINUE);
    assert_int_equal(take(rx, PEER, 2, false, 4, 1, -1, &code, &out, &len, 0), BLOCK_RX_DONE);
    assert_int_equal(len, 513);
    assert_memory_equal(out, body, 513);
    free(out);
    block_rx_free(rx);
}

static void test_a_gap_or_a_missing_first_block_is_4_08(void **state)
{
    (void)state;
    struct block_rx *rx = block_rx_new(4, 1000);
    coap_pdu_code_t code;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(take(rx, PEER, 3, true, 0, 16, -1, &code, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_INCOMPLETE);
    take(rx, PEER, 0, true, 0, 16, -1, &code, &out, &len, 0);
    assert_int_equal(take(rx, PEER, 2, true, 0, 16, -1, &code, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_INCOMPLETE);
    assert_int_equal(block_rx_count(rx), 0); /* the broken transfer is gone */
    block_rx_free(rx);
}

static void test_the_content_format_cannot_change_midway(void **state)
{
    (void)state;
    struct block_rx *rx = block_rx_new(4, 1000);
    coap_pdu_code_t code;
    uint8_t *out = NULL;
    size_t len = 0;
    take(rx, PEER, 0, true, 0, 16, 110, &code, &out, &len, 0);
    assert_int_equal(take(rx, PEER, 1, false, 0, 4, 112, &code, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_INCOMPLETE);
    block_rx_free(rx);
}

/* The sequence that crashed libcoap 4.3.1's own reassembly: a first block with M=1 and no
 * payload, then a last block that adds nothing. */
static void test_empty_blocks_are_refused(void **state)
{
    (void)state;
    struct block_rx *rx = block_rx_new(4, 1000);
    coap_pdu_code_t code;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(take(rx, PEER, 0, true, 6, 0, -1, &code, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_BAD_REQUEST);
    assert_int_equal(take(rx, PEER, 1, false, 6, 0, -1, &code, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_INCOMPLETE);
    /* a short block that says more follow is refused too */
    assert_int_equal(take(rx, PEER, 0, true, 2, 63, -1, &code, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_BAD_REQUEST);
    assert_int_equal(block_rx_count(rx), 0);
    block_rx_free(rx);
}

static void test_a_body_past_the_limit_is_4_13_with_size1(void **state)
{
    (void)state;
    struct block_rx *rx = block_rx_new(4, 1000);
    coap_pdu_t *req = block_pdu(0, true, 6, 1024, -1);
    uint8_t buf[4];
    coap_pdu_t *big = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 1, 2048);
    block_write(big, COAP_OPTION_BLOCK1, (coap_block_t){.num = 0, .m = 1, .szx = 6});
    coap_add_option(big, COAP_OPTION_SIZE1,
                    coap_encode_var_safe(buf, sizeof(buf), GW_BLOCK_BODY_MAX + 1), buf);
    coap_add_data(big, 1024, body);
    coap_pdu_t *res = response();
    coap_block_t b = {.num = 0, .m = 1, .szx = 6};
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(block_rx_take(rx, PEER, KEY, big, b, res, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(coap_pdu_get_code(res), COAP_RESPONSE_CODE_REQUEST_TOO_LARGE);
    coap_opt_iterator_t it;
    coap_opt_t *size1 = coap_check_option(res, COAP_OPTION_SIZE1, &it);
    assert_non_null(size1);
    assert_int_equal(coap_decode_var_bytes(coap_opt_value(size1), coap_opt_length(size1)),
                     GW_BLOCK_BODY_MAX);
    /* and a block whose offset lies past the limit */
    coap_delete_pdu(res);
    res = response();
    b.num = GW_BLOCK_BODY_MAX / 1024;
    assert_int_equal(block_rx_take(rx, PEER, KEY, req, b, res, &out, &len, 0), BLOCK_RX_FAILED);
    assert_int_equal(coap_pdu_get_code(res), COAP_RESPONSE_CODE_REQUEST_TOO_LARGE);
    coap_delete_pdu(res);
    coap_delete_pdu(req);
    coap_delete_pdu(big);
    block_rx_free(rx);
}

static void test_transfers_are_bounded_and_idle_ones_expire(void **state)
{
    (void)state;
    struct block_rx *rx = block_rx_new(2, 1000);
    coap_pdu_code_t code;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(take(rx, "a", 0, true, 0, 16, -1, &code, &out, &len, 0), BLOCK_RX_CONTINUE);
    assert_int_equal(take(rx, "b", 0, true, 0, 16, -1, &code, &out, &len, 500), BLOCK_RX_CONTINUE);
    assert_int_equal(take(rx, "c", 0, true, 0, 16, -1, &code, &out, &len, 900), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE);
    /* at 1000 "a" has been idle for its whole lifetime: "c" takes its place */
    assert_int_equal(take(rx, "c", 0, true, 0, 16, -1, &code, &out, &len, 1000), BLOCK_RX_CONTINUE);
    assert_int_equal(block_rx_count(rx), 2);
    assert_int_equal(take(rx, "a", 1, false, 0, 3, -1, &code, &out, &len, 1001), BLOCK_RX_FAILED);
    assert_int_equal(code, COAP_RESPONSE_CODE_INCOMPLETE);
    /* "b" was used at 500: still there at 1001 */
    assert_int_equal(take(rx, "b", 1, false, 0, 3, -1, &code, &out, &len, 1001), BLOCK_RX_DONE);
    assert_int_equal(len, 19);
    free(out);
    block_rx_free(rx);
}

static void test_block_options_read_back_and_bert_is_unusable(void **state)
{
    (void)state;
    coap_pdu_t *p = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 256);
    coap_block_t b;
    assert_int_equal(block_read(p, COAP_OPTION_BLOCK2, &b), 0);
    block_write(p, COAP_OPTION_BLOCK2, (coap_block_t){.num = 70000, .m = 1, .szx = 5});
    assert_int_equal(block_read(p, COAP_OPTION_BLOCK2, &b), 1);
    assert_int_equal(b.num, 70000);
    assert_int_equal(b.m, 1);
    assert_int_equal(b.szx, 5);
    coap_delete_pdu(p);
    p = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 1, 256);
    uint8_t bert = 0x0f; /* num 0, M, szx 7 */
    coap_add_option(p, COAP_OPTION_BLOCK1, 1, &bert);
    assert_int_equal(block_read(p, COAP_OPTION_BLOCK1, &b), -1);
    coap_delete_pdu(p);
    assert_int_equal(block_size(0), 16);
    assert_int_equal(block_size(6), 1024);
}

int main(void)
{
    coap_startup();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_in_order_make_the_whole_body),
        cmocka_unit_test(test_a_retransmitted_block_is_asked_past_and_not_added_twice),
        cmocka_unit_test(test_a_gap_or_a_missing_first_block_is_4_08),
        cmocka_unit_test(test_the_content_format_cannot_change_midway),
        cmocka_unit_test(test_empty_blocks_are_refused),
        cmocka_unit_test(test_a_body_past_the_limit_is_4_13_with_size1),
        cmocka_unit_test(test_transfers_are_bounded_and_idle_ones_expire),
        cmocka_unit_test(test_block_options_read_back_and_bert_is_unusable),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    coap_cleanup();
    return rc;
}
