/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-model.c: `forward` and `step`, the two subcommands through which anyone can
 * compare Dinolab's numbers with another implementation. Their options and output
 * files are a contract (issue #2): keep names and files exactly.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "cli.h"
#include "dinolab/error.h"
#include "dinolab/io.h"
#include "dinolab/model.h"
#include "dinolab/step.h"
#include "kernels.h"

/* Images per forward chunk: bounds the memory of `forward` for large N. */
#define FORWARD_CHUNK 16

static char *
out_path_ (const char *dir, const char *name)
{
    return g_build_filename (dir, name, NULL);
}

/* Reads a float32 .npy of @ndim dimensions; the message names the option. */
static DinolabArray *
read_f32_ (const char *path, const char *what, int ndim, GError **error)
{
    DinolabArray *a = dinolab_npy_read (path, error);

    if (a == NULL)
        return NULL;
    if (a->dtype != DINOLAB_DTYPE_F32 || a->ndim != ndim) {
        g_autofree char *shape = dinolab_shape_to_string (a->ndim, a->shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s must be float32 with %d dimensions, found %s %s", path, what, ndim,
                     a->dtype == DINOLAB_DTYPE_F32 ? "float32" : "uint8", shape);
        dinolab_array_free (a);
        return NULL;
    }
    return a;
}

// ----------------------------------------------------------------------------
// forward

int
cmd_forward (int argc, char **argv)
{
    g_autofree char *weights = NULL, *images_path = NULL, *out = NULL, *config = NULL;
    g_auto (GStrv) sets = NULL;
    int threads = -1, status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights, "Weights (safetensors)", "W.safetensors" },
        { "images", 0, 0, G_OPTION_ARG_FILENAME, &images_path, "Images, float32 N x C x H x W, normalised", "X.npy" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Folder for features.npy, attention.npy, head.npy", "DIR" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Hyperparameters (JSON) overriding the file's", "CFG.json" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one hyperparameter (repeatable)", "KEY=VALUE" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "BLAS threads (default: the threads hyperparameter)", "N" },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabSafetensors) st = NULL;
    g_autoptr (DinolabModel) model = NULL;
    g_autoptr (DinolabArray) images = NULL;
    g_autoptr (DinolabBackboneWork) work = NULL;
    g_autoptr (DinolabHeadWork) head_work = NULL;
    g_autofree float *features = NULL, *attention = NULL, *logits = NULL;
    g_auto (DinolabHparams) hp = { 0 };
    gboolean has_head = FALSE;
    int N, C, H, W, D, NH, P, K = 0, chunk;

    if (!cli_parse ("forward", "", "Runs the backbone (and the head, when the file has one) on "
                    "images and writes features.npy (N x D, CLS after the final norm), attention.npy "
                    "(N x heads x P, last-block CLS-to-patch attention) and head.npy (N x out_dim).",
                    entries, &argc, &argv, &status))
        return status;
    if (weights == NULL || images_path == NULL || out == NULL)
        return cli_fail ("forward", CLI_EXIT_USAGE, "--weights, --images and --out are required (see --help)");

    dinolab_hparams_init (&hp);
    if (!(st = dinolab_safetensors_read (weights, NULL, &error)) ||
        !dinolab_model_hparams_from_safetensors (st, &hp, &has_head, &error) ||
        !cli_apply_overrides (&hp, config, sets, &error) ||
        !(model = dinolab_model_new (&hp, has_head, &error)) ||
        !dinolab_model_load_safetensors (model, st, &error) ||
        !(images = read_f32_ (images_path, "--images", 4, &error)))
        return cli_fail_error ("forward", CLI_EXIT_USAGE, error);
    g_clear_pointer (&st, dinolab_safetensors_free);

    N = (int) images->shape[0];
    C = (int) images->shape[1];
    H = (int) images->shape[2];
    W = (int) images->shape[3];
    if (!dinolab_model_check_input (model, C, H, W, &error))
        return cli_fail ("forward", CLI_EXIT_USAGE, "%s: %s", images_path, error->message);
    if (N == 0)
        return cli_fail ("forward", CLI_EXIT_USAGE, "%s: no images", images_path);
    if (!cli_make_dir (out, &error))
        return cli_fail_error ("forward", CLI_EXIT_FAILURE, error);

    dinolab_blas_set_threads (threads >= 0 ? threads : dinolab_model_get_hparams (model)->threads);
    D = dinolab_model_get_hparams (model)->embed_dim;
    NH = dinolab_model_get_hparams (model)->num_heads;
    if (has_head)
        K = dinolab_model_get_hparams (model)->out_dim;
    chunk = MIN (N, FORWARD_CHUNK);
    work = dinolab_backbone_work_new (model, chunk, H, W, FALSE);
    P = dinolab_backbone_work_get_n_patches (work);
    features = g_new (float, (size_t) N * D);
    attention = g_new (float, (size_t) N * NH * P);
    if (has_head) {
        head_work = dinolab_head_work_new (model, chunk, FALSE);
        logits = g_new (float, (size_t) N * K);
    }

    for (int i0 = 0; i0 < N; i0 += chunk) {
        int n = MIN (chunk, N - i0);
        g_autoptr (DinolabBackboneWork) tail = NULL;
        DinolabBackboneWork *w = work;
        if (n < chunk)  /* the last, shorter chunk gets buffers of its own size */
            w = tail = dinolab_backbone_work_new (model, n, H, W, FALSE);
        dinolab_backbone_forward (model, w, (const float *) images->data + (size_t) i0 * C * H * W, NULL);
        memcpy (features + (size_t) i0 * D, dinolab_backbone_work_get_cls (w), (size_t) n * D * sizeof (float));
        dinolab_backbone_work_get_attention (w, attention + (size_t) i0 * NH * P);
        if (has_head) {
            dinolab_head_forward (model, head_work, dinolab_backbone_work_get_cls (w), n);
            memcpy (logits + (size_t) i0 * K, dinolab_head_work_get_logits (head_work),
                    (size_t) n * K * sizeof (float));
        }
    }

    {
        g_autofree char *pf = out_path_ (out, "features.npy");
        g_autofree char *pa = out_path_ (out, "attention.npy");
        g_autofree char *ph = out_path_ (out, "head.npy");
        int64_t sf[2] = { N, D }, sa[3] = { N, NH, P }, sh[2] = { N, K };
        if (!dinolab_npy_write_f32 (pf, features, 2, sf, &error) ||
            !dinolab_npy_write_f32 (pa, attention, 3, sa, &error) ||
            (has_head && !dinolab_npy_write_f32 (ph, logits, 2, sh, &error)))
            return cli_fail_error ("forward", CLI_EXIT_FAILURE, error);
    }
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// step

static gboolean
write_metrics_ (const char *path, const DinolabStepMetrics *m, GError **error)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = NULL;
    g_autofree char *text = NULL;

    json_builder_begin_object (b);
#define PUT_(key, val) (json_builder_set_member_name (b, key), json_builder_add_double_value (b, val))
    PUT_ ("loss", m->loss);
    PUT_ ("teacher_entropy", m->teacher_entropy);
    PUT_ ("kl", m->kl);
    PUT_ ("student_entropy", m->student_entropy);
    PUT_ ("lr", m->lr);
    PUT_ ("weight_decay", m->weight_decay);
    PUT_ ("momentum", m->momentum);
    PUT_ ("teacher_temp", m->teacher_temp);
    PUT_ ("grad_norm", m->grad_norm);
    PUT_ ("center_norm", m->center_norm);
#undef PUT_
    json_builder_set_member_name (b, "iteration");
    json_builder_add_int_value (b, m->iteration);
    json_builder_set_member_name (b, "epoch");
    json_builder_add_int_value (b, m->epoch);
    json_builder_end_object (b);
    root = json_builder_get_root (b);
    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    text = json_generator_to_data (gen, NULL);
    if (!g_file_set_contents (path, text, -1, NULL)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot write", path);
        return FALSE;
    }
    return TRUE;
}

int
cmd_step (int argc, char **argv)
{
    g_autofree char *config = NULL, *student_path = NULL, *teacher_path = NULL;
    g_autofree char *globals_path = NULL, *locals_path = NULL, *center_path = NULL, *out = NULL;
    g_auto (GStrv) sets = NULL;
    gint64 it = 0;
    int niter = 1, threads = -1, status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Hyperparameters (JSON): sizes, schedules, switches", "CFG.json" },
        { "student", 0, 0, G_OPTION_ARG_FILENAME, &student_path, "Student weights", "S.safetensors" },
        { "teacher", 0, 0, G_OPTION_ARG_FILENAME, &teacher_path, "Teacher weights", "T.safetensors" },
        { "globals", 0, 0, G_OPTION_ARG_FILENAME, &globals_path, "Global crops, float32 [2, B, C, H, W]", "G.npy" },
        { "locals", 0, 0, G_OPTION_ARG_FILENAME, &locals_path, "Local crops, float32 [n_local, B, C, h, w] (n_local may be 0)", "L.npy" },
        { "center", 0, 0, G_OPTION_ARG_FILENAME, &center_path, "Center before the step, [1, out_dim] or [out_dim] (default zeros)", "C.npy" },
        { "step", 0, 0, G_OPTION_ARG_INT64, &it, "Global iteration N (default 0)", "N" },
        { "steps-per-epoch", 0, 0, G_OPTION_ARG_INT, &niter, "Iterations per epoch M (default 1)", "M" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Folder for the outputs", "DIR" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one hyperparameter (repeatable)", "KEY=VALUE" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "BLAS threads (default: the threads hyperparameter)", "N" },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) student = NULL;
    g_autoptr (DinolabModel) teacher = NULL;
    g_autoptr (DinolabArray) globals = NULL;
    g_autoptr (DinolabArray) locals = NULL;
    g_autoptr (DinolabArray) center = NULL;
    g_autoptr (DinolabStepper) stepper = NULL;
    DinolabStepMetrics metrics;
    g_auto (DinolabHparams) hp = { 0 };
    int B, C, Hg, n_local = 0, Hl = 0, K;
    gboolean ok;

    if (!cli_parse ("step", "", "Runs exactly one DINO training step (schedules at iteration N, a fresh "
                    "optimizer state) and writes metrics.json, grads.safetensors (before clipping), "
                    "student.safetensors, teacher.safetensors and center.npy.",
                    entries, &argc, &argv, &status))
        return status;
    if (config == NULL || student_path == NULL || teacher_path == NULL || globals_path == NULL || out == NULL)
        return cli_fail ("step", CLI_EXIT_USAGE,
                         "--config, --student, --teacher, --globals and --out are required (see --help)");
    if (niter < 1 || it < 0)
        return cli_fail ("step", CLI_EXIT_USAGE, "--step must be >= 0 and --steps-per-epoch >= 1");

    dinolab_hparams_init (&hp);
    ok = cli_apply_overrides (&hp, config, sets, &error) &&
         (student = dinolab_model_new (&hp, TRUE, &error)) != NULL &&
         (teacher = dinolab_model_new (&hp, TRUE, &error)) != NULL &&
         dinolab_model_load_weights (student, student_path, &error) &&
         dinolab_model_load_weights (teacher, teacher_path, &error) &&
         (globals = read_f32_ (globals_path, "--globals", 5, &error)) != NULL &&
         (locals_path == NULL || (locals = read_f32_ (locals_path, "--locals", 5, &error)) != NULL);
    if (!ok)
        return cli_fail_error ("step", CLI_EXIT_USAGE, error);

    B = (int) globals->shape[1];
    C = (int) globals->shape[2];
    Hg = (int) globals->shape[3];
    K = hp.out_dim;
    if (globals->shape[0] != 2 || B < 1 || globals->shape[4] != Hg) {
        g_autofree char *s = dinolab_shape_to_string (globals->ndim, globals->shape);
        return cli_fail ("step", CLI_EXIT_USAGE, "%s: expected [2, B, C, H, H] (two square global crops), found %s",
                         globals_path, s);
    }
    if (!dinolab_model_check_input (student, C, Hg, Hg, &error))
        return cli_fail ("step", CLI_EXIT_USAGE, "%s: %s", globals_path, error->message);
    if (locals != NULL && locals->shape[0] > 0) {
        n_local = (int) locals->shape[0];
        Hl = (int) locals->shape[3];
        if (locals->shape[1] != B || locals->shape[2] != C || locals->shape[4] != Hl) {
            g_autofree char *s = dinolab_shape_to_string (locals->ndim, locals->shape);
            return cli_fail ("step", CLI_EXIT_USAGE, "%s: expected [n_local, %d, %d, h, h] (square local crops), found %s",
                             locals_path, B, C, s);
        }
    }
    if (n_local > 0 && !dinolab_model_check_input (student, C, Hl, Hl, &error))
        return cli_fail ("step", CLI_EXIT_USAGE, "%s: %s", locals_path, error->message);
    if (center_path != NULL) {
        if (!(center = dinolab_npy_read (center_path, &error)))
            return cli_fail_error ("step", CLI_EXIT_USAGE, error);
        if (center->dtype != DINOLAB_DTYPE_F32 || dinolab_array_numel (center) != K ||
            center->ndim > 2 || (center->ndim == 2 && center->shape[0] != 1)) {
            g_autofree char *s = dinolab_shape_to_string (center->ndim, center->shape);
            return cli_fail ("step", CLI_EXIT_USAGE, "%s: --center must be float32 [1, %d] or [%d], found %s",
                             center_path, K, K, s);
        }
    }

    stepper = dinolab_stepper_new (&hp, student, teacher, B, n_local, Hg, n_local > 0 ? Hl : Hg, &error);
    if (stepper == NULL)
        return cli_fail_error ("step", CLI_EXIT_USAGE, error);
    if (center != NULL)
        memcpy (dinolab_stepper_get_center (stepper), center->data, (size_t) K * sizeof (float));
    if (!cli_make_dir (out, &error))
        return cli_fail_error ("step", CLI_EXIT_FAILURE, error);

    dinolab_blas_set_threads (threads >= 0 ? threads : hp.threads);
    /* drop path, the only randomness of a step, draws from (seed, iteration) */
    if (!dinolab_stepper_forward_backward (stepper, globals->data, locals ? locals->data : NULL, it, niter,
                                           &metrics, &error))
        return cli_fail_error ("step", CLI_EXIT_FAILURE, error);
    {
        g_autofree char *pg = out_path_ (out, "grads.safetensors");
        if (!dinolab_model_save (student, dinolab_model_get_grads (student), TRUE, pg, &error))
            return cli_fail_error ("step", CLI_EXIT_FAILURE, error);
    }
    dinolab_stepper_update (stepper, &metrics);
    {
        g_autofree char *ps = out_path_ (out, "student.safetensors");
        g_autofree char *pt = out_path_ (out, "teacher.safetensors");
        g_autofree char *pc = out_path_ (out, "center.npy");
        g_autofree char *pm = out_path_ (out, "metrics.json");
        int64_t cs[2] = { 1, K };
        if (!dinolab_model_save (student, NULL, FALSE, ps, &error) ||
            !dinolab_model_save (teacher, NULL, FALSE, pt, &error) ||
            !dinolab_npy_write_f32 (pc, dinolab_stepper_get_center (stepper), 2, cs, &error) ||
            !write_metrics_ (pm, &metrics, &error))
            return cli_fail_error ("step", CLI_EXIT_FAILURE, error);
    }
    return CLI_EXIT_OK;
}
