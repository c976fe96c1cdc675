/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * events.h: trainer events handed from the trainer thread to the main loop, for the
 * commands that drive a DinolabTrainer (train, resume, study). The observer copies
 * each event into a locked array and queues at most one idle; the idle hands them,
 * in order, to a function on the main thread (STYLE.md section 3, item 8).
 */
#pragma once

#include <glib.h>

#include "dinolab/trainer.h"

typedef void (*CliEventFunc) (const DinolabTrainerEvent *event, gpointer data);

typedef struct CliEvents CliEvents;

/* @func runs on the thread of the default main context, once per event. */
CliEvents *cli_events_new         (CliEventFunc func, gpointer data);
/* Frees the queue; events not yet handed over are dropped. Main thread, after the
 * trainer has stopped emitting. */
void       cli_events_free        (CliEvents *events);
/* Hands over, now, whatever is queued (main thread; e.g. after the main loop quit). */
void       cli_events_flush       (CliEvents *events);
/* Any thread; never waits for the main loop (a DinolabTrainerObserver). */
void       cli_events_push        (const DinolabTrainerEvent *event, gpointer events);
/* TRUE for the one status event that ends a run (finished, stopped, diverged, failed). */
gboolean   cli_event_is_terminal  (const DinolabTrainerEvent *event);
