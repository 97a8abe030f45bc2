/* store.h - the gateway's durable state, in SQLite (WAL) at store.path: today its schema and
 * a health check; the hold store of requests waiting for their device and the persisted
 * registrations build on it. Kept behind this interface so that a shared backend (Redis, for
 * several gateways) can be added beside it rather than instead of it (DESIGN.md, "Scale").
 * Private to bridge/. */
#ifndef STORE_H
#define STORE_H

#include "bridge.h"

struct store;

/* Opens (creating it and its directory when missing) the database at cfg->path, in WAL mode,
 * and brings its schema to the current version. Returns NULL after logging why when it cannot
 * be opened (a path under a file, no permission, a file that is not a database). */
struct store *store_open(const struct store_config *cfg);

/* Closes the database, checkpointing the WAL. store_close(NULL) does nothing. */
void store_close(struct store *s);

#endif
