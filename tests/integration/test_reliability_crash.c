/* test_reliability_crash.c: crash consistency of scale-out/scale-in against the real Docker
 * Engine. Cycles of manual scale-outs (1 s duration, CPU or memory, on a few managed containers)
 * with trip-receiver killed with SIGKILL at a random moment of each cycle (seeded PRNG, the seed
 * is printed; TRIP_RELIABILITY_SEED replays a run) and restarted on the same state dir. After
 * every kill, before the restart reads it, an invariant checker compares `docker inspect` with
 * the state on disk (state.json and the journal of write-ahead claims, ts_state_doc): each
 * container is at its inspected baseline, or the resource is scaled out and the state holds a
 * pending claim (scaled_out, a deadline, the true baseline). After the last
 * cycle every container must be back at its baseline once the last deadline has passed.
 * Checking while the daemon is dead is race-free: no scale-out or scale-in can happen between
 * the two reads, and it is exactly the state a restart starts from. Figures are printed and
 * written to $TRIP_BINARY_DIR/reliability-crash.md. TRIP_RELIABILITY_CYCLES overrides the count
 * (default 200). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ts_common.h"
#include "ts_docker.h"
#include "ts_receiver.h"

#define N_CT 3
#define BASE_SHARES 512
#define BASE_MEM 1073741824LL
#define BASE_SWAP 2147483648LL

static const char *const managed[] = {"trip.enable=true", NULL};

struct figures {
    uint64_t seed;
    int cycles;
    int kills;
    int kills_in_request; /* the scale request got no reply: killed while it was in flight */
    int replies_ok;       /* "scaled out" */
    int replies_other;    /* extended / unchanged / error */
    int checks;
    int scaled_at_check; /* resources found scaled out (with a claim) at a check */
    int scale_ins_seen;  /* a resource scaled out at one check and at baseline at the next */
    int journal_only;    /* of scaled_at_check: the claim in the journal, not yet in state.json */
    int64_t restart_ms_max;
    double restart_ms_sum;
    int64_t run_ms;
    int64_t converge_ms;
};

static uint64_t rng_state;

/* splitmix64: small, seedable, the same sequence on every libc. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct request {
    const struct ts_receiver *r;
    char path[256];
    char body[128];
    struct ts_http_reply rep;
};

static void *do_request(void *arg)
{
    struct request *q = arg;
    q->rep.status = 0;
    if (ts_http_json(q->r, "POST", q->path, NULL, q->body, &q->rep) != 0)
        q->rep.status = 0;
    return NULL;
}

/* What docker inspect says about one container. */
struct seen {
    int64_t shares, memory, swap;
};

static void inspect_all(char names[N_CT][128], struct seen *out)
{
    char buf[1024];
    const char *fmt = "{{.Name}} {{.HostConfig.CpuShares}} {{.HostConfig.Memory}} "
                      "{{.HostConfig.MemorySwap}}";
    assert_int_equal(
        ts_docker(buf, sizeof(buf), "inspect", "-f", fmt, names[0], names[1], names[2], NULL), 0);
    char *line = buf;
    for (int i = 0; i < N_CT; i++) {
        char name[160];
        long long sh, mem, sw;
        assert_int_equal(sscanf(line, "/%159s %lld %lld %lld", name, &sh, &mem, &sw), 4);
        assert_string_equal(name, names[i]);
        out[i] = (struct seen){sh, mem, sw};
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : line + strlen(line);
    }
}

/* The state.json object of one resource of one container, or NULL. */
static json_t *claim_of(json_t *doc, const char *name, const char *resource)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(doc, "containers"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, name) == 0)
            return json_object_get(c, resource);
    }
    return NULL;
}

/* The invariant, for one resource: at baseline, or scaled out with a persisted pending claim
 * whose baseline is the real one. Returns 1 when scaled out, 0 at baseline; fails the test
 * otherwise. */
static int check_resource(json_t *doc, const char *name, const char *resource, bool at_base,
                          int64_t base, int64_t *max_deadline)
{
    json_t *cl = claim_of(doc, name, resource);
    bool out = cl && json_is_true(json_object_get(cl, "scaled_out"));
    int64_t deadline = cl ? (int64_t)json_integer_value(json_object_get(cl, "deadline_ms")) : 0;

    if (at_base)
        return 0;
    if (!out || deadline <= 0) {
        print_error("invariant broken: %s %s is not at its baseline and the state on disk has no "
                    "pending claim (scaled_out=%d deadline_ms=%" PRId64 ")\n",
                    name, resource, out, deadline);
        fail();
    }
    assert_int_equal(json_integer_value(json_object_get(cl, "baseline")), base);
    if (deadline > *max_deadline)
        *max_deadline = deadline;
    return 1;
}

/* True when state.json alone (without the journal) has resource of name scaled out. */
static bool in_file(const struct ts_receiver *r, const char *name, const char *resource)
{
    char path[256];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/state.json", r->state_dir);
    json_t *file = json_load_file(path, 0, &jerr);
    bool out = json_is_true(json_object_get(claim_of(file, name, resource), "scaled_out"));
    json_decref(file);
    return out;
}

/* Checks every container against the state on disk; returns how many resources are scaled out
 * and updates was_out (per container and resource) to count the scale-ins between two checks. */
static int check_invariant(const struct ts_receiver *r, char names[N_CT][128],
                           bool was_out[N_CT][2], struct figures *fig, int64_t *max_deadline)
{
    struct seen s[N_CT];
    json_t *doc = NULL;
    int scaled = 0;

    inspect_all(names, s);
    doc = ts_state_doc(r->state_dir); /* state.json and the journal, as the restart reads them */
    if (!doc)
        print_error("state.json or the journal of %s unreadable\n", r->state_dir);
    assert_non_null(doc);
    for (int i = 0; i < N_CT; i++) {
        bool cpu_base = s[i].shares == BASE_SHARES;
        bool mem_base = s[i].memory == BASE_MEM && s[i].swap == BASE_SWAP;
        int c = check_resource(doc, names[i], "cpu", cpu_base, BASE_SHARES, max_deadline);
        int m = check_resource(doc, names[i], "memory", mem_base, BASE_MEM, max_deadline);
        fig->journal_only += (c && !in_file(r, names[i], "cpu")) +
                             (m && !in_file(r, names[i], "memory"));
        fig->scale_ins_seen += (was_out[i][0] && !c) + (was_out[i][1] && !m);
        was_out[i][0] = c;
        was_out[i][1] = m;
        scaled += c + m;
    }
    json_decref(doc);
    fig->checks++;
    return scaled;
}

static void write_figures(const struct figures *f, FILE *out)
{
    fprintf(out, "| figure | value |\n|---|---|\n");
    fprintf(out, "| seed | %" PRIu64 " |\n", f->seed);
    fprintf(out, "| cycles (scale-out request + SIGKILL + restart) | %d |\n", f->cycles);
    fprintf(out, "| SIGKILLs | %d |\n", f->kills);
    fprintf(out, "| of which while the scale request was in flight (no reply) | %d |\n",
            f->kills_in_request);
    fprintf(out, "| scale requests answered \"scaled out\" | %d |\n", f->replies_ok);
    fprintf(out, "| scale requests answered otherwise (deadline extended, unchanged) | %d |\n",
            f->replies_other);
    fprintf(out, "| invariant checks (after every kill, on the state the restart reads) | %d |\n",
            f->checks);
    fprintf(out, "| resources found scaled out with a persisted claim at a check | %d |\n",
            f->scaled_at_check);
    fprintf(out, "| of which the claim was in the journal only, not yet in state.json | %d |\n",
            f->journal_only);
    fprintf(out, "| scale-ins seen between two checks | %d |\n", f->scale_ins_seen);
    fprintf(out, "| invariant violations | 0 |\n");
    fprintf(out, "| restart to /healthz, mean / max | %.0f ms / %" PRId64 " ms |\n",
            f->kills ? f->restart_ms_sum / f->kills : 0.0, f->restart_ms_max);
    fprintf(out, "| all back at baseline after the last cycle | %" PRId64 " ms |\n",
            f->converge_ms);
    fprintf(out, "| wall time of the cycles | %.1f s |\n", (double)f->run_ms / 1000.0);
}

/* Waits until every container is at its baseline and state.json holds no claim. */
static int64_t wait_all_baseline(const struct ts_receiver *r, char names[N_CT][128],
                                 struct figures *fig, int timeout_ms)
{
    int64_t t0 = mono_ms();
    bool was_out[N_CT][2] = {{0}};
    while (mono_ms() - t0 < timeout_ms) {
        struct seen s[N_CT];
        int at_base = 0;
        inspect_all(names, s);
        for (int i = 0; i < N_CT; i++)
            at_base +=
                s[i].shares == BASE_SHARES && s[i].memory == BASE_MEM && s[i].swap == BASE_SWAP;
        if (at_base == N_CT) {
            int64_t maxd = 0;
            /* the daemon may still be saving the last scale-in: the claim must be gone too */
            struct figures scratch = *fig;
            if (check_invariant(r, names, was_out, &scratch, &maxd) == 0)
                return mono_ms() - t0;
        }
        usleep(200 * 1000);
    }
    return -1;
}

static void kill9_cycles_keep_every_container_at_baseline_or_claimed(void **state)
{
    char names[N_CT][128], id[80];
    struct ts_receiver r;
    struct figures fig = {0};
    bool was_out[N_CT][2] = {{0}};
    const char *env_seed = getenv("TRIP_RELIABILITY_SEED");
    const char *env_cycles = getenv("TRIP_RELIABILITY_CYCLES");
    const char *args[] = {"--scale-duration", "1s", NULL};
    int64_t max_deadline = 0;
    (void)state;

    ts_require_docker_image();
    fig.seed = env_seed ? (uint64_t)strtoull(env_seed, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    fig.cycles = env_cycles ? atoi(env_cycles) : 200;
    rng_state = fig.seed;
    print_message("crash consistency: seed=%" PRIu64 " cycles=%d (TRIP_RELIABILITY_SEED=%" PRIu64
                  " replays it)\n",
                  fig.seed, fig.cycles, fig.seed);
    for (int i = 0; i < N_CT; i++) {
        ts_docker_name(names[i], sizeof(names[i]), "crash");
        assert_int_equal(ts_docker_run_container(id, sizeof(id), names[i], managed, NULL), 0);
    }
    assert_int_equal(ts_receiver_start(&r, args), 0);
    int64_t t_run = mono_ms();
    for (int n = 0; n < fig.cycles; n++) {
        struct request *q = calloc(1, sizeof(*q));
        pthread_t th;
        int which = (int)(rng() % N_CT);
        const char *res = rng() % 2 ? "cpu" : "memory";
        /* half the kills land while the request is in flight, half while the timer works */
        uint64_t delay_ms = rng() % 2 ? rng() % 30 : 30 + rng() % 900;

        assert_non_null(q);
        q->r = &r;
        snprintf(q->path, sizeof(q->path), "/api/v1/containers/%s/scale", names[which]);
        snprintf(q->body, sizeof(q->body), "{\"resource\":\"%s\",\"duration\":\"1s\"}", res);
        assert_int_equal(pthread_create(&th, NULL, do_request, q), 0);
        usleep((useconds_t)delay_ms * 1000);
        ts_receiver_kill9(&r);
        fig.kills++;
        pthread_join(th, NULL);
        if (q->rep.status == 0)
            fig.kills_in_request++;
        else if (q->rep.status == 200 && strstr(q->rep.body, "\"result\":\"ok\""))
            fig.replies_ok++;
        else
            fig.replies_other++;
        free(q);
        fig.scaled_at_check += check_invariant(&r, names, was_out, &fig, &max_deadline);
        int64_t t0 = mono_ms();
        assert_int_equal(ts_receiver_restart(&r), 0);
        int64_t took = mono_ms() - t0;
        fig.restart_ms_sum += (double)took;
        if (took > fig.restart_ms_max)
            fig.restart_ms_max = took;
    }
    fig.run_ms = mono_ms() - t_run;
    /* the last claims expire 1 s after their scale-out; the timer then scales in */
    fig.converge_ms = wait_all_baseline(&r, names, &fig, 15000);
    assert_true(fig.converge_ms >= 0);

    char path[512];
    const char *bin = getenv("TRIP_BINARY_DIR");
    printf("\nCrash consistency figures:\n\n");
    write_figures(&fig, stdout);
    snprintf(path, sizeof(path), "%s/reliability-crash.md", bin ? bin : ".");
    FILE *f = fopen(path, "w");
    if (f) {
        write_figures(&fig, f);
        fclose(f);
    }
    assert_true(fig.replies_ok > 0);
    assert_true(fig.scale_ins_seen > 0);
    assert_int_equal(ts_receiver_stop(&r, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_cycles_keep_every_container_at_baseline_or_claimed),
    };
    return ts_exit_status(cmocka_run_group_tests(tests, NULL, ts_docker_group_teardown));
}
