"""The generated images of a target among distractors: deterministic, well-formed, and labelled right."""

import numpy as np
import pytest

from attention_utils.data import CUED_IMAGE_SHAPE, CUED_MARGIN, SHAPE_NAMES, cluttered_shapes, cued_shapes


def test_same_seed_same_images_other_seed_other_images():
    first, again, other = cluttered_shapes(20, seed=3), cluttered_shapes(20, seed=3), cluttered_shapes(20, seed=4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.images, other.images)


def test_shapes_dtypes_and_range():
    data = cluttered_shapes(12, image_size=24, num_distractors=2)
    assert data.images.shape == (12, 24, 24, 1) and data.images.dtype == np.float32
    assert data.labels.shape == (12,) and data.labels.dtype == np.int32
    assert data.target_masks.shape == data.distractor_masks.shape == (12, 24, 24)
    assert data.target_masks.dtype == data.distractor_masks.dtype == bool
    assert data.images.min() >= 0 and data.images.max() <= 1
    assert set(np.unique(data.labels)) <= set(range(len(SHAPE_NAMES)))


def test_every_mask_is_one_5x5_box_holding_the_labelled_shape():
    data = cluttered_shapes(50, num_distractors=0, noise=0.0)
    glyph_sums = {}
    for image, label, mask in zip(data.images[..., 0], data.labels, data.target_masks):
        rows, cols = np.nonzero(mask)
        assert mask.sum() == 25 and np.ptp(rows) == 4 and np.ptp(cols) == 4
        assert (image[~mask] == 0).all()  # no noise, no distractors: nothing outside the box
        glyph = image[rows.min() : rows.min() + 5, cols.min() : cols.min() + 5] > 0
        glyph_sums.setdefault(int(label), set()).add(tuple(glyph.ravel()))
    # Each class always draws the same glyph, and different classes draw different glyphs.
    assert all(len(glyphs) == 1 for glyphs in glyph_sums.values())
    assert len({glyphs.pop() for glyphs in glyph_sums.values()}) == len(glyph_sums)


def test_distractors_are_drawn_in_their_own_boxes_outside_the_target_box():
    clean = cluttered_shapes(30, num_distractors=3, noise=0.0, seed=1)
    for image, target, distractors in zip(clean.images[..., 0], clean.target_masks, clean.distractor_masks):
        assert distractors.sum() == 3 * 25 and not (target & distractors).any()
        drawn = image[distractors] > 0
        assert 3 * 5 <= drawn.sum() <= 3 * 9  # three glyphs of 5 to 9 pixels each
        assert (image[~(target | distractors)] == 0).all()


def test_classes_are_balanced_enough():
    counts = np.bincount(cluttered_shapes(2000).labels, minlength=len(SHAPE_NAMES))
    assert counts.min() > 400


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_images": 0}, "num_images"),
        ({"image_size": 20}, "image_size"),
        ({"image_size": 8}, "image_size"),
        ({"num_distractors": 16}, "num_distractors"),
        ({"num_distractors": -1}, "num_distractors"),
        ({"noise": -0.1}, "noise"),
    ],
)
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument {argument}.*Received: {argument}="):
        cluttered_shapes(**kwargs)


# ---- cued_shapes: four slots, the label is the shape above the cue bar ----


def test_cued_shapes_same_seed_same_images_other_seed_other_images():
    first, again, other = cued_shapes(20, seed=3), cued_shapes(20, seed=3), cued_shapes(20, seed=4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.images, other.images)


def test_cued_shapes_shapes_dtypes_and_range():
    data = cued_shapes(12)
    assert data.images.shape == (12, *CUED_IMAGE_SHAPE, 1) == (12, 16, 40, 1) and data.images.dtype == np.float32
    assert data.labels.shape == (12,) and data.labels.dtype == np.int32
    for masks in (data.target_masks, data.distractor_masks, data.cue_masks):
        assert masks.shape == (12, 16, 40) and masks.dtype == bool
    assert data.images.min() >= 0 and data.images.max() <= 1


def test_the_label_is_the_glyph_in_the_cued_slot_and_every_class_appears_once():
    clean = cued_shapes(40, noise=0.0, seed=1)
    glyphs = {}
    for image, label, target, distractors, cue in zip(
        clean.images[..., 0], clean.labels, clean.target_masks, clean.distractor_masks, clean.cue_masks, strict=True
    ):
        rows, cols = np.nonzero(target)
        assert target.sum() == 25 and np.ptp(rows) == 4 and np.ptp(cols) == 4
        glyphs.setdefault(int(label), set()).add(tuple((image[target] > 0).astype(int)))
        # The bar sits under the target's slot (8 pixels wide, after the margin), nothing outside the boxes.
        bar_rows, bar_cols = np.nonzero(cue)
        slot_of = lambda column: (column - CUED_MARGIN) // 8  # noqa: E731
        assert set(bar_rows) == {14, 15} and slot_of(bar_cols.min()) == slot_of(bar_cols.max()) == slot_of(cols.min())
        assert (image[~(target | distractors | cue)] == 0).all()
        # Three distractors: four shapes in four slots, one box each.
        boxes = [slot_of(np.argwhere(target | distractors)[:, 1])]
        assert (
            not (target | distractors | cue)[:, :CUED_MARGIN].any()
            and not (target | distractors | cue)[:, -CUED_MARGIN:].any()
        )
        assert distractors.sum() == 3 * 25 and not (target & distractors).any() and len(np.unique(boxes)) == 4
    # Each class always draws the same glyph, and the four glyphs differ.
    assert all(len(drawn) == 1 for drawn in glyphs.values())
    assert len({drawn.pop() for drawn in glyphs.values()}) == len(SHAPE_NAMES)


def test_with_three_distractors_every_image_shows_the_four_glyphs_once():
    # So the shapes alone, wherever they are, say nothing about the label: only the bar does.
    clean = cued_shapes(30, noise=0.0, seed=2)
    seen = set()
    for image, boxes in zip(clean.images[..., 0], clean.target_masks | clean.distractor_masks, strict=True):
        glyphs = set()
        for slot in range(4):
            left = CUED_MARGIN + 8 * slot
            rows, cols = np.nonzero(boxes[:, left : left + 8])
            assert len(rows) == 25  # one 5x5 box per slot
            box = image[rows.min() : rows.min() + 5, left + cols.min() : left + cols.min() + 5]
            glyphs.add(tuple((box > 0).ravel()))
        assert len(glyphs) == 4
        seen |= glyphs
    assert len(seen) == len(SHAPE_NAMES)  # the same four glyphs in every image


def test_slot_classes_name_each_slots_shape_and_the_cued_one_is_the_label():
    data = cued_shapes(60, num_distractors=(0, 3), seed=3)
    assert data.slot_classes.shape == (60, 4) and data.slot_classes.dtype == np.int32
    for classes, label, target, distractors, cue in zip(
        data.slot_classes, data.labels, data.target_masks, data.distractor_masks, data.cue_masks, strict=True
    ):
        occupied = [(target | distractors)[:, CUED_MARGIN + 8 * s : CUED_MARGIN + 8 * s + 8].any() for s in range(4)]
        np.testing.assert_array_equal(classes >= 0, occupied)
        assert classes[(np.nonzero(cue)[1].min() - CUED_MARGIN) // 8] == label
        assert len(set(classes[classes >= 0])) == (classes >= 0).sum()  # each class at most once


def test_the_bar_is_8_rows_below_the_lowest_row_of_any_shape():
    data = cued_shapes(200, noise=0.0, seed=5)
    shape_rows = np.nonzero((data.target_masks | data.distractor_masks).any(axis=(0, 2)))[0]
    cue_rows = np.nonzero(data.cue_masks.any(axis=(0, 2)))[0]
    assert cue_rows.min() - shape_rows.max() == 8  # a receptive field of 8 rows cannot hold both


def test_pooled_features_of_a_small_cnn_do_not_depend_on_which_slot_the_bar_is_under():
    # Two strided 3x3 convolutions ("same" padding, random weights, ReLU), then global average and max
    # pooling: with the margins, moving the bar to another slot leaves both pooled vectors unchanged,
    # and so does moving a shape to another empty slot.
    import keras

    keras.utils.set_random_seed(0)
    cnn = keras.Sequential(
        [
            keras.Input((*CUED_IMAGE_SHAPE, 1)),
            keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", bias_initializer="ones"),
            keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", bias_initializer="ones"),
        ]
    )
    data = cued_shapes(8, num_distractors=0, noise=0.0, seed=7)
    moved_bar, moved_shape = data.images.copy(), data.images.copy()
    for index, cue in enumerate(data.cue_masks):
        slot = (np.nonzero(cue)[1].min() - CUED_MARGIN) // 8
        shift = 8 * ((slot + 1 + index % 3) % 4 - slot)  # to each other slot in turn
        moved_bar[index][cue] = 0
        moved_bar[index] += np.roll(data.images[index] * cue[..., None], shift, axis=1)
        moved_shape[index] = np.roll(data.images[index], shift, axis=1)  # shape and bar together
    pooled = [np.asarray(cnn(images)) for images in (data.images, moved_bar, moved_shape)]
    for other in pooled[1:]:
        np.testing.assert_allclose(other.mean(axis=(1, 2)), pooled[0].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(other.max(axis=(1, 2)), pooled[0].max(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(pooled[1], pooled[0])  # the feature maps themselves do change


def test_a_range_of_distractors_draws_each_image_its_own_count():
    data = cued_shapes(400, num_distractors=(0, 3), seed=6)
    counts = data.distractor_masks.sum(axis=(1, 2)) // 25
    assert set(counts) == {0, 1, 2, 3}
    np.testing.assert_array_equal(
        cued_shapes(5, num_distractors=(2, 2), seed=1).images, cued_shapes(5, 2, seed=1).images
    )
    assert (cued_shapes(20, num_distractors=0, seed=1).distractor_masks.sum(axis=(1, 2)) == 0).all()


@pytest.mark.parametrize(
    "kwargs, argument, error",
    [
        ({"num_images": 0}, "num_images", ValueError),
        ({"num_distractors": 4}, "num_distractors", ValueError),
        ({"num_distractors": -1}, "num_distractors", ValueError),
        ({"num_distractors": (2, 1)}, "num_distractors", ValueError),
        ({"num_distractors": (0, 4)}, "num_distractors", ValueError),
        ({"num_distractors": (0, 1, 2)}, "num_distractors", ValueError),
        ({"num_distractors": 1.0}, "num_distractors", TypeError),
        ({"num_distractors": (0, 2.0)}, "num_distractors", TypeError),
        ({"num_distractors": True}, "num_distractors", TypeError),
        ({"num_distractors": "3"}, "num_distractors", TypeError),
        ({"noise": -0.1}, "noise", ValueError),
    ],
)
def test_cued_shapes_bad_arguments_are_named(kwargs, argument, error):
    with pytest.raises(error, match=f"argument {argument}.*Received: {argument}="):
        cued_shapes(**kwargs)
