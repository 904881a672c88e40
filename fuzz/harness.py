"""What every harness shares: run ``one_input`` under atheris, and the command-line flags it takes."""

from __future__ import annotations

import sys
from collections.abc import Callable


def main(one_input: Callable[[bytes], None]) -> None:
    """Hand ``one_input`` to libFuzzer; ``sys.argv`` carries libFuzzer's flags and corpus folders."""
    import atheris

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
