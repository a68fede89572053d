/* clock.h: the receiver's clocks: monotonic milliseconds for durations and timeouts, wall time for
 * what is shown or stored, and absolute deadlines for pthread_cond_timedwait. */
#ifndef TRIP_CLOCK_H
#define TRIP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds: for durations and timeouts. Any thread. */
int64_t clock_mono_ms(void);
/* CLOCK_MONOTONIC in nanoseconds: for the phases of an action. Any thread. */
int64_t clock_mono_ns(void);
/* CLOCK_REALTIME in milliseconds since the epoch. Any thread. */
int64_t clock_wall_ms(void);
/* CLOCK_REALTIME in nanoseconds since the epoch (Docker's event timestamps). Any thread. */
int64_t clock_wall_ns(void);
/* *ts = CLOCK_MONOTONIC now + ms: the deadline for a condition variable whose clock attribute is
 * CLOCK_MONOTONIC. Any thread. */
void clock_deadline_in(struct timespec *ts, int64_t ms);

#endif
