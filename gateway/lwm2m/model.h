/* model.h - the LwM2M object model: which objects and resources exist, their names, types,
 * units, operations and multiplicity. The core objects (0-7) and the common IPSO objects are
 * built in; OMA DDF XML files add or replace objects. Part of the public interface of
 * gateway/lwm2m (included by lwm2m.h). */
#ifndef MODEL_H
#define MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"

enum model_ops { GW_OP_R = 1 << 0, GW_OP_W = 1 << 1, GW_OP_E = 1 << 2 };

struct model_resource {
    uint16_t id;
    const char *name;    /* as in the DDF: "Sensor Value" */
    enum data_type type; /* GW_TYPE_NONE for an Execute resource */
    unsigned ops;        /* set of enum model_ops */
    bool multiple;
    bool mandatory;
    const char *units; /* "" when none */
};

struct model_object {
    uint16_t oid;
    const char *name;    /* "Temperature" */
    const char *version; /* "1.1"; "1.0" when the file does not say */
    const char *urn;     /* "urn:oma:lwm2m:ext:3303:1.1", "" when unknown */
    bool multiple;
    bool mandatory;
    const struct model_resource *resources; /* sorted by id */
    size_t n_resources;
};

struct model;

/* Returns a model holding the built-in objects, or NULL when out of memory. */
struct model *model_new(void);

/* Frees the model and everything loaded into it. model_free(NULL) does nothing. */
void model_free(struct model *m);

/* Loads one DDF XML file (one or more <Object> elements). An object already in the model is
 * replaced by the file's. Returns GW_OK, or -GW_ERR_INVALID with "FILE:LINE: reason" in `err`
 * (malformed XML, a missing ObjectID, a bad type...) and the model unchanged; -GW_ERR_IO when
 * the file cannot be read; -GW_ERR_NOMEM. */
int model_load_file(struct model *m, const char *path, char *err, size_t errlen);

/* Loads every *.xml file of `dir` in name order. A file that fails is logged (log_warn with
 * its FILE:LINE reason) and skipped; the others load. Returns the number of files loaded,
 * -GW_ERR_IO when the directory cannot be opened, or -GW_ERR_NOMEM. */
int model_load_dir(struct model *m, const char *dir);

/* Lookups; NULL when the model does not know the object or resource. Borrowed from `m` and
 * valid until model_free(), also after the object was replaced by a newer file. Every lookup
 * accepts m == NULL (no model) and answers "unknown", so codecs run without a model. */
const struct model_object *model_object(const struct model *m, uint16_t oid);
const struct model_resource *model_resource(const struct model *m, uint16_t oid, uint16_t rid);

/* The type of the resource that `p` names (depth 3 or 4), or GW_TYPE_NONE when unknown (or
 * an Execute resource: use model_resource() to tell the two apart). */
enum data_type model_type(const struct model *m, const struct data_path *p);

/* Number of objects in the model. */
size_t model_count(const struct model *m);

#endif
