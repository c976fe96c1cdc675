/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * progress.h: how `train` and `resume` show a run as it goes, from the trainer's
 * events (trainer.h). Three forms:
 *   BAR    a terminal: one status line redrawn in place at most 4 times a second
 *          (epoch, step/steps, loss, h(P_t), KL, last k-NN, img/s, ETA), with
 *          evaluations, checkpoints and warnings printed as lines above it;
 *   PLAIN  a pipe or file: one line every N steps (a tenth of an epoch, at most 100
 *          steps apart) and one per evaluation, checkpoint, status change and warning;
 *   JSON   --json: one JSON object per event, one per line, every event.
 * Lines go to standard output; warnings and errors to standard error (JSON mode: all on
 * standard output, as objects). Not thread-safe: call it from the main thread only.
 */
#pragma once

#include <glib.h>

#include "dinolab/trainer.h"

typedef enum {
    CLI_PROGRESS_BAR,
    CLI_PROGRESS_PLAIN,
    CLI_PROGRESS_JSON,
} CliProgressMode;

typedef struct CliProgress CliProgress;

/* The mode for standard output: JSON when @json, BAR on a terminal, else PLAIN. */
CliProgressMode cli_progress_pick_mode (gboolean json);

CliProgress *cli_progress_new       (CliProgressMode mode);
/* Ends the bar line (if drawn) and frees. NULL-safe. */
void         cli_progress_free      (CliProgress *progress);

/* Names the run in the first lines (@name may be NULL). Strings are copied. */
void         cli_progress_set_run   (CliProgress *progress,
                                     const char  *uuid,
                                     const char  *name);

/* Shows one event (main thread). */
void         cli_progress_event     (CliProgress               *progress,
                                     const DinolabTrainerEvent *event);

/* Prints a message line for a person (on standard error; above the bar in BAR mode;
 * as {"event": "message", "text": ...} in JSON mode). */
void         cli_progress_message   (CliProgress *progress,
                                     const char  *fmt,
                                     ...) G_GNUC_PRINTF (2, 3);

/* The last k-NN top-1 shown, or NAN. */
double       cli_progress_get_last_knn (CliProgress *progress);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliProgress, cli_progress_free)
