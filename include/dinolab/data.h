/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * data.h: datasets, DINO's multi-crop augmentation and the batch loader.
 *
 * Data flows one way: a DinolabDataset decodes items (8-bit pixels, labels), a
 * DinolabAugment turns one item into its 2 + local_crops_number normalised views
 * (DINO.md 3), and a DinolabLoader runs the augmentation on worker threads and hands
 * the trainer whole batches in the engine's crop-major layout.
 *
 * Datasets are named by a short spec a person can type (the `dataset` hyperparameter):
 *   fashion-mnist              Debian's dataset-fashion-mnist, found where it installs
 *   mnist:/dir  kmnist:/dir  emnist:/dir  fashion-mnist:/dir
 *                              a folder with the four standard IDX files (raw or .gz)
 *   idx:/path/train-images-idx3-ubyte.gz
 *                              one IDX image file; labels and the test split are found
 *                              beside it by the standard names
 *   cifar10:/dir  cifar100:/dir  the binary batches (data_batch_N.bin, test_batch.bin /
 *                              train.bin, test.bin); cifar100 uses fine labels,
 *                              cifar100-coarse:/dir the coarse ones
 *   folder:/dir                torchvision ImageFolder (dir/<class>/<file>) or a flat
 *                              folder of images (no labels); anything gdk-pixbuf reads
 *   npy:/path/images.npy       uint8 N x H x W or N x H x W x C, labels.npy beside it
 *                              if present
 * The split (train or test) is chosen where the dataset is opened. The test split of a
 * file spec (idx:, npy:) is the file named with "t10k", "test" or "val" in place of
 * "train" (train_images.npy -> test_images.npy, labels "images" -> "labels"); a folder
 * spec has one when it holds train/ and val/ (or test/) folders. Without one, opening
 * the test split fails with DINOLAB_ERROR_INVALID_INPUT. Determinism: every
 * random choice of the augmentation is a function of (seed, epoch, item index, view).
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "dinolab/hparams.h"

G_BEGIN_DECLS

// ----------------------------------------------------------------------------
// images and datasets

/* An 8-bit image, channel-interleaved (H x W x C, C = 1 or 3). */
typedef struct {
    int     width, height, channels;
    guint8 *pixels;   /* owned: height * width * channels bytes */
} DinolabImage;

void dinolab_image_clear (DinolabImage *img);   /* frees pixels, zeroes the struct */

typedef enum {
    DINOLAB_SPLIT_TRAIN,
    DINOLAB_SPLIT_TEST,
} DinolabSplit;

typedef struct DinolabDataset DinolabDataset;

/* dinolab_dataset_open:
 * Opens the dataset named by @spec (see above) for @split. Reads what it must to
 * know its size and labels; image folders are scanned, not decoded. Errors
 * (DINOLAB_ERROR_INVALID_INPUT for a bad spec, IO for a missing path, CORRUPT for a
 * bad file) name the file or spec. Returns a new dataset; free with
 * dinolab_dataset_free(). Thread-safe for concurrent dinolab_dataset_get_image(). */
DinolabDataset *dinolab_dataset_open          (const char     *spec,
                                               DinolabSplit    split,
                                               GError        **error);
void            dinolab_dataset_free          (DinolabDataset *ds);

const char     *dinolab_dataset_get_spec      (const DinolabDataset *ds);
/* A one-line human description, e.g. "Fashion-MNIST train, 60000 images 28x28, 10 classes". */
const char     *dinolab_dataset_get_description (const DinolabDataset *ds);
gsize           dinolab_dataset_get_size      (const DinolabDataset *ds);
/* Channels of the images the dataset yields (1 for IDX and single-channel npy, else 3). */
int             dinolab_dataset_get_channels  (const DinolabDataset *ds);
/* Native image size; 0 x 0 when the images of a folder differ in size. */
int             dinolab_dataset_get_width     (const DinolabDataset *ds);
int             dinolab_dataset_get_height    (const DinolabDataset *ds);
/* Classes: 0 when there are no labels. Names are owned by the dataset. */
guint           dinolab_dataset_get_n_classes (const DinolabDataset *ds);
const char     *dinolab_dataset_get_class_name (const DinolabDataset *ds, guint c);
/* Files of an image folder left out because they could not be read (0 otherwise). */
guint           dinolab_dataset_get_n_skipped (const DinolabDataset *ds);
/* The path of the first of them, for a warning that names a file; NULL when none.
 * Owned by the dataset. */
const char     *dinolab_dataset_get_first_skipped (const DinolabDataset *ds);
/* Label of item @i, or -1 when the dataset has none. */
int             dinolab_dataset_get_label     (const DinolabDataset *ds, gsize i);

/* dinolab_dataset_get_image:
 * Decodes item @i into @out (dinolab_image_clear() it afterwards; whatever @out held
 * before is overwritten, not freed). Folder images come as 3-channel RGB (alpha
 * dropped, gray repeated), as PIL's convert('RGB'). A folder image that
 * fails to decode returns FALSE with DINOLAB_ERROR_CORRUPT naming the file. (Folders
 * are checked when opened: files gdk-pixbuf cannot read are left out and counted.) */
gboolean        dinolab_dataset_get_image     (DinolabDataset *ds,
                                               gsize           i,
                                               DinolabImage   *out,
                                               GError        **error);

/* dinolab_dataset_get_normalization:
 * Per-channel mean and std in [0, 1] units (population std over all pixels), for
 * @channels entries. Image folders: ImageNet's constants (0.485, 0.456, 0.406) /
 * (0.229, 0.224, 0.225), unless the first 16 images of a fixed shuffled order are all
 * gray: then computed over up to 10000 items of that order. Other datasets: computed
 * over every item of the train split (a test split opens its train split for this).
 * Computed once and cached as JSON in $DINOLAB_CACHE_DIR/normalization/ (default
 * $XDG_CACHE_HOME/dinolab), keyed by the files' absolute paths, sizes and mtimes.
 * A std of 0 (constant images) is reported as 1. Thread-safe. */
gboolean        dinolab_dataset_get_normalization (DinolabDataset *ds,
                                                   float          *mean,
                                                   float          *std,
                                                   GError        **error);

/* dinolab_dataset_get_eval_view:
 * The evaluation view of item @i: no augmentation, resized (bicubic, antialiased when
 * shrinking) so the shorter side is @size and centre-cropped to @size x @size, then
 * normalised: @out receives channels * size * size floats (C x H x W). */
gboolean        dinolab_dataset_get_eval_view (DinolabDataset *ds,
                                               gsize           i,
                                               int             size,
                                               float          *out,
                                               GError        **error);

// ----------------------------------------------------------------------------
// multi-crop augmentation (DINO.md 3)

typedef struct DinolabAugment DinolabAugment;

/* dinolab_augment_new:
 * The views from @hp: global_crop_size, local_crop_size, global_crops_scale,
 * local_crops_scale, local_crops_number and seed; @channels (1 or 3) and the
 * normalisation @mean / @std (@channels entries each, std > 0) from the dataset.
 * Each view follows DINO.md 3 with PIL's 8-bit rounding: RandomResizedCrop + bicubic,
 * flip 0.5, ColorJitter 0.8, grayscale 0.2, Gaussian blur (view 0: always, view 1:
 * 0.1, locals: 0.5), solarize 0.2 on view 1, then (x / 255 - mean) / std.
 * Dinolab's own choices, where the reference is silent:
 *  - Blur sigma ~ U(0.1, 2.0) is given for 224 px globals and 96 px locals; it is
 *    scaled with the crop, x global_crop_size / 224 and x local_crop_size / 96 (so a
 *    28 px global draws sigma in [0.0125, 0.25], too little to change any 8-bit
 *    pixel: with 28/12 px crops the blur is drawn but has no effect). The kernel is
 *    an exact Gaussian (radius ceil(3 sigma), edge pixels repeated), not PIL's box
 *    approximation.
 *  - On 1-channel images saturation, hue and grayscale do nothing (as PIL on "L"
 *    images); their random draws are still made, so crops, flips and blurs are the
 *    same as for a 3-channel version of the image.
 * @hp is read, not kept. Returns a new object (never NULL for valid arguments);
 * free with dinolab_augment_free(). */
DinolabAugment *dinolab_augment_new   (const DinolabHparams *hp,
                                       int                   channels,
                                       const float          *mean,
                                       const float          *std);
void            dinolab_augment_free  (DinolabAugment       *aug);
int             dinolab_augment_get_n_views (const DinolabAugment *aug);  /* 2 + local_crops_number */

/* dinolab_augment_views:
 * Writes the views of @img (channels as given to _new, at least 1 x 1), normalised,
 * C x S x S each, into the caller's buffers: views[0], views[1] the global crops
 * (S = global_crop_size), views[2 ..] the local crops (S = local_crop_size).
 * Every random choice depends only on (seed, @epoch, @index, view): the same call
 * always gives the same floats. Thread-safe: any number of threads may call it on
 * one @aug; each call allocates (and frees) one small scratch block. */
void            dinolab_augment_views (const DinolabAugment *aug,
                                       const DinolabImage   *img,
                                       guint64               epoch,
                                       guint64               index,
                                       float *const         *views);

// ----------------------------------------------------------------------------
// loader

/* One batch, in the engine's crop-major layout. Owned by the loader. */
typedef struct {
    int          epoch;
    int          iteration;     /* within the epoch */
    int          batch;         /* B */
    const float *globals;       /* [2, B, C, G, G]: g1 batch, then g2 batch */
    const float *locals;        /* [n_local, B, C, L, L], NULL when n_local is 0 */
    const gsize *indices;       /* [B] dataset items of the batch */
} DinolabBatch;

typedef struct DinolabLoader DinolabLoader;

/* dinolab_loader_new:
 * Batches of batch_size_per_gpu items of @ds (borrowed: it must outlive the loader),
 * each epoch a permutation of the items drawn from (hp->seed, epoch), drop_last as
 * the reference (steps per epoch = N / B). @mean / @std: the normalisation, one entry
 * per channel of @ds. @n_threads workers (>= 1) decode and augment; at most three
 * batches exist at a time (the one the caller holds and two ahead). A batch is
 * byte-identical whatever @n_threads. The workers start at once, on (epoch 0,
 * iteration 0).
 * Fails with DINOLAB_ERROR_INVALID_INPUT, naming the key, when @ds has fewer items than
 * batch_size_per_gpu, global_crop_size or local_crop_size is not a multiple of
 * patch_size, in_chans differs from the dataset's channels, the images are smaller
 * than 2 x 2 (no crop has anything to choose from), a std is not > 0, or @n_threads
 * < 1. (Any crop size fits any image: RandomResizedCrop always resizes.)
 * Returns a new loader; free with dinolab_loader_free(). */
DinolabLoader  *dinolab_loader_new    (DinolabDataset       *ds,
                                       const DinolabHparams *hp,
                                       const float          *mean,
                                       const float          *std,
                                       int                   n_threads,
                                       GError              **error);
/* Stops the workers (also mid-epoch: each finishes the item in hand) and frees
 * everything, including the batch last returned. NULL-safe. */
void            dinolab_loader_free   (DinolabLoader        *loader);
int             dinolab_loader_get_steps_per_epoch (const DinolabLoader *loader);
/* dinolab_loader_seek:
 * Positions the loader so the next batch is (@epoch, @iteration), 0 <= @iteration <
 * steps per epoch (start or resume). Work in flight is dropped; the batch last
 * returned is no longer valid. A sticky read error (see _next) is cleared. */
void            dinolab_loader_seek   (DinolabLoader        *loader,
                                       int                   epoch,
                                       int                   iteration);
/* dinolab_loader_next:
 * Gives back the batch returned before, waits for the next one and returns it (owned
 * by the loader, valid until the next call, a seek or dinolab_loader_free()), moving
 * on to the next epoch after the last batch of one.
 * Returns NULL with DINOLAB_ERROR_CANCELLED when @cancellable (may be NULL) fires
 * while waiting, or with the dataset's error (naming the file) when an item of the
 * batch cannot be read; after a cancel the next call resumes with the same batch,
 * after a read error it reports the same error until a seek. */
const DinolabBatch *dinolab_loader_next (DinolabLoader      *loader,
                                         GCancellable       *cancellable,
                                         GError            **error);
/* Seconds the last dinolab_loader_next() waited for a batch (loader-bound time). */
double          dinolab_loader_get_last_wait (const DinolabLoader *loader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabDataset, dinolab_dataset_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabAugment, dinolab_augment_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabLoader, dinolab_loader_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DinolabImage, dinolab_image_clear)

G_END_DECLS
