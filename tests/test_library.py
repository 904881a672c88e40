"""The library verbs (issue 9): images as paths, bytes, PIL images or numpy arrays; `openidv.verify` decides
the same files the same way as `POST /v1/verifications`, because both go through one `Verifier`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import openidv
from openidv.errors import InvalidInput
from openidv.services import Verifier
from openidv.settings import Settings
from openidv.store.db import make_engine
from openidv.store.repository import Store

TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"


def forms(path: Path) -> dict[str, Any]:
    """One photo in every form the verbs accept."""
    with PILImage.open(path) as pil:
        rgb = pil.convert("RGB")
        rgb.load()
    return {"path": path, "str": str(path), "bytes": path.read_bytes(), "pil": rgb, "numpy": np.asarray(rgb)}


def test_verify_takes_every_image_form_and_decides_alike(shared_data: Path, tmp_path: Path) -> None:
    selfie = forms(shared_data / "faces" / "obama" / "obama1.jpg")
    document = shared_data / "faces" / "biden" / "biden1.jpg"
    store = Store(make_engine(f"sqlite:///{tmp_path / 'lib.sqlite3'}"))
    verifier = Verifier.open(Settings(data_dir=tmp_path), store=store)
    outcomes = set()
    for form, image in selfie.items():
        record = openidv.verify(selfie=image, document=document, verifier=verifier, save=False)
        outcomes.add((record.decision.outcome, "FACE_MISMATCH" in record.decision.reason_codes))
        match = next(c for c in record.checks if c.check == "face_match")
        assert match.status == "ok", form
    assert outcomes == {("reject", True)}
    store.engine.dispose()


def test_verify_matches_the_api_for_the_same_files(api_client: Any, shared_data: Path) -> None:
    client, _, headers = api_client
    selfie = shared_data / "faces" / "obama" / "obama1.jpg"
    document = shared_data / "faces" / "obama" / "obama2.jpg"
    # the library first, on the app's own verifier (same store and services); save=False only decides, so
    # it leaves no trace and the API then sees the same first capture
    verifier = client.app.state.verifier
    library = openidv.verify(
        selfie=selfie, document=document, mrz=TD3, verifier=verifier, save=False
    ).to_api()
    response = client.post(
        "/v1/verifications",
        files={
            "selfie": (selfie.name, selfie.read_bytes(), "image/jpeg"),
            "document": (document.name, document.read_bytes(), "image/jpeg"),
        },
        data={"mrz": TD3},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    api = response.json()
    assert library["decision"] == api["decision"]
    assert library["reason_codes"] == api["reason_codes"]
    assert [(c["check"], c["status"], c["score"], c["reason_codes"]) for c in library["checks"]] == [
        (c["check"], c["status"], c["score"], c["reason_codes"]) for c in api["checks"]
    ]


def test_verify_with_its_own_store_stores_like_the_api(shared_data: Path, tmp_path: Path) -> None:
    """Without a verifier, `verify` opens the deployment's store (here OPENIDV_DATA_DIR's SQLite)."""
    record = openidv.verify(mrz=TD3, declared={"surname": "Eriksson", "given_names": "Anna Maria"})
    assert record.decision.outcome == "reject" and "DOC_EXPIRED" in record.decision.reason_codes
    stored = Store.from_url(Settings.from_env().resolved_database_url())
    assert stored.get_verification(record.id).decision == record.decision
    stored.engine.dispose()


def test_verify_bad_input_is_one_clear_error() -> None:
    with pytest.raises(InvalidInput, match="mrz"):
        openidv.verify(mrz="not an mrz\n" * 5, save=False)
    with pytest.raises(InvalidInput, match="selfie"):
        openidv.verify(selfie=b"not an image", save=False)
    with pytest.raises(InvalidInput, match="not an image"):
        openidv.verify(selfie=3.5, save=False)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="surname"):
        openidv.verify(mrz=TD3, declared={"surname": ""}, save=False)


def test_every_verb_takes_a_numpy_array(shared_data: Path) -> None:
    a = forms(shared_data / "faces" / "obama" / "obama1.jpg")
    b = forms(shared_data / "faces" / "obama" / "obama2.jpg")
    comparison = openidv.compare_faces(a["numpy"], b["pil"])
    assert comparison.status == "ok" and comparison.match is True
    liveness = openidv.check_liveness(a["numpy"])
    assert liveness.acquired
    document = openidv.read_document(b["numpy"])
    assert document is not None
