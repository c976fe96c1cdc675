/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * main.c: dinolab-cli, the headless front end of the engine. This file dispatches
 * subcommands and holds what they share (option parsing, error reporting, exit
 * statuses); each subcommand lives in a cmd-*.c file.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dinolab/error.h"

typedef struct {
    const char *name;
    int (*run) (int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    { "train",   cmd_train,   "train a DINO model and store the run" },
    { "resume",  cmd_resume,  "continue a stopped or interrupted run from its last checkpoint" },
    { "runs",    cmd_runs,    "list, show, compare, rename, tag, note, delete and export stored runs" },
    { "knn",     cmd_knn,     "weighted k-NN accuracy of a run or weight file, beside raw pixels and a random ViT" },
    { "attention", cmd_attention, "last-block attention maps and threshold masks of one image, as PNGs and .npy" },
    { "study",   cmd_study,   "the paper's Fig. 7 collapse study: three runs, a table and a two-panel figure" },
    { "crops",   cmd_crops,   "contact sheet (PNG) of one item and every multi-crop view made of it" },
    { "forward", cmd_forward, "features, last-block attention and head outputs of a weight file" },
    { "step",    cmd_step,    "one training step from given weights and crops, with every output written" },
    { "bench",   cmd_bench,   "speed and memory of full training steps against this machine's sgemm ceiling" },
    { "bench-data", cmd_bench_data, "loader throughput on 1 and N threads beside one core's training step" },
    { "bench-store", cmd_bench_store, "run store speed: open and list 1,000 runs, write and read 100k-point series" },
};

int
cli_fail (const char *cmd, int status, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start (ap, fmt);
    msg = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    g_printerr ("dinolab-cli %s: %s\n", cmd, msg);
    return status;
}

int
cli_fail_error (const char *cmd, int status, const GError *error)
{
    if (error->domain == DINOLAB_ERROR &&
        (error->code == DINOLAB_ERROR_INVALID_INPUT || error->code == DINOLAB_ERROR_CORRUPT))
        status = CLI_EXIT_USAGE;
    return cli_fail (cmd, status, "%s", error->message);
}

gboolean
cli_parse (const char *cmd, const char *params, const char *summary,
           const GOptionEntry *entries, int *argc, char ***argv, int *status)
{
    g_autoptr (GOptionContext) ctx = g_option_context_new (params);
    g_autoptr (GError) error = NULL;
    g_autofree char *prgname = g_strdup_printf ("dinolab-cli %s", cmd);

    g_set_prgname (prgname);
    g_option_context_set_summary (ctx, summary);
    g_option_context_add_main_entries (ctx, entries, NULL);
    if (!g_option_context_parse (ctx, argc, argv, &error)) {
        *status = cli_fail (cmd, CLI_EXIT_USAGE, "%s (see --help)", error->message);
        return FALSE;
    }
    if (*argc > 1) {
        *status = cli_fail (cmd, CLI_EXIT_USAGE, "unexpected argument '%s' (see --help)", (*argv)[1]);
        return FALSE;
    }
    return TRUE;
}

gboolean
cli_apply_overrides (DinolabHparams *hp, const char *config, char **sets, GError **error)
{
    if (config != NULL && !dinolab_hparams_load_file (hp, config, error))
        return FALSE;
    for (char **s = sets; s != NULL && *s != NULL; s++)
        if (!dinolab_hparams_set_assignment (hp, *s, error))
            return FALSE;
    return TRUE;
}

gboolean
cli_make_dir (const char *dir, GError **error)
{
    if (g_mkdir_with_parents (dir, 0755) != 0) {
        int e = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot create folder: %s",
                     dir, g_strerror (e));
        return FALSE;
    }
    return TRUE;
}

static void
print_usage (FILE *out)
{
    fprintf (out, "Usage: dinolab-cli COMMAND [OPTION...]\n\n"
                  "DINO self-supervised vision transformers on the CPU.\n\nCommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
        fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf (out, "\nRun 'dinolab-cli COMMAND --help' for the options of a command.\n");
}

int
main (int argc, char **argv)
{
    setlocale (LC_ALL, "");
    /* numbers in JSON and on the command line always use a '.' */
    setlocale (LC_NUMERIC, "C");

    if (argc < 2) {
        print_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0) {
        print_usage (stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp (argv[1], "--version") == 0) {
        printf ("dinolab-cli %s\n", PACKAGE_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
        if (strcmp (argv[1], commands[i].name) == 0)
            return commands[i].run (argc - 1, argv + 1);

    g_printerr ("dinolab-cli: unknown command '%s'\n", argv[1]);
    print_usage (stderr);
    return CLI_EXIT_USAGE;
}
