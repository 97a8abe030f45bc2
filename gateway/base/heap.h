/* heap.h - an intrusive binary min-heap of deadlines: the structure embeds a struct heap_node,
 * and the heap orders nodes by key (a CLOCK_MONOTONIC ms deadline). Peek O(1), push, remove
 * and move O(log n), no allocation per node. Used for lifetime expiries and for the watchdogs
 * of silent observations, in-flight requests and held requests. Part of gwbase, for every
 * module. */
#ifndef HEAP_H
#define HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_HEAP_NONE SIZE_MAX /* heap_node.index of a node that is in no heap */

struct heap_node {
    int64_t key;
    size_t index; /* GW_HEAP_NONE when not in the heap; set by the heap */
};

struct heap {
    struct heap_node **v;
    size_t n;
    size_t cap;
};

/* A zeroed struct heap is empty. Frees the array (not the nodes) and zeroes the heap. */
void heap_clear(struct heap *h);

/* Adds `node` (its key set, not in any heap). Returns GW_OK or -GW_ERR_NOMEM. */
int heap_push(struct heap *h, struct heap_node *node);

/* Takes `node` out; harmless when it is in no heap. */
void heap_remove(struct heap *h, struct heap_node *node);

/* Gives `node` (in the heap) a new key. */
void heap_update(struct heap *h, struct heap_node *node, int64_t key);

/* The node with the smallest key, or NULL. */
struct heap_node *heap_top(const struct heap *h);

/* True when `node` is in a heap. */
static inline bool heap_linked(const struct heap_node *node)
{
    return node->index != GW_HEAP_NONE;
}

#endif
