/* fuzz_policy_check.h: the invariants every policy decision must hold, shared by the alerts and
 * values targets. */
#ifndef TRIP_FUZZ_POLICY_CHECK_H
#define TRIP_FUZZ_POLICY_CHECK_H

#include "fuzz_common.h"
#include "policy.h"

#define FUZZ_NOW_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static const struct policy_limits fuzz_limits = {
    .cpu_shares = 1024,
    .max_cpu_shares = 4096,
    .memory = 2LL << 30,
    .max_memory = 8LL << 30,
    .scale_duration_ms = 5 * 60 * 1000,
    .min_duration_ms = 10 * 1000,
    .max_duration_ms = 24LL * 3600 * 1000,
    .manage_all = false,
    .heal = true,
};

/* Decides req for c and checks the decision against the limits. */
static inline void fuzz_decide_and_check(const struct policy_request *req,
                                         const struct policy_container *c)
{
    const struct policy_limits *lim = &fuzz_limits;
    struct policy_decision d;

    policy_decide(lim, req, c, FUZZ_NOW_MS, &d);
    FUZZ_CHECK(FUZZ_TERMINATED(d.reason));
    FUZZ_CHECK(d.verdict == POLICY_ACCEPT || d.verdict == POLICY_IGNORE);
    FUZZ_CHECK(d.kind == req->kind);
    if (d.verdict == POLICY_IGNORE) {
        FUZZ_CHECK(d.outcome >= OUTCOME_NOT_MANAGED && d.outcome <= OUTCOME_REFUSED &&
                   d.reason[0] != '\0');
        return;
    }
    FUZZ_CHECK(d.outcome == OUTCOME_DONE);
    if (req->kind == POLICY_NONE)
        FUZZ_CHECK(0); /* nothing to do is never accepted */
    if (req->kind == POLICY_SCALE_OUT) {
        FUZZ_CHECK(d.duration_ms >= lim->min_duration_ms && d.duration_ms <= lim->max_duration_ms);
        FUZZ_CHECK(d.deadline_ms == FUZZ_NOW_MS + d.duration_ms);
        if (d.resource == POLICY_CPU)
            FUZZ_CHECK(d.target >= 2 && d.target <= lim->max_cpu_shares);
        else
            FUZZ_CHECK(d.target >= 6 * 1024 * 1024 && d.target <= lim->max_memory);
    }
    if (c->known && req->kind != POLICY_RESOLVE) {
        FUZZ_CHECK(c->exists);
        FUZZ_CHECK(policy_managed(lim, c->enable));
    }
}

#endif
