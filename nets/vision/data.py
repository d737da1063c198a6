"""Small in-memory data sets for the vision modules' learn-to-goal tests, and the loop that fits them.

    digits_split   scikit-learn's bundled 8x8 handwritten digits (UCI optdigits test set, 1797 images),
                   a fixed stratified train/test split; no download
    shapes         synthetic segmentation scenes: rectangles, circles and triangles on noise
    fit, predict   AdamW + cosine-decayed learning rate + cross-entropy over tensors held in memory

Everything is seeded so a test's accuracy is the same number on every run of the same machine.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPE_CLASSES = ("background", "rectangle", "circle", "triangle")


def digits_split(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train_N188, y_train_N, x_test_N188, y_test_N): digits scaled to [0, 1], split stratified by label."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_N188 = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)  # (N, 8, 8) -> (N, 1, 8, 8)
    y_N = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        np.arange(len(y_N)), test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return x_N188[train_idx], y_N[train_idx], x_N188[test_idx], y_N[test_idx]


def _triangle_mask(yy: np.ndarray, xx: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Pixels on the inner side of all three edges of the triangle `corners` (3, 2) given as (x, y)."""
    signs = []
    for i in range(3):
        (x0, y0), (x1, y1) = corners[i], corners[(i + 1) % 3]
        signs.append((x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0))
    signs = np.stack(signs)
    return np.all(signs >= 0, axis=0) | np.all(signs <= 0, axis=0)


def shapes(
    count: int,
    size: int = 32,
    max_shapes: int = 2,
    extent: tuple[float, float] = (0.3, 0.6),
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` single-channel scenes (images_N1HW in [0, 1], masks_NHW of class ids in SHAPE_CLASSES order).

    Each scene is uniform noise in [0, 0.5] with 1..max_shapes filled shapes of random class, size,
    position and brightness in [0.5, 1] (plus noise of ±0.1) painted in order, so a later shape hides
    an earlier one. Brightness tells shape from background; only the outline tells the classes apart.
    Triangles are equilateral at a random rotation, rectangles axis-aligned with random aspect; a
    rectangle's sides and a circle's diameter are drawn from `extent` times the scene's side, a
    triangle's circumradius is 0.6 times such a size.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    images = np.empty((count, size, size), dtype=np.float32)
    masks = np.zeros((count, size, size), dtype=np.int64)
    lo, hi = size * extent[0], size * extent[1]  # a shape's width as a fraction of the scene's
    for n in range(count):
        image = rng.uniform(0.0, 0.5, (size, size))
        for _ in range(rng.integers(1, max_shapes + 1)):
            kind = int(rng.integers(1, len(SHAPE_CLASSES)))
            cx, cy = rng.uniform(size * 0.15, size * 0.85, 2)
            if kind == 1:
                half_w, half_h = rng.uniform(lo, hi, 2) / 2
                region = (np.abs(xx - cx) <= half_w) & (np.abs(yy - cy) <= half_h)
            elif kind == 2:
                radius = rng.uniform(lo, hi) / 2
                region = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
            else:
                radius = rng.uniform(lo, hi) * 0.6
                angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
                corners = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
                region = _triangle_mask(yy, xx, corners)
            image[region] = rng.uniform(0.5, 1.0) + rng.uniform(-0.1, 0.1, int(region.sum()))
            masks[n][region] = kind
        images[n] = np.clip(image, 0.0, 1.0)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(masks)  # (N, H, W) -> (N, 1, H, W)


def fit(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> list[float]:
    """Train `model` with cross-entropy (class logits on dim 1, so images and pixel maps alike) and AdamW
    whose learning rate decays on a cosine to zero, which lets a few epochs settle. Returns the mean
    loss of every epoch."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = (len(inputs) + batch_size - 1) // batch_size
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    model.train()
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)
        total = 0.0
        for start in range(0, len(inputs), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(inputs[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        losses.append(total / len(inputs))
    return losses


@torch.no_grad()
def predict(model: nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class ids (argmax over dim 1) of `model` in eval mode; restores the model's previous mode."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(inputs[i : i + batch_size]).argmax(dim=1) for i in range(0, len(inputs), batch_size)])
    model.train(was_training)
    return out
