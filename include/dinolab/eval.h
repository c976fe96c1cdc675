/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * eval.h: what a trained backbone is worth, measured the way DINO measures it:
 * weighted k-NN classification on L2-normalised CLS features (DINO.md 6.1) and the
 * last block's CLS attention with its threshold masks (DINO.md 7).
 *
 * Everything here runs the backbone in inference mode (no drop path, no head) on the
 * evaluation view of dataset items (dinolab_dataset_get_eval_view: no augmentation,
 * shorter side resized to the view size, centre crop, normalised with the dataset's
 * own dinolab_dataset_get_normalization(), i.e. the normalisation the trainer's
 * augmentation uses). The trainer calls it every eval_every epochs on a fixed subset
 * (the teacher's k-NN accuracy and the attention of a few probe images);
 * `dinolab-cli knn` and `dinolab-cli attention` call it on whole splits or single
 * images.
 *
 * Typical use (a k-NN accuracy of the teacher on subsets of both splits):
 *   DinolabKnnResult r;
 *   if (!dinolab_eval_knn (teacher, train_ds, train_idx, 5000, test_ds, test_idx, 1000,
 *                          hp->global_crop_size, 20, 0.07, &r, cancel, &error))
 *       ...
 *   g_print ("k-NN top-1 %.2f%% top-5 %.2f%%\n", r.top1, r.top5);
 *
 * Threads: the backbone passes run on the model's `threads` hyperparameter cores (0: all
 * of them) as lanes, each lane whole batches with single-threaded BLAS; with more than
 * one lane the BLAS thread count is set to 1 for the pass and back to `threads` after
 * it (dinolab_blas_set_threads), so do not call these while another thread of the
 * process runs BLAS products. The model is only read.
 *
 * It also has what `dinolab-cli attention` / `knn` and the GUI's attention view share
 * before any of that: finding a run's checkpoint, loading a backbone from a checkpoint
 * or weight file, and turning a dataset item or an image file into a normalised input
 * whose sides are multiples of the patch size (visualize_attention.py's trimming).
 *
 * It is not a trainer and not a viewer: it neither stores results nor draws anything
 * (the CLI's PNG overlays live in src/cli, the GUI's in src/gui). It allocates its own buffers per call;
 * nothing here is in the training hot path. Errors are GErrors in the DINOLAB_ERROR domain:
 * INVALID_INPUT for sizes and labels that do not fit, what the dataset reports for
 * items it cannot read, CANCELLED when @cancellable fires.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "dinolab/data.h"
#include "dinolab/model.h"
#include "dinolab/store.h"

G_BEGIN_DECLS

/* Defaults of DINO's eval_knn.py: k = 20 (the reported one), T = 0.07. */
#define DINOLAB_KNN_DEFAULT_K           20
#define DINOLAB_KNN_DEFAULT_TEMPERATURE 0.07

// ----------------------------------------------------------------------------
// features

/* dinolab_eval_features:
 * The L2-normalised CLS features (after the final LayerNorm, DINO.md 6.1) of the
 * evaluation views of items @indices[0 .. @n-1] of @ds.
 * @size: the view side in pixels, a multiple of patch_size (the trainer passes
 *   hp->global_crop_size); the dataset's channels must equal the model's in_chans.
 * @batch: images per backbone pass and lane (<= 0: 64, fewer when their attention
 *   would pass 256 MB); bounds the activation memory.
 * Results do not depend on the number of lanes beyond float rounding.
 * @out: caller-owned, @n x embed_dim floats; row r is item @indices[r], unit norm (an
 *   all-zero feature stays zero).
 * Polls @cancellable (may be NULL) between batches. Returns FALSE with @error set on a
 * size or channel mismatch (INVALID_INPUT), an unreadable item (the dataset's error),
 * or cancellation (CANCELLED); @out is then undefined. */
gboolean dinolab_eval_features       (DinolabModel   *model,
                                      DinolabDataset *ds,
                                      const gsize    *indices,
                                      gsize           n,
                                      int             size,
                                      int             batch,
                                      float          *out,
                                      GCancellable   *cancellable,
                                      GError        **error);

/* dinolab_eval_pixel_features:
 * The raw-pixel baseline: the evaluation view (normalised, C x @size x @size)
 * flattened and L2-normalised. @out: caller-owned, @n x (channels * @size * @size)
 * floats (see dinolab_eval_pixel_dim()). Same errors and cancellation as
 * dinolab_eval_features(); any @size >= 1 is accepted. */
gboolean dinolab_eval_pixel_features (DinolabDataset *ds,
                                      const gsize    *indices,
                                      gsize           n,
                                      int             size,
                                      float          *out,
                                      GCancellable   *cancellable,
                                      GError        **error);

/* Feature width of dinolab_eval_pixel_features() for @ds at @size. */
int      dinolab_eval_pixel_dim      (const DinolabDataset *ds,
                                      int                   size);

// ----------------------------------------------------------------------------
// weighted k-NN (DINO.md 6.1)

typedef struct {
    double top1;         /* accuracy in percent (0 .. 100), as eval_knn.py prints it */
    double top5;         /* percent of test items whose label is among the best
                            top5_classes class scores */
    gsize  n_train;      /* train features used */
    gsize  n_test;       /* test features classified */
    int    k;            /* neighbours used: min(requested k, n_train) */
    int    top5_classes; /* min(5, k, n_classes): what "top-5" means for this run */
    double temperature;  /* T of the weights exp(cos / T) */
} DinolabKnnResult;

/* dinolab_knn_classify:
 * Weighted k-NN of DINO's eval_knn.py. @train [n_train, dim] and @test [n_test, dim]
 * are L2-normalised features (caller-owned, only read), so a dot product is the cosine
 * similarity. For every test row: its k most similar train rows (ties: the lower train
 * index first), weights w = exp(cos / @temperature), class score = sum of w over the
 * neighbours with that label (in double); the prediction is the class with the highest
 * score (ties: the lower class). top-5 counts a hit when the label is among the
 * min(5, k, n_classes) best classes.
 * The similarities come from matmul_gemm in blocks of at most 256 test x 4096 train
 * rows with a running top-k, so memory stays a few MB whatever the split sizes.
 * @k >= 1 (larger than @n_train means all of them); @temperature > 0; @n_classes >= 1;
 * labels must lie in [0, @n_classes). @predictions: NULL, or caller-owned [n_test]
 * receiving the predicted classes. Fills @result (caller-owned).
 * Returns FALSE with INVALID_INPUT when @n_train is 0 or a label is out of range
 * (the message names the split, the item and the label). */
gboolean dinolab_knn_classify        (const float      *train,
                                      const int        *train_labels,
                                      gsize             n_train,
                                      const float      *test,
                                      const int        *test_labels,
                                      gsize             n_test,
                                      int               dim,
                                      int               n_classes,
                                      int               k,
                                      double            temperature,
                                      int              *predictions,
                                      DinolabKnnResult *result,
                                      GError          **error);

/* dinolab_eval_knn:
 * Features of both item lists (dinolab_eval_features, or with @model NULL the raw-pixel
 * baseline dinolab_eval_pixel_features), labels from the datasets, then
 * dinolab_knn_classify() with n_classes = that of @train_ds. @train_indices /
 * @test_indices may be NULL for "every item, in order" (@n_train / @n_test must then
 * equal the dataset sizes). Datasets without labels are refused (INVALID_INPUT).
 * Allocates and frees the features itself (n * dim floats each). */
gboolean dinolab_eval_knn            (DinolabModel     *model,
                                      DinolabDataset   *train_ds,
                                      const gsize      *train_indices,
                                      gsize             n_train,
                                      DinolabDataset   *test_ds,
                                      const gsize      *test_indices,
                                      gsize             n_test,
                                      int               size,
                                      int               k,
                                      double            temperature,
                                      DinolabKnnResult *result,
                                      GCancellable     *cancellable,
                                      GError          **error);

// ----------------------------------------------------------------------------
// attention (DINO.md 7)

/* dinolab_eval_attention:
 * The last block's CLS-to-patch attention of the evaluation views (side @size) of
 * items @indices[0 .. @n-1], each at the centre of a frame @pad pixels wide (0: none)
 * of black (pixel value 0, normalised as the dataset's images are), so the model sees
 * a square of side V = @size + 2 @pad, a multiple of patch_size: an object with
 * background around it, as the paper's scenes have. @out, caller-owned,
 * [n, num_heads, P] with P = (V / patch_size)^2, patches row-major; raw softmax
 * entries (each head's row sums to 1 minus its CLS-to-CLS entry), not renormalised.
 * Same errors as dinolab_eval_features(), and the dataset's for its normalisation. */
gboolean dinolab_eval_attention      (DinolabModel   *model,
                                      DinolabDataset *ds,
                                      const gsize    *indices,
                                      gsize           n,
                                      int             size,
                                      int             pad,
                                      float          *out,
                                      GCancellable   *cancellable,
                                      GError        **error);

/* dinolab_eval_image_attention:
 * Same for one image already normalised: @image [in_chans, @height, @width]
 * (caller-owned; both sides multiples of patch_size, else INVALID_INPUT naming the
 * size). @out: caller-owned [num_heads, (height/p) * (width/p)]. Also writes the
 * image's unit-norm CLS feature to @feature [embed_dim] when it is not NULL. */
gboolean dinolab_eval_image_attention (DinolabModel *model,
                                       const float  *image,
                                       int           height,
                                       int           width,
                                       float        *out,
                                       float        *feature,
                                       GError      **error);

/* dinolab_attention_mask:
 * The threshold mask of visualize_attention.py (DINO.md 7): the smallest set of
 * patches whose attention holds at least @fraction of the map's total mass, taken from
 * the highest values down (ties: the lower patch index first). @att [n_patches]
 * non-negative (caller-owned, only read); @mask [n_patches] (caller-owned) receives
 * 1 for kept patches and 0 for the others. Sums are in double and the comparison
 * allows 1e-9 of the total for rounding. @fraction <= 0 keeps nothing, >= 1 keeps every
 * patch with a non-zero value; an all-zero map keeps nothing.
 * Returns the number of patches kept. */
int      dinolab_attention_mask      (guint8      *mask,
                                      const float *att,
                                      int          n_patches,
                                      double       fraction);

/* dinolab_eval_attention_jaccard:
 * How well the last block's CLS attention segments the object, on a dataset whose
 * foreground is known (DINO's Jaccard similarity, DINO.md 7): for items @indices[0 ..
 * @n-1] of @ds, the foreground F is the set of pixels of the item's image brighter than
 * @fg_threshold (0..255, the brightest channel; Fashion-MNIST: 0, the non-black
 * pixels). The images must be square. The attention is taken of the evaluation view of
 * side @size (0: the images' own side), as visualize_attention.py takes it of a resized
 * image, framed by @pad pixels of black (dinolab_eval_attention; the view's side with
 * its frame must be a multiple of patch_size, else INVALID_INPUT), and F is scaled to
 * the view by nearest neighbour (each view pixel takes the image pixel under its
 * centre), the frame being background. For each
 * head, and for the mean map over heads, M is the threshold mask keeping @fraction of the
 * mass (dinolab_attention_mask; 0.6 in DINO), each patch covering its p x p pixels of
 * the view, and |M ∩ F| / |M ∪ F| is averaged over the items.
 * @per_head: caller-owned [num_heads], the mean Jaccard index of each head (the best
 * head is their maximum); @mean_map: the mean Jaccard index of the mean map.
 * @per_head_on_object [num_heads] and @mean_map_on_object (either may be NULL): the
 * mean share of the mask that lies on the object, |M ∩ F| / |M|. Jaccard penalises a
 * mask for being smaller than the object (a head that looks at the sleeves of a shirt),
 * this does not; a mask spread at random over the image scores the foreground's share
 * of the image.
 * Errors as dinolab_eval_attention(). */
gboolean dinolab_eval_attention_jaccard (DinolabModel   *model,
                                         DinolabDataset *ds,
                                         const gsize    *indices,
                                         gsize           n,
                                         int             size,
                                         int             pad,
                                         double          fraction,
                                         int             fg_threshold,
                                         double         *per_head,
                                         double         *mean_map,
                                         double         *per_head_on_object,
                                         double         *mean_map_on_object,
                                         GCancellable   *cancellable,
                                         GError        **error);

/* dinolab_eval_jaccard_references:
 * Three references for dinolab_eval_attention_jaccard() on the same items that need no
 * model: what the measure gives to a perfect map, the most any map can score, and
 * what a mask that never looks at the image scores. Foreground, view side @size (0: the
 * images' own), frame @pad, threshold masks and grid as there, with patches of
 * @patch_size pixels (the images must be square and the framed view a multiple of it,
 * else INVALID_INPUT). A
 * threshold mask of P patches keeps at most ceil(@fraction * P) of them (the uniform
 * map's mask; 10 of 16 at 0.6), and every non-empty set up to that size is the mask of
 * some map: the masks below are such sets.
 * @foreground_map: the mean Jaccard index of the @fraction mask of the foreground
 * itself taken as the map (each patch weighted by its count of foreground pixels): a
 * head that sees the whole object and nothing else. Its mask keeps about @fraction of
 * the object, so on images that the object fills this is near @fraction, not 1.
 * @best_mask: the mean over the items of the best Jaccard index any threshold mask
 * reaches on that item (the ceiling of every head and mean map; a soft map that keeps
 * some mass off the object can come close to it).
 * @fixed_mask: the mean Jaccard index of the best single threshold mask for all items,
 * found greedily on these very items (from the empty mask, toggle the patch that
 * raises the mean most until none does, never above the largest size): how far the
 * object's usual place in the frame alone carries the measure. @fixed_mask_out (may
 * be NULL): caller-owned [(framed view side / @patch_size)^2], receives that mask (1 = kept).
 * @object_share (may be NULL): the mean share of an image's pixels that are
 * foreground, how much of the frame the object fills (a flat map's mask covers
 * ceil(@fraction * P) / P of it, so the fuller the frame, the better such a mask scores).
 * Costs one pass over the images, then grid cells x @n terms per greedy step. */
gboolean dinolab_eval_jaccard_references (DinolabDataset *ds,
                                          const gsize    *indices,
                                          gsize           n,
                                          int             patch_size,
                                          int             size,
                                          int             pad,
                                          double          fraction,
                                          int             fg_threshold,
                                          double         *foreground_map,
                                          double         *best_mask,
                                          double         *fixed_mask,
                                          guint8         *fixed_mask_out,
                                          double         *object_share,
                                          GError        **error);

// ----------------------------------------------------------------------------
// loading a backbone, preparing one image

/* dinolab_eval_find_checkpoint:
 * The checkpoint file of run @run_ref (name, uuid or uuid prefix) of @store: the one
 * at @step, or the latest when @step < 0. Returns the file's path (resolved against
 * the store's folder; g_free), and sets *@step_out (may be NULL) to its step and
 * *@source (may be NULL) to a description for messages (g_free), e.g.
 * "run base (bebf97cc), checkpoint at step 12".
 * NULL with @error set when the run is unknown (the store's error), has no checkpoint
 * yet, or none at @step (INVALID_INPUT; the message lists the steps it has). */
char         *dinolab_eval_find_checkpoint   (DinolabStore  *store,
                                              const char    *run_ref,
                                              gint64         step,
                                              gint64        *step_out,
                                              char         **source,
                                              GError       **error);

/* dinolab_eval_load_backbone:
 * The backbone (no head) of a safetensors file: a checkpoint's teacher (or with
 * @student its student; see dinolab_safetensors_read for the prefixes) or a weight
 * file. Its hyperparameters come from the file's metadata or tensor shapes
 * (dinolab_model_hparams_from_safetensors), then each "key=value" of @overrides
 * (NULL-terminated, may be NULL; dinolab_hparams_set_assignment), then @threads as the
 * `threads` hyperparameter when @threads >= 0 (the evaluation passes read it).
 * Returns a new model (dinolab_model_free) or NULL with @error set (the file's, the
 * override's or the shape check's error). Does not touch the BLAS thread count. */
DinolabModel *dinolab_eval_load_backbone     (const char         *path,
                                              gboolean            student,
                                              const char *const  *overrides,
                                              int                 threads,
                                              GError            **error);

/* One image as a backbone takes it and as a viewer shows it. */
typedef struct {
    int     channels;       /* 1 or 3 (the model's in_chans) */
    int     height, width;  /* multiples of the patch size */
    float  *x;              /* [channels, height, width], normalised: (v - mean) / std */
    guint8 *rgb;            /* [height, width, 3]: what the input shows (grey as grey) */
    float   mean[3], std[3];/* the normalisation used, per channel, in [0, 1] units */
    char   *normalization;  /* where mean/std came from, e.g. "ImageNet's" */
} DinolabEvalImage;

/* Frees @image and its arrays. NULL-safe. */
void          dinolab_eval_image_free        (DinolabEvalImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabEvalImage, dinolab_eval_image_free)

/* dinolab_eval_image_from_dataset:
 * Item @index of @ds: its evaluation view at side @size (dinolab_dataset_get_eval_view,
 * the dataset's normalisation), trimmed at the bottom and right to a multiple of
 * @patch_size as visualize_attention.py trims. @size >= @patch_size >= 1.
 * Returns a new image (dinolab_eval_image_free) or NULL with @error set: an index out
 * of range or a dataset of more than 3 channels (INVALID_INPUT), or the dataset's
 * error for an unreadable item. */
DinolabEvalImage *dinolab_eval_image_from_dataset (DinolabDataset *ds,
                                                   gsize           index,
                                                   int             size,
                                                   int             patch_size,
                                                   GError        **error);

/* dinolab_eval_image_frame:
 * Puts @image at the centre of a frame @pad pixels wide of black (pixel value 0 in its
 * own normalisation), in place: its sides grow by 2 @pad, x and rgb are replaced.
 * The attention functions take only sides that are multiples of the patch size.
 * @pad 0 leaves it as it is. */
void              dinolab_eval_image_frame        (DinolabEvalImage *image,
                                                   int               pad);

/* dinolab_eval_image_from_file:
 * An image file (anything gdk-pixbuf reads; EXIF orientation applied) converted to
 * @channels (1: PIL's L = 0.299 R + 0.587 G + 0.114 B; 3: RGB; alpha dropped),
 * resized with the evaluation views' antialiased bicubic so its shorter side is @size
 * (aspect kept, as torchvision's Resize(int)), trimmed to multiples of @patch_size,
 * normalised with the mean/std of dataset @dataset (a spec, may be NULL) when it opens
 * and has @channels channels, else ImageNet's constants (RGB) or 0.5 / 0.5 (grey).
 * Returns a new image or NULL with @error set: IO for a missing file, INVALID_INPUT
 * for an undecodable one, @channels other than 1 or 3, or a @size that leaves no
 * whole patch. */
DinolabEvalImage *dinolab_eval_image_from_file    (const char     *path,
                                                   int             size,
                                                   int             channels,
                                                   int             patch_size,
                                                   const char     *dataset,
                                                   GError        **error);

G_END_DECLS
