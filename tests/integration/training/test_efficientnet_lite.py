"""EfficientNet-Lite0: the converted ImageNet weights label real photographs of ImageNet classes.

The photos are scikit-image's sample photographs (BSD-3-Clause), taken from its PyPI wheel.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from classifier.imaging import ImageLimits, InputSpec, prepare_image
from training.backbones import efficientnet_lite as lite
from training.imagenet import resolve

pytestmark = pytest.mark.slow

SKIMAGE_WHEEL = "scikit-image==0.25.2"
# photo -> ImageNet classes that are right for it (near-duplicate classes are all accepted)
PHOTOS = {
    "chelsea.png": resolve("281-285"),  # a tabby cat
    "coffee.png": (967, 968, 504),  # espresso, cup, coffee mug
    "motorcycle_left.png": (665, 670),  # moped, motor scooter
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    cache = lite.cache_root() / "test-photos" / SKIMAGE_WHEEL
    if not all((cache / name).is_file() for name in PHOTOS):
        download = tmp_path_factory.mktemp("wheel")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             SKIMAGE_WHEEL, "-d", str(download)],
            check=True,
        )  # fmt: skip
        wheel = next(download.glob("*.whl"))
        cache.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in PHOTOS:
                (cache / name).write_bytes(archive.read(f"skimage/data/{name}"))
    return {name: (cache / name).read_bytes() for name in PHOTOS}


def test_converted_weights_are_cached_under_the_packages_version() -> None:
    path = lite.converted_weights()
    assert path.is_file() and lite.weights_version() in path.name


def test_the_converted_imagenet_model_labels_real_photographs(photos: dict[str, bytes]) -> None:
    # Given the Keras Lite0 with the converted weights (4.7 M parameters)
    model = lite.imagenet_classifier()
    assert 4_600_000 < model.count_params() < 4_800_000
    spec = InputSpec(height=lite.IMAGE_SIZE, width=lite.IMAGE_SIZE)
    # When it sees each photo through the Lambda's preprocessing
    images = np.stack([prepare_image(data, spec, ImageLimits()).array for data in photos.values()])
    top1 = np.argmax(model.predict(images.astype(np.float32), verbose=0), axis=1)
    # Then every top-1 class is one that is right for the photo
    for (name, accepted), predicted in zip(PHOTOS.items(), top1, strict=True):
        assert int(predicted) in accepted, f"{name}: class {predicted}"
