/* blockwise.c - RFC 7959 options, and requests from devices put together from their blocks.
 * Transfers under way sit in a uthash table by (peer, method and path) and in a list by last
 * use, so that the idle ones are found at its head in O(1). */
#include "blockwise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>
#include <utlist.h>

#include "gw.h"

#define KEY_MAX 160

int block_read(const coap_pdu_t *pdu, coap_option_num_t number, coap_block_t *b)
{
    coap_opt_iterator_t it;
    if (!coap_check_option(pdu, number, &it))
        return 0;
    /* coap_get_block() refuses szx 7 and numbers past 20 bits: present, but not usable */
    return coap_get_block(pdu, number, b) ? 1 : -1;
}

void block_write(coap_pdu_t *pdu, coap_option_num_t number, coap_block_t b)
{
    uint8_t buf[4];
    unsigned v = (b.num << 4) | ((unsigned)b.m << 3) | b.szx;
    coap_add_option(pdu, number, coap_encode_var_safe(buf, sizeof(buf), v), buf);
}

int block_body_add(struct block_body *b, const uint8_t *data, size_t len)
{
    if (len == 0)
        return GW_OK; /* a last block may be empty: no memcpy from NULL */
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 2048;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return -GW_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return GW_OK;
}

unsigned block_szx_for(coap_session_t *session, size_t overhead)
{
    size_t max = coap_session_max_pdu_size(session);
    unsigned szx = COAP_MAX_BLOCK_SZX;
    while (szx > 0 && block_size(szx) + overhead > max)
        szx--;
    return szx;
}

/* ---- requests devices send in blocks ---- */

struct transfer {
    char key[KEY_MAX];
    struct block_body body;
    int content_format; /* of block 0; -1 when it had none */
    int64_t last_used;
    struct transfer *prev, *next; /* by last use, oldest first */
    UT_hash_handle hh;
};

struct block_rx {
    struct transfer *table;
    struct transfer *by_use;
    size_t n, max;
    int64_t idle_ms;
};

struct block_rx *block_rx_new(size_t max_transfers, int64_t idle_ms)
{
    struct block_rx *rx = calloc(1, sizeof(*rx));
    if (!rx)
        return NULL;
    rx->max = max_transfers ? max_transfers : 1;
    rx->idle_ms = idle_ms;
    return rx;
}

static void drop(struct block_rx *rx, struct transfer *t)
{
    HASH_DEL(rx->table, t);
    DL_DELETE(rx->by_use, t);
    free(t->body.p);
    free(t);
    rx->n--;
}

void block_rx_free(struct block_rx *rx)
{
    if (!rx)
        return;
    while (rx->by_use)
        drop(rx, rx->by_use);
    free(rx);
}

size_t block_rx_count(const struct block_rx *rx)
{
    return rx->n;
}

static int content_format(const coap_pdu_t *pdu)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
    return opt ? (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt)) : -1;
}

/* An error answer with its diagnostic; 4.13 also says the largest body taken (Size1). */
static enum block_rx_result fail(coap_pdu_t *response, coap_pdu_code_t code, const char *why)
{
    coap_pdu_set_code(response, code);
    if (code == COAP_RESPONSE_CODE_REQUEST_TOO_LARGE) {
        uint8_t buf[4];
        coap_add_option(response, COAP_OPTION_SIZE1,
                        coap_encode_var_safe(buf, sizeof(buf), GW_BLOCK_BODY_MAX), buf);
    }
    coap_add_data(response, strlen(why), (const uint8_t *)why);
    return BLOCK_RX_FAILED;
}

enum block_rx_result block_rx_take(struct block_rx *rx, const char *peer, const char *key,
                                   const coap_pdu_t *request, coap_block_t b, coap_pdu_t *response,
                                   uint8_t **body, size_t *len, int64_t now_ms)
{
    char why[160];
    while (rx->by_use && rx->by_use->last_used + rx->idle_ms <= now_ms)
        drop(rx, rx->by_use);

    size_t size = block_size(b.szx), n = 0;
    const uint8_t *data = NULL;
    if (!coap_get_data(request, &n, &data))
        n = 0;
    /* RFC 7959 2.2: every block but the last carries exactly the block size */
    if (b.m ? n != size : n > size) {
        snprintf(why, sizeof(why), "Block1: block %u carries %zu bytes for a block size of %zu",
                 b.num, n, size);
        return fail(response, COAP_RESPONSE_CODE_BAD_REQUEST, why);
    }
    char k[KEY_MAX];
    snprintf(k, sizeof(k), "%s %s", peer, key);
    struct transfer *t = NULL;
    HASH_FIND_STR(rx->table, k, t);
    coap_opt_iterator_t it;
    coap_opt_t *size1 = coap_check_option(request, COAP_OPTION_SIZE1, &it);
    size_t offset = (size_t)b.num * size;
    if ((size1 && coap_decode_var_bytes8(coap_opt_value(size1), coap_opt_length(size1)) >
                      GW_BLOCK_BODY_MAX) ||
        offset + n > GW_BLOCK_BODY_MAX) {
        if (t)
            drop(rx, t);
        return fail(response, COAP_RESPONSE_CODE_REQUEST_TOO_LARGE,
                    "Block1: the body is larger than the gateway takes");
    }
    int cf = content_format(request);
    if (t && offset + n <= t->body.len && (n == 0 || memcmp(t->body.p + offset, data, n) == 0) &&
        b.m) {
        /* a retransmission of a block already taken (its 2.31 was lost) */
    } else if (b.num == 0) {
        if (t)
            drop(rx, t);
        if (rx->n >= rx->max)
            return fail(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE,
                        "Block1: too many block-wise requests under way, try again later");
        if (!(t = calloc(1, sizeof(*t))))
            return fail(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "out of memory");
        snprintf(t->key, sizeof(t->key), "%s", k);
        t->content_format = cf;
        HASH_ADD_STR(rx->table, key, t);
        DL_APPEND(rx->by_use, t);
        rx->n++;
    } else if (!t || offset != t->body.len || cf != t->content_format) {
        if (!t)
            snprintf(why, sizeof(why), "Block1: block %u without the blocks before it", b.num);
        else if (cf != t->content_format)
            snprintf(why, sizeof(why), "Block1: the Content-Format changed at block %u", b.num);
        else
            snprintf(why, sizeof(why), "Block1: block %u came where block %zu was expected", b.num,
                     t->body.len / size);
        if (t)
            drop(rx, t);
        return fail(response, COAP_RESPONSE_CODE_INCOMPLETE, why);
    }
    if (offset == t->body.len && block_body_add(&t->body, data, n) < 0) {
        drop(rx, t);
        return fail(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "out of memory");
    }
    t->last_used = now_ms;
    DL_DELETE(rx->by_use, t);
    DL_APPEND(rx->by_use, t);
    block_write(response, COAP_OPTION_BLOCK1, b);
    if (b.m) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTINUE);
        return BLOCK_RX_CONTINUE;
    }
    *body = t->body.p;
    *len = t->body.len;
    t->body.p = NULL;
    drop(rx, t);
    return BLOCK_RX_DONE;
}
