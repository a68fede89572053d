/* ts_swarm.h: a single-node Docker swarm for the tests that need one, and their services; the
 * machine is left as it was found. */
#ifndef TRIP_TS_SWARM_H
#define TRIP_TS_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * ts_swarm_begin() makes this node a swarm manager: when `docker info` says the swarm is not
 * active it runs `docker swarm init --advertise-addr 127.0.0.1` and remembers that it did;
 * ts_swarm_end() then leaves it (--force), and only then. A swarm found active is used as is and
 * left active. Services are named "<ts_docker_prefix()>svc-..." (so their task containers carry
 * that prefix too), labelled trip.test=1, and removed by ts_swarm_cleanup(), which touches no other
 * service. tests/CMakeLists.txt gives every test named *swarm* the ctest RESOURCE_LOCK "swarm".
 * Not thread-safe.
 */

/* True when `docker info` says Swarm.LocalNodeState is "active". */
bool ts_swarm_active(void);
/* Returns 0 with this node a swarm manager (initialising the swarm when inactive), -1 on failure
 * (the CLI's message on stderr). Idempotent. Registers ts_swarm_end() with atexit(). */
int ts_swarm_begin(void);
/* True when ts_swarm_begin() initialised the swarm (it was inactive before). */
bool ts_swarm_initialised_here(void);
/* Removes this process's services, then leaves the swarm if ts_swarm_begin() initialised it.
 * Idempotent. */
void ts_swarm_end(void);

/* `docker service create -d --no-resolve-image --name <name> --label trip.test=1
 * --container-label trip.test=1 <opts...> <ts_test_image()>` where opts is NULL-terminated. The
 * service id goes to id (len >= 32). name comes from ts_swarm_name(). Returns the CLI's exit
 * status. */
int ts_swarm_service_create(char *id, size_t len, const char *name, ...);
/* "<ts_docker_prefix()>svc-<what>-<n>" into buf. Returns buf. */
char *ts_swarm_name(char *buf, size_t len, const char *what);
struct docker_client;
/* Polls the service's tasks (docker_service_tasks) until `want` are desired and running, at most
 * timeout_ms. Returns the ms waited, or -1 (the counts last seen and any error on stderr). */
int64_t ts_swarm_wait_running(struct docker_client *c, const char *id, int want, int timeout_ms);
/* `docker service rm` of every service whose name starts with ts_docker_prefix(). */
void ts_swarm_cleanup(void);

#endif
