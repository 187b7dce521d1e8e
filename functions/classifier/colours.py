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
with k-means in Lab on a coarse colour histogram, seeded at its peaks: no randomness, so the
same pixels always give the same colours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


# sRGB 8-bit code -> linear light, one lookup per channel. Rounded to multiples of 2^-40 so
# that sums of up to 8192 of them (a thumbnail has 1024 pixels) are exact in float64: a
# histogram bin's mean does not depend on the order of its pixels. A 5e-13 change in linear
# light is far below anything Lab or the tests can see.
_LINEAR = np.round(_linear_table() * 2.0**40) / 2.0**40
_LINEAR_TO_XYZ_WHITE = _SRGB_TO_XYZ.T / _D65_WHITE  # linear RGB row -> XYZ / white, one matmul
# f(X), f(Y), f(Z) -> L = 116 f(Y) - 16, a = 500 (f(X) - f(Y)), b = 200 (f(Y) - f(Z))
_F_TO_LAB = np.array([[0.0, 500.0, 0.0], [116.0, -500.0, 200.0], [0.0, 0.0, -200.0]])
_LAB_OFFSET = np.array([-16.0, 0.0, 0.0])


def srgb_to_lab(rgb: np.ndarray | Sequence[int]) -> np.ndarray:
    """8-bit sRGB (..., 3) to CIE Lab (..., 3), D65 white, float64."""
    codes = np.asarray(rgb)
    if codes.dtype != np.uint8:
        codes = np.clip(np.rint(codes), 0, 255).astype(np.uint8)
    return _linear_to_lab(_LINEAR[codes])


def _linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """Linear-light sRGB (..., 3) to CIE Lab (..., 3), D65 white."""
    xyz = linear @ _LINEAR_TO_XYZ_WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), xyz * _KAPPA_SLOPE + 4 / 29)
    return np.asarray(f @ _F_TO_LAB + _LAB_OFFSET)


# CIEDE2000 constants. Hue angles are in radians.
_POW7_25 = 25.0**7
_TWO_PI = 2 * np.pi


def _hue_tables(steps: int = 14400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """T - 1 and sin(2 delta theta) against the mean hue h-bar', every 0.025 degrees.

    Both depend on h-bar' alone, and interpolating these tables costs one call each instead
    of four cosines, an exp and a sin per pair. Linear interpolation is within 2e-7 of
    either, which moves CIEDE2000 by under 1e-6 of itself (3e-5 at most on random pairs of
    the whole Lab gamut; the tests hold it to Sharma's pairs at 1e-4).
    """
    hue = np.linspace(0.0, _TWO_PI, steps + 1)
    t = (
        -0.17 * np.cos(hue - np.radians(30.0))
        + 0.24 * np.cos(2 * hue)
        + 0.32 * np.cos(3 * hue + np.radians(6.0))
        - 0.20 * np.cos(4 * hue - np.radians(63.0))
    )
    rotation = (hue - np.radians(275.0)) / np.radians(25.0)
    return hue, t, np.sin(np.radians(60.0) * np.exp(-rotation * rotation))


_HUES, _T_MINUS_1, _SIN_2_THETA = _hue_tables()


def delta_e_2000(
    lab1: np.ndarray | Sequence[float], lab2: np.ndarray | Sequence[float]
) -> np.ndarray:
    """CIEDE2000 between Lab colours (..., 3), broadcasting; kL = kC = kH = 1."""
    lab1, lab2 = np.asarray(lab1, np.float64), np.asarray(lab2, np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_mean7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) * 0.5) ** 7
    one_plus_g = 1.5 - 0.5 * np.sqrt(c_mean7 / (c_mean7 + _POW7_25))
    a1p, a2p = one_plus_g * a1, one_plus_g * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    # Delta h' is the signed angle from (a1', b1) to (a2', b2), in [-pi, pi]: the wrapped
    # h2' - h1' of Sharma et al. And h1' + delta h' / 2 is their mean hue h-bar' (mod 2 pi).
    # With a neutral colour (C1' C2' = 0) delta H' is 0, so neither hue matters.
    d_hue = np.arctan2(a1p * b2 - b1 * a2p, a1p * a2p + b1 * b2)
    h_mean = (np.arctan2(b1, a1p) + 0.5 * d_hue) % _TWO_PI
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(0.5 * d_hue)

    l_mean50 = 0.5 * (l1 + l2) - 50
    l_mean50 *= l_mean50
    s_l = 1 + 0.015 * l_mean50 / np.sqrt(20 + l_mean50)
    c_mean = 0.5 * (c1p + c2p)
    s_c = 1 + 0.045 * c_mean
    s_h = 1 + 0.015 * c_mean * (1 + np.interp(h_mean, _HUES, _T_MINUS_1))
    c_mean7p = c_mean**7
    r_t = -2 * np.sqrt(c_mean7p / (c_mean7p + _POW7_25)) * np.interp(h_mean, _HUES, _SIN_2_THETA)
    term_l, term_c, term_h = (l2 - l1) / s_l, (c2p - c1p) / s_c, d_h / s_h
    return np.asarray(np.sqrt(term_l**2 + term_c**2 + term_h * (term_h + r_t * term_c)))


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
        ("blue", "blue", "0000ff"),
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


# --- dominant colours --------------------------------------------------------------------
CLUSTERS = 5  # k-means' k before merging; three are reported
REPORTED = 3
MERGE_DELTA_E = 5.0  # clusters closer than this (CIEDE2000) are one colour
# Pixels are binned by the top BIN_BITS bits of R, G and B (16^3 bins of 16 codes a side);
# k-means runs on the occupied bins, each at the Lab of its pixels' mean light and weighted by
# their count. Every call costs per bin and per numpy call, not per pixel (bench/classify_bench.py).
BIN_BITS = 4
# Seeded at the histogram's peaks, k-means starts near its answer: 3 Lloyd iterations land
# within about 1% of the best of 12 k-means++ restarts run to convergence (mean squared error
# over photo thumbnails), closer than 8 iterations from one k-means++ draw did. Always 3: a
# convergence test would cost more than the iterations it saves.
ITERATIONS = 3
_BIN_SHIFT = 8 - BIN_BITS
_BIN_PLACES = np.array([1 << (2 * BIN_BITS), 1 << BIN_BITS, 1])  # (R, G, B) top bits -> bin
_BINS = 1 << (3 * BIN_BITS)
_CHANNEL_OFFSETS = np.arange(3)[:, None] * _BINS


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

    k-means in Lab on the occupied bins of a coarse RGB histogram (each at its pixels' mean
    light, weighted by their count), seeded at the histogram's peaks; then clusters within
    MERGE_DELTA_E of each other, or named the same, are merged. Fractions are shares
    of all pixels, so they sum to at most 1. An empty array gives no colours.
    """
    rgb = np.asarray(pixels, np.uint8).reshape(-1, 3)
    if rgb.shape[0] == 0:
        return []
    points, weights = _histogram(rgb)
    centres, mass = _k_means(points, weights, _seed_centres(points, weights, clusters))
    # One CIEDE2000 call gives both the distances between clusters and to the palette.
    distances = delta_e_2000(centres[:, None, :], np.concatenate([centres, PALETTE_LAB])[None])
    groups, names = _merged(list(zip(centres, mass.tolist(), strict=True)), distances)
    by_name: dict[int, tuple[np.ndarray, float]] = {}
    for index, (lab, weight) in zip(names, groups, strict=True):
        if index in by_name:  # two shades with one name are one colour to the reader
            other_lab, other_weight = by_name[index]
            lab = (other_lab * other_weight + lab * weight) / (other_weight + weight)
            weight += other_weight
        by_name[index] = (lab, weight)
    ranked = sorted(by_name.items(), key=lambda entry: (-entry[1][1], PALETTE[entry[0]].name))
    total = float(rgb.shape[0])
    return [
        DominantColour(
            name=PALETTE[index].name,
            family=PALETTE[index].family,
            lab=(float(lab[0]), float(lab[1]), float(lab[2])),
            fraction=float(weight) / total,
        )
        for index, (lab, weight) in ranked[:count]
    ]


_max = np.maximum.reduce  # the ufuncs' own reduce: no Python wrapper, these arrays are tiny
_sum = np.add.reduce
_all = np.logical_and.reduce


def _histogram(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """N x 3 uint8 pixels binned by BIN_BITS per channel: each occupied bin's Lab and count.

    A bin's Lab is that of its pixels' mean linear light, so a one-colour bin is exactly its
    colour. Bins come in index order and the sums are exact, so pixel order cannot matter.
    """
    index = (rgb >> _BIN_SHIFT) @ _BIN_PLACES
    counts = np.bincount(index, minlength=_BINS)
    occupied = (counts != 0).nonzero()[0]
    # One bincount sums all three channels: R's bins first, then G's, then B's.
    sums = np.bincount(
        (index + _CHANNEL_OFFSETS).ravel(), _LINEAR[rgb.T].ravel(), 3 * _BINS
    ).reshape(3, _BINS)
    weights = counts[occupied].astype(np.float64)
    return _linear_to_lab((sums.take(occupied, 1) / weights).T), weights


def _seed_centres(points: np.ndarray, weights: np.ndarray, clusters: int) -> np.ndarray:
    """Deterministic seeds at the histogram's peaks: the heaviest bin, then each time the bin
    with the largest weight x squared distance to its nearest seed (k-means++'s weighting,
    taking the best instead of drawing), so a seed is both well populated and a new colour."""
    best = int(weights.argmax())
    chosen = [best]
    norms = _sum(points * points, axis=1)
    doubled = 2 * points
    nearest_sq = norms - doubled @ points[best]
    nearest_sq += norms[best]
    score = np.empty_like(nearest_sq)
    wanted = min(clusters, len(points))
    while len(chosen) < wanted:
        best = int(np.multiply(weights, nearest_sq, out=score).argmax())
        if not score[best] > 0:
            break  # fewer distinct colours than clusters
        chosen.append(best)
        if len(chosen) < wanted:
            candidate = norms - doubled @ points[best]
            candidate += norms[best]
            np.minimum(nearest_sq, candidate, out=nearest_sq)
    return np.asarray(points[chosen])


def _k_means(
    points: np.ndarray, weights: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Lloyd iterations from `centres`; the final centres and their pixel counts.

    A point's nearest centre (squared Euclidean in Lab, ΔE76) maximises p.c - |c|^2 / 2: one
    matmul of [c, |c|^2] by [p, -1/2]. Its membership row (the first best centre) times
    [w p, w] gives each cluster's sums and pixel count in another; dividing in place turns
    that k x 4 into the next [c, |c|^2]. Centres that lose all their points are dropped.
    """
    n = len(points)
    augmented = np.full((4, n), -0.5)
    augmented[:3] = points.T
    weighted = np.empty((n, 4))
    np.multiply(points, weights[:, None], out=weighted[:, :3])
    weighted[:, 3] = weights
    scorer = np.empty((len(centres), 4))
    scorer[:, :3] = centres
    _sum(centres * centres, axis=1, out=scorer[:, 3])
    for _ in range(ITERATIONS):
        scorer = _members(scorer @ augmented) @ weighted  # k x 4: sums of w L, w a, w b, w
        if not _all(scorer[:, 3]):
            scorer = scorer[scorer[:, 3] > 0]
        centres = np.divide(scorer[:, :3], scorer[:, 3:], out=scorer[:, :3])
        _sum(centres * centres, axis=1, out=scorer[:, 3])
    mass = _members(scorer @ augmented) @ weights
    if not mass.all():
        centres, mass = centres[mass > 0], mass[mass > 0]
    return centres, mass


def _members(scores: np.ndarray) -> np.ndarray:
    """k x N booleans: True where centre i is point j's best (highest) score, the first if tied."""
    best: np.ndarray = scores == _max(scores, axis=0)
    if np.count_nonzero(best) != best.shape[1]:  # a tie: keep only the first best centre
        best = scores.argmax(axis=0) == np.arange(len(scores))[:, None]
    return best


def _merged(
    groups: list[tuple[np.ndarray, float]], distances: np.ndarray
) -> tuple[list[tuple[np.ndarray, float]], list[int]]:
    """Merge the closest pair of clusters while it is within MERGE_DELTA_E; name each one.

    `distances` is CIEDE2000 from each group to the groups then to the palette, k x (k + 43).
    A merged group goes last, and only its own row is computed: to the others and the palette.
    Returns the groups and the index of each one's nearest palette colour.
    """
    between = distances[:, : len(groups)].copy()
    to_palette = distances[:, len(groups) :]
    between.flat[:: len(groups) + 1] = np.inf  # the diagonal
    while len(groups) > 1:
        i, j = divmod(int(between.argmin()), len(groups))
        if between[i, j] >= MERGE_DELTA_E:
            break
        (lab_i, w_i), (lab_j, w_j) = groups[i], groups[j]
        merged = ((lab_i * w_i + lab_j * w_j) / (w_i + w_j), w_i + w_j)
        keep = [k for k in range(len(groups)) if k not in (i, j)]
        groups = [groups[k] for k in keep] + [merged]
        others = np.array([lab for lab, _ in groups[:-1]]).reshape(-1, 3)
        row = delta_e_2000(merged[0], np.concatenate([others, PALETTE_LAB]))
        size = len(groups)
        grown = np.empty((size, size))
        grown[:-1, :-1] = between[np.ix_(keep, keep)]
        grown[-1, :-1] = grown[:-1, -1] = row[: size - 1]
        grown[-1, -1] = np.inf
        between = grown
        to_palette = np.concatenate([to_palette[keep], row[None, size - 1 :]])
    return groups, to_palette.argmin(axis=1).tolist()


def names_tag_value(names: Iterable[str]) -> str:
    """The `imgclf:colours` tag from the colours' names (as a result item stores them):
    space-separated, a name's own spaces become '-'."""
    return " ".join(name.replace(" ", "-") for name in names)
