/* test_policy.c: decisions as tables, with the clock passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "policy.h"
#include "ts_engine.h"

#define NOW 1000000000LL
#define GIB (1024LL * 1024 * 1024)

static const struct policy_limits lim = TS_POLICY_LIMITS;

struct row {
    const char *name;
    struct policy_request req;
    struct policy_container c;
    enum policy_verdict verdict;
    enum outcome outcome;
    int64_t target;
    int64_t duration_ms;
    const char *reason;
};

#define MANAGED .known = true, .exists = true, .running = true, .enable = "true"
#define SERVICE MANAGED, .service = true

static const struct row rows[] = {
    {"cpu alert on managed container uses config target and duration",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, true},
     {MANAGED},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     1024,
     300000,
     ""},
    {"memory target from label",
     {POLICY_SCALE_OUT, POLICY_MEMORY, NULL, false, true},
     {MANAGED, .memory = "3g"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     3 * GIB,
     300000,
     ""},
    {"cpu target from label",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, false},
     {MANAGED, .cpu_shares = "2048"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     2048,
     300000,
     ""},
    {"duration from request beats label",
     {POLICY_SCALE_OUT, POLICY_CPU, "20s", false, false},
     {MANAGED, .scale_duration = "1h"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     1024,
     20000,
     ""},
    {"duration from label",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, true},
     {MANAGED, .scale_duration = "1h"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     1024,
     3600000,
     ""},
    {"unlabelled container is not managed",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, true},
     {.known = true, .exists = true},
     POLICY_IGNORE,
     OUTCOME_NOT_MANAGED,
     0,
     0,
     "container is not managed (needs label trip.enable=true)"},
    {"trip.enable=false is not managed",
     {POLICY_RESTART, POLICY_CPU, NULL, false, false},
     {.known = true, .exists = true, .enable = "false"},
     POLICY_IGNORE,
     OUTCOME_NOT_MANAGED,
     0,
     0,
     "container is not managed (needs label trip.enable=true)"},
    {"unknown container",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, false},
     {.known = true},
     POLICY_IGNORE,
     OUTCOME_NOT_FOUND,
     0,
     0,
     "no such container"},
    {"label cpu above bound",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, false},
     {MANAGED, .cpu_shares = "9000"},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     300000,
     "label trip.cpu-shares=9000 is outside [2, 4096]"},
    {"label cpu not a number",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, false},
     {MANAGED, .cpu_shares = "1k"},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     300000,
     "label trip.cpu-shares=\"1k\" is not a number"},
    {"label memory above bound",
     {POLICY_SCALE_OUT, POLICY_MEMORY, NULL, false, false},
     {MANAGED, .memory = "32g"},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     300000,
     "label trip.memory=32g is outside [6291456, 17179869184]"},
    {"request duration too long",
     {POLICY_SCALE_OUT, POLICY_CPU, "48h", false, false},
     {MANAGED},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "duration \"48h\" is outside [1s, 86400s]"},
    {"request duration malformed",
     {POLICY_SCALE_OUT, POLICY_CPU, "soon", false, false},
     {MANAGED},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "duration \"soon\" is not a duration (e.g. 20s, 5m, 1h)"},
    {"heal disabled by label ignores alert restart",
     {POLICY_RESTART, POLICY_CPU, NULL, false, true},
     {MANAGED, .heal = "false"},
     POLICY_IGNORE,
     OUTCOME_NOT_MANAGED,
     0,
     0,
     "healing is disabled for this container (trip.heal)"},
    {"operator restart works despite trip.heal=false",
     {POLICY_RESTART, POLICY_CPU, NULL, true, false},
     {MANAGED, .heal = "false"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     0,
     0,
     ""},
    {"resolve is accepted for anything",
     {POLICY_RESOLVE, POLICY_CPU, NULL, false, true},
     {.known = true},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     0,
     0,
     "alert resolved"},
    {"unseen container is queued for the engine",
     {POLICY_SCALE_OUT, POLICY_MEMORY, NULL, false, true},
     {.known = false},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     2 * GIB,
     300000,
     "queued; container not seen yet, checked before acting"},
    {"service cpu without trip.cpus doubles its limit (target 0 for the engine)",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, true},
     {SERVICE},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     0,
     300000,
     ""},
    {"service cpu from trip.cpus",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, true},
     {SERVICE, .cpus = "1.5"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     1500000000LL,
     300000,
     ""},
    {"service trip.cpus beyond --max-cpus",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, false},
     {SERVICE, .cpus = "9"},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "label trip.cpus=9 is outside [0.01, 8]"},
    {"service trip.cpus not a number",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, false},
     {SERVICE, .cpus = "lots"},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "label trip.cpus=\"lots\" is not a number of CPUs (e.g. 1.5)"},
    {"service memory as for containers",
     {POLICY_SCALE_OUT, POLICY_MEMORY, NULL, false, true},
     {SERVICE, .memory = "3g"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     3 * GIB,
     300000,
     ""},
    {"replicas of a service",
     {POLICY_SCALE_OUT, POLICY_REPLICAS, NULL, false, true},
     {SERVICE, .max_replicas = "4", .replicas_step = "2"},
     POLICY_ACCEPT,
     OUTCOME_DONE,
     0,
     300000,
     ""},
    {"trip.max-replicas above --max-replicas",
     {POLICY_SCALE_OUT, POLICY_REPLICAS, NULL, false, true},
     {SERVICE, .max_replicas = "11"},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "label trip.max-replicas=11 is outside [1, 10]"},
    {"trip.replicas-step zero",
     {POLICY_SCALE_OUT, POLICY_REPLICAS, NULL, false, true},
     {SERVICE, .replicas_step = "0"},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "label trip.replicas-step=0 is outside [1, 1000]"},
    {"replicas of a global service",
     {POLICY_SCALE_OUT, POLICY_REPLICAS, NULL, false, true},
     {SERVICE, .global = true},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "a global service runs one task per node: never scaled horizontally"},
    {"replicas of a container",
     {POLICY_SCALE_OUT, POLICY_REPLICAS, NULL, false, false},
     {MANAGED},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "replicas: only Swarm services are scaled horizontally"},
    {"restart of a service is Swarm's job",
     {POLICY_RESTART, POLICY_CPU, NULL, true, false},
     {SERVICE},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "a Swarm service: its tasks are healed by Swarm's restart policy"},
    {"unmanaged service",
     {POLICY_SCALE_OUT, POLICY_REPLICAS, NULL, false, true},
     {.known = true, .exists = true, .running = true, .service = true},
     POLICY_IGNORE,
     OUTCOME_NOT_MANAGED,
     0,
     0,
     "container is not managed (needs label trip.enable=true)"},
    {"a Swarm task container is never acted on",
     {POLICY_SCALE_OUT, POLICY_CPU, NULL, false, true},
     {MANAGED, .swarm_service = "web"},
     POLICY_IGNORE,
     OUTCOME_CONFLICT,
     0,
     0,
     "a Swarm task of service \"web\": Swarm heals it; scale the service"},
    {"nothing to do",
     {POLICY_NONE, POLICY_CPU, NULL, false, true},
     {MANAGED},
     POLICY_IGNORE,
     OUTCOME_REFUSED,
     0,
     0,
     "nothing to do for this alert"},
};

static void decision_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct policy_decision d;
        policy_decide(&lim, &r->req, &r->c, NOW, &d);
        print_message("row: %s\n", r->name);
        assert_int_equal(d.verdict, r->verdict);
        assert_int_equal(d.outcome, r->outcome);
        assert_string_equal(d.reason, r->reason);
        if (r->verdict == POLICY_ACCEPT && r->req.kind == POLICY_SCALE_OUT) {
            assert_int_equal(d.target, r->target);
            assert_int_equal(d.duration_ms, r->duration_ms);
            assert_int_equal(d.deadline_ms, NOW + r->duration_ms);
        }
    }
}

static void replicas_step_up_to_the_max(void **state)
{
    struct policy_decision d;
    struct policy_request q = {POLICY_SCALE_OUT, POLICY_REPLICAS, NULL, false, true};
    struct policy_container c = {SERVICE, .max_replicas = "4", .replicas_step = "2"};
    (void)state;
    policy_decide(&lim, &q, &c, NOW, &d);
    assert_int_equal(d.step, 2);
    assert_int_equal(d.max, 4);
    assert_int_equal(policy_replicas_next(1, d.step, d.max), 3);
    assert_int_equal(policy_replicas_next(3, d.step, d.max), 4);
    assert_int_equal(policy_replicas_next(4, d.step, d.max), 4);
    assert_int_equal(policy_replicas_next(7, d.step, d.max), 7); /* never down */
    c.max_replicas = c.replicas_step = NULL;
    policy_decide(&lim, &q, &c, NOW, &d);
    assert_int_equal(d.step, 1); /* --replicas-step */
    assert_int_equal(d.max, 10); /* --max-replicas */
}

static void swarm_tasks_are_not_healed(void **state)
{
    struct policy_backoff b = {.operator_stops = true};
    struct policy_container c = {MANAGED, .swarm_service = "web"};
    char why[80];
    (void)state;
    assert_false(policy_heal_allowed(&lim, &b, &c, false, why, sizeof(why)));
    assert_string_equal(why, "a Swarm task: Swarm's restart policy heals it");
}

static void manage_all_is_opt_out(void **state)
{
    struct policy_limits all = lim;
    (void)state;
    all.manage_all = true;
    assert_true(policy_managed(&all, NULL));
    assert_true(policy_managed(&all, "true"));
    assert_false(policy_managed(&all, "false"));
    assert_false(policy_managed(&all, "FALSE")); /* any case opts out under --manage-all */
    assert_false(policy_managed(&all, "False"));
    assert_false(policy_managed(&all, "no"));
    assert_false(policy_managed(&all, "flase")); /* not a clear opt-in: left alone */
    assert_true(policy_managed(&all, "TRUE"));
    assert_true(policy_managed(&lim, "True"));
    assert_false(policy_managed(&lim, NULL));
    assert_false(policy_managed(&lim, "yes"));
    assert_true(policy_managed(&lim, "true"));
}

static void alerts_map_to_requests(void **state)
{
    struct alerts_record r = {.status = ALERTS_FIRING, .action = ALERTS_SCALE_MEMORY};
    struct policy_request q;
    (void)state;
    policy_request_from_alert(&q, &r);
    assert_int_equal(q.kind, POLICY_SCALE_OUT);
    assert_int_equal(q.resource, POLICY_MEMORY);
    r.status = ALERTS_RESOLVED;
    policy_request_from_alert(&q, &r);
    assert_int_equal(q.kind, POLICY_RESOLVE);
    r.action = ALERTS_RESTART;
    policy_request_from_alert(&q, &r);
    assert_int_equal(q.kind, POLICY_NONE);
    r.status = ALERTS_FIRING;
    policy_request_from_alert(&q, &r);
    assert_int_equal(q.kind, POLICY_RESTART);
    r.action = ALERTS_SCALE_REPLICAS;
    policy_request_from_alert(&q, &r);
    assert_int_equal(q.kind, POLICY_SCALE_OUT);
    assert_int_equal(q.resource, POLICY_REPLICAS);
    strcpy(r.problem, "broken");
    policy_request_from_alert(&q, &r);
    assert_int_equal(q.kind, POLICY_NONE);
}

static void scale_in_needs_deadline_and_no_firing_alert(void **state)
{
    static const struct {
        struct policy_hold h;
        int64_t now;
        enum policy_due due;
        int64_t next;
    } t[] = {
        /* deadline ahead: wait until it */
        {{.deadline_ms = 2000, .since_ms = 0, .firing = 0, .max_hold_ms = 10000},
         1000,
         POLICY_HOLD,
         2000},
        /* deadline passed, resolved */
        {{.deadline_ms = 2000, .since_ms = 0, .firing = 0, .max_hold_ms = 10000},
         2000,
         POLICY_DUE_DEADLINE,
         2000},
        /* deadline passed but still firing: only max-hold can end it */
        {{.deadline_ms = 2000, .since_ms = 0, .firing = 1, .max_hold_ms = 10000},
         5000,
         POLICY_HOLD,
         10000},
        /* max-hold passed while firing */
        {{.deadline_ms = 2000, .since_ms = 0, .firing = 2, .max_hold_ms = 10000},
         10000,
         POLICY_DUE_MAX_HOLD,
         10000},
        /* no max-hold configured, firing: wait for an event */
        {{.deadline_ms = 2000, .since_ms = 0, .firing = 1, .max_hold_ms = 0},
         5000,
         POLICY_HOLD,
         INT64_MAX},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int64_t next = -1;
        assert_int_equal(policy_scale_in_due(&t[i].h, t[i].now, &next), t[i].due);
        assert_int_equal(next, t[i].next);
    }
}

/* The rules the engine used to hold: the level of a scale-out, the replicas step, the Prometheus
 * hold, the memory guard, all from the resource table. */
static void scale_rules_come_from_the_resource_table(void **state)
{
    struct policy_decision d = {.resource = POLICY_CPU, .target = 0};
    const char *why;
    (void)state;
    /* a service's CPU without trip.cpus: twice its current limit */
    assert_int_equal(policy_scale_out_level(&d, true, 500000000, &why), 1000000000);
    assert_null(why);
    assert_int_equal(policy_scale_out_level(&d, true, 0, &why), 0);
    assert_string_equal(why, "service has no CPU limit; nothing to raise");
    /* a container's CPU shares: the decided target; unset shares are scaled from 1024 */
    d.target = 2048;
    assert_int_equal(policy_scale_out_level(&d, false, 0, &why), 2048);
    assert_null(why);
    /* the CPU quota row: twice the quota without trip.cpus, none left alone */
    d = (struct policy_decision){.resource = POLICY_CPUS};
    assert_int_equal(policy_scale_out_level(&d, false, 250000000, &why), 500000000);
    assert_int_equal(policy_scale_out_level(&d, false, 0, &why), 0);
    assert_string_equal(why, "container has no CPU quota; nothing to raise");
    /* replicas: one step, at most the max; another step only a whole duration later */
    d = (struct policy_decision){
        .resource = POLICY_REPLICAS, .step = 2, .max = 5, .duration_ms = 60000};
    assert_int_equal(policy_scale_out_level(&d, true, 4, &why), 5);
    assert_true(policy_scale_out_again(&d, 3, 3, NOW - 60000, NOW));
    assert_false(policy_scale_out_again(&d, 3, 3, NOW - 59999, NOW));
    assert_false(policy_scale_out_again(&d, 5, 5, NOW - 60000, NOW));
    /* the Prometheus hold: the scale duration within [1 s, 15 s] */
    struct policy_limits l = lim;
    assert_int_equal(policy_prometheus_hold_ms(&l), 15000);
    l.scale_duration_ms = 200;
    assert_int_equal(policy_prometheus_hold_ms(&l), 1000);
    /* the memory guard: 90 % of the baseline */
    assert_true(policy_memory_fits(900, 1000));
    assert_false(policy_memory_fits(901, 1000));
    assert_true(policy_memory_fits(1u << 30, 0));
    /* an automatic scale-in keeps a margin under the rules' 60 %: 50 %; a manual one only 90 % */
    assert_true(policy_memory_scale_in_fits(500, 1000, false));
    assert_false(policy_memory_scale_in_fits(501, 1000, false));
    assert_true(policy_memory_scale_in_fits(900, 1000, true));
    assert_false(policy_memory_scale_in_fits(901, 1000, true));
    assert_true(policy_memory_scale_in_fits(1u << 30, 0, false));
    /* names and the manual API */
    assert_ptr_equal(policy_resource_by_name("cpus"), &policy_resources[POLICY_CPUS]);
    assert_null(policy_resource_by_name("pids"));
    assert_string_equal(policy_resources[POLICY_REPLICAS].default_alert, "ServiceHighCpu");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decision_table),
        cmocka_unit_test(scale_rules_come_from_the_resource_table),
        cmocka_unit_test(replicas_step_up_to_the_max),
        cmocka_unit_test(swarm_tasks_are_not_healed),
        cmocka_unit_test(manage_all_is_opt_out),
        cmocka_unit_test(alerts_map_to_requests),
        cmocka_unit_test(scale_in_needs_deadline_and_no_firing_alert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
