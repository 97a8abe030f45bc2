/* config.h - the gateway's configuration file (libconfig syntax, SPEC section 2).
 * Loading parses and validates every section, collects every problem as "FILE:LINE: message"
 * (unknown keys included, with a hint when a known key is close), and fills plain structs
 * that the modules below take as their options. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "bridge.h"
#include "gw.h"
#include "lwm2m.h"
#include "mappings.h"

struct gw_config {
    char *file; /* the path it was loaded from */
    struct server_config lwm2m;
    struct bridge_config mqtt;
    struct store_config store;
    char **object_dirs;
    size_t n_object_dirs;
    struct mappings_config rules;
    struct listen_uri http; /* metrics and health; http.uri NULL: no HTTP listener */
};

/* Every problem found, in file order: "FILE:LINE: message" lines. */
struct conffile_problems {
    char **lines;
    size_t n;
};

/* Loads and validates `path` into `out` (zeroed first; on failure it is left cleared). Every
 * problem is appended to `problems`. Returns GW_OK, -GW_ERR_INVALID when the file has problems,
 * -GW_ERR_IO when it cannot be read (also reported in `problems`), -GW_ERR_NOMEM. */
int conffile_load(const char *path, struct gw_config *out, struct conffile_problems *problems);

/* Applies the environment overrides of SPEC section 1 (LWM2M_GW_MQTT_URI,
 * LWM2M_GW_MQTT_USERNAME, LWM2M_GW_MQTT_PASSWORD) and our LWM2M_GW_STORE_PATH to a loaded
 * configuration. An empty variable counts as unset. A bad value is
 * reported as "LWM2M_GW_MQTT_URI: message" in `problems`. Returns GW_OK or -GW_ERR_INVALID.
 * LWM2M_GW_LOG_LEVEL is the daemon's, not the file's, and is not handled here. */
int conffile_apply_env(struct gw_config *cfg, struct conffile_problems *problems);

/* Frees everything `cfg` owns and zeroes it. Harmless on a zeroed struct. */
void conffile_clear(struct gw_config *cfg);

/* Frees the problem lines and zeroes `p`. */
void conffile_problems_clear(struct conffile_problems *p);

#endif
