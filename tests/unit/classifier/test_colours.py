"""Dominant colours: Lab conversion, CIEDE2000 against Sharma's data, naming and clustering."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from classifier.colours import (
    PALETTE,
    PALETTE_LAB,
    DominantColour,
    PaletteColour,
    delta_e_2000,
    dominant_colours,
    names_tag_value,
    srgb_to_lab,
)
from classifier.contracts import COLOUR_FAMILIES, tag_value_problem
from classifier.imaging import ImageLimits, InputSpec, prepare_image

# Sharma, Wu and Dalal (2005), Table 1: (Lab 1, Lab 2, CIEDE2000). Pairs 7/8 and 13-19 probe
# the hue-angle and mean-hue branches (a' = 0, hues 180 degrees apart); 25 the rotation term.
SHARMA_PAIRS = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_matches_sharmas_published_pairs_both_ways() -> None:
    first = np.array([pair[0] for pair in SHARMA_PAIRS])
    second = np.array([pair[1] for pair in SHARMA_PAIRS])
    expected = np.array([pair[2] for pair in SHARMA_PAIRS])
    # Vectorised over all pairs at once, and symmetric as the paper notes
    np.testing.assert_allclose(delta_e_2000(first, second), expected, atol=1e-4)
    np.testing.assert_allclose(delta_e_2000(second, first), expected, atol=1e-4)
    assert delta_e_2000((50, 10, 10), (50, 10, 10)) == 0


def test_srgb_to_lab_gives_the_reference_values() -> None:
    # White is L=100 with no chroma under D65; sRGB red and blue are the textbook values
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 0, 255]], np.uint8))
    np.testing.assert_allclose(lab[0], (100, 0, 0), atol=1e-3)
    np.testing.assert_allclose(lab[1], (0, 0, 0), atol=1e-9)
    np.testing.assert_allclose(lab[2], (53.2408, 80.0925, 67.2032), atol=1e-3)
    np.testing.assert_allclose(lab[3], (32.2970, 79.1875, -107.8602), atol=1e-3)
    # Any neutral sRGB grey has no chroma at all
    greys = srgb_to_lab(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1))
    assert np.abs(greys[:, 1:]).max() < 1e-3
    assert np.all(np.diff(greys[:, 0]) > 0)


def test_the_palette_covers_the_eleven_basic_terms_with_valid_tag_names() -> None:
    assert {colour.family for colour in PALETTE} == set(COLOUR_FAMILIES)
    assert len(PALETTE) == len({colour.name for colour in PALETTE})
    assert 25 <= len(PALETTE) <= 45
    for colour in PALETTE:
        assert tag_value_problem(colour.name) is None
        assert colour.name == colour.name.lower().strip()
    # Every family's plain name is itself a palette entry of that family
    assert {c.name for c in PALETTE if c.name == c.family} == set(COLOUR_FAMILIES)
    assert PALETTE_LAB.shape == (len(PALETTE), 3)


def _rgb_nearest(rgb: tuple[int, int, int]) -> str:
    values = np.array([colour.rgb for colour in PALETTE], np.float64)
    return PALETTE[int(np.argmin(((values - np.array(rgb)) ** 2).sum(axis=1)))].name


def nearest(lab: np.ndarray) -> PaletteColour:
    """The palette colour nearest to one Lab value by CIEDE2000."""
    return PALETTE[int(np.argmin(delta_e_2000(np.asarray(lab, np.float64)[None, :], PALETTE_LAB)))]


@pytest.mark.parametrize(
    ("rgb", "rgb_says", "ciede2000_says", "family"),
    [
        # CSS "gainsboro": R = G = B, a neutral light grey. Euclidean sRGB distance calls it
        # pink (255,192,203 is nearer than silver 192,192,192 in RGB), CIEDE2000 silver.
        ((220, 220, 220), "pink", "silver", "grey"),
        # CSS "darkgray", also exactly neutral: RGB distance calls it sage, a green.
        ((169, 169, 169), "sage", "silver", "grey"),
        # CSS "firebrick", a red: RGB distance calls it rust, an orange.
        ((178, 34, 34), "rust", "red", "red"),
    ],
)
def test_ciede2000_names_colours_that_rgb_distance_misnames(
    rgb: tuple[int, int, int], rgb_says: str, ciede2000_says: str, family: str
) -> None:
    # Given a colour whose family is not in doubt
    # Then the nearest palette colour by Euclidean sRGB distance is of another family
    assert _rgb_nearest(rgb) == rgb_says
    assert next(c for c in PALETTE if c.name == rgb_says).family != family
    # And by CIEDE2000 in Lab it is named right, in the image pipeline as well
    assert nearest(srgb_to_lab(rgb)).name == ciede2000_says
    (only,) = dominant_colours(np.full((8, 8, 3), rgb, np.uint8))
    assert (only.name, only.family) == (ciede2000_says, family)


@pytest.mark.parametrize(
    ("rgb", "name", "family"),
    [
        ((128, 130, 127), "grey", "grey"),  # near-greys, slightly tinted each way
        ((126, 128, 131), "grey", "grey"),
        ((200, 199, 202), "silver", "grey"),
        ((84, 86, 85), "dark grey", "grey"),
        ((250, 251, 249), "white", "white"),
        ((5, 6, 5), "black", "black"),
        ((0, 0, 128), "navy", "blue"),
        ((0, 0, 255), "blue", "blue"),  # pure blue was "violet", in the purple family
        ((135, 206, 235), "sky blue", "blue"),
        ((128, 128, 0), "olive", "green"),
        ((225, 198, 153), "beige", "brown"),
        ((54, 69, 79), "charcoal", "grey"),
        ((220, 30, 30), "red", "red"),
        ((30, 200, 40), "lime", "green"),
        ((255, 140, 0), "orange", "orange"),
        ((255, 225, 25), "yellow", "yellow"),
        ((128, 0, 128), "purple", "purple"),
        ((255, 192, 203), "pink", "pink"),
        ((139, 69, 19), "brown", "brown"),
    ],
)
def test_uniform_images_of_known_colours_are_named(
    rgb: tuple[int, int, int], name: str, family: str
) -> None:
    (only,) = dominant_colours(np.full((16, 16, 3), rgb, np.uint8))
    assert (only.name, only.family, only.fraction) == (name, family, 1.0)
    np.testing.assert_allclose(only.lab, srgb_to_lab(rgb), atol=1e-9)


def test_three_regions_come_back_largest_first_with_their_shares() -> None:
    # Given 50% blue, 30% red, 15% white and 5% green
    image = np.zeros((20, 20, 3), np.uint8)
    image[:10] = (30, 40, 220)
    image[10:16] = (220, 30, 30)
    image[16:19] = (255, 255, 255)
    image[19:] = (30, 200, 40)
    colours = dominant_colours(image)
    # Then the three largest, in order, with their exact pixel fractions
    assert [(c.name, c.family) for c in colours] == [
        ("blue", "blue"),
        ("red", "red"),
        ("white", "white"),
    ]
    assert [c.fraction for c in colours] == pytest.approx([0.5, 0.3, 0.15])
    assert sum(c.fraction for c in colours) <= 1


def test_noise_around_a_colour_is_one_colour_and_fractions_stay_ordered() -> None:
    rng = np.random.default_rng(3)
    image = np.empty((32, 32, 3), np.float64)
    image[:, :20] = (0, 0, 128)
    image[:, 20:] = (225, 198, 153)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    colours = dominant_colours(image)
    assert [c.name for c in colours[:2]] == ["navy", "beige"]
    assert colours[0].fraction == pytest.approx(20 / 32, abs=0.02)
    fractions = [c.fraction for c in colours]
    assert fractions == sorted(fractions, reverse=True) and sum(fractions) <= 1 + 1e-9
    assert len({c.name for c in colours}) == len(colours)  # shades with one name are merged


def test_the_same_pixels_always_give_the_same_colours() -> None:
    rng = np.random.default_rng(11)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    first = dominant_colours(image)
    assert len(first) == 3
    for _ in range(3):
        assert dominant_colours(image.copy()) == first
    # And the order of the pixels does not matter (clustering is on distinct colours)
    assert dominant_colours(image.reshape(-1, 3)[::-1].copy()) == first


def test_tiny_and_greyscale_images() -> None:
    (one,) = dominant_colours(np.array([[[255, 0, 0]]], np.uint8))
    assert (one.family, one.fraction) == ("red", 1.0)
    two = dominant_colours(np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8))
    assert sorted((c.name, c.fraction) for c in two) == [("black", 0.5), ("white", 0.5)]
    assert dominant_colours(np.zeros((0, 3), np.uint8)) == []
    # A greyscale ramp only ever yields neutral families
    ramp = np.repeat(np.linspace(0, 255, 32).astype(np.uint8)[None, :, None], 3, axis=2)
    families = {c.family for c in dominant_colours(np.repeat(ramp, 8, axis=0))}
    assert families <= {"black", "grey", "white"}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_the_thumbnail_is_the_model_input_reduced_with_alpha_on_the_background() -> None:
    # Given a PNG whose left half is transparent and right half opaque navy
    image = Image.new("RGBA", (300, 200), (255, 0, 0, 0))
    image.paste((0, 0, 128, 255), (150, 0, 300, 200))
    prepared = prepare_image(_png(image), InputSpec(224, 224), ImageLimits())
    # Then the thumbnail is at most 32 a side, cut from the model input
    assert prepared.thumbnail.shape == (32, 32, 3) and prepared.thumbnail.dtype == np.uint8
    # And the transparent half is white (the model's background), never the hidden red
    colours = dominant_colours(prepared.thumbnail)
    assert {c.name for c in colours[:2]} == {"white", "navy"}
    assert "red" not in {c.family for c in colours}
    assert sum(c.fraction for c in colours[:2]) > 0.9
    # And a model background other than white is what the colours see
    black = prepare_image(_png(image), InputSpec(64, 64, background=(0, 0, 0)), ImageLimits())
    assert black.thumbnail.shape == (32, 32, 3)
    assert dominant_colours(black.thumbnail)[0].family in ("black", "blue")
    assert "white" not in {c.family for c in dominant_colours(black.thumbnail)}


def test_a_small_model_input_is_its_own_thumbnail() -> None:
    prepared = prepare_image(
        _png(Image.new("RGB", (40, 30), (0, 0, 128))), InputSpec(20, 24), ImageLimits()
    )
    assert prepared.thumbnail is prepared.array or np.array_equal(
        prepared.thumbnail, prepared.array
    )
    assert dominant_colours(prepared.thumbnail)[0].name == "navy"


def test_the_tag_value_keeps_names_apart_and_is_a_valid_s3_value() -> None:
    colours = [
        DominantColour("sky blue", "blue", (80.0, -12.0, -22.0), 0.5),
        DominantColour("white", "white", (100.0, 0.0, 0.0), 0.3),
        DominantColour("dark grey", "grey", (36.0, 0.0, 0.0), 0.1),
    ]
    value = names_tag_value(colour.name for colour in colours)
    assert value == "sky-blue white dark-grey"
    assert tag_value_problem(value) is None
