/* heap.c - the intrusive binary min-heap of deadlines (see heap.h). */
#include "heap.h"

#include <stdlib.h>

#include "gw.h"

static void place(struct heap *h, size_t i, struct heap_node *node)
{
    h->v[i] = node;
    node->index = i;
}

static void sift_up(struct heap *h, size_t i)
{
    struct heap_node *node = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->key <= node->key)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, node);
}

static void sift_down(struct heap *h, size_t i)
{
    struct heap_node *node = h->v[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->v[child + 1]->key < h->v[child]->key)
            child++;
        if (node->key <= h->v[child]->key)
            break;
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, node);
}

void heap_clear(struct heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->index = GW_HEAP_NONE;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

int heap_push(struct heap *h, struct heap_node *node)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct heap_node **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return -GW_ERR_NOMEM;
        h->v = v;
        h->cap = cap;
    }
    place(h, h->n++, node);
    sift_up(h, node->index);
    return GW_OK;
}

void heap_remove(struct heap *h, struct heap_node *node)
{
    if (!heap_linked(node))
        return;
    size_t i = node->index;
    struct heap_node *last = h->v[--h->n];
    node->index = GW_HEAP_NONE;
    if (last == node)
        return;
    place(h, i, last);
    sift_down(h, i);
    sift_up(h, last->index);
}

void heap_update(struct heap *h, struct heap_node *node, int64_t key)
{
    int64_t old = node->key;
    node->key = key;
    if (key < old)
        sift_up(h, node->index);
    else
        sift_down(h, node->index);
}

struct heap_node *heap_top(const struct heap *h)
{
    return h->n ? h->v[0] : NULL;
}
