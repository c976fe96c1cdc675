/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-bench.c: `dinolab-cli bench`, the speed and memory figures of full DINO
 * training steps (teacher forward on the globals, student forward and backward on
 * every crop, loss, clipping, optimizer, EMA, center; data from the real loader).
 * It prints figures and never asserts: machines here are shared and noisy, so
 * compare the ratio to the sgemm ceiling it measures in the same run.
 */
#include "config.h"

#include <cblas.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/io.h"
#include "dinolab/step.h"
#include "kernels.h"

typedef struct {
    const char *name;
    const char *summary;
    const char *settings;   /* --set assignments on top of the reference defaults */
} BenchConfig;

/* The configurations of the performance issue: two small ViTs on 28 x 28 x 1 crops,
 * and ViT-S/16 with the reference head at the reference crop sizes. */
static const BenchConfig configs[] = {
    { "tiny", "28x28x1, patch 4, D 192, depth 6, 3 heads, head 512/128/4096, 2x28 + 6x12 crops, batch 64",
      "dataset=fashion-mnist in_chans=1 img_size=28 global_crop_size=28 local_crop_size=12 patch_size=4 "
      "embed_dim=192 depth=6 num_heads=3 head_hidden_dim=512 bottleneck_dim=128 out_dim=4096 "
      "local_crops_number=6 batch_size_per_gpu=64" },
    { "small", "as tiny with D 384, 6 heads",
      "dataset=fashion-mnist in_chans=1 img_size=28 global_crop_size=28 local_crop_size=12 patch_size=4 "
      "embed_dim=384 depth=6 num_heads=6 head_hidden_dim=512 bottleneck_dim=128 out_dim=4096 "
      "local_crops_number=6 batch_size_per_gpu=64" },
    { "vit-s16", "ViT-S/16, head 2048/256/65536, 2x224 + 8x96 crops, batch 16",
      "arch=vit_small patch_size=16 img_size=224 global_crop_size=224 local_crop_size=96 "
      "local_crops_number=8 batch_size_per_gpu=16" },
};

static double
now_ (void)
{
    return g_get_monotonic_time () * 1e-6;
}

static int
compare_double_ (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double
median_ (double *v, int n)
{
    qsort (v, n, sizeof *v, compare_double_);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The ceiling: square 2048 products at the thread count of the run, best of three. */
static double
sgemm_peak_gflops_ (void)
{
    const int n = 2048;
    float *a = g_new (float, (size_t) n * n), *b = g_new (float, (size_t) n * n), *c = g_new (float, (size_t) n * n);
    double best = 0.0;

    for (size_t i = 0; i < (size_t) n * n; i++) {
        a[i] = (float) (i % 7) * 0.1f;
        b[i] = (float) (i % 5) * 0.1f;
    }
    matmul_gemm (c, n, a, n, b, n, 0, 0, n, n, n, 1.0f, 0.0f);   /* warm-up */
    for (int r = 0; r < 3; r++) {
        double t0 = now_ ();
        matmul_gemm (c, n, a, n, b, n, 0, 0, n, n, n, 1.0f, 0.0f);
        best = MAX (best, 2.0 * n * n * n / (now_ () - t0) * 1e-9);
    }
    g_free (a);
    g_free (b);
    g_free (c);
    return best;
}

/* Peak resident memory of this configuration: the kernel's high-water mark, reset
 * before each configuration through /proc/self/clear_refs (Linux >= 4.0). */
static void
reset_peak_rss_ (void)
{
    g_file_set_contents ("/proc/self/clear_refs", "5", 1, NULL);
}

static double
peak_rss_mb_ (void)
{
    g_autofree char *status = NULL;
    const char *line;

    if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
        !(line = strstr (status, "VmHWM:")))
        return 0.0;
    return g_ascii_strtod (line + 6, NULL) / 1024.0;
}

/* A synthetic RGB dataset for configurations without a real one (ImageNet is not
 * here): random 64 x 64 images in a temp folder, read through the npy dataset. */
static char *
synthetic_rgb_spec_ (const char *dir, int n, GError **error)
{
    int64_t shape[4] = { n, 64, 64, 3 };
    g_autoptr (DinolabArray) a = dinolab_array_new (DINOLAB_DTYPE_U8, 4, shape);
    g_autofree char *path = g_build_filename (dir, "images.npy", NULL);
    guint8 *p = a->data;
    GRand *r = g_rand_new_with_seed (1);

    for (int64_t i = 0; i < dinolab_array_numel (a); i++)
        p[i] = (guint8) g_rand_int_range (r, 0, 256);
    g_rand_free (r);
    if (!dinolab_npy_write (path, a, error))
        return NULL;
    return g_strconcat ("npy:", path, NULL);
}

typedef struct {
    double images_per_s, crops_per_s, gflop_per_s, peak_rss_mb, step_s;
    double teacher_s, student_s, backward_s, update_s, loader_s;
    int batch, crops;
} BenchResult;

static gboolean
bench_config_ (const BenchConfig *cfg, int threads, int steps, int warmup, const char *tmpdir,
               BenchResult *res, GError **error)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (GStrv) sets = g_strsplit (cfg->settings, " ", -1);
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabLoader) loader = NULL;
    g_autoptr (DinolabModel) student = NULL;
    g_autoptr (DinolabModel) teacher = NULL;
    g_autoptr (DinolabStepper) stepper = NULL;
    g_autofree double *t_step = g_new0 (double, steps), *t_teacher = g_new0 (double, steps);
    g_autofree double *t_student = g_new0 (double, steps), *t_back = g_new0 (double, steps);
    g_autofree double *t_update = g_new0 (double, steps), *t_loader = g_new0 (double, steps);
    float mean[3], std[3];
    double flops_per_step;
    int B, n_local, G, L;

    reset_peak_rss_ ();
    dinolab_hparams_init (&hp);
    if (!cli_apply_overrides (&hp, NULL, sets, error))
        return FALSE;
    hp.threads = threads;   /* the step's lanes, as many as the BLAS threads of the ceiling */
    if (hp.in_chans == 3 || !(ds = dinolab_dataset_open (hp.dataset, DINOLAB_SPLIT_TRAIN, NULL))) {
        g_autofree char *spec = synthetic_rgb_spec_ (tmpdir, 4 * hp.batch_size_per_gpu, error);
        if (spec == NULL || !dinolab_hparams_set (&hp, "dataset", spec, error))
            return FALSE;
        if (!(ds = dinolab_dataset_open (spec, DINOLAB_SPLIT_TRAIN, error)))
            return FALSE;
        if (!dinolab_hparams_set (&hp, "in_chans", "3", error))
            return FALSE;
    }
    if (!dinolab_dataset_get_normalization (ds, mean, std, error) ||
        !(loader = dinolab_loader_new (ds, &hp, mean, std, 1, error)) ||
        !(student = dinolab_model_new (&hp, TRUE, error)) ||
        !(teacher = dinolab_model_new (&hp, TRUE, error)))
        return FALSE;
    dinolab_model_init_random (student, hp.seed);
    dinolab_model_copy_params (teacher, student);
    B = hp.batch_size_per_gpu;
    n_local = hp.local_crops_number;
    G = hp.global_crop_size;
    L = hp.local_crop_size;
    if (!(stepper = dinolab_stepper_new (&hp, student, teacher, B, n_local, G, L, error)))
        return FALSE;

    for (int i = 0; i < warmup + steps; i++) {
        DinolabStepMetrics m;
        double t0 = now_ ();
        const DinolabBatch *batch = dinolab_loader_next (loader, NULL, error);
        if (batch == NULL)
            return FALSE;
        if (!dinolab_stepper_run (stepper, batch->globals, batch->locals, i,
                                  dinolab_loader_get_steps_per_epoch (loader), &m, error))
            return FALSE;
        if (i >= warmup) {
            int j = i - warmup;
            t_step[j] = now_ () - t0;
            t_teacher[j] = m.time_teacher;
            t_student[j] = m.time_student;
            t_back[j] = m.time_backward;
            t_update[j] = m.time_update;
            t_loader[j] = dinolab_loader_get_last_wait (loader);
        }
    }

    /* teacher: 2 globals; student: 2 globals + n_local locals and V head rows,
     * forward plus a backward that costs twice the forward */
    flops_per_step = B * (2.0 * dinolab_model_count_flops (teacher, G, G, TRUE)
                          + 3.0 * (2.0 * dinolab_model_count_flops (student, G, G, TRUE)
                                   + n_local * dinolab_model_count_flops (student, L, L, TRUE)));
    res->batch = B;
    res->crops = B * (2 + n_local);
    res->step_s = median_ (t_step, steps);
    res->images_per_s = B / res->step_s;
    res->crops_per_s = res->crops / res->step_s;
    res->gflop_per_s = flops_per_step / res->step_s * 1e-9;
    res->teacher_s = median_ (t_teacher, steps);
    res->student_s = median_ (t_student, steps);
    res->backward_s = median_ (t_back, steps);
    res->update_s = median_ (t_update, steps);
    res->loader_s = median_ (t_loader, steps);
    res->peak_rss_mb = peak_rss_mb_ ();
    return TRUE;
}

int
cmd_bench (int argc, char **argv)
{
    g_autofree char *only = NULL;
    int threads = 2, steps = 5, warmup = 2, status = CLI_EXIT_OK;
    gboolean json = FALSE;
    const GOptionEntry entries[] = {
        { "config", 0, 0, G_OPTION_ARG_STRING, &only, "Run one configuration: tiny, small or vit-s16", "NAME" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (BLAS and the step; default 2)", "N" },
        { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Measured steps per configuration (default 5)", "N" },
        { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "Warm-up steps (default 2)", "N" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per configuration", NULL },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_autofree char *tmpdir = NULL;
    double peak;
    gboolean found = FALSE;

    if (!cli_parse ("bench", "", "Times full DINO training steps (data from the real loader) and prints "
                    "images/s, crops/s, achieved GFLOP/s (matrix products counted analytically), the sgemm "
                    "ceiling measured in the same run, their ratio, peak memory and the time per phase. "
                    "Configurations: tiny, small, vit-s16.", entries, &argc, &argv, &status))
        return status;
    if (threads < 1 || steps < 1 || warmup < 0)
        return cli_fail ("bench", CLI_EXIT_USAGE, "--threads and --steps must be >= 1, --warmup >= 0");
    for (size_t i = 0; i < G_N_ELEMENTS (configs); i++)
        found |= only == NULL || strcmp (only, configs[i].name) == 0;
    if (!found)
        return cli_fail ("bench", CLI_EXIT_USAGE, "unknown configuration '%s' (tiny, small, vit-s16)", only);

    dinolab_blas_set_threads (threads);
    tmpdir = g_dir_make_tmp ("dinolab-bench-XXXXXX", NULL);
    peak = sgemm_peak_gflops_ ();
    if (!json)
        printf ("sgemm ceiling (2048^3, %d thread%s): %.1f GFLOP/s\n\n", threads, threads > 1 ? "s" : "", peak);

    for (size_t i = 0; i < G_N_ELEMENTS (configs); i++) {
        const BenchConfig *cfg = &configs[i];
        BenchResult r = { 0 };

        if (only != NULL && strcmp (only, cfg->name) != 0)
            continue;
        if (!bench_config_ (cfg, threads, steps, warmup, tmpdir, &r, &error))
            return cli_fail ("bench", CLI_EXIT_FAILURE, "%s: %s", cfg->name, error->message);
        /* A shared machine's ceiling moves by 5-10 % from one measurement to the next
         * while the steps' median hardly does; measured again after the steps, the higher
         * one is the ceiling, so one slow measurement cannot flatter the ratio. */
        peak = MAX (peak, sgemm_peak_gflops_ ());
        if (json) {
            printf ("{\"name\": \"%s\", \"threads\": %d, \"batch\": %d, \"images_per_s\": %.2f, "
                    "\"crops_per_s\": %.1f, \"gflop_per_s\": %.2f, \"sgemm_peak_gflop_per_s\": %.2f, "
                    "\"ratio\": %.3f, \"peak_rss_mb\": %.1f, \"step_ms\": %.1f, \"teacher_ms\": %.1f, "
                    "\"student_forward_ms\": %.1f, \"backward_ms\": %.1f, \"optimizer_ema_ms\": %.1f, "
                    "\"loader_wait_ms\": %.1f}\n",
                    cfg->name, threads, r.batch, r.images_per_s, r.crops_per_s, r.gflop_per_s, peak,
                    r.gflop_per_s / peak, r.peak_rss_mb, r.step_s * 1e3, r.teacher_s * 1e3,
                    r.student_s * 1e3, r.backward_s * 1e3, r.update_s * 1e3, r.loader_s * 1e3);
        } else {
            printf ("%s: %s\n", cfg->name, cfg->summary);
            printf ("  %.1f images/s, %.0f crops/s, %.1f GFLOP/s = %.0f %% of the sgemm ceiling (%.1f, the higher "
                    "of before and after), peak memory %.0f MB\n", r.images_per_s, r.crops_per_s, r.gflop_per_s,
                    100.0 * r.gflop_per_s / peak, peak, r.peak_rss_mb);
            printf ("  step %.0f ms (median of %d): teacher forward %.0f, student forward %.0f, backward %.0f, "
                    "optimizer+EMA %.0f, loader wait %.0f\n\n",
                    r.step_s * 1e3, steps, r.teacher_s * 1e3, r.student_s * 1e3, r.backward_s * 1e3,
                    r.update_s * 1e3, r.loader_s * 1e3);
        }
        fflush (stdout);
    }
    {
        g_autofree char *npy = g_build_filename (tmpdir, "images.npy", NULL);
        g_unlink (npy);
        g_rmdir (tmpdir);
    }
    return CLI_EXIT_OK;
}
