/* outcome.h: what a request came to, in the core's words. Policy and engine return these with a
 * reason; only the HTTP edge (http.c) turns them into status codes and JSON. */
#ifndef TRIP_OUTCOME_H
#define TRIP_OUTCOME_H

enum outcome {
    OUTCOME_DONE = 0,      /* applied (or, for a policy decision: accepted) */
    OUTCOME_DRY_RUN,       /* would have been applied (--dry-run): nothing changed */
    OUTCOME_EXTENDED,      /* already scaled out: the deadline was extended */
    OUTCOME_UNCHANGED,     /* nothing to change (already at the level, not scaled out, ...) */
    OUTCOME_CLAIM_DROPPED, /* changed by hand while scaled out: left as it is, claim forgotten */
    OUTCOME_POSTPONED,     /* not now: retried later by the engine */
    OUTCOME_NOT_MANAGED,   /* the target or the action is not enabled for it (labels, flags) */
    OUTCOME_NOT_FOUND,     /* no such container or service */
    OUTCOME_CONFLICT,      /* the target's state forbids it now (maintenance, being removed) */
    OUTCOME_REFUSED,       /* the request does not fit the target (bounds, kind of target) */
    OUTCOME_VANISHED,      /* Docker answered "no such container" during the action */
    OUTCOME_FAILED,        /* a Docker call failed */
    OUTCOME_UNSAVED,       /* the claim could not be saved, so nothing was changed */
    OUTCOME_BUSY,          /* the engine is shutting down or full: retry later */
};

#endif
