"""Images of shapes among distractors, where *where* matters (notebook 08).

| generator          | label                                   | what a network must do              |
|--------------------|-----------------------------------------|-------------------------------------|
| `cluttered_shapes` | the one whole shape among stroke pieces | find the whole shape                |
| `cued_shapes`      | the shape above the cue bar             | find the cued one among four shapes |
"""

from typing import NamedTuple

import numpy as np

from attention_utils import _validation as check


class ClutteredShapes(NamedTuple):
    images: np.ndarray
    labels: np.ndarray
    target_masks: np.ndarray
    distractor_masks: np.ndarray


class CuedShapes(NamedTuple):
    images: np.ndarray
    labels: np.ndarray
    target_masks: np.ndarray
    distractor_masks: np.ndarray
    cue_masks: np.ndarray
    slot_classes: np.ndarray


# 5x5 glyphs drawn on the canvas. A target's class is its index in SHAPE_NAMES; the distractors are
# pieces of the targets (bars, a diagonal, a corner), so no single stroke gives the class away.
SHAPE_NAMES = ("plus", "cross", "square", "H")
_TARGET_GLYPHS = (
    ["..#..", "..#..", "#####", "..#..", "..#.."],
    ["#...#", ".#.#.", "..#..", ".#.#.", "#...#"],
    ["#####", "#...#", "#...#", "#...#", "#####"],
    ["#...#", "#...#", "#####", "#...#", "#...#"],
)
_DISTRACTOR_GLYPHS = (
    [".....", ".....", "#####", ".....", "....."],
    ["..#..", "..#..", "..#..", "..#..", "..#.."],
    ["#....", ".#...", "..#..", "...#.", "....#"],
    ["#####", "#....", "#....", "#....", "#...."],
)


def _glyph(rows):
    return np.array([[char == "#" for char in row] for row in rows])


def cluttered_shapes(num_images=1000, image_size=32, num_distractors=3, noise=0.1, seed=0):
    """Images of one target shape among distractors on a noisy canvas, labelled by the target's shape.

    The targets are a plus, a cross, a square outline and an H, each 5x5 pixels.

    The canvas is split into a grid of 8x8 cells; the target and ``num_distractors`` distractors
    (pieces of the target shapes: a bar, a diagonal, a corner) go into distinct random cells, each at a
    random offset within its cell and with a random brightness in ``[0.6, 1]``; Gaussian noise is
    added and the result clipped to ``[0, 1]``. To name the class a model must find the target: the
    distractors carry strokes of every class.

    Args:
        num_images: the number of images, a positive integer.
        image_size: the side of the square canvas, a multiple of 8 of at least 16.
        num_distractors: the number of distractors per image, from 0 to ``(image_size // 8) ** 2 - 1``.
        noise: the standard deviation of the Gaussian pixel noise, a finite number ``>= 0``.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same images.

    Returns:
        A ``ClutteredShapes`` of ``images`` ``(num_images, image_size, image_size, 1)`` float32,
        ``labels`` ``(num_images,)`` int32 indices into ``SHAPE_NAMES``, ``target_masks``
        ``(num_images, image_size, image_size)`` bool, ``True`` on the target's 5x5 box, and
        ``distractor_masks`` of the same shape, ``True`` on the distractors' 5x5 boxes.
    """
    check.check_integer_at_least(num_images, "num_images", 1)
    check.check_integer_at_least(num_distractors, "num_distractors", 0)
    check.check_integer_at_least(image_size, "image_size", 16, multiple_of=8, expected="a multiple of 8 of at least 16")
    cells_per_side = image_size // 8
    if num_distractors > cells_per_side**2 - 1:
        raise ValueError(
            f"Invalid value for argument num_distractors. Expected at most {cells_per_side**2 - 1} for "
            f"image_size={image_size} (one 8x8 cell per shape). Received: num_distractors={num_distractors}"
        )
    check.check_non_negative_number(noise, "noise")
    check.check_seed(seed)
    targets = [_glyph(rows) for rows in _TARGET_GLYPHS]
    distractors = [_glyph(rows) for rows in _DISTRACTOR_GLYPHS]
    rng = np.random.default_rng(seed)
    images = np.zeros((num_images, image_size, image_size), dtype="float32")
    target_masks = np.zeros((num_images, image_size, image_size), dtype=bool)
    distractor_masks = np.zeros_like(target_masks)
    labels = rng.integers(len(targets), size=num_images).astype("int32")
    for index in range(num_images):
        cells = rng.permutation(cells_per_side**2)[: 1 + num_distractors]  # the target's cell first
        kinds = rng.integers(len(distractors), size=num_distractors)
        glyphs = [targets[labels[index]]] + [distractors[kind] for kind in kinds]
        for shape_index, (cell, glyph) in enumerate(zip(cells, glyphs)):
            top = 8 * (cell // cells_per_side) + rng.integers(4)  # a 5x5 glyph, offset 0..3 in its cell
            left = 8 * (cell % cells_per_side) + rng.integers(4)
            images[index, top : top + 5, left : left + 5] += glyph * rng.uniform(0.6, 1.0)
            masks = target_masks if shape_index == 0 else distractor_masks
            masks[index, top : top + 5, left : left + 5] = True
    images += rng.normal(0, noise, images.shape).astype("float32")
    return ClutteredShapes(np.clip(images, 0, 1)[..., None], labels, target_masks, distractor_masks)


# cued_shapes' canvas: four slots of 8 x 8 pixels side by side on top, a cue bar under one of them, and an
# empty margin of 4 columns on either side (the docstring says why).
CUED_IMAGE_SHAPE = (16, 40)
CUED_MARGIN = 4  # empty columns left of the first slot and right of the last
_SLOT = 8  # the width of a slot; a shape's 5x5 box starts 0 to 3 pixels into it
_MAX_SHAPE_TOP = 2  # a shape's box starts on row 0, 1 or 2, so its lowest row is at most 6
_CUE_ROWS = slice(14, 16)  # 8 rows below the lowest row a shape can reach
_CUE_COLUMNS = slice(1, _SLOT - 1)  # within the cued slot, a pixel in from either side


def _check_num_distractors(num_distractors, maximum):
    """``(low, high)``: an integer ``n`` gives ``(n, n)``; a pair must hold integers ``0 <= low <= high``."""
    expected = f"an integer from 0 to {maximum}, or a pair (low, high) of them with low <= high"
    pair = num_distractors if isinstance(num_distractors, (tuple, list)) else (num_distractors, num_distractors)
    if len(pair) != 2:
        raise ValueError(
            f"Invalid value for argument num_distractors. Expected {expected}. Received: "
            f"num_distractors={num_distractors!r}"
        )
    for count in pair:
        check.check_integer_at_least(count, "num_distractors", 0, expected=expected)
    if pair[1] > maximum or pair[0] > pair[1]:
        raise ValueError(
            f"Invalid value for argument num_distractors. Expected {expected}. Received: "
            f"num_distractors={num_distractors!r}"
        )
    return int(pair[0]), int(pair[1])


def cued_shapes(num_images=1000, num_distractors=3, noise=0.1, seed=0):
    """Four slots, each holding a whole shape or nothing; the label is the shape in the cued slot.

    A ``16 x 40`` canvas (``CUED_IMAGE_SHAPE``) holds four slots of ``8 x 8`` pixels side by side at
    its top, columns 4 to 35, with an empty margin of ``CUED_MARGIN = 4`` columns on either side.
    The target and ``num_distractors`` distractors go into distinct random slots, each a
    5x5 glyph of ``SHAPE_NAMES`` at a random offset within its slot (a box starting on row 0 to 2,
    0 to 3 pixels into the slot) and with a random brightness in ``[0.6, 1]``. The distractors are
    whole shapes too, of the classes other than the target's, each class at most once: with 3
    distractors every class appears exactly once and only the cue says which is the label. The cue
    is a bar, 2 rows by 6 pixels, on rows 14-15 under the target's slot. Gaussian noise is added
    and the result clipped to ``[0, 1]``.

    The bar lies 8 rows below the lowest row a shape can reach, so a feature whose receptive field
    is at most 8 pixels tall never sees the bar and a shape together. The margins make the slots
    alike for a CNN with a total stride of 4 (or any divisor of 8) whose windows span at most 7
    columns, such as two strided 3x3 convolutions: every slot, and the bar under it, is seen by the
    same windows in the same places, none of them reaching the canvas's edge or its zero padding. (On
    a canvas without margins, "same" padding would leave the first slot seen by fewer windows than
    the others, and the last one by windows that reach the padding, so pooled features would tell
    the edge slots apart.) Pooled over the whole image, by average or by maximum, such features then
    do not depend on which slot the bar is under: with every class present once, they carry no
    information about the label. A module that weighs positions by their surroundings, over a wider
    window, can find it.

    Args:
        num_images: the number of images, a positive integer.
        num_distractors: the number of distractors in every image, an integer from 0 to 3; or a pair
            ``(low, high)``, and each image draws its own number uniformly from ``low`` to ``high``.
        noise: the standard deviation of the Gaussian pixel noise, a finite number ``>= 0``.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same images.

    Returns:
        A ``CuedShapes`` of ``images`` ``(num_images, 16, 40, 1)`` float32, ``labels``
        ``(num_images,)`` int32 indices into ``SHAPE_NAMES`` (the cued shape's class),
        ``target_masks`` ``(num_images, 16, 40)`` bool, ``True`` on the cued shape's 5x5 box,
        ``distractor_masks`` of the same shape, ``True`` on the other shapes' boxes, ``cue_masks``,
        ``True`` on the bar, and ``slot_classes`` ``(num_images, 4)`` int32, the class of the shape in
        each slot, left to right, or -1 for an empty slot.
    """
    check.check_integer_at_least(num_images, "num_images", 1)
    num_slots = (CUED_IMAGE_SHAPE[1] - 2 * CUED_MARGIN) // _SLOT
    low, high = _check_num_distractors(num_distractors, num_slots - 1)
    check.check_non_negative_number(noise, "noise")
    check.check_seed(seed)
    glyphs = [_glyph(rows) for rows in _TARGET_GLYPHS]
    rng = np.random.default_rng(seed)
    images = np.zeros((num_images, *CUED_IMAGE_SHAPE), dtype="float32")
    target_masks = np.zeros((num_images, *CUED_IMAGE_SHAPE), dtype=bool)
    distractor_masks, cue_masks = np.zeros_like(target_masks), np.zeros_like(target_masks)
    labels = np.zeros(num_images, dtype="int32")
    slot_classes = np.full((num_images, num_slots), -1, dtype="int32")
    for index in range(num_images):
        count = 1 + rng.integers(low, high + 1)  # shapes in this image: the target first
        classes = rng.permutation(len(glyphs))[:count]
        slots = rng.permutation(num_slots)[:count]
        labels[index] = classes[0]
        slot_classes[index, slots] = classes
        for shape_index, (label, slot) in enumerate(zip(classes, slots)):
            top = rng.integers(_MAX_SHAPE_TOP + 1)
            left = CUED_MARGIN + _SLOT * slot + rng.integers(_SLOT - 5 + 1)
            images[index, top : top + 5, left : left + 5] += glyphs[label] * rng.uniform(0.6, 1.0)
            masks = target_masks if shape_index == 0 else distractor_masks
            masks[index, top : top + 5, left : left + 5] = True
        cue_left = CUED_MARGIN + _SLOT * slots[0]
        cue_columns = slice(cue_left + _CUE_COLUMNS.start, cue_left + _CUE_COLUMNS.stop)
        images[index, _CUE_ROWS, cue_columns] = rng.uniform(0.6, 1.0)
        cue_masks[index, _CUE_ROWS, cue_columns] = True
    images += rng.normal(0, noise, images.shape).astype("float32")
    return CuedShapes(np.clip(images, 0, 1)[..., None], labels, target_masks, distractor_masks, cue_masks, slot_classes)
