/* svc_rand.h: the fixed pseudo-random sequence the demo data sets are drawn from (splitmix64),
 * so every first start loads the same data. Pure. */
#ifndef SVC_RAND_H
#define SVC_RAND_H

#include <stdint.h>

static inline uint64_t svc_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A double in [0, 1). */
static inline double svc_rand_unit(uint64_t *state)
{
    return (double)(svc_rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* An integer in [0, n). */
static inline uint64_t svc_rand_below(uint64_t *state, uint64_t n)
{
    return svc_rand_next(state) % n;
}

#endif
