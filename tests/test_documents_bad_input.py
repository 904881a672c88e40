"""Bad input gives a clear result or error, never a crash: no document, upside down, truncated JPEG, PDF,
a huge image; and the CLI commands around documents."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from openidv.checks.registry import create_check
from openidv.cli import app
from openidv.errors import InvalidInput
from openidv.evidence import Evidence
from openidv.imageio import Image, load_image
from openidv.results import Status
from tests.documents_data import AS_OF, clean_set

runner = CliRunner()


def test_photo_without_a_document_is_a_failure_to_acquire(shared_data: Path) -> None:
    selfie = load_image(shared_data / "faces" / "obama" / "obama1.jpg")
    for name in ("document_read", "document_consistency", "document_forensics"):
        result = create_check(name).run(Evidence(document_image=selfie))
        assert result.status == Status.FAILED_TO_ACQUIRE and result.reason_codes == ("DOC_NOT_FOUND",)
    blank = Image.from_array(np.full((600, 800, 3), 128, np.uint8))
    assert create_check("document_read").run(Evidence(document_image=blank)).reason_codes == (
        "DOC_NOT_FOUND",
    )


def test_document_upside_down_is_read(tmp_path: Path) -> None:
    folder = clean_set("uto-passport").parent
    photo = load_image(folder / "doc00000_front.jpg")
    turned = Image.from_array(np.ascontiguousarray(photo.bgr[::-1, ::-1]))
    result = create_check("document_read").run(Evidence(document_image=turned, as_of=AS_OF))
    assert result.status == Status.OK and result.score == 1.0, result.reason_codes
    assert result.details["reading"]["sides"]["front"]["located"]["rotated_180"] is True


def test_truncated_jpeg_and_pdf_are_clear_errors(tmp_path: Path) -> None:
    data = (clean_set("uto-passport").parent / "doc00000_front.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    for path in (cut, pdf):
        with pytest.raises(InvalidInput):
            load_image(path)
        result = runner.invoke(app, ["document", "inspect", str(path), "--annotate", str(tmp_path / "a.png")])
        assert result.exit_code == 2
        assert "error:" in result.output and "Traceback" not in result.output


def test_huge_image_is_reduced_or_refused_not_crashed(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    buf = io.BytesIO()
    PILImage.new("RGB", (9000, 6000), (90, 80, 70)).save(buf, format="JPEG", quality=60)
    big.write_bytes(buf.getvalue())
    image = load_image(big)  # 54 MP: decoded at a reduced scale by the loader
    assert image.width * image.height <= 40_000_000
    result = create_check("document_read").run(Evidence(document_image=image))
    assert result.status == Status.FAILED_TO_ACQUIRE


def test_inspect_cli_json(tmp_path: Path) -> None:
    folder = clean_set("uto-id-card").parent
    png = tmp_path / "annotated.png"
    result = runner.invoke(
        app,
        [
            "document",
            "inspect",
            str(folder / "doc00000_front.jpg"),
            "--back",
            str(folder / "doc00000_back.jpg"),
            "--json",
            "--annotate",
            str(png),
            "--as-of",
            AS_OF.isoformat(),
        ],
    )
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.output)
    assert report["template"] == "uto-id-card"
    assert report["fields"]["surname"]["mrz"] and report["fields"]["surname"]["printed"]
    assert report["scores"]["document_forensics"]["meaning"] == "attack"
    assert "total" in report["timings_ms"] and png.is_file()


def test_synth_documents_cli(tmp_path: Path) -> None:
    out = tmp_path / "set"
    result = runner.invoke(app, ["synth", "documents", "--n", "2", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.csv").is_file() and (out / "truth" / "doc00000.json").is_file()
    bad = runner.invoke(app, ["synth", "documents", "--n", "1", "--out", str(out), "--degradations", "fog"])
    assert bad.exit_code == 2 and "unknown degradation" in bad.output
