"""Images of a target among distractors, where *where* matters (notebook 08)."""

from typing import NamedTuple

import numpy as np

from attention_utils import _validation as check


class ClutteredShapes(NamedTuple):
    images: np.ndarray
    labels: np.ndarray
    target_masks: np.ndarray
    distractor_masks: np.ndarray


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
