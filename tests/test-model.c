/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-model.c: the whole network (ViT backbone + DINO head) and the DINO loss,
 * backward against central finite differences of the loss, through one training
 * step's forward (teacher, student on global and interpolated local crops, head,
 * loss). Also: the tensor table (names, shapes, decay groups, the reference's
 * parameter counts), weight files round trip, and the attention read-out.
 *
 * Tolerance: the forward runs in float32 while the loss sums in double; with
 * eps = 1e-3 the difference quotient carries ~1e-4 absolute noise, so a gradient
 * entry passes when |fd - analytic| <= 2e-3 + 2e-2 * |fd|. A wrong backward (a
 * missing term, a transposed product) misses by far more than that.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "dinolab/error.h"
#include "dinolab/io.h"
#include "dinolab/model.h"
#include "dinolab/step.h"
#include "test-util.h"

static void
set_ (DinolabHparams *hp, const char *key, const char *value)
{
    g_autoptr (GError) error = NULL;
    gboolean ok = dinolab_hparams_set (hp, key, value, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
}

static void
tiny_hparams_ (DinolabHparams *hp)
{
    dinolab_hparams_init (hp);
    set_ (hp, "patch_size", "4");
    set_ (hp, "img_size", "12");
    set_ (hp, "global_crop_size", "12");
    set_ (hp, "local_crop_size", "8");
    set_ (hp, "in_chans", "2");
    set_ (hp, "embed_dim", "16");
    set_ (hp, "depth", "2");
    set_ (hp, "num_heads", "2");
    set_ (hp, "out_dim", "32");
    set_ (hp, "head_hidden_dim", "24");
    set_ (hp, "bottleneck_dim", "8");
    set_ (hp, "drop_path_rate", "0");
    set_ (hp, "warmup_teacher_temp", "0.07");
    set_ (hp, "teacher_temp", "0.07");
}

/* Weights far from the init scale, so attention is not uniform and every path carries gradient. */
static void
scramble_ (DinolabModel *m, guint32 seed)
{
    const DinolabParamTable *t = dinolab_model_get_table (m);
    float *p = dinolab_model_get_params (m);
    GRand *r = g_rand_new_with_seed (seed);

    for (guint i = 0; i < t->n; i++) {
        const DinolabParamInfo *e = &t->info[i];
        gboolean is_scale = e->ndim == 1 && g_str_has_suffix (e->name, ".weight");
        for (size_t j = 0; j < e->numel; j++) {
            double noise = g_rand_double_range (r, -1.0, 1.0);
            if (strcmp (e->name, "head.last_layer.weight_g") == 0)
                p[e->offset + j] = (float) (1.0 + 0.3 * noise);
            else if (is_scale)
                p[e->offset + j] = (float) (1.0 + 0.2 * noise);
            else
                p[e->offset + j] = (float) (0.4 * noise);
        }
    }
    g_rand_free (r);
}

typedef struct {
    DinolabModel *student, *teacher;
    DinolabStepper *stepper;
    float *globals, *locals;
} Fixture;

static double
loss_at_ (Fixture *f)
{
    DinolabStepMetrics m;
    g_autoptr (GError) error = NULL;

    /* drop path draws from (seed, iteration): the same masks at every evaluation */
    g_assert_true (dinolab_stepper_forward_backward (f->stepper, f->globals, f->locals, 3, 2, &m, &error));
    g_assert_no_error (error);
    return m.loss;
}

static void
check_gradients_ (const char *nlayers, gboolean norm_last_layer, const char *drop_path)
{
    g_auto (DinolabHparams) hp = { 0 };
    Fixture f = { 0 };
    const DinolabParamTable *t;
    float *p, *grads_copy;
    GRand *r = g_rand_new_with_seed (11);
    int B = 2, n_local = 2, C = 2;
    guint checked = 0, failed = 0;
    double worst = 0.0;
    g_autoptr (GError) error = NULL;

    tiny_hparams_ (&hp);
    set_ (&hp, "head_nlayers", nlayers);
    set_ (&hp, "norm_last_layer", norm_last_layer ? "true" : "false");
    set_ (&hp, "drop_path_rate", drop_path);

    f.student = dinolab_model_new (&hp, TRUE, &error);
    g_assert_no_error (error);
    f.teacher = dinolab_model_new (&hp, TRUE, &error);
    dinolab_model_init_random (f.student, 1);
    scramble_ (f.student, 2);
    dinolab_model_init_random (f.teacher, 3);
    scramble_ (f.teacher, 4);
    f.stepper = dinolab_stepper_new (&hp, f.student, f.teacher, B, n_local, 12, 8, &error);
    g_assert_no_error (error);
    fill_uniform (dinolab_stepper_get_center (f.stepper), 32, 5, 0.3f);
    f.globals = g_new (float, 2 * B * C * 12 * 12);
    f.locals = g_new (float, n_local * B * C * 8 * 8);
    fill_uniform (f.globals, 2 * B * C * 12 * 12, 6, 1.5f);
    fill_uniform (f.locals, n_local * B * C * 8 * 8, 7, 1.5f);

    loss_at_ (&f);
    t = dinolab_model_get_table (f.student);
    p = dinolab_model_get_params (f.student);
    grads_copy = g_memdup2 (dinolab_model_get_grads (f.student), t->total * sizeof (float));

    for (guint i = 0; i < t->n; i++) {
        const DinolabParamInfo *e = &t->info[i];
        double tensor_norm = 0.0;
        for (size_t j = 0; j < e->numel; j++)
            tensor_norm += (double) grads_copy[e->offset + j] * grads_copy[e->offset + j];
        if (e->flags & DINOLAB_PARAM_FROZEN)
            continue;
        /* every trainable tensor gets a gradient (drop path may zero a branch for a sample, not all) */
        g_assert_cmpfloat (tensor_norm, >, 0.0);
        for (int k = 0; k < 4; k++) {
            size_t j = e->offset + (size_t) g_rand_int_range (r, 0, (gint32) e->numel);
            float saved = p[j];
            double eps = 1e-3, lp, lm, fd, an = grads_copy[j], err;
            p[j] = saved + (float) eps;
            lp = loss_at_ (&f);
            p[j] = saved - (float) eps;
            lm = loss_at_ (&f);
            p[j] = saved;
            fd = (lp - lm) / (((double) (saved + (float) eps)) - ((double) (saved - (float) eps)));
            err = fabs (fd - an);
            checked++;
            worst = MAX (worst, err / (2e-3 + 2e-2 * fabs (fd)));
            if (err > 2e-3 + 2e-2 * fabs (fd)) {
                failed++;
                g_test_message ("%s[%zu]: analytic %.6g, finite difference %.6g", e->name, j - e->offset, an, fd);
            }
        }
    }
    g_test_message ("head_nlayers %s, norm_last_layer %d, drop_path %s: %u entries checked, %u outside tolerance, "
                    "worst error / tolerance = %.3f", nlayers, norm_last_layer, drop_path, checked, failed, worst);
    g_assert_cmpuint (failed, ==, 0);

    g_free (grads_copy);
    g_free (f.globals);
    g_free (f.locals);
    dinolab_stepper_free (f.stepper);
    dinolab_model_free (f.student);
    dinolab_model_free (f.teacher);
    g_rand_free (r);
}

static void
test_gradients_default (void)
{
    check_gradients_ ("3", TRUE, "0");
}

static void
test_gradients_trainable_g (void)
{
    check_gradients_ ("2", FALSE, "0");
}

static void
test_gradients_drop_path (void)
{
    check_gradients_ ("1", TRUE, "0.4");
}

/* Splitting the batch across threads changes only the order of float sums: loss,
 * gradients and (with drop path) the masks agree across thread counts, and one thread
 * count gives the same bits twice. */
static void
test_lanes_agree (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) student = NULL;
    g_autoptr (DinolabModel) teacher = NULL;
    int B = 5, n_local = 2, C = 2;
    float *globals = g_new (float, 2 * B * C * 12 * 12), *locals = g_new (float, n_local * B * C * 8 * 8);
    g_autofree float *ref = NULL, *two = NULL;
    size_t total;
    double ref_loss = 0.0, two_loss = 0.0;
    const char *threads[] = { "1", "2", "3", "2" };

    tiny_hparams_ (&hp);
    set_ (&hp, "drop_path_rate", "0.3");
    student = dinolab_model_new (&hp, TRUE, &error);
    teacher = dinolab_model_new (&hp, TRUE, &error);
    dinolab_model_init_random (student, 1);
    scramble_ (student, 2);
    dinolab_model_init_random (teacher, 3);
    scramble_ (teacher, 4);
    fill_uniform (globals, 2 * B * C * 12 * 12, 6, 1.5f);
    fill_uniform (locals, n_local * B * C * 8 * 8, 7, 1.5f);
    total = dinolab_model_get_table (student)->total;

    for (guint t = 0; t < G_N_ELEMENTS (threads); t++) {
        g_autoptr (DinolabStepper) st = NULL;
        DinolabStepMetrics m;
        set_ (&hp, "threads", threads[t]);
        st = dinolab_stepper_new (&hp, student, teacher, B, n_local, 12, 8, &error);
        g_assert_no_error (error);
        g_assert_cmpint (dinolab_stepper_get_n_threads (st), ==, atoi (threads[t]));
        g_assert_true (dinolab_stepper_forward_backward (st, globals, locals, 4, 3, &m, &error));
        if (t == 0) {
            ref = g_memdup2 (dinolab_model_get_grads (student), total * sizeof (float));
            ref_loss = m.loss;
            continue;
        }
        g_test_message ("threads %s: loss %.9g vs %.9g with 1 thread", threads[t], m.loss, ref_loss);
        g_assert_cmpfloat (fabs (m.loss - ref_loss), <, 1e-5 * fabs (ref_loss));
        assert_tensor ("gradients vs 1 thread", dinolab_model_get_grads (student), ref, total, 1e-4);
        if (t == 1) {
            two = g_memdup2 (dinolab_model_get_grads (student), total * sizeof (float));
            two_loss = m.loss;
        } else if (t == 3) {
            /* two threads again: exactly the bits of the first two-thread step */
            g_assert_cmpfloat (m.loss, ==, two_loss);
            g_assert_cmpmem (dinolab_model_get_grads (student), total * sizeof (float), two, total * sizeof (float));
        }
    }
    g_free (globals);
    g_free (locals);
}

/* The reference's parameter counts (DINO.md 1.1 and 2): ViT-S/16 = 21,665,664 and
 * ViT-B/16 = 85,798,656 backbone parameters; the K = 65536 head adds 22.35M on ViT-S. */
static void
test_table_counts (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) s16 = NULL;
    g_autoptr (DinolabModel) b16 = NULL;
    g_autoptr (DinolabModel) s16h = NULL;
    const DinolabParamTable *t;
    const DinolabParamInfo *e;

    dinolab_hparams_init (&hp);
    set_ (&hp, "arch", "vit_small");
    s16 = dinolab_model_new (&hp, FALSE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (dinolab_model_get_table (s16)->total, ==, 21665664);
    s16h = dinolab_model_new (&hp, TRUE, &error);
    t = dinolab_model_get_table (s16h);
    g_assert_cmpfloat (fabs ((double) (t->total - 21665664) / 1e6 - 22.35), <, 0.01);

    /* names, shapes and decay groups come from the one table */
    e = dinolab_param_table_lookup (t, "pos_embed");
    g_assert_nonnull (e);
    g_assert_cmpint (e->shape[1], ==, 197);
    g_assert_true (e->flags & DINOLAB_PARAM_DECAY);           /* cls_token/pos_embed are decayed */
    e = dinolab_param_table_lookup (t, "blocks.11.attn.qkv.weight");
    g_assert_nonnull (e);
    g_assert_cmpint (e->shape[0], ==, 1152);
    g_assert_true (e->flags & DINOLAB_PARAM_DECAY);
    g_assert_false (dinolab_param_table_lookup (t, "blocks.11.attn.qkv.bias")->flags & DINOLAB_PARAM_DECAY);
    g_assert_false (dinolab_param_table_lookup (t, "norm.weight")->flags & DINOLAB_PARAM_DECAY);
    e = dinolab_param_table_lookup (t, "head.last_layer.weight_g");
    g_assert_true (e->flags & DINOLAB_PARAM_FROZEN);
    g_assert_true (e->flags & DINOLAB_PARAM_LAST_LAYER);
    g_assert_false (e->flags & DINOLAB_PARAM_DECAY);
    g_assert_cmpint (dinolab_param_table_lookup (t, "head.last_layer.weight_v")->shape[0], ==, 65536);
    g_assert_nonnull (dinolab_param_table_lookup (t, "head.mlp.4.weight"));

    set_ (&hp, "arch", "vit_base");
    b16 = dinolab_model_new (&hp, FALSE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (dinolab_model_get_table (b16)->total, ==, 85798656);
}

static void
test_file_round_trip (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (DinolabHparams) hp2 = { 0 };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) a = NULL;
    g_autoptr (DinolabModel) b = NULL;
    g_autofree char *dir = g_dir_make_tmp ("dinolab-model-XXXXXX", NULL);
    g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
    gboolean has_head = FALSE;

    tiny_hparams_ (&hp);
    a = dinolab_model_new (&hp, TRUE, &error);
    dinolab_model_init_random (a, 42);
    g_assert_true (dinolab_model_save (a, NULL, FALSE, path, &error));
    g_assert_no_error (error);

    dinolab_hparams_init (&hp2);
    g_assert_true (dinolab_model_hparams_from_file (path, &hp2, &has_head, &error));
    g_assert_true (has_head);
    g_assert_cmpint (hp2.embed_dim, ==, 16);
    g_assert_cmpint (hp2.num_heads, ==, 2);
    b = dinolab_model_new (&hp2, has_head, &error);
    g_assert_no_error (error);
    g_assert_true (dinolab_model_load_weights (b, path, &error));
    g_assert_cmpmem (dinolab_model_get_params (a), dinolab_model_get_table (a)->total * sizeof (float),
                     dinolab_model_get_params (b), dinolab_model_get_table (b)->total * sizeof (float));
    g_unlink (path);
    g_rmdir (dir);
}

/* Attention rows are probabilities: the CLS-to-patch entries are positive and, with the
 * CLS-to-CLS entry, sum to one; inference buffers give the training result. */
static void
test_attention_readout (void)
{
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabModel) m = NULL;
    g_autoptr (DinolabBackboneWork) wi = NULL;
    g_autoptr (DinolabBackboneWork) wt = NULL;
    float img[3 * 2 * 16 * 16], att[3 * 2 * 16], att2[3 * 2 * 16];

    tiny_hparams_ (&hp);
    m = dinolab_model_new (&hp, FALSE, &error);
    dinolab_model_init_random (m, 1);
    scramble_ (m, 9);
    fill_uniform (img, G_N_ELEMENTS (img), 3, 1.0f);
    wi = dinolab_backbone_work_new (m, 3, 16, 16, FALSE);
    wt = dinolab_backbone_work_new (m, 3, 16, 16, TRUE);
    g_assert_cmpint (dinolab_backbone_work_get_n_patches (wi), ==, 16);
    dinolab_backbone_forward (m, wi, img, NULL);
    dinolab_backbone_work_get_attention (wi, att);
    dinolab_backbone_forward (m, wt, img, NULL);
    dinolab_backbone_work_get_attention (wt, att2);
    assert_tensor ("attention inference vs training buffers", att, att2, G_N_ELEMENTS (att), 0);
    assert_tensor ("cls inference vs training buffers", dinolab_backbone_work_get_cls (wi),
                   dinolab_backbone_work_get_cls (wt), 3 * 16, 0);
    for (int r = 0; r < 6; r++) {
        double sum = 0.0;
        for (int i = 0; i < 16; i++) {
            g_assert_cmpfloat (att[r * 16 + i], >, 0.0f);
            sum += att[r * 16 + i];
        }
        g_assert_cmpfloat (sum, <, 1.0);
        g_assert_cmpfloat (sum, >, 0.0);
    }
    g_assert_false (dinolab_model_check_input (m, 2, 18, 18, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "patch_size 4"));
    g_clear_error (&error);
    /* the attention of one image: 2 heads x T^2 floats, at most 2^28 (T = 1 + 107^2 fits,
     * 1 + 108^2 does not) */
    g_assert_true (dinolab_model_check_input (m, 2, 428, 428, &error));
    g_assert_no_error (error);
    g_assert_false (dinolab_model_check_input (m, 2, 432, 432, &error));
    g_assert_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "input size 432x432 is too large: 11665 tokens"));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/model/gradients/default", test_gradients_default);
    g_test_add_func ("/model/gradients/trainable-weight-g", test_gradients_trainable_g);
    g_test_add_func ("/model/gradients/drop-path", test_gradients_drop_path);
    g_test_add_func ("/model/gradients/threads-agree", test_lanes_agree);
    g_test_add_func ("/model/table/counts", test_table_counts);
    g_test_add_func ("/model/file/round-trip", test_file_round_trip);
    g_test_add_func ("/model/attention/readout", test_attention_readout);
    return g_test_run ();
}
