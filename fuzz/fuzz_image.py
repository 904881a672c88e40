"""Fuzz the image loader: any bytes give an upright ``Image`` within the limits, or ``InvalidInput``.

The pixel cap is lowered (2 MP) so each input decodes fast and large JPEGs take the reduce-while-decoding
path; the other limits are the defaults the API uses."""

from __future__ import annotations

from contextlib import nullcontext

import atheris

# instrumented for coverage when run by libFuzzer; imported plainly when tests/test_fuzz.py replays the corpus
with atheris.instrument_imports(include=["openidv.imageio"]) if __name__ == "__main__" else nullcontext():
    from openidv.errors import InvalidInput
    from openidv.imageio import ImageLimits, load_image

LIMITS = ImageLimits(max_bytes=1 << 20, max_pixels=2_000_000)


def one_input(data: bytes) -> None:
    try:
        image = load_image(data, limits=LIMITS, name="fuzz")
    except InvalidInput as exc:
        assert "\n" not in str(exc), "an error message must be one line"
        return
    assert image.pixels.ndim == 3 and image.pixels.shape[2] == 3
    assert image.width * image.height <= LIMITS.max_pixels


if __name__ == "__main__":
    from harness import main

    main(one_input)
