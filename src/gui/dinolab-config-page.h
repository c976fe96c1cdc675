/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-config-page.h: the hyperparameter form of a DINO run (a widget built
 * from the template ui/dinolab-config-page.ui). It shows one field for every
 * key of the engine's table (dinolab_hparams_get_key()), grouped as in the
 * paper, each titled in words with the reference name (patch_size, lr, ...)
 * beside it, and a preset drop-down on top. Every edit is checked by the
 * engine: the key alone with dinolab_hparams_set(), then the whole set with
 * dinolab_hparams_validate(); a refused value is marked at its field with the
 * engine's message, and the "valid" property stays FALSE until all is usable.
 *
 * It is not a scrolled view (the caller puts it in a GtkScrolledWindow), and
 * it neither reads GSettings nor starts runs: the caller loads the preset it
 * wants (e.g. the "default-preset" setting) and asks for the values.
 */
#pragma once

#include <adwaita.h>

#include <dinolab/hparams.h>

G_BEGIN_DECLS

#define DINOLAB_TYPE_CONFIG_PAGE (dinolab_config_page_get_type ())

G_DECLARE_FINAL_TYPE (DinolabConfigPage, dinolab_config_page,
                      DINOLAB, CONFIG_PAGE, AdwBin)

/* dinolab_config_page_new:
 * Creates a form holding the "default" preset (the reference's defaults if
 * that preset cannot be found). Returns a floating widget. */
GtkWidget  *dinolab_config_page_new          (void);

/* dinolab_config_page_load_preset:
 * Fills every field from preset @name (looked up in PKGDATADIR/presets, then
 * the source tree's data/presets, after $DINOLAB_PRESETS_DIR), on top of the
 * reference's defaults, and shows it as the current preset. Returns FALSE with
 * @error set (the engine's message) if the preset cannot be loaded; the form
 * is then unchanged. The preset may still be invalid as a whole: see "valid". */
gboolean    dinolab_config_page_load_preset  (DinolabConfigPage    *self,
                                              const char           *name,
                                              GError              **error);

/* dinolab_config_page_set_hparams:
 * Fills every field from @hp (not kept; copied as text). The preset drop-down
 * then shows "Custom". Fields are validated as if typed. */
void        dinolab_config_page_set_hparams  (DinolabConfigPage    *self,
                                              const DinolabHparams *hp);

/* dinolab_config_page_get_hparams:
 * Writes the form's values into @out, which the caller has initialised with
 * dinolab_hparams_init() (its strings are freed and replaced; the caller still
 * owns it and clears it). Returns FALSE, and leaves @out unchanged, if some
 * field is invalid (the form's "valid" is FALSE). */
gboolean    dinolab_config_page_get_hparams  (DinolabConfigPage    *self,
                                              DinolabHparams       *out);

/* dinolab_config_page_get_valid:
 * Whether every field holds a value the engine accepts and the whole set
 * passes dinolab_hparams_validate(). Also the property "valid" (notified when
 * it changes). */
gboolean    dinolab_config_page_get_valid    (DinolabConfigPage    *self);

/* dinolab_config_page_set_locked:
 * While @locked (a run is training with these values), every field and the
 * preset drop-down are insensitive. Also the property "locked". */
void        dinolab_config_page_set_locked   (DinolabConfigPage    *self,
                                              gboolean              locked);

/* dinolab_config_page_set_value:
 * Puts @text into the field of @key as if the user had typed it ("0.04",
 * "true", "0.4,1.0", "vit_small"; "batch_size" is read as batch_size_per_gpu),
 * and validates the form. Returns whether that field now holds a valid value
 * (its own type and range, and no cross-key rule broken at it). Returns FALSE
 * for an unknown key, without changing anything. Works while locked. */
gboolean    dinolab_config_page_set_value    (DinolabConfigPage    *self,
                                              const char           *key,
                                              const char           *text);

/* dinolab_config_page_get_message:
 * The engine's message shown at the field of @key (e.g. "lr: -1 is out of
 * range [0, 10]"), or NULL if that field is valid or @key is unknown. Owned by
 * the page; valid until the next edit. */
const char *dinolab_config_page_get_message  (DinolabConfigPage    *self,
                                              const char           *key);

/* dinolab_config_page_get_preset:
 * The name of the preset the form holds, or NULL once a field has been edited
 * after loading it (the drop-down then shows "Custom"). Owned by the page.
 * Also the property "preset". */
const char *dinolab_config_page_get_preset   (DinolabConfigPage    *self);

/* Signal "changed" (no arguments, no return): emitted after every change of a
 * field's content, typed or made through this API (set_value, set_hparams,
 * load_preset), once the form has been validated again. */

G_END_DECLS
