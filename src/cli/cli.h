/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cli.h: what the subcommands of dinolab-cli share. The CLI is the only place that
 * turns engine errors into exit statuses (DESIGN.md "Command line"):
 * 0 success, 1 a failure of the work, 2 bad usage or bad input.
 */
#pragma once

#include <glib.h>

#include "dinolab/hparams.h"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
};

/* Prints "dinolab-cli CMD: MESSAGE" on stderr and returns @status. */
int  cli_fail          (const char *cmd, int status, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
/* Same with a GError's message; the status is 2 for INVALID_INPUT and CORRUPT
 * errors, else @status. Frees nothing. */
int  cli_fail_error    (const char *cmd, int status, const GError *error);
/* Parses @argv with @entries (GOption prints --help itself and exits 0). On a usage
 * error prints one line, sets *@status to 2 and returns FALSE. */
gboolean cli_parse     (const char *cmd, const char *params, const char *summary,
                        const GOptionEntry *entries, int *argc, char ***argv,
                        int *status);
/* Applies --config FILE then each --set KEY=VALUE on top of @hp. */
gboolean cli_apply_overrides (DinolabHparams *hp, const char *config, char **sets, GError **error);
/* Creates @dir (and parents) if needed. */
gboolean cli_make_dir  (const char *dir, GError **error);

/* The subcommands, one per cmd-*.c file; each takes the arguments after "dinolab-cli"
 * (argv[0] is the subcommand's name) and returns the exit status. */
int cmd_train       (int argc, char **argv);
int cmd_resume      (int argc, char **argv);
int cmd_runs        (int argc, char **argv);
int cmd_knn         (int argc, char **argv);
int cmd_attention   (int argc, char **argv);
int cmd_study       (int argc, char **argv);
int cmd_crops       (int argc, char **argv);
int cmd_forward     (int argc, char **argv);
int cmd_step        (int argc, char **argv);
int cmd_bench       (int argc, char **argv);
int cmd_bench_data  (int argc, char **argv);
int cmd_bench_store (int argc, char **argv);
