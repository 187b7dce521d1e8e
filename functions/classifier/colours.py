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
_LINEAR_TO_XYZ_WHITE = _SRGB_TO_XYZ.T / _D65_WHITE  # linear RGB row -> XYZ / white, one matmul
# f(X), f(Y), f(Z) -> L = 116 f(Y) - 16, a = 500 (f(X) - f(Y)), b = 200 (f(Y) - f(Z))
_F_TO_LAB = np.array([[0.0, 500.0, 0.0], [116.0, -500.0, 200.0], [0.0, 0.0, -200.0]])
_LAB_OFFSET = np.array([-16.0, 0.0, 0.0])


def srgb_to_lab(rgb: np.ndarray | Sequence[int]) -> np.ndarray:
    """8-bit sRGB (..., 3) to CIE Lab (..., 3), D65 white, float64."""
    codes = np.asarray(rgb)
    if codes.dtype != np.uint8:
        codes = np.clip(np.rint(codes), 0, 255).astype(np.uint8)
    xyz = _LINEAR[codes] @ _LINEAR_TO_XYZ_WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), xyz * _KAPPA_SLOPE + 4 / 29)
    return np.asarray(f @ _F_TO_LAB + _LAB_OFFSET)


# CIEDE2000 constants. Hue angles are in radians; T's four cosines are one call, cos(n h + p).
_POW7_25 = 25.0**7
_TWO_PI = 2 * np.pi
_T_MULTIPLES = np.array([1.0, 2.0, 3.0, 4.0])
_T_PHASES = np.radians([-30.0, 0.0, 6.0, -63.0])
_T_WEIGHTS = np.array([-0.17, 0.24, 0.32, -0.20])
_HUE_275 = np.radians(275.0)
_PER_25_DEGREES = 1 / np.radians(25.0)
_60_DEGREES = np.radians(60.0)  # 2 * the 30 degrees of delta theta


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
    t = np.cos(h_mean[..., None] * _T_MULTIPLES + _T_PHASES) @ _T_WEIGHTS
    s_c = 1 + 0.045 * c_mean
    s_h = 1 + 0.015 * c_mean * (1 + t)
    c_mean7p = c_mean**7
    rotation = (h_mean - _HUE_275) * _PER_25_DEGREES
    r_t = (
        -2
        * np.sqrt(c_mean7p / (c_mean7p + _POW7_25))
        * np.sin(_60_DEGREES * np.exp(-rotation * rotation))
    )
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
    unique, weights = _distinct(rgb)
    points = srgb_to_lab(unique)
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


def _distinct(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct colours of N x 3 uint8 pixels, sorted by (R, G, B), and their counts."""
    n = rgb.shape[0]
    padded = np.zeros((n, 4), np.uint8)
    padded[:, 2::-1] = rgb  # little-endian bytes B, G, R, 0: the uint32 is R << 16 | G << 8 | B
    packed = np.sort(padded.view("<u4")[:, 0])
    edges = np.ones(n + 1, bool)  # where a run of one colour starts, and the end
    np.not_equal(packed[1:], packed[:-1], out=edges[1:-1])
    bounds = np.flatnonzero(edges)
    counts = np.subtract(bounds[1:], bounds[:-1], dtype=np.float64)
    codes = packed[bounds[:-1]]
    return np.ascontiguousarray(codes.view(np.uint8).reshape(-1, 4)[:, 2::-1]), counts


def _seed_centres(points: np.ndarray, weights: np.ndarray, clusters: int) -> np.ndarray:
    """k-means++ (Arthur and Vassilvitskii 2007) with fixed draws, weighted by pixel count."""

    def draw(cumulative: np.ndarray, u: float) -> int:
        index = int(cumulative.searchsorted(u * cumulative[-1], side="right"))
        return min(index, len(cumulative) - 1)

    wanted = min(clusters, len(points), len(_DRAWS))
    chosen = [draw(np.cumsum(weights), _DRAWS[0])]
    if wanted > 1:
        norms = np.einsum("ij,ij->i", points, points)
        doubled = 2 * points
        nearest_sq = norms - doubled @ points[chosen[0]]
        nearest_sq += norms[chosen[0]]
        spread = np.empty_like(nearest_sq)
        while True:
            np.maximum(nearest_sq, 0, out=spread)
            cumulative = np.cumsum(np.multiply(weights, spread, out=spread), out=spread)
            if not cumulative[-1] > 0:
                break  # fewer distinct colours than clusters
            chosen.append(draw(cumulative, _DRAWS[len(chosen)]))
            if len(chosen) == wanted:
                break
            candidate = norms - doubled @ points[chosen[-1]]
            candidate += norms[chosen[-1]]
            np.minimum(nearest_sq, candidate, out=nearest_sq)
    return np.asarray(points[chosen])


_max = np.maximum.reduce  # the ufunc's own reduce: no Python wrapper, these arrays are tiny
_all = np.logical_and.reduce


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
    np.einsum("ij,ij->i", centres, centres, out=scorer[:, 3])
    for _ in range(MAX_ITERATIONS):
        scorer = _members(scorer @ augmented) @ weighted  # k x 4: sums of w L, w a, w b, w
        if not _all(scorer[:, 3]):
            scorer = scorer[scorer[:, 3] > 0]
        updated = np.divide(scorer[:, :3], scorer[:, 3:], out=scorer[:, :3])
        np.einsum("ij,ij->i", updated, updated, out=scorer[:, 3])
        converged = updated.shape == centres.shape and (
            float(_max(np.abs(updated - centres), axis=None)) < CONVERGED
        )
        centres = updated
        if converged:
            break
    mass = _members(scorer @ augmented) @ weights
    if not mass.all():
        centres, mass = centres[mass > 0], mass[mass > 0]
    return centres, mass


def _members(scores: np.ndarray) -> np.ndarray:
    """k x N booleans: True where centre i is point j's best (highest) score, the first if tied."""
    best: np.ndarray = scores == _max(scores, axis=0)
    if np.count_nonzero(best) != best.shape[1]:  # a tie: keep only the first best centre
        best = np.argmax(scores, axis=0) == np.arange(len(scores))[:, None]
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
    np.fill_diagonal(between, np.inf)
    while len(groups) > 1:
        i, j = np.unravel_index(int(np.argmin(between)), between.shape)
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
    return groups, np.argmin(to_palette, axis=1).tolist()


def tag_value(colours: Sequence[DominantColour]) -> str:
    """The `imgclf:colours` tag: the names, space-separated; a name's own spaces become '-'."""
    return " ".join(colour.name.replace(" ", "-") for colour in colours)
