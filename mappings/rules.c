/* rules.c - the checks and names behind the observe, mappings and commands rules of the
 * configuration: LwM2M path syntax, topic templates, operation and payload names.
 * Pure functions over strings (no I/O, no state but const tables), so that the config loader
 * and, later, the request parser share one definition of what a valid path or op is. */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "mappings.h"

#define RULES_PATH_LEVELS 4 /* /oid/iid/rid/riid */

static const char *const payload_names[] = {
    [GW_PAYLOAD_JSON] = "json",
    [GW_PAYLOAD_VALUE] = "value",
    [GW_PAYLOAD_INSTANCE] = "instance",
    [GW_PAYLOAD_SENML] = "senml",
};

/* The variables a topic template may use (SPEC section 2). */
static const char *const template_vars[] = {"prefix", "ep",   "oid",    "iid",
                                            "rid",    "riid", "object", "resource"};

/* The variable each path level may hold under GW_PATH_VARS; the object id has none. */
static const char *const path_vars[RULES_PATH_LEVELS] = {NULL, "{iid}", "{rid}", "{riid}"};

static const char *const level_names[RULES_PATH_LEVELS] = {"object id", "instance id",
                                                           "resource id", "resource instance id"};

void mappings_config_clear(struct mappings_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_observe; i++) {
        free(cfg->observe[i].path);
        free(cfg->observe[i].endpoint);
    }
    free(cfg->observe);
    for (size_t i = 0; i < cfg->n_mappings; i++) {
        free(cfg->mappings[i].path);
        free(cfg->mappings[i].endpoint);
        free(cfg->mappings[i].topic);
    }
    free(cfg->mappings);
    for (size_t i = 0; i < cfg->n_commands; i++) {
        free(cfg->commands[i].topic);
        free(cfg->commands[i].path);
        free(cfg->commands[i].format);
    }
    free(cfg->commands);
    memset(cfg, 0, sizeof(*cfg));
}

/* Checks one level (`s`, `len` bytes, level index 0..3) of `path`. */
static int check_level(const char *path, const char *s, size_t len, int level, unsigned flags,
                       char *err, size_t errlen)
{
    int n = level + 1; /* levels are numbered from 1 in messages */
    unsigned long v = 0;

    if (len == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' level %d is empty", path, n);
    if (len == 1 && s[0] == '*') {
        if (!(flags & GW_PATH_WILDCARD))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' level %d: '*' is not allowed here",
                           path, n);
        if (level == 0)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'%s' level 1: the object id cannot be '*'", path);
        return GW_OK;
    }
    if (s[0] == '{') {
        if (!(flags & GW_PATH_VARS))
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'%s' level %d: variables are not allowed here", path, n);
        if (!path_vars[level])
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'%s' level 1: the object id cannot be a variable", path);
        if (strlen(path_vars[level]) != len || memcmp(s, path_vars[level], len) != 0)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'%s' level %d may only be the variable %s", path, n, path_vars[level]);
        return GW_OK;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' level %d is not a number", path, n);
    }
    if (len > 1 && s[0] == '0')
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' level %d has a leading zero", path, n);
    if (len > 5)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' level %d: %s must be 0-65535", path, n,
                       level_names[level]);
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > 65535)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' level %d: %s must be 0-65535", path, n,
                       level_names[level]);
    /* 65535 is the "no instance" marker of LwM2M (the MAX_ID of TLV and the registry). */
    if (level == 1 && v == 65535)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' level 2: instance id 65535 is reserved",
                       path);
    return GW_OK;
}

int mappings_check_path(const char *path, unsigned flags, char *err, size_t errlen)
{
    const char *p;

    if (!path || !*path)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "path is empty");
    if (path[0] != '/')
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' must start with '/'", path);
    if (path[1] == '\0')
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' has no object id", path);

    p = path + 1;
    for (int level = 0; p; level++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        int rc;
        if (level == RULES_PATH_LEVELS)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' has more than %d levels", path,
                           RULES_PATH_LEVELS);
        if (slash && slash[1] == '\0')
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' must not end with '/'", path);
        rc = check_level(path, p, len, level, flags, err, errlen);
        if (rc != GW_OK)
            return rc;
        p = slash ? slash + 1 : NULL;
    }
    return GW_OK;
}

int mappings_check_template(const char *tmpl, char *err, size_t errlen)
{
    const char *p, *close;

    if (!tmpl || !*tmpl)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "topic template is empty");
    if (tmpl[0] == '/')
        return gw_fail(-GW_ERR_INVALID, err, errlen, "must not start with '/'");

    for (p = tmpl; *p; p++) {
        switch (*p) {
        case '+':
        case '#':
            return gw_fail(-GW_ERR_INVALID, err, errlen, "must not contain '%c' (an MQTT wildcard)",
                           *p);
        case '}':
            return gw_fail(-GW_ERR_INVALID, err, errlen, "unbalanced brace: '}' without '{'");
        case '/':
            if (p[1] == '/' || p[1] == '\0')
                return gw_fail(-GW_ERR_INVALID, err, errlen, "has an empty level");
            break;
        case '{': {
            size_t len, i;
            close = p + 1 + strcspn(p + 1, "{}/");
            if (*close != '}')
                return gw_fail(-GW_ERR_INVALID, err, errlen, "unbalanced brace: '{' without '}'");
            len = (size_t)(close - p - 1);
            for (i = 0; i < GW_ARRAY_LEN(template_vars); i++) {
                if (strlen(template_vars[i]) == len && memcmp(template_vars[i], p + 1, len) == 0)
                    break;
            }
            if (i == GW_ARRAY_LEN(template_vars))
                return gw_fail(-GW_ERR_INVALID, err, errlen, "unknown variable {%.*s}", (int)len,
                               p + 1);
            p = close;
            break;
        }
        default:
            break;
        }
    }
    return GW_OK;
}

int mappings_parse_op(const char *name, enum request_op *out)
{
    const char *known;
    for (int i = 0; name && (known = request_op_name((enum request_op)i)); i++) {
        if (strcmp(name, known) == 0) {
            *out = (enum request_op)i;
            return GW_OK;
        }
    }
    return -GW_ERR_INVALID;
}

const char *mappings_op_name(enum request_op op)
{
    const char *name = request_op_name(op);
    return name ? name : "unknown";
}

int mappings_parse_payload(const char *name, enum mapping_payload *out)
{
    for (size_t i = 0; name && i < GW_ARRAY_LEN(payload_names); i++) {
        if (strcmp(name, payload_names[i]) == 0) {
            *out = (enum mapping_payload)i;
            return GW_OK;
        }
    }
    return -GW_ERR_INVALID;
}
