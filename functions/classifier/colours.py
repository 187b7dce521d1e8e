"""Dominant colours of an image in CIE Lab, named by CIEDE2000. Pure numpy.

sRGB (D65) -> linear light -> XYZ -> CIE L*a*b*, vectorised; colour differences are CIEDE2000
(Sharma, Wu and Dalal 2005, "The CIEDE2000 color-difference formula: implementation notes,
supplementary test data, and mathematical observations"). Lab is close to perceptually
uniform and CIEDE2000 corrects what is left (the blue region, neutrals, chroma), so "the
nearest palette colour" means nearest as people see it. Euclidean distance between sRGB
triplets does not: it overweights differences the eye barely sees and misses ones it sees
clearly (the tests pin an example).

`dominant_colours` clusters a thumbnail of at most ~32x32 pixels (`PreparedImage.thumbnail`,
cut from the model input, so transparency is already composited on the model's background)
with a seeded k-means++ in Lab: the same pixels always give the same colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# --- colour space ------------------------------------------------------------------------
# IEC 61966-2-1 (sRGB) primaries and D65 white, XYZ scaled to Y = 1 for white.
_SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_D65_WHITE = _SRGB_TO_XYZ.sum(axis=1)  # XYZ of sRGB (255, 255, 255): 0.9505, 1.0, 1.0888
_EPSILON = (6 / 29) ** 3
_KAPPA_SLOPE = 1 / (3 * (6 / 29) ** 2)


def _linear_table() -> np.ndarray:
    c = np.arange(256) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR = _linear_table()  # sRGB 8-bit code -> linear light, one lookup per channel


def srgb_to_lab(rgb: np.ndarray | Sequence[int]) -> np.ndarray:
    """8-bit sRGB (..., 3) to CIE Lab (..., 3), D65 white, float64."""
    codes = np.asarray(rgb)
    if codes.dtype != np.uint8:
        codes = np.clip(np.rint(codes), 0, 255).astype(np.uint8)
    xyz = _LINEAR[codes] @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), xyz * _KAPPA_SLOPE + 4 / 29)
    lab = np.empty(xyz.shape)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def delta_e_2000(
    lab1: np.ndarray | Sequence[float], lab2: np.ndarray | Sequence[float]
) -> np.ndarray:
    """CIEDE2000 between Lab colours (..., 3), broadcasting; kL = kC = kH = 1."""
    lab1, lab2 = np.asarray(lab1, np.float64), np.asarray(lab2, np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_mean7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_mean7 / (c_mean7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    # atan2(0, 0) is 0 in numpy, which is the convention Sharma et al. ask for.
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    chroma_product = c1p * c2p
    neutral = chroma_product == 0

    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(neutral, 0.0, dh)
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * np.sqrt(chroma_product) * np.sin(np.radians(dh / 2))

    l_mean = (l1 + l2) / 2
    c_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(
        np.abs(h1p - h2p) <= 180,
        h_sum / 2,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
    )
    h_mean = np.where(neutral, h_sum, h_mean)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    d_theta = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    c_mean7p = c_mean**7
    r_c = 2 * np.sqrt(c_mean7p / (c_mean7p + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * c_mean
    s_h = 1 + 0.015 * c_mean * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    term_l, term_c, term_h = d_l / s_l, d_c / s_c, d_h / s_h
    return np.asarray(np.sqrt(term_l**2 + term_c**2 + term_h**2 + r_t * term_c * term_h))


# --- the named palette -------------------------------------------------------------------
@dataclass(frozen=True)
class PaletteColour:
    """A named colour: its name, one of the 11 basic colour terms, and its sRGB value."""

    name: str
    family: str
    rgb: tuple[int, int, int]


def _hex(code: str) -> tuple[int, int, int]:
    return (int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16))


# Names are lower-case words (valid S3 tag values). Each family (Berlin and Kay's 11 basic
# colour terms, contracts.COLOUR_FAMILIES) has its plain name plus the common shades that
# people name differently; values are the usual CSS/X11 ones unless noted.
PALETTE: tuple[PaletteColour, ...] = tuple(
    PaletteColour(name, family, _hex(code))
    for name, family, code in (
        ("black", "black", "000000"),
        ("white", "white", "ffffff"),
        ("cream", "white", "fffdd0"),
        ("charcoal", "grey", "36454f"),
        ("dark grey", "grey", "555555"),
        ("grey", "grey", "808080"),
        ("silver", "grey", "c0c0c0"),
        ("slate", "grey", "708090"),
        ("red", "red", "d7191c"),
        ("crimson", "red", "dc143c"),
        ("maroon", "red", "800000"),
        ("orange", "orange", "ff8c00"),
        ("coral", "orange", "ff7f50"),
        ("rust", "orange", "b7410e"),
        ("yellow", "yellow", "ffe119"),
        ("gold", "yellow", "ffd700"),
        ("mustard", "yellow", "e1ad01"),
        ("green", "green", "2e8b3e"),
        ("lime", "green", "32cd32"),
        ("dark green", "green", "006400"),
        ("olive", "green", "808000"),
        ("mint", "green", "98ff98"),
        ("sage", "green", "9caf88"),
        ("blue", "blue", "1f4fd8"),
        ("navy", "blue", "000080"),
        ("royal blue", "blue", "4169e1"),
        ("sky blue", "blue", "87ceeb"),
        ("teal", "blue", "008080"),
        ("turquoise", "blue", "40e0d0"),
        ("purple", "purple", "800080"),
        ("violet", "purple", "8f00ff"),
        ("lavender", "purple", "b57edc"),
        ("plum", "purple", "8e4585"),
        ("indigo", "purple", "4b0082"),
        ("pink", "pink", "ffc0cb"),
        ("hot pink", "pink", "ff69b4"),
        ("magenta", "pink", "ff00ff"),
        ("salmon", "pink", "fa8072"),
        ("brown", "brown", "8b4513"),
        ("chocolate", "brown", "5c3a21"),
        ("tan", "brown", "d2b48c"),
        ("beige", "brown", "e1c699"),
        ("khaki", "brown", "c3b091"),
    )
)
PALETTE_LAB = srgb_to_lab(np.array([colour.rgb for colour in PALETTE], np.uint8))
PALETTE_NAMES = {colour.name: colour for colour in PALETTE}


def nearest(lab: np.ndarray | Sequence[float]) -> PaletteColour:
    """The palette colour nearest to one Lab value by CIEDE2000."""
    distances = delta_e_2000(np.asarray(lab, np.float64)[None, :], PALETTE_LAB)
    return PALETTE[int(np.argmin(distances))]


# --- dominant colours --------------------------------------------------------------------
CLUSTERS = 5  # k-means' k before merging; three are reported
REPORTED = 3
MERGE_DELTA_E = 5.0  # clusters closer than this (CIEDE2000) are one colour
# Lloyd iterations are most of the cost (bench/classify_bench.py); after 8 the names and
# fractions of photo thumbnails no longer change beyond a percent or two.
MAX_ITERATIONS = 8
CONVERGED = 0.5  # a centre moving less than this in L, a and b has settled
_SEED = 0  # k-means++ seeding is random; a fixed seed makes the colours reproducible
_DRAWS = np.random.default_rng(_SEED).random(64)  # the k-means++ draws, the same every time


@dataclass(frozen=True)
class DominantColour:
    """One of an image's main colours: its palette name and family, mean Lab, pixel share."""

    name: str
    family: str
    lab: tuple[float, float, float]
    fraction: float


def dominant_colours(
    pixels: np.ndarray, *, clusters: int = CLUSTERS, count: int = REPORTED
) -> list[DominantColour]:
    """The `count` largest colours of an H x W x 3 (or N x 3) uint8 sRGB array, largest first.

    k-means++ in Lab on the distinct colours weighted by their pixel counts, then clusters
    within MERGE_DELTA_E of each other, or named the same, are merged. Fractions are shares
    of all pixels, so they sum to at most 1. An empty array gives no colours.
    """
    rgb = np.asarray(pixels, np.uint8).reshape(-1, 3)
    if rgb.shape[0] == 0:
        return []
    packed = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2]
    codes, weights = np.unique(packed, return_counts=True)
    unique = np.stack([codes >> 16, (codes >> 8) & 0xFF, codes & 0xFF], axis=1).astype(np.uint8)
    points = srgb_to_lab(unique)
    weights = weights.astype(np.float64)

    centres = _seed_centres(points, weights, clusters)
    weighted = weights * points.T  # 3 x N: each pixel's L, a, b times its count
    for _ in range(MAX_ITERATIONS):
        assignment = _closest(points, centres)
        k = len(centres)
        mass = np.bincount(assignment, weights, k)
        sums = np.stack([np.bincount(assignment, row, k) for row in weighted], axis=1)
        keep = mass > 0
        updated = sums[keep] / mass[keep, None]
        converged = updated.shape == centres.shape and (
            float(np.abs(updated - centres).max()) < CONVERGED
        )
        centres = updated
        if converged:
            break
    assignment = _closest(points, centres)
    mass = np.bincount(assignment, weights, len(centres))
    centres, mass = centres[mass > 0], mass[mass > 0]
    # One CIEDE2000 call gives both the distances between clusters and to the palette.
    distances = delta_e_2000(centres[:, None, :], np.concatenate([centres, PALETTE_LAB])[None])
    groups = _merged(list(zip(centres, mass.tolist(), strict=True)), distances[:, : len(centres)])
    if len(groups) < len(centres):
        labs = np.array([lab for lab, _ in groups])
        names = np.argmin(delta_e_2000(labs[:, None, :], PALETTE_LAB[None, :, :]), axis=1)
    else:
        names = np.argmin(distances[:, len(centres) :], axis=1)
    by_name: dict[int, tuple[np.ndarray, float]] = {}
    for index, (lab, weight) in zip(names.tolist(), groups, strict=True):
        if index in by_name:  # two shades with one name are one colour to the reader
            other_lab, other_weight = by_name[index]
            lab = (other_lab * other_weight + lab * weight) / (other_weight + weight)
            weight += other_weight
        by_name[index] = (lab, weight)
    ranked = sorted(by_name.items(), key=lambda entry: (-entry[1][1], PALETTE[entry[0]].name))
    total = float(weights.sum())
    return [
        DominantColour(
            name=PALETTE[index].name,
            family=PALETTE[index].family,
            lab=(float(lab[0]), float(lab[1]), float(lab[2])),
            fraction=float(weight) / total,
        )
        for index, (lab, weight) in ranked[:count]
    ]


def _seed_centres(points: np.ndarray, weights: np.ndarray, clusters: int) -> np.ndarray:
    """k-means++ (Arthur and Vassilvitskii 2007) with fixed draws, weighted by pixel count."""

    def draw(mass: np.ndarray, u: float) -> int:
        cumulative = np.cumsum(mass)
        index = int(np.searchsorted(cumulative, u * cumulative[-1], side="right"))
        return min(index, len(mass) - 1)

    norms = np.einsum("ij,ij->i", points, points)
    chosen = [draw(weights, _DRAWS[0])]
    nearest_sq = norms - 2 * points @ points[chosen[0]] + norms[chosen[0]]
    while len(chosen) < min(clusters, len(points), len(_DRAWS)):
        spread = weights * np.maximum(nearest_sq, 0)
        if not spread.any():
            break  # fewer distinct colours than clusters
        chosen.append(draw(spread, _DRAWS[len(chosen)]))
        candidate = norms - 2 * points @ points[chosen[-1]] + norms[chosen[-1]]
        nearest_sq = np.minimum(nearest_sq, candidate)
    return np.asarray(points[chosen])


def _closest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of each point's nearest centre (squared Euclidean in Lab, ΔE76), by matmul."""
    distances = points @ (-2 * centres.T) + np.einsum("ij,ij->i", centres, centres)[None, :]
    return np.asarray(np.argmin(distances, axis=1))


def _merged(
    groups: list[tuple[np.ndarray, float]], distances: np.ndarray
) -> list[tuple[np.ndarray, float]]:
    """Merge the closest pair of clusters while it is within MERGE_DELTA_E.

    `distances` is the CIEDE2000 matrix of `groups`; it is recomputed after each merge.
    """
    distances = distances.copy()
    while len(groups) > 1:
        if len(distances) != len(groups):
            labs = np.array([lab for lab, _ in groups])
            distances = delta_e_2000(labs[:, None, :], labs[None, :, :])
        np.fill_diagonal(distances, np.inf)
        i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
        if distances[i, j] >= MERGE_DELTA_E:
            break
        (lab_i, w_i), (lab_j, w_j) = groups[i], groups[j]
        merged = ((lab_i * w_i + lab_j * w_j) / (w_i + w_j), w_i + w_j)
        groups = [group for k, group in enumerate(groups) if k not in (i, j)] + [merged]
    return groups


def tag_value(colours: Sequence[DominantColour]) -> str:
    """The `imgclf:colours` tag: the names, space-separated; a name's own spaces become '-'."""
    return " ".join(colour.name.replace(" ", "-") for colour in colours)
