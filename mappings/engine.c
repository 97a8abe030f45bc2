/* engine.c - the observe, mappings and commands rules compiled once from the configuration:
 * path patterns as id arrays with a wildcard mask, topic templates as literal and variable
 * segments with the prefix folded in, and the selection of the observations a registration
 * gets. Compiling is where every rule is judged (and refused with its line); matching and
 * rendering afterwards (render.c, request.c) never parse a rule again. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "gw.h"

#define ENGINE_WHY_MAX 256

static const struct {
    const char *name;
    enum engine_var var;
} template_vars[] = {
    {"ep", GW_SEG_EP},
    {"oid", GW_SEG_OID},
    {"iid", GW_SEG_IID},
    {"rid", GW_SEG_RID},
    {"riid", GW_SEG_RIID},
    {"object", GW_SEG_OBJECT},
    {"resource", GW_SEG_RESOURCE},
};

static const char *const payload_names[] = {
    [GW_PAYLOAD_JSON] = "json",
    [GW_PAYLOAD_VALUE] = "value",
    [GW_PAYLOAD_INSTANCE] = "instance",
    [GW_PAYLOAD_SENML] = "senml",
};

/* ---- matching ---- */

bool engine_glob_match(const char *glob, const char *ep)
{
    return !glob || fnmatch(glob, ep, 0) == 0;
}

bool engine_pattern_match(const struct engine_pattern *p, const struct data_path *path)
{
    if (path->depth < p->depth)
        return false;
    for (uint8_t i = 0; i < p->depth; i++) {
        if (!(p->wild & (1u << i)) && p->id[i] != path->id[i])
            return false;
    }
    return true;
}

size_t engine_name_key(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    bool digits_only = true;

    if (!name)
        return 0;
    for (const char *s = name; *s && n + 1 < cap; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            c = '_';
        if (c == '_' && (n == 0 || out[n - 1] == '_'))
            continue; /* no leading '_', and a run of them is one */
        digits_only &= c >= '0' && c <= '9';
        out[n++] = c;
    }
    while (n > 0 && out[n - 1] == '_')
        n--;
    out[n] = '\0';
    /* A name of digits alone would read like (and could clash with) an id. */
    return digits_only ? 0 : n;
}

/* ---- compiling ---- */

static void template_clear(struct engine_template *t)
{
    free(t->seg);
    free(t->text);
    memset(t, 0, sizeof(*t));
}

/* Compiles `tmpl` (already accepted by mappings_check_template) into segments, folding
 * {prefix} into the literal text. Returns GW_OK or -GW_ERR_NOMEM. */
static int template_compile(const char *tmpl, const char *prefix, struct engine_template *t)
{
    size_t plen = strlen(prefix), braces = 0, cap = strlen(tmpl) + 1;
    size_t len = 0;
    memset(t, 0, sizeof(*t));

    for (const char *p = tmpl; *p; p++) {
        if (*p == '{') {
            braces++;
            cap += plen; /* at most: every variable could be {prefix} */
        }
    }
    t->text = malloc(cap);
    t->seg = calloc(2 * braces + 1, sizeof(*t->seg));
    if (!t->text || !t->seg) {
        template_clear(t);
        return -GW_ERR_NOMEM;
    }
    struct engine_segment *lit = NULL; /* the literal segment being extended */
    for (const char *p = tmpl; *p;) {
        const char *add = p;
        size_t addlen = 1;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t vlen = (size_t)(close - p - 1);
            enum engine_var var = GW_SEG_TEXT;
            for (size_t i = 0; i < GW_ARRAY_LEN(template_vars); i++) {
                if (strlen(template_vars[i].name) == vlen &&
                    memcmp(template_vars[i].name, p + 1, vlen) == 0)
                    var = template_vars[i].var;
            }
            p = close + 1;
            if (var != GW_SEG_TEXT) {
                t->seg[t->n++] = (struct engine_segment){.var = var};
                t->uses |= 1u << var;
                lit = NULL;
                continue;
            }
            add = prefix; /* the only variable left is {prefix} */
            addlen = plen;
        } else {
            p++;
        }
        if (!lit) {
            lit = &t->seg[t->n++];
            *lit = (struct engine_segment){.var = GW_SEG_TEXT, .text = t->text + len};
        }
        memcpy(t->text + len, add, addlen);
        len += addlen;
        lit->len += addlen;
    }
    t->text[len] = '\0';
    return GW_OK;
}

/* Parses a pattern already accepted by mappings_check_path with GW_PATH_WILDCARD. */
static void pattern_compile(const char *path, struct engine_pattern *p)
{
    memset(p, 0, sizeof(*p));
    for (const char *s = path + 1; *s && p->depth < GW_PATH_MAX_DEPTH;) {
        if (*s == '*') {
            p->wild |= (uint8_t)(1u << p->depth);
            s++;
        } else {
            char *end;
            p->id[p->depth] = (uint16_t)strtoul(s, &end, 10);
            s = end;
        }
        p->depth++;
        if (*s == '/')
            s++;
    }
}

static int endpoint_copy(const char *glob, char **out)
{
    *out = NULL;
    if (glob && !(*out = strdup(glob)))
        return -GW_ERR_NOMEM;
    return GW_OK;
}

/* The variables a topic may not use with `payload`, because the publication stands for more
 * than one resource. */
static const char *impossible_var(const struct engine_template *t, enum mapping_payload payload)
{
    if (payload != GW_PAYLOAD_INSTANCE)
        return NULL;
    if (t->uses & (1u << GW_SEG_RID))
        return "{rid}";
    if (t->uses & (1u << GW_SEG_RIID))
        return "{riid}";
    if (t->uses & (1u << GW_SEG_RESOURCE))
        return "{resource}";
    return NULL;
}

static int mapping_compile(const struct mapping_rule *r, size_t i, const char *prefix,
                           int default_qos, struct engine_mapping *out, char *err, size_t errlen)
{
    char why[ENGINE_WHY_MAX];
    const char *bad;

    if (mappings_check_path(r->path, GW_PATH_WILDCARD, why, sizeof(why)) < 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: mappings[%zu].path: %s", r->line, i,
                       why);
    if (mappings_check_template(r->topic, why, sizeof(why)) < 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: mappings[%zu].topic: %s", r->line, i,
                       why);
    if ((unsigned)r->payload >= GW_ARRAY_LEN(payload_names))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: mappings[%zu].payload: unknown kind",
                       r->line, i);
    if (r->qos < -1 || r->qos > 2)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "line %d: mappings[%zu].qos must be between 0 and 2", r->line, i);
    pattern_compile(r->path, &out->pattern);
    out->payload = r->payload;
    out->retain = r->retain;
    out->qos = r->qos < 0 ? default_qos : r->qos;
    if (endpoint_copy(r->endpoint, &out->endpoint) < 0 ||
        template_compile(r->topic, prefix, &out->topic) < 0)
        return gw_fail(-GW_ERR_NOMEM, err, errlen, "out of memory");
    if ((bad = impossible_var(&out->topic, r->payload)))
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "line %d: mappings[%zu].topic: %s cannot be used with payload \"%s\", "
                       "which publishes a whole object instance",
                       r->line, i, bad, payload_names[r->payload]);
    return GW_OK;
}

static int observe_compile(const struct observe_rule *r, size_t i, struct engine_observe *out,
                           char *err, size_t errlen)
{
    char why[ENGINE_WHY_MAX];

    if (mappings_check_path(r->path, 0, why, sizeof(why)) < 0 ||
        data_path_parse(r->path, strlen(r->path), &out->spec.path) < 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: observe[%zu].path: %s", r->line, i,
                       why);
    if (out->spec.path.depth > 3)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "line %d: observe[%zu].path: '%s' is deeper than /oid/iid/rid", r->line, i,
                       r->path);
    if (r->pmin >= 0 && r->pmax >= 0 && r->pmin > r->pmax)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "line %d: observe[%zu]: pmin %d is greater than pmax %d", r->line, i,
                       (int)r->pmin, (int)r->pmax);
    out->spec.pmin = r->pmin < 0 ? -1 : r->pmin;
    out->spec.pmax = r->pmax < 0 ? -1 : r->pmax;
    out->spec.gt = r->gt;
    out->spec.lt = r->lt;
    out->spec.st = r->st;
    out->spec.has_gt = r->has_gt;
    out->spec.has_lt = r->has_lt;
    out->spec.has_st = r->has_st;
    if (endpoint_copy(r->endpoint, &out->endpoint) < 0)
        return gw_fail(-GW_ERR_NOMEM, err, errlen, "out of memory");
    return GW_OK;
}

/* The topic variables a command may bind, each at most once: {ep} (required) and the path
 * levels. */
static const char *const command_var_names[] = {
    [GW_SEG_EP] = "{ep}",
    [GW_SEG_OID] = "{oid}",
    [GW_SEG_IID] = "{iid}",
    [GW_SEG_RID] = "{rid}",
    [GW_SEG_RIID] = "{riid}",
    [GW_SEG_OBJECT] = "{object}",
    [GW_SEG_RESOURCE] = "{resource}",
};

/* Why the compiled topic `t` cannot be a command topic, or NULL. Written into `why`. */
static const char *command_topic_problem(const struct engine_template *t, char *why, size_t len)
{
    unsigned seen = 0;
    for (size_t k = 0; k < t->n; k++) {
        const struct engine_segment *s = &t->seg[k];
        if (s->var == GW_SEG_TEXT)
            continue;
        const char *name = command_var_names[s->var];
        if (s->var == GW_SEG_OID || s->var == GW_SEG_OBJECT || s->var == GW_SEG_RESOURCE) {
            snprintf(why, len,
                     "%s cannot be used in a command topic (only {ep}, {iid}, {rid}, {riid})",
                     name);
            return why;
        }
        if (seen & (1u << s->var)) {
            snprintf(why, len, "%s is used twice", name);
            return why;
        }
        seen |= 1u << s->var;
        /* A variable is a whole level, so that it becomes `+` in the subscription. */
        const struct engine_segment *prev = k ? &t->seg[k - 1] : NULL;
        const struct engine_segment *next = k + 1 < t->n ? &t->seg[k + 1] : NULL;
        bool starts = !prev || (prev->var == GW_SEG_TEXT && prev->text[prev->len - 1] == '/');
        bool ends = !next || (next->var == GW_SEG_TEXT && next->text[0] == '/');
        if (!starts || !ends) {
            snprintf(why, len, "%s must be a whole topic level", name);
            return why;
        }
    }
    if (!(seen & (1u << GW_SEG_EP))) {
        snprintf(why, len, "must contain {ep}");
        return why;
    }
    return NULL;
}

/* A topic of the kind `t` compiles, with {ep} as "e" and every other variable as "0". */
static char *command_sample(const struct engine_template *t)
{
    size_t len = 1;
    for (size_t k = 0; k < t->n; k++)
        len += t->seg[k].var == GW_SEG_TEXT ? t->seg[k].len : 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (size_t k = 0; k < t->n; k++) {
        if (t->seg[k].var == GW_SEG_TEXT) {
            memcpy(p, t->seg[k].text, t->seg[k].len);
            p += t->seg[k].len;
        } else {
            *p++ = t->seg[k].var == GW_SEG_EP ? 'e' : '0';
        }
    }
    *p = '\0';
    return s;
}

static int command_compile(const struct command_rule *r, size_t i, const char *prefix,
                           struct engine_command *out, char *err, size_t errlen)
{
    char why[ENGINE_WHY_MAX];
    const char *shape;
    uint8_t min, max;

    if (!r->topic || mappings_check_template(r->topic, why, sizeof(why)) < 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: commands[%zu].topic: %s", r->line, i,
                       r->topic ? why : "is required");
    if ((unsigned)r->op > GW_OP_OBSERVE_COMPOSITE)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: commands[%zu].op: unknown operation",
                       r->line, i);
    if (template_compile(r->topic, prefix, &out->topic) < 0)
        return gw_fail(-GW_ERR_NOMEM, err, errlen, "out of memory");
    if (command_topic_problem(&out->topic, why, sizeof(why)))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: commands[%zu].topic: %s", r->line, i,
                       why);
    char *sample = command_sample(&out->topic);
    if (!sample)
        return gw_fail(-GW_ERR_NOMEM, err, errlen, "out of memory");
    bool shadowed = request_generic_topic(prefix, sample);
    free(sample);
    if (shadowed)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "line %d: commands[%zu].topic: '%s' is taken by the generic request topics "
                       "({prefix}/{ep}/request, /write/..., /execute/...)",
                       r->line, i, r->topic);
    out->op = r->op;
    request_op_depth(r->op, &min, &max, &shape);
    if (r->op == GW_OP_WRITE)
        min = 3; /* the payload is one value, not the "values" of an instance */
    if (request_op_composite(r->op)) {
        if (r->path)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "line %d: commands[%zu].path: %s takes its paths from the message, "
                           "not from the rule",
                           r->line, i, mappings_op_name(r->op));
    } else {
        if (!r->path || mappings_check_path(r->path, GW_PATH_VARS, why, sizeof(why)) < 0)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "line %d: commands[%zu].path: %s", r->line,
                           i, r->path ? why : "is required");
        /* Levels are numbers or, by mappings_check_path, the variable of their level. */
        memset(&out->path, 0, sizeof(out->path));
        for (const char *s = r->path + 1; *s && out->path.depth < GW_PATH_MAX_DEPTH;) {
            uint8_t level = out->path.depth++;
            if (*s == '{') {
                enum engine_var var = (enum engine_var)(GW_SEG_OID + level);
                if (!(out->topic.uses & (1u << var)))
                    return gw_fail(-GW_ERR_INVALID, err, errlen,
                                   "line %d: commands[%zu].path uses %s but the topic does not "
                                   "bind it",
                                   r->line, i, command_var_names[var]);
                out->path.wild |= (uint8_t)(1u << level);
                s = strchr(s, '}') + 1;
            } else {
                char *end;
                out->path.id[level] = (uint16_t)strtoul(s, &end, 10);
                s = end;
            }
            if (*s == '/')
                s++;
        }
        if (out->path.depth < min || out->path.depth > max)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "line %d: commands[%zu].path: %s needs a path like %s", r->line, i,
                           mappings_op_name(r->op),
                           r->op == GW_OP_WRITE ? "/oid/iid/rid[/riid]" : shape);
    }
    if (r->format) {
        if (codec_parse_name(r->format, &out->format) < 0)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "line %d: commands[%zu].format: unknown format '%s'", r->line, i,
                           r->format);
        out->has_format = true;
    }
    return GW_OK;
}

struct mappings *mappings_new(const struct mappings_config *cfg, const char *prefix,
                              int default_qos, char *err, size_t errlen)
{
    struct mappings *m = calloc(1, sizeof(*m));
    int rc;

    if (!m)
        goto out_nomem;
    if (default_qos < 0 || default_qos > 2) {
        gw_fail(-GW_ERR_INVALID, err, errlen, "mqtt.qos %d must be between 0 and 2", default_qos);
        goto out_free;
    }
    m->default_qos = default_qos;
    if (!prefix)
        prefix = "";
    if (!(m->prefix = strdup(prefix)))
        goto out_nomem;
    if (template_compile("{prefix}/{ep}/data/{oid}/{iid}/{rid}", prefix, &m->default_topic) < 0 ||
        template_compile("{prefix}/{ep}/data/{oid}/{iid}/{rid}/{riid}", prefix,
                         &m->default_topic_riid) < 0)
        goto out_nomem;
    if (cfg->n_mappings && !(m->map = calloc(cfg->n_mappings, sizeof(*m->map))))
        goto out_nomem;
    for (size_t i = 0; i < cfg->n_mappings; i++) {
        m->n_map = i + 1; /* counted first: mappings_free() frees a half-compiled rule too */
        rc = mapping_compile(&cfg->mappings[i], i, prefix, default_qos, &m->map[i], err, errlen);
        if (rc < 0)
            goto out_free;
    }
    if (cfg->n_observe && !(m->obs = calloc(cfg->n_observe, sizeof(*m->obs))))
        goto out_nomem;
    for (size_t i = 0; i < cfg->n_observe; i++) {
        m->n_obs = i + 1;
        rc = observe_compile(&cfg->observe[i], i, &m->obs[i], err, errlen);
        if (rc < 0)
            goto out_free;
    }
    if (cfg->n_commands && !(m->cmd = calloc(cfg->n_commands, sizeof(*m->cmd))))
        goto out_nomem;
    for (size_t i = 0; i < cfg->n_commands; i++) {
        m->n_cmd = i + 1;
        rc = command_compile(&cfg->commands[i], i, prefix, &m->cmd[i], err, errlen);
        if (rc < 0)
            goto out_free;
    }
    return m;

out_nomem:
    gw_fail(-GW_ERR_NOMEM, err, errlen, "out of memory");
out_free:
    mappings_free(m);
    return NULL;
}

void mappings_free(struct mappings *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_map; i++) {
        free(m->map[i].endpoint);
        template_clear(&m->map[i].topic);
    }
    free(m->map);
    for (size_t i = 0; i < m->n_obs; i++)
        free(m->obs[i].endpoint);
    free(m->obs);
    for (size_t i = 0; i < m->n_cmd; i++)
        template_clear(&m->cmd[i].topic);
    free(m->cmd);
    free(m->prefix);
    template_clear(&m->default_topic);
    template_clear(&m->default_topic_riid);
    free(m);
}

/* ---- observations ---- */

/* True when the device registered what `p` needs: its object, and for a path with an instance
 * that instance or the object as a whole. */
static bool registered(const struct registration *reg, const struct data_path *p)
{
    for (size_t i = 0; i < reg->n_objects; i++) {
        const struct object_link *l = &reg->objects[i];
        if (l->oid != p->id[0])
            continue;
        if (p->depth < 2 || l->iid < 0 || l->iid == p->id[1])
            return true;
    }
    return false;
}

size_t mappings_observations(const struct mappings *m, const struct registration *reg,
                             struct observe_spec *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_obs; i++) {
        const struct engine_observe *o = &m->obs[i];
        if (!engine_glob_match(o->endpoint, reg->ep) || !registered(reg, &o->spec.path))
            continue;
        if (n < cap)
            out[n] = o->spec;
        n++;
    }
    return n;
}
