/* fuzz_linkfmt.c - CoRE link-format as devices send it in Register and Update payloads:
 * anything the parser accepts must write back and parse again to the same links, and the
 * registration reading of the links must never misbehave. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "linkfmt.h"
#include "rd.h"

static void check_round_trip(const struct link_list *l)
{
    size_t cap = 4096;
    for (size_t i = 0; i < l->n; i++) {
        cap += strlen(l->links[i].uri) * 2 + 8;
        for (size_t j = 0; j < l->links[i].n_attrs; j++)
            cap += strlen(l->links[i].attrs[j].name) +
                   (l->links[i].attrs[j].value ? 2 * strlen(l->links[i].attrs[j].value) : 0) + 8;
    }
    char *buf = malloc(cap);
    size_t written;
    char err[128];
    if (!buf || linkfmt_write(l, buf, cap, &written) != GW_OK)
        abort();
    struct link_list again;
    if (linkfmt_parse(buf, written, &again, err, sizeof(err)) != GW_OK || again.n != l->n)
        abort();
    for (size_t i = 0; i < l->n; i++) {
        const struct link *a = &l->links[i], *b = &again.links[i];
        if (strcmp(a->uri, b->uri) != 0 || a->n_attrs != b->n_attrs)
            abort();
        for (size_t j = 0; j < a->n_attrs; j++) {
            if (strcmp(a->attrs[j].name, b->attrs[j].name) != 0 ||
                !a->attrs[j].value != !b->attrs[j].value ||
                (a->attrs[j].value && strcmp(a->attrs[j].value, b->attrs[j].value) != 0))
                abort();
        }
    }
    linkfmt_clear(&again);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    struct link_list l;
    if (linkfmt_parse((const char *)data, size, &l, err, sizeof(err)) == GW_OK) {
        check_round_trip(&l);
        linkfmt_clear(&l);
    }
    struct rd_objects o;
    if (rd_parse_links((const char *)data, size, &o, err, sizeof(err)) == GW_OK)
        rd_objects_clear(&o);
    return 0;
}
