/* test_docker_client.c: the docker-client against the real Docker Engine of this machine.
 * Containers run the test image (tests/support/build-images) with --cpu-shares 512 --memory 1g,
 * are named trip-it-<pid>-..., labelled trip.test=1, and removed at group teardown and exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "docker_client.h"
#include "ts_common.h"
#include "ts_docker.h"

#define GiB (1024LL * 1024 * 1024)
#define MiB (1024LL * 1024)

static struct docker_client *client;

/* The client is created by the first test that needs it (need_client, after the Docker check). */
static int group_setup(void **state)
{
    (void)state;
    ts_docker_prefix();
    return 0;
}

static int group_teardown(void **state)
{
    docker_client_free(client);
    client = NULL;
    return ts_docker_group_teardown(state);
}

/* Skips (or fails under CI) without Docker and the test image; returns the shared client. */
static struct docker_client *need_client(void)
{
    struct docker_err err = {0};
    docker_code rc;

    ts_require_docker_image();
    if (!client) {
        rc = docker_client_new(NULL, &client, &err);
        if (rc != DOCKER_OK)
            fail_msg("docker_client_new: %s: %s", docker_code_name(rc), err.msg);
    }
    return client;
}

/* Runs a fresh container; its name goes to name, its id to id. Extra docker run options follow. */
static void run(char *name, size_t nlen, char *id, const char *what, const char *const *labels,
                const char *opt1, const char *opt2)
{
    ts_docker_name(name, nlen, what);
    assert_int_equal(ts_docker_run_container(id, 65, name, labels, opt1, opt2, NULL), 0);
}

/* The workload of container id listens (its IP read from inspect). */
static void wait_workload(const char *id)
{
    char ip[64];

    assert_int_equal(ts_docker(ip, sizeof(ip), "inspect", "-f",
                               "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id, NULL),
                     0);
    ts_workload_wait_ready(ip);
}

static void inspect_ok(const char *id, struct docker_container *ct)
{
    struct docker_err err = {0};
    docker_code rc = docker_container_inspect(client, id, ct, &err);

    if (rc != DOCKER_OK)
        fail_msg("inspect %s: %s: %s", id, docker_code_name(rc), err.msg);
}

static void update_ok(const char *id, const struct docker_update *u)
{
    struct docker_err err = {0};
    docker_code rc = docker_container_update(client, id, u, &err);

    if (rc != DOCKER_OK)
        fail_msg("update %s: %s: %s", id, docker_code_name(rc), err.msg);
}

static int64_t cgroup_memory(const char *id)
{
    int64_t v = 0;

    assert_int_equal(ts_cgroup_memory_limit(id, &v), 0);
    return v;
}

static int64_t cgroup_cpu_as_shares(const char *id, int64_t shares_expected)
{
    int64_t v = 0;
    bool weight = false;

    assert_int_equal(ts_cgroup_cpu(id, &v, &weight), 0);
    if (weight) /* cgroup v2: compare weights */
        assert_int_equal(v, ts_cgroup_weight_from_shares(shares_expected));
    return weight ? shares_expected : v;
}

/* True when the engine is Podman's Docker API (tests/engines: engine-podman). */
static bool podman(void)
{
    struct docker_engine e;

    docker_client_engine(client, &e);
    return e.podman;
}

/* On Podman the client refuses container updates, sends nothing, and says why
 * (docs/docker-engine.md): asserts exactly that and returns true; false on Docker. */
static bool refused_on_podman(const char *id)
{
    struct docker_update u = {.has_cpu_shares = true, .cpu_shares = 1024};
    struct docker_err err = {0};

    if (!podman())
        return false;
    assert_int_equal(docker_container_update(client, id, &u, &err), DOCKER_E_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "its Docker API has no container update (404 Not Found)"));
    assert_int_equal(cgroup_cpu_as_shares(id, 512), 512); /* unchanged */
    printf("podman: %s\n", err.msg);
    return true;
}

static void engine_reports_api_and_cgroups(void **state)
{
    struct docker_version v;
    struct docker_info info;
    struct docker_engine e;
    struct docker_err err = {0};
    int major = 0;
    int minor = 0;
    int cmajor = 0;
    int cminor = 0;

    (void)state;
    need_client();
    assert_int_equal(docker_ping(client, &err), DOCKER_OK);
    assert_int_equal(docker_version(client, &v, &err), DOCKER_OK);
    assert_int_equal(docker_info(client, &info, &err), DOCKER_OK);
    /* the version in use is the newest the daemon speaks, capped at the client's newest; never
     * below the daemon's oldest */
    docker_client_engine(client, &e);
    assert_int_equal(sscanf(v.api_version, "%d.%d", &major, &minor), 2);
    assert_int_equal(sscanf(DOCKER_API_MAX, "%d.%d", &cmajor, &cminor), 2);
    assert_string_equal(e.api, major < cmajor || (major == cmajor && minor < cminor)
                                   ? v.api_version
                                   : DOCKER_API_MAX);
    assert_string_equal(e.version, v.version);
    assert_string_equal(e.api_min, v.min_api_version);
    assert_int_equal(e.code, DOCKER_OK);
    assert_int_equal(info.cgroup_version, ts_cgroup_version());
    assert_true(info.cgroup_driver[0] != '\0');
    printf("engine %s %s API %s (min %s), in use %s; cgroup v%d driver %s, storage %s, swap limit "
           "%d\n",
           e.name, v.version, v.api_version, v.min_api_version, e.api, info.cgroup_version,
           info.cgroup_driver, info.storage_driver, info.swap_limit);
}

static void inspect_reports_created_resources_and_labels(void **state)
{
    const char *labels[] = {"trip.it.role=inspect", "trip.scale=on", NULL};
    char name[128];
    char id[65];
    struct docker_container by_name;
    struct docker_container by_id;

    (void)state;
    need_client();
    run(name, sizeof(name), id, "inspect", labels, NULL, NULL);
    inspect_ok(name, &by_name);
    inspect_ok(id, &by_id);
    assert_string_equal(by_name.id, id);
    assert_string_equal(by_id.name, name);
    assert_string_equal(by_name.status, "running");
    assert_true(by_name.running);
    assert_false(by_name.restarting);
    assert_true(by_name.pid > 0);
    assert_string_equal(by_name.health, "");
    if (podman()) { /* Podman qualifies short names: "localhost/trip-workload:test" */
        char qualified[300];
        snprintf(qualified, sizeof(qualified), "localhost/%s", ts_test_image());
        assert_string_equal(by_name.image, qualified);
    } else {
        assert_string_equal(by_name.image, ts_test_image());
    }
    assert_int_equal(by_name.res.cpu_shares, 512);
    assert_int_equal(by_name.res.memory, 1 * GiB);
    /* what `docker run --memory 1g` records for swap, read back from the CLI's own inspect */
    {
        char swap[32];

        assert_int_equal(ts_docker_inspect(id, "{{.HostConfig.MemorySwap}}", swap, sizeof(swap)), 0);
        assert_int_equal(by_name.res.memory_swap, strtoll(swap, NULL, 10));
        printf("--memory 1g alone records MemorySwap=%s\n", swap);
    }
    assert_string_equal(docker_labels_get(&by_name.labels, "trip.test"), "1");
    assert_string_equal(docker_labels_get(&by_name.labels, "trip.it.role"), "inspect");
    assert_string_equal(docker_labels_get(&by_name.labels, "trip.scale"), "on");
    assert_null(docker_labels_get(&by_name.labels, "absent"));
    docker_container_free(&by_name);
    docker_container_free(&by_id);
}

/* Scales id to cpu/memory with the swap docker_memory_swap_for() picks, then proves it in inspect
 * and in the cgroup files. */
static void scale_and_prove(const char *id, int64_t cpu, int64_t memory)
{
    struct docker_container before;
    struct docker_container after;
    struct docker_update u = {.has_cpu_shares = true, .cpu_shares = cpu, .has_memory = true,
                              .memory = memory, .has_memory_swap = true};

    inspect_ok(id, &before);
    u.memory_swap = docker_memory_swap_for(before.res.memory, before.res.memory_swap, memory);
    update_ok(id, &u);
    inspect_ok(id, &after);
    assert_int_equal(after.res.cpu_shares, cpu);
    assert_int_equal(after.res.memory, memory);
    assert_int_equal(after.res.memory_swap, u.memory_swap);
    assert_int_equal(cgroup_cpu_as_shares(id, cpu), cpu);
    assert_int_equal(cgroup_memory(id), memory);
    /* v1 memory.memsw.limit_in_bytes (unlimited is a huge number there), v2 memory.max +
     * memory.swap.max ("max": -1) */
    if (u.memory_swap > 0 || (u.memory_swap == -1 && ts_cgroup_version() == 2)) {
        int64_t memsw = 0;

        if (ts_cgroup_memory_swap(id, &memsw) == 0)
            assert_int_equal(memsw, u.memory_swap);
    }
    printf("scaled %.12s: %lld/%lld/%lld -> cpu %lld memory %lld swap %lld (inspect and cgroup)\n",
           id, (long long)before.res.cpu_shares, (long long)before.res.memory,
           (long long)before.res.memory_swap, (long long)cpu, (long long)memory,
           (long long)u.memory_swap);
    docker_container_free(&before);
    docker_container_free(&after);
}

static void update_scales_out_and_back_with_memory_only(void **state)
{
    char name[128];
    char id[65];

    (void)state;
    need_client();
    run(name, sizeof(name), id, "scale-mem", NULL, NULL, NULL);
    if (refused_on_podman(id))
        return;
    assert_int_equal(cgroup_cpu_as_shares(id, 512), 512);
    assert_int_equal(cgroup_memory(id), 1 * GiB);
    scale_and_prove(id, 1024, 2 * GiB);
    scale_and_prove(id, 512, 1 * GiB);
    scale_and_prove(id, 1024, 2 * GiB);
}

static void update_scales_out_and_back_with_explicit_swap(void **state)
{
    char name[128];
    char id[65];
    struct docker_container ct;

    (void)state;
    need_client();
    run(name, sizeof(name), id, "scale-swap", NULL, "--memory-swap", "1536m");
    if (refused_on_podman(id))
        return;
    inspect_ok(id, &ct);
    assert_int_equal(ct.res.memory_swap, 1536 * MiB);
    docker_container_free(&ct);
    scale_and_prove(id, 1024, 2 * GiB);
    inspect_ok(id, &ct);
    assert_int_equal(ct.res.memory_swap, 3 * GiB); /* the ratio 1.5 is kept */
    docker_container_free(&ct);
    scale_and_prove(id, 512, 1 * GiB);
    inspect_ok(id, &ct);
    assert_int_equal(ct.res.memory_swap, 1536 * MiB);
    docker_container_free(&ct);
}

static void memory_above_swap_without_swap_is_refused_with_the_engine_message(void **state)
{
    char name[128];
    char id[65];
    struct docker_update u = {.has_memory = true, .memory = 3 * GiB};
    struct docker_err err = {0};
    struct docker_container ct;
    docker_code rc;

    (void)state;
    need_client();
    run(name, sizeof(name), id, "refused", NULL, NULL, NULL);
    if (refused_on_podman(id))
        return;
    rc = docker_container_update(client, id, &u, &err);
    printf("update Memory 3g alone on 1g/2g: %s (HTTP %d): %s\n", docker_code_name(rc),
           err.http_status, err.msg);
    assert_int_not_equal(rc, DOCKER_OK);
    assert_true(err.http_status >= 400);
    assert_non_null(strstr(err.msg, "Memory limit should be smaller than already set memoryswap "
                                    "limit"));
    inspect_ok(id, &ct);
    assert_int_equal(ct.res.memory, 1 * GiB);
    assert_int_equal(cgroup_memory(id), 1 * GiB);
    docker_container_free(&ct);
}

static void unlimited_swap_update_applies_fully_or_changes_nothing(void **state)
{
    char name[128];
    char id[65];
    struct docker_update u = {.has_memory = true, .memory = 2 * GiB, .has_memory_swap = true,
                              .memory_swap = -1};
    struct docker_err err = {0};
    struct docker_container ct;
    docker_code rc;

    (void)state;
    need_client();
    run(name, sizeof(name), id, "swap-unlimited", NULL, NULL, NULL);
    if (refused_on_podman(id))
        return;
    rc = docker_container_update(client, id, &u, &err);
    printf("update Memory 2g MemorySwap -1 on 1g/2g: %s (HTTP %d): %s\n", docker_code_name(rc),
           err.http_status, rc == DOCKER_OK ? "accepted" : err.msg);
    inspect_ok(id, &ct);
    if (rc == DOCKER_OK) {
        assert_int_equal(ct.res.memory, 2 * GiB);
        assert_int_equal(cgroup_memory(id), 2 * GiB);
    } else {
        assert_true(err.msg[0] != '\0');
        assert_int_equal(ct.res.memory, 1 * GiB);
        assert_int_equal(cgroup_memory(id), 1 * GiB);
    }
    printf("after: Memory %lld MemorySwap %lld\n", (long long)ct.res.memory,
           (long long)ct.res.memory_swap);
    docker_container_free(&ct);
}

static void stop_then_start_and_304_when_already_there(void **state)
{
    char name[128];
    char id[65];
    struct docker_err err = {0};
    struct docker_container ct;
    struct timespec t0;
    struct timespec t1;

    (void)state;
    need_client();
    run(name, sizeof(name), id, "stop-start", NULL, NULL, NULL);
    wait_workload(id); /* before its SIGTERM handler exists, PID 1 ignores SIGTERM */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(docker_container_stop(client, name, 5, &err), DOCKER_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("stop took %ld ms (workload exits on SIGTERM)\n",
           (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    inspect_ok(id, &ct);
    assert_false(ct.running);
    assert_string_equal(ct.status, "exited");
    assert_int_equal(ct.exit_code, 0);
    docker_container_free(&ct);
    assert_int_equal(docker_container_stop(client, name, 5, &err), DOCKER_E_NOT_MODIFIED);
    assert_int_equal(err.http_status, 304);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_container_start(client, id, &err), DOCKER_OK);
    inspect_ok(id, &ct);
    assert_true(ct.running);
    assert_string_equal(ct.status, "running");
    docker_container_free(&ct);
    assert_int_equal(docker_container_start(client, id, &err), DOCKER_E_NOT_MODIFIED);
    assert_int_equal(err.http_status, 304);
    assert_string_equal(docker_code_name(err.code), "not_modified");
}

static void restart_gives_a_new_process(void **state)
{
    char name[128];
    char id[65];
    struct docker_err err = {0};
    struct docker_container before;
    struct docker_container after;

    (void)state;
    need_client();
    run(name, sizeof(name), id, "restart", NULL, NULL, NULL);
    inspect_ok(id, &before);
    assert_int_equal(docker_container_restart(client, id, 2, &err), DOCKER_OK);
    inspect_ok(id, &after);
    assert_true(after.running);
    assert_int_not_equal(after.pid, before.pid);
    assert_string_not_equal(after.started_at, before.started_at);
    /* a restart keeps the resources */
    assert_int_equal(after.res.cpu_shares, 512);
    assert_int_equal(after.res.memory, 1 * GiB);
    docker_container_free(&before);
    docker_container_free(&after);
}

struct seen {
    char name[128];
    int64_t die_event_ns;
    int64_t die_seen_ns;
    int die_exit_code;
    int64_t start_event_ns;
    int64_t start_seen_ns;
    int64_t from_ns;
    struct docker_cancel *k;
    docker_code rc;
    struct docker_err err;
};

static int on_event(const struct docker_event *ev, void *ud)
{
    struct seen *s = ud;

    if (strcmp(ev->name, s->name) != 0 || ev->time_nano < s->from_ns)
        return 0;
    if (strcmp(ev->action, "die") == 0 && s->die_seen_ns == 0) {
        s->die_seen_ns = ts_now_ns();
        s->die_event_ns = ev->time_nano;
        s->die_exit_code = ev->exit_code;
    } else if (strcmp(ev->action, "start") == 0 && s->die_seen_ns != 0) {
        s->start_seen_ns = ts_now_ns();
        s->start_event_ns = ev->time_nano;
        return 1; /* both seen: end the stream */
    }
    return 0;
}

static void *stream_main(void *arg)
{
    struct seen *s = arg;
    const char *types[] = {"container", NULL};
    const char *events[] = {"die", "start", NULL};
    char label[160];
    const char *labels[] = {label, NULL};
    struct docker_events_filter f = {.types = types, .events = events, .labels = labels,
                                     .since = s->from_ns / 1000000000};

    snprintf(label, sizeof(label), "trip.it.stream=%s", s->name);
    s->rc = docker_events_stream(client, &f, on_event, s, s->k, &s->err);
    return NULL;
}

static void events_stream_reports_die_and_start_within_a_second(void **state)
{
    static struct seen s;
    char label[200];
    const char *labels[] = {label, NULL};
    char id[65];
    pthread_t t;

    (void)state;
    need_client();
    memset(&s, 0, sizeof(s));
    ts_docker_name(s.name, sizeof(s.name), "events");
    snprintf(label, sizeof(label), "trip.it.stream=%s", s.name);
    s.k = docker_cancel_new();
    assert_non_null(s.k);
    s.from_ns = ts_now_ns();
    assert_int_equal(pthread_create(&t, NULL, stream_main, &s), 0);
    /* the workload crashes with code 3 after 1.5 s; Docker's restart policy starts it again */
    assert_int_equal(ts_docker_run_container(id, sizeof(id), s.name, labels, "--restart",
                                             "on-failure:1", "--", "--exit-after-ms", "1500",
                                             "--exit-code", "3", NULL),
                     0);
    for (int i = 0; i < 100 && s.start_seen_ns == 0 && s.rc == DOCKER_OK; i++)
        usleep(100000);
    docker_events_cancel(s.k); /* no-op when the stream already ended */
    pthread_join(t, NULL);
    docker_cancel_free(s.k);
    if (s.rc != DOCKER_OK)
        fail_msg("events stream: %s: %s", docker_code_name(s.rc), s.err.msg);
    assert_true(s.die_seen_ns > 0);
    assert_true(s.start_seen_ns > 0);
    assert_int_equal(s.die_exit_code, 3);
    printf("die seen %lld ms after the event, start %lld ms after; start %lld ms after die\n",
           (long long)(s.die_seen_ns - s.die_event_ns) / 1000000,
           (long long)(s.start_seen_ns - s.start_event_ns) / 1000000,
           (long long)(s.start_event_ns - s.die_event_ns) / 1000000);
    /* seen, in order, while the stream runs; how soon is bench/'s (10 s: a loaded machine) */
    assert_true(s.die_seen_ns - s.die_event_ns < 10000000000LL);
    assert_true(s.start_seen_ns - s.start_event_ns < 10000000000LL);
}

static int never_stop(const struct docker_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    return 0;
}

struct cancel_run {
    struct docker_cancel *k;
    docker_code rc;
    struct docker_err err;
};

static void *idle_stream_main(void *arg)
{
    struct cancel_run *r = arg;
    const char *labels[] = {"trip.it.nothing-has-this-label=1", NULL};
    struct docker_events_filter f = {.labels = labels};

    r->rc = docker_events_stream(client, &f, never_stop, NULL, r->k, &r->err);
    return NULL;
}

static void events_stream_is_cancelled_from_another_thread(void **state)
{
    struct cancel_run r = {0};
    pthread_t t;
    int64_t t0;
    int64_t took_ms;

    (void)state;
    need_client();
    r.k = docker_cancel_new();
    assert_int_equal(pthread_create(&t, NULL, idle_stream_main, &r), 0);
    usleep(300000);
    t0 = ts_now_ns();
    docker_events_cancel(r.k);
    pthread_join(t, NULL);
    took_ms = (ts_now_ns() - t0) / 1000000;
    docker_cancel_free(r.k);
    printf("cancel returned after %lld ms\n", (long long)took_ms);
    assert_int_equal(r.rc, DOCKER_E_CANCELLED);
    assert_true(took_ms < 5000); /* the idle stream would never end by itself */
}

static void unknown_container_is_not_found_with_the_daemon_message(void **state)
{
    char name[128];
    char expect[200];
    struct docker_err err = {0};
    struct docker_container ct;
    struct docker_update u = {.has_cpu_shares = true, .cpu_shares = 1024};

    (void)state;
    need_client();
    ts_docker_name(name, sizeof(name), "missing");
    /* each engine's own words: Docker's, else Podman's */
    snprintf(expect, sizeof(expect),
             podman() ? "no container with name or ID \"%s\" found" : "No such container: %s",
             name);
    assert_int_equal(docker_container_inspect(client, name, &ct, &err), DOCKER_E_NOT_FOUND);
    assert_int_equal(err.http_status, 404);
    assert_non_null(strstr(err.msg, expect));
    printf("inspect: %s\n", err.msg);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_container_start(client, name, &err), DOCKER_E_NOT_FOUND);
    assert_non_null(strstr(err.msg, expect));
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_container_update(client, name, &u, &err),
                     podman() ? DOCKER_E_UNSUPPORTED : DOCKER_E_NOT_FOUND);
    assert_non_null(strstr(err.msg, name));
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_container_restart(client, name, 1, &err), DOCKER_E_NOT_FOUND);
    memset(&err, 0, sizeof(err));
    assert_int_equal(docker_container_stop(client, name, 1, &err), DOCKER_E_NOT_FOUND);
}

static bool list_has(const struct docker_summary_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, name) == 0)
            return true;
    }
    return false;
}

static void list_by_label_finds_exactly_the_labelled_containers(void **state)
{
    char group[160];
    char ga[200];
    char gb[200];
    const char *la[] = {ga, "trip.it.role=a", NULL};
    const char *lb[] = {gb, "trip.it.role=b", NULL};
    char a[128];
    char b[128];
    char other[128];
    char id[65];
    struct docker_summary_list l;
    struct docker_err err = {0};

    (void)state;
    need_client();
    ts_docker_name(group, sizeof(group), "group");
    snprintf(ga, sizeof(ga), "trip.it.group=%s", group);
    snprintf(gb, sizeof(gb), "trip.it.group=%s", group);
    run(a, sizeof(a), id, "list-a", la, NULL, NULL);
    run(b, sizeof(b), id, "list-b", lb, NULL, NULL);
    run(other, sizeof(other), id, "list-other", NULL, NULL, NULL);
    assert_int_equal(docker_container_stop(client, b, 1, &err), DOCKER_OK);

    const char *by_group[] = {ga, NULL};
    assert_int_equal(docker_container_list(client, by_group, true, &l, &err), DOCKER_OK);
    assert_int_equal(l.n, 2);
    assert_true(list_has(&l, a) && list_has(&l, b) && !list_has(&l, other));
    for (size_t i = 0; i < l.n; i++)
        assert_string_equal(docker_labels_get(&l.v[i].labels, "trip.it.group"), group);
    docker_summary_list_free(&l);

    assert_int_equal(docker_container_list(client, by_group, false, &l, &err), DOCKER_OK);
    assert_int_equal(l.n, 1); /* b is stopped */
    assert_string_equal(l.v[0].name, a);
    assert_string_equal(l.v[0].state, "running");
    docker_summary_list_free(&l);

    const char *both[] = {ga, "trip.it.role=b", NULL};
    assert_int_equal(docker_container_list(client, both, true, &l, &err), DOCKER_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].name, b);
    assert_string_equal(l.v[0].state, "exited");
    docker_summary_list_free(&l);

    const char *hostile[] = {"trip.it.group=\"],\"x\":[\"", NULL};
    assert_int_equal(docker_container_list(client, hostile, true, &l, &err), DOCKER_OK);
    assert_int_equal(l.n, 0);
    docker_summary_list_free(&l);
}

static void hostile_names_cannot_reach_another_container(void **state)
{
    char victim[128];
    char id[65];
    char bad[8][512];
    struct docker_update u = {.has_cpu_shares = true, .cpu_shares = 1024};
    struct docker_container ct;

    (void)state;
    need_client();
    run(victim, sizeof(victim), id, "victim", NULL, NULL, NULL);
    snprintf(bad[0], sizeof(bad[0]), "x/../../containers/%s", victim);
    snprintf(bad[1], sizeof(bad[1]), "%s/../%s", victim, victim);
    snprintf(bad[2], sizeof(bad[2]), "%s?all=1", victim);
    snprintf(bad[3], sizeof(bad[3]), "%s#", victim);
    snprintf(bad[4], sizeof(bad[4]), "%s ", victim);
    snprintf(bad[5], sizeof(bad[5]), "%s%%2F..%%2F%s", victim, victim);
    snprintf(bad[6], sizeof(bad[6]), "..");
    snprintf(bad[7], sizeof(bad[7]), "%s\r\nX-Injected: 1", victim);
    for (size_t i = 0; i < 8; i++) {
        struct docker_err err = {0};
        docker_code rc = docker_container_inspect(client, bad[i], &ct, &err);

        printf("inspect \"%s\": %s: %s\n", bad[i], docker_code_name(rc), err.msg);
        assert_true(rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_INVALID);
        if (rc == DOCKER_E_NOT_FOUND) /* a 404 from the daemon, never the victim's data */
            assert_int_equal(err.http_status, 404);
        memset(&err, 0, sizeof(err));
        rc = docker_container_update(client, bad[i], &u, &err);
        assert_true(rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_INVALID ||
                    (podman() && rc == DOCKER_E_UNSUPPORTED)); /* Podman: nothing sent */
        memset(&err, 0, sizeof(err));
        rc = docker_container_stop(client, bad[i], 1, &err);
        assert_true(rc == DOCKER_E_NOT_FOUND || rc == DOCKER_E_INVALID);
    }
    inspect_ok(id, &ct);
    assert_true(ct.running);
    assert_int_equal(ct.res.cpu_shares, 512);
    docker_container_free(&ct);
}

static void stats_returns_plausible_numbers(void **state)
{
    char name[128];
    char id[65];
    struct docker_stats st;
    struct docker_err err = {0};
    docker_code rc;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    (void)state;
    need_client();
    run(name, sizeof(name), id, "stats", NULL, NULL, NULL);
    rc = docker_container_stats(client, id, &st, &err);
    if (rc != DOCKER_OK)
        fail_msg("stats: %s: %s", docker_code_name(rc), err.msg);
    printf("stats: cpu %llu ns, system %llu ns, %u cpus, memory %llu of %llu\n",
           (unsigned long long)st.cpu_total_ns, (unsigned long long)st.system_cpu_ns,
           st.online_cpus, (unsigned long long)st.memory_usage,
           (unsigned long long)st.memory_limit);
    assert_true(st.cpu_total_ns > 0);
    assert_true(st.system_cpu_ns > st.cpu_total_ns);
    assert_true(st.online_cpus >= 1 && (long)st.online_cpus <= ncpu);
    assert_int_equal(st.memory_limit, 1 * GiB);
    assert_true(st.memory_usage > 0 && st.memory_usage < 64 * MiB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(engine_reports_api_and_cgroups),
        cmocka_unit_test(inspect_reports_created_resources_and_labels),
        cmocka_unit_test(update_scales_out_and_back_with_memory_only),
        cmocka_unit_test(update_scales_out_and_back_with_explicit_swap),
        cmocka_unit_test(memory_above_swap_without_swap_is_refused_with_the_engine_message),
        cmocka_unit_test(unlimited_swap_update_applies_fully_or_changes_nothing),
        cmocka_unit_test(stop_then_start_and_304_when_already_there),
        cmocka_unit_test(restart_gives_a_new_process),
        cmocka_unit_test(events_stream_reports_die_and_start_within_a_second),
        cmocka_unit_test(events_stream_is_cancelled_from_another_thread),
        cmocka_unit_test(unknown_container_is_not_found_with_the_daemon_message),
        cmocka_unit_test(list_by_label_finds_exactly_the_labelled_containers),
        cmocka_unit_test(hostile_names_cannot_reach_another_container),
        cmocka_unit_test(stats_returns_plausible_numbers),
    };

    return ts_exit_status(cmocka_run_group_tests_name("docker_client (real engine)", tests,
                                                      group_setup, group_teardown));
}
