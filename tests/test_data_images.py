"""The generated images of a target among distractors: deterministic, well-formed, and labelled right."""

import numpy as np
import pytest

from attention_utils.data import SHAPE_NAMES, cluttered_shapes


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
