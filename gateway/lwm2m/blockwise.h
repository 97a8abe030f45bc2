/* blockwise.h - block-wise transfers (RFC 7959), done by the gateway rather than by libcoap.
 * Private to gateway/lwm2m.
 *
 * libcoap 4.3.1's block mode (COAP_BLOCK_USE_LIBCOAP) is off, for two defects of that version:
 * it put a token of its own on the cancellation of an observation (RFC 7641 section 3.6 wants
 * the observation's), and a Block1 transfer whose blocks carried no payload made it dereference
 * a NULL body on the last block, so that any device could stop the gateway with three
 * datagrams. Without the block mode libcoap hands every block to the gateway as it comes:
 * - requests devices send in blocks (a Register or Update with many objects, a large Send) are
 *   put together here (block_rx), then handled as one;
 * - the gateway's own requests are split (Block1), and answers and notifications that come in
 *   blocks are fetched to the end (Block2), in ops.c with the helpers below. */
#ifndef BLOCKWISE_H
#define BLOCKWISE_H

#include <coap3/coap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest body put together from blocks, in either direction. */
#define GW_BLOCK_BODY_MAX (1024 * 1024)

/* A body being put together from its blocks. Zeroed is empty; free(p) when done. */
struct block_body {
    uint8_t *p;
    size_t len, cap;
};

/* Appends `len` bytes. GW_OK or -GW_ERR_NOMEM (the body is left as it was). */
int block_body_add(struct block_body *b, const uint8_t *data, size_t len);

/* The bytes of block `szx` (0..6). */
static inline size_t block_size(unsigned szx)
{
    return (size_t)16 << szx;
}

/* Reads option `number` (COAP_OPTION_BLOCK1 or COAP_OPTION_BLOCK2) of `pdu`: 1 when present
 * and well formed, 0 when absent, -1 when present but unusable (a block number past 2^20 - 1,
 * or size exponent 7, which is BERT and reserved over UDP). */
int block_read(const coap_pdu_t *pdu, coap_option_num_t number, coap_block_t *b);

/* Adds option `number` with `b` to `pdu` (options go in ascending order). */
void block_write(coap_pdu_t *pdu, coap_option_num_t number, coap_block_t b);

/* The largest size exponent whose blocks fit in one PDU of `session` beside `overhead` bytes of
 * header, token and options. */
unsigned block_szx_for(coap_session_t *session, size_t overhead);

/* ---- requests devices send in blocks ---- */

struct block_rx;

/* Keeps at most `max_transfers` requests being put together at once, each dropped when no
 * block came for `idle_ms`, each at most GW_BLOCK_BODY_MAX bytes. NULL when out of memory. */
struct block_rx *block_rx_new(size_t max_transfers, int64_t idle_ms);

/* Frees every transfer. block_rx_free(NULL) does nothing. */
void block_rx_free(struct block_rx *rx);

enum block_rx_result {
    BLOCK_RX_DONE,     /* the last block came: the whole body is the caller's */
    BLOCK_RX_CONTINUE, /* `response` is 2.31 Continue, asking for the next block */
    BLOCK_RX_FAILED,   /* `response` has the error (4.00, 4.08, 4.13, 5.03) and a diagnostic */
};

/* Takes block `b` of `request`, which `peer` sent to `key` (method and Uri-Path: a transfer is
 * matched by sender and resource, RFC 7959 section 2.5). A block 0 starts a transfer (again);
 * a block that was already taken, byte for byte, is a retransmission and asked past again.
 * DONE: `*body` (malloc'd, the caller frees it) and `*len` hold the whole body, and `response`
 * has the final Block1 option; the caller answers the request. */
enum block_rx_result block_rx_take(struct block_rx *rx, const char *peer, const char *key,
                                   const coap_pdu_t *request, coap_block_t b, coap_pdu_t *response,
                                   uint8_t **body, size_t *len, int64_t now_ms);

/* Transfers under way. */
size_t block_rx_count(const struct block_rx *rx);

#endif
