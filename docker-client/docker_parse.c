/* docker_parse.c: the daemon's JSON replies into docker_* structs; pure, no I/O. */
#include "docker_internal.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies obj[key] (a string) into out, truncating; "" when absent or not a string. */
static void copy_str(json_t *obj, const char *key, char *out, size_t len)
{
    const char *s = json_string_value(json_object_get(obj, key));

    snprintf(out, len, "%s", s ? s : "");
}

static int64_t get_i64(json_t *obj, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(obj, key));
}

static uint64_t get_u64(json_t *obj, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(obj, key));

    return v > 0 ? (uint64_t)v : 0;
}

/* Parses body into a JSON value of the wanted type; MALFORMED with jansson's reason otherwise. */
static json_t *load(const char *body, size_t len, json_type want, const char *what,
                    struct docker_err *err)
{
    json_error_t jerr;
    json_t *root;

    if (!body || len == 0) {
        docker_err_set(err, DOCKER_E_MALFORMED, 0, "%s: empty reply", what);
        return NULL;
    }
    root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        docker_err_set(err, DOCKER_E_MALFORMED, 0, "%s: invalid JSON: %s", what, jerr.text);
        return NULL;
    }
    if (json_typeof(root) != want) {
        docker_err_set(err, DOCKER_E_MALFORMED, 0, "%s: unexpected JSON type", what);
        json_decref(root);
        return NULL;
    }
    return root;
}

void docker_labels_free(struct docker_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

const char *docker_labels_get(const struct docker_labels *l, const char *key)
{
    if (!l || !key)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].key, key) == 0)
            return l->v[i].value;
    }
    return NULL;
}

/* Copies a JSON object of string values into out (null or absent: empty). Non-string values are
 * skipped. DOCKER_E_NOMEM on allocation failure, E_MALFORMED when obj is neither null nor an object. */
static docker_code parse_labels(json_t *obj, struct docker_labels *out)
{
    const char *key;
    json_t *val;
    size_t n = 0;

    out->v = NULL;
    out->n = 0;
    if (!obj || json_is_null(obj))
        return DOCKER_OK;
    if (!json_is_object(obj))
        return DOCKER_E_MALFORMED;
    if (json_object_size(obj) == 0)
        return DOCKER_OK;
    out->v = calloc(json_object_size(obj), sizeof(*out->v));
    if (!out->v)
        return DOCKER_E_NOMEM;
    json_object_foreach(obj, key, val)
    {
        const char *s = json_string_value(val);

        if (!s)
            continue;
        out->v[n].key = strdup(key);
        out->v[n].value = strdup(s);
        out->n = ++n;
        if (!out->v[n - 1].key || !out->v[n - 1].value) {
            docker_labels_free(out);
            return DOCKER_E_NOMEM;
        }
    }
    return DOCKER_OK;
}

static void parse_state(json_t *st, struct docker_container *out)
{
    copy_str(st, "Status", out->status, sizeof(out->status));
    out->running = json_is_true(json_object_get(st, "Running"));
    out->restarting = json_is_true(json_object_get(st, "Restarting"));
    out->paused = json_is_true(json_object_get(st, "Paused"));
    out->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
    out->dead = json_is_true(json_object_get(st, "Dead"));
    out->exit_code = (int)get_i64(st, "ExitCode");
    out->pid = (int)get_i64(st, "Pid");
    copy_str(json_object_get(st, "Health"), "Status", out->health, sizeof(out->health));
    copy_str(st, "StartedAt", out->started_at, sizeof(out->started_at));
    copy_str(st, "FinishedAt", out->finished_at, sizeof(out->finished_at));
}

static void parse_resources(json_t *hc, struct docker_resources *res)
{
    res->cpu_shares = get_i64(hc, "CpuShares");
    res->memory = get_i64(hc, "Memory");
    res->memory_swap = get_i64(hc, "MemorySwap");
    res->nano_cpus = get_i64(hc, "NanoCpus");
    res->cpu_quota = get_i64(hc, "CpuQuota");
    res->cpu_period = get_i64(hc, "CpuPeriod");
}

docker_code docker_parse_inspect(const char *body, size_t len, struct docker_container *out,
                                 struct docker_err *err)
{
    json_t *root = load(body, len, JSON_OBJECT, "inspect", err);
    const char *id;
    const char *name;
    json_t *st;
    json_t *hc;
    docker_code code;

    memset(out, 0, sizeof(*out));
    if (!root)
        return DOCKER_E_MALFORMED;
    id = json_string_value(json_object_get(root, "Id"));
    name = json_string_value(json_object_get(root, "Name"));
    st = json_object_get(root, "State");
    hc = json_object_get(root, "HostConfig");
    if (!id || !*id || strlen(id) >= sizeof(out->id) || !name || !json_is_object(st) ||
        !json_is_object(hc)) {
        json_decref(root);
        return docker_err_set(err, DOCKER_E_MALFORMED, 0,
                              "inspect: reply lacks Id, Name, State or HostConfig");
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->name, sizeof(out->name), "%s", name[0] == '/' ? name + 1 : name);
    copy_str(json_object_get(root, "Config"), "Image", out->image, sizeof(out->image));
    out->restart_count = (int)get_i64(root, "RestartCount");
    parse_state(st, out);
    parse_resources(hc, &out->res);
    code = parse_labels(json_object_get(json_object_get(root, "Config"), "Labels"), &out->labels);
    json_decref(root);
    if (code != DOCKER_OK) {
        memset(out, 0, sizeof(*out));
        return docker_err_set(err, code, 0, "inspect: %s labels",
                              code == DOCKER_E_NOMEM ? "out of memory for" : "invalid");
    }
    return DOCKER_OK;
}

void docker_container_free(struct docker_container *ct)
{
    if (ct)
        docker_labels_free(&ct->labels);
}

void docker_summary_list_free(struct docker_summary_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        docker_labels_free(&l->v[i].labels);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static docker_code parse_summary(json_t *it, struct docker_summary *s)
{
    const char *id = json_string_value(json_object_get(it, "Id"));
    const char *name = json_string_value(json_array_get(json_object_get(it, "Names"), 0));

    if (!json_is_object(it) || !id || !*id || strlen(id) >= sizeof(s->id))
        return DOCKER_E_MALFORMED;
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->name, sizeof(s->name), "%s", !name ? "" : name[0] == '/' ? name + 1 : name);
    copy_str(it, "Image", s->image, sizeof(s->image));
    copy_str(it, "State", s->state, sizeof(s->state));
    return parse_labels(json_object_get(it, "Labels"), &s->labels);
}

/* Parses every element of the JSON array root with fn into a new array of n elements of `size`
 * bytes (*v, NULL when empty). *n counts the elements handed to fn, the failing one included, so
 * the caller's free releases whatever they hold. The first failure stops and is returned. */
static docker_code parse_array(json_t *root, size_t size, docker_code (*fn)(json_t *, void *),
                               void **v, size_t *n)
{
    size_t count = json_array_size(root);
    docker_code code = DOCKER_OK;

    *v = NULL;
    *n = 0;
    if (count == 0)
        return DOCKER_OK;
    *v = calloc(count, size);
    if (!*v)
        return DOCKER_E_NOMEM;
    for (size_t i = 0; i < count && code == DOCKER_OK; i++) {
        code = fn(json_array_get(root, i), (char *)*v + i * size);
        *n = i + 1;
    }
    return code;
}

static docker_code parse_summary_elem(json_t *it, void *out)
{
    return parse_summary(it, out);
}

docker_code docker_parse_list(const char *body, size_t len, struct docker_summary_list *out,
                              struct docker_err *err)
{
    json_t *root = load(body, len, JSON_ARRAY, "list", err);
    docker_code code;
    void *v;

    out->v = NULL;
    out->n = 0;
    if (!root)
        return DOCKER_E_MALFORMED;
    code = parse_array(root, sizeof(*out->v), parse_summary_elem, &v, &out->n);
    out->v = v;
    json_decref(root);
    if (code != DOCKER_OK) {
        docker_summary_list_free(out);
        return docker_err_set(err, code, 0, "list: %s",
                              code == DOCKER_E_NOMEM ? "out of memory" : "entry lacks Id");
    }
    return DOCKER_OK;
}

docker_code docker_parse_version(const char *body, size_t len, struct docker_version *out,
                                 struct docker_err *err)
{
    json_t *root = load(body, len, JSON_OBJECT, "version", err);

    memset(out, 0, sizeof(*out));
    if (!root)
        return DOCKER_E_MALFORMED;
    copy_str(root, "Version", out->version, sizeof(out->version));
    copy_str(root, "ApiVersion", out->api_version, sizeof(out->api_version));
    copy_str(root, "MinAPIVersion", out->min_api_version, sizeof(out->min_api_version));
    copy_str(root, "Os", out->os, sizeof(out->os));
    copy_str(root, "Arch", out->arch, sizeof(out->arch));
    copy_str(root, "KernelVersion", out->kernel, sizeof(out->kernel));
    json_decref(root);
    if (!docker_api_valid(out->api_version)) {
        memset(out, 0, sizeof(*out));
        return docker_err_set(err, DOCKER_E_MALFORMED, 0, "version: reply lacks ApiVersion");
    }
    return DOCKER_OK;
}

/* The engine's name: Podman's compat API names its component "Podman Engine"; Docker sets
 * Platform.Name ("Docker Engine - Community") or leaves it empty (Debian's build: "Docker Engine").
 */
static void engine_name(json_t *root, struct docker_engine *out)
{
    json_t *comp;
    size_t i;

    json_array_foreach(json_object_get(root, "Components"), i, comp)
    {
        const char *n = json_string_value(json_object_get(comp, "Name"));

        if (n && strstr(n, "Podman")) {
            snprintf(out->name, sizeof(out->name), "%s", n);
            out->podman = true;
            return;
        }
    }
    copy_str(json_object_get(root, "Platform"), "Name", out->name, sizeof(out->name));
    if (!out->name[0])
        snprintf(out->name, sizeof(out->name), "Docker Engine");
}

docker_code docker_parse_engine(const char *body, size_t len, struct docker_engine *out,
                                struct docker_err *err)
{
    struct docker_version v;
    json_t *root;
    docker_code code = docker_parse_version(body, len, &v, err);

    if (code != DOCKER_OK)
        return code;
    root = load(body, len, JSON_OBJECT, "version", err);
    if (!root)
        return DOCKER_E_MALFORMED;
    out->podman = false;
    out->name[0] = '\0';
    engine_name(root, out);
    json_decref(root);
    snprintf(out->version, sizeof(out->version), "%s", v.version);
    snprintf(out->api_max, sizeof(out->api_max), "%s", v.api_version);
    snprintf(out->api_min, sizeof(out->api_min), "%s", v.min_api_version);
    return DOCKER_OK;
}

docker_code docker_parse_info(const char *body, size_t len, struct docker_info *out,
                              struct docker_err *err)
{
    json_t *root = load(body, len, JSON_OBJECT, "info", err);
    const char *cg;

    memset(out, 0, sizeof(*out));
    if (!root)
        return DOCKER_E_MALFORMED;
    cg = json_string_value(json_object_get(root, "CgroupVersion"));
    out->cgroup_version = cg && (strcmp(cg, "1") == 0 || strcmp(cg, "2") == 0) ? atoi(cg) : 0;
    copy_str(root, "CgroupDriver", out->cgroup_driver, sizeof(out->cgroup_driver));
    copy_str(root, "Driver", out->storage_driver, sizeof(out->storage_driver));
    out->swap_limit = json_is_true(json_object_get(root, "SwapLimit"));
    cg = json_string_value(json_object_get(json_object_get(root, "Swarm"), "LocalNodeState"));
    out->swarm_active = cg && strcmp(cg, "active") == 0;
    out->swarm_manager =
        out->swarm_active &&
        json_is_true(json_object_get(json_object_get(root, "Swarm"), "ControlAvailable"));
    json_decref(root);
    return DOCKER_OK;
}

docker_code docker_parse_stats(const char *body, size_t len, struct docker_stats *out,
                               struct docker_err *err)
{
    json_t *root = load(body, len, JSON_OBJECT, "stats", err);
    json_t *cpu;
    json_t *pre;
    json_t *mem;

    memset(out, 0, sizeof(*out));
    if (!root)
        return DOCKER_E_MALFORMED;
    cpu = json_object_get(root, "cpu_stats");
    pre = json_object_get(root, "precpu_stats");
    mem = json_object_get(root, "memory_stats");
    if (!json_is_object(cpu) || !json_is_object(mem)) {
        json_decref(root);
        return docker_err_set(err, DOCKER_E_MALFORMED, 0,
                              "stats: reply lacks cpu_stats or memory_stats");
    }
    out->cpu_total_ns = get_u64(json_object_get(cpu, "cpu_usage"), "total_usage");
    out->system_cpu_ns = get_u64(cpu, "system_cpu_usage");
    out->online_cpus = (uint32_t)get_u64(cpu, "online_cpus");
    out->precpu_total_ns = get_u64(json_object_get(pre, "cpu_usage"), "total_usage");
    out->presystem_cpu_ns = get_u64(pre, "system_cpu_usage");
    out->memory_usage = get_u64(mem, "usage");
    out->memory_limit = get_u64(mem, "limit");
    out->memory_inactive_file = get_u64(json_object_get(mem, "stats"), "total_inactive_file");
    if (!out->memory_inactive_file)
        out->memory_inactive_file = get_u64(json_object_get(mem, "stats"), "inactive_file");
    json_decref(root);
    return DOCKER_OK;
}

/* The exitCode attribute as a number: -1 when absent, not a whole decimal number or out of int
 * range (atoi would be undefined there). */
static int exit_code_of(const char *s)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return -1;
    return (int)v;
}

/* Event "time" (seconds) in nanoseconds; 0 (unknown) when it would not fit in 64 bits. */
static int64_t nanos_of_seconds(int64_t s)
{
    if (s <= 0 || s > INT64_MAX / 1000000000)
        return 0;
    return s * 1000000000;
}

docker_code docker_parse_event(const char *line, size_t len, docker_event_fn fn, void *ud,
                               int *stop, struct docker_err *err)
{
    json_t *root = load(line, len, JSON_OBJECT, "event", err);
    json_t *actor;
    json_t *attrs;
    struct docker_labels labels;
    struct docker_event ev;
    const char *code_s;
    docker_code code;

    *stop = 0;
    if (!root)
        return DOCKER_E_MALFORMED;
    actor = json_object_get(root, "Actor");
    attrs = json_object_get(actor, "Attributes");
    ev.type = json_string_value(json_object_get(root, "Type"));
    ev.action = json_string_value(json_object_get(root, "Action"));
    ev.id = json_string_value(json_object_get(actor, "ID"));
    if (!ev.type || !ev.action || !ev.id) {
        json_decref(root);
        return docker_err_set(err, DOCKER_E_MALFORMED, 0, "event: lacks Type, Action or Actor.ID");
    }
    code = parse_labels(attrs, &labels);
    if (code != DOCKER_OK) {
        json_decref(root);
        return docker_err_set(err, code, 0, "event: invalid Actor.Attributes");
    }
    ev.name = docker_labels_get(&labels, "name");
    if (!ev.name)
        ev.name = "";
    code_s = docker_labels_get(&labels, "exitCode");
    ev.exit_code = exit_code_of(code_s);
    ev.time_nano = get_i64(root, "timeNano");
    if (ev.time_nano == 0)
        ev.time_nano = nanos_of_seconds(get_i64(root, "time"));
    ev.attributes = &labels;
    *stop = fn(&ev, ud);
    docker_labels_free(&labels);
    json_decref(root);
    return DOCKER_OK;
}

void docker_linebuf_init(struct docker_linebuf *lb, size_t max)
{
    lb->buf = NULL;
    lb->len = 0;
    lb->cap = 0;
    lb->max = max;
}

void docker_linebuf_free(struct docker_linebuf *lb)
{
    if (!lb)
        return;
    free(lb->buf);
    docker_linebuf_init(lb, lb->max);
}

/* Ensures room for `more` bytes beyond len, within max. 0, -1 past max, -2 out of memory. */
static int linebuf_reserve(struct docker_linebuf *lb, size_t more)
{
    size_t need = lb->len + more;
    size_t cap = lb->cap ? lb->cap : 1024;
    char *p;

    if (need > lb->max)
        return -1;
    if (need <= lb->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > lb->max)
        cap = lb->max;
    p = realloc(lb->buf, cap);
    if (!p)
        return -2;
    lb->buf = p;
    lb->cap = cap;
    return 0;
}

/* Calls fn for one line (trailing '\r' dropped, empty lines skipped). */
static int emit(const char *line, size_t n, docker_line_fn fn, void *ud)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    return n > 0 ? fn(line, n, ud) : 0;
}

int docker_linebuf_feed(struct docker_linebuf *lb, const char *data, size_t n, docker_line_fn fn,
                        void *ud)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        int rc;

        if (lb->len + take > lb->max)
            return -1;
        if (lb->len == 0 && nl) {
            /* a whole line in this chunk: no copy */
            rc = emit(data, take, fn, ud);
        } else {
            rc = linebuf_reserve(lb, take);
            if (rc != 0)
                return rc;
            memcpy(lb->buf + lb->len, data, take);
            lb->len += take;
            if (!nl)
                return 0;
            rc = emit(lb->buf, lb->len, fn, ud);
            lb->len = 0;
        }
        if (rc != 0)
            return rc;
        data += take + 1;
        n -= take + 1;
    }
    return 0;
}

void docker_service_free(struct docker_service *s)
{
    if (!s)
        return;
    docker_labels_free(&s->labels);
    free(s->spec);
    s->spec = NULL;
}

void docker_service_list_free(struct docker_service_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        docker_service_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void parse_service_resources(json_t *res, struct docker_service_resources *out)
{
    json_t *lim = json_object_get(res, "Limits");
    json_t *rsv = json_object_get(res, "Reservations");

    out->limit_nano_cpus = get_i64(lim, "NanoCPUs");
    out->limit_memory = get_i64(lim, "MemoryBytes");
    out->reserve_nano_cpus = get_i64(rsv, "NanoCPUs");
    out->reserve_memory = get_i64(rsv, "MemoryBytes");
}

/* One service object into out (zeroed first). MALFORMED when ID, Version.Index or Spec.Name is
 * missing, NOMEM on allocation failure; out then owns nothing. */
static docker_code parse_service(json_t *it, struct docker_service *out)
{
    const char *id = json_string_value(json_object_get(it, "ID"));
    json_t *ver = json_object_get(json_object_get(it, "Version"), "Index");
    json_t *spec = json_object_get(it, "Spec");
    const char *name = json_string_value(json_object_get(spec, "Name"));
    json_t *tt = json_object_get(spec, "TaskTemplate");
    json_t *mode = json_object_get(spec, "Mode");
    docker_code code;

    memset(out, 0, sizeof(*out));
    if (!id || !*id || strlen(id) >= sizeof(out->id) || !json_is_integer(ver) ||
        json_integer_value(ver) < 0 || !name)
        return DOCKER_E_MALFORMED;
    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->name, sizeof(out->name), "%s", name);
    copy_str(json_object_get(tt, "ContainerSpec"), "Image", out->image, sizeof(out->image));
    out->version = (uint64_t)json_integer_value(ver);
    out->global = json_object_get(mode, "Global") || json_object_get(mode, "GlobalJob");
    out->replicas = get_i64(json_object_get(mode, "Replicated"), "Replicas");
    parse_service_resources(json_object_get(tt, "Resources"), &out->res);
    code = parse_labels(json_object_get(spec, "Labels"), &out->labels);
    if (code != DOCKER_OK)
        return code;
    out->spec = json_dumps(spec, JSON_COMPACT);
    if (!out->spec) {
        docker_labels_free(&out->labels);
        return DOCKER_E_NOMEM;
    }
    return DOCKER_OK;
}

docker_code docker_parse_service(const char *body, size_t len, struct docker_service *out,
                                 struct docker_err *err)
{
    json_t *root = load(body, len, JSON_OBJECT, "inspect service", err);
    docker_code code;

    memset(out, 0, sizeof(*out));
    if (!root)
        return DOCKER_E_MALFORMED;
    code = parse_service(root, out);
    json_decref(root);
    if (code != DOCKER_OK)
        return docker_err_set(err, code, 0, "inspect service: %s",
                              code == DOCKER_E_NOMEM ? "out of memory"
                                                     : "reply lacks ID, Version.Index or Spec.Name");
    return DOCKER_OK;
}

static docker_code parse_service_elem(json_t *it, void *out)
{
    return parse_service(it, out);
}

docker_code docker_parse_service_list(const char *body, size_t len, struct docker_service_list *out,
                                      struct docker_err *err)
{
    json_t *root = load(body, len, JSON_ARRAY, "list services", err);
    docker_code code;
    void *v;

    out->v = NULL;
    out->n = 0;
    if (!root)
        return DOCKER_E_MALFORMED;
    code = parse_array(root, sizeof(*out->v), parse_service_elem, &v, &out->n);
    out->v = v;
    json_decref(root);
    if (code != DOCKER_OK) {
        docker_service_list_free(out);
        return docker_err_set(err, code, 0, "list services: %s",
                              code == DOCKER_E_NOMEM ? "out of memory"
                                                     : "entry lacks ID, Version.Index or Spec.Name");
    }
    return DOCKER_OK;
}

docker_code docker_parse_tasks(const char *body, size_t len, struct docker_service_tasks *out,
                               struct docker_err *err)
{
    json_t *root = load(body, len, JSON_ARRAY, "tasks", err);
    json_t *it;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!root)
        return DOCKER_E_MALFORMED;
    json_array_foreach(root, i, it)
    {
        const char *state = json_string_value(json_object_get(json_object_get(it, "Status"),
                                                               "State"));

        if (!json_is_object(it) || !state) {
            json_decref(root);
            memset(out, 0, sizeof(*out));
            return docker_err_set(err, DOCKER_E_MALFORMED, 0, "tasks: entry lacks Status.State");
        }
        out->desired++;
        if (strcmp(state, "running") == 0)
            out->running++;
    }
    json_decref(root);
    return DOCKER_OK;
}
