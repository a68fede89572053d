/* broker.h: the privileged process's side of privilege separation: reads the intents the HTTP
 * process sends (ipc.h), checks each again, acts through the engine and answers. */
#ifndef TRIP_BROKER_H
#define TRIP_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "engine.h"
#include "ipc.h"
#include "metrics.h"

/*
 * DESIGN
 * One reader thread per channel: it reads an intent, decodes it (ipc_decode_intent), re-checks it
 * (broker_check: the enums in range, container names of Docker's form, bounds), answers it from
 * the engine's copy-out accessors or queues a job, and writes the reply. Manual jobs are answered
 * from the engine worker that ends them (their done callback). Writes are serialized by `wlock`.
 * The engine checks opt-in, maintenance, the target's identity and the scaling bounds itself, as
 * for every job. A malformed or refused intent ends the channel (the HTTP process no longer
 * speaks the protocol): logged, the socket shut down; the HTTP process exits on it.
 */

struct broker;

/* Starts the reader thread on fd (owned by the broker from now on) and sends IPC_START. cfg, e
 * and m must outlive the broker. Returns NULL when out of memory or a thread cannot start. */
struct broker *broker_start(const struct config *cfg, struct engine *e, struct metrics *m, int fd);
/* Asks the HTTP process to stop accepting connections (shutting down). */
void broker_quiesce(struct broker *b);
/* Shuts the channel down (the HTTP process sees it closed) and joins the reader. Call after
 * engine_stop(), so every job's reply went out first. Idempotent. */
void broker_stop(struct broker *b);
/* Stops if needed and frees. NULL-safe. */
void broker_free(struct broker *b);

/* The privileged process's re-check of a decoded intent: 0 when it may be acted on, else -1 with
 * why in why (size bytes). Pure. */
int broker_check(const struct ipc_intent *in, char *why, size_t size);

#endif
