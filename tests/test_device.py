"""The ``device`` check: fuzzy device identity, automation / emulator / inconsistency signals, velocity,
the noisy-OR score, and follow-ups applied only after the verification commits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from openidv.checks.device.consistency import device_signals
from openidv.checks.device.device_check import DeviceCheck, noisy_or
from openidv.checks.device.fingerprint import band_keys, match_device, signature_of, similarity
from openidv.checks.device.reputation import RecordDevice
from openidv.checks.device.timezones import countries_of
from openidv.checks.device.useragent import parse_user_agent
from openidv.checks.registry import create_check, params_model
from openidv.checks.services import DEVICE_REPUTATION
from openidv.decision.policy import load_policy, parse_policy
from openidv.errors import ConfigurationError
from openidv.results import Status
from openidv.services.container import Services
from openidv.services.device_reputation import MemoryDeviceReputation
from openidv.services.verifier import Verifier
from openidv.store.db import make_engine
from openidv.store.repository import Store
from openidv.telemetry import DeviceAttributes, Event
from tests.device_fixtures import CHROME_UA, FONTS, desktop, evidence, iphone, playwright_headless


def _check(store: MemoryDeviceReputation | None = None, **params: object) -> DeviceCheck:
    check = create_check("device", params, {DEVICE_REPUTATION: store or MemoryDeviceReputation()})
    assert isinstance(check, DeviceCheck)
    return check


def _names(ev_device: object, **kw: object) -> set[str]:
    ev = evidence(ev_device, **kw)  # type: ignore[arg-type]
    assert ev.telemetry is not None
    return {s.name for s in device_signals(ev.telemetry, ev.applicant.country if ev.applicant else None)}


# ------------------------------------------------------------------------------------------- identity


def test_same_device_after_a_browser_update_and_a_new_font() -> None:
    before = signature_of(desktop(), "t1")
    after = signature_of(
        desktop(user_agent=CHROME_UA.format(v=131), fonts=(*FONTS, "Fira Code"), languages=("en", "de")), "t1"
    )
    assert similarity(before, after) > 0.95
    assert set(band_keys(before, "t1")) & set(band_keys(after, "t1"))  # found through a shared band
    match = match_device(after, [("dev_x", before)], tenant="t1", min_similarity=0.8)
    assert match.known and match.device_id == "dev_x"


def test_a_different_gpu_and_screen_is_a_different_device() -> None:
    before = signature_of(desktop(), "t1")
    other = signature_of(
        desktop(
            webgl_hash="9" * 64,
            canvas_hash="8" * 64,
            webgl_renderer="ANGLE (Intel, Intel(R) UHD Graphics 620)",
            webgl_vendor="Google Inc. (Intel)",
            screen={"width": 1366, "height": 768},
        ),
        "t1",
    )
    assert similarity(before, other) < 0.6
    match = match_device(other, [("dev_x", before)], tenant="t1", min_similarity=0.8)
    assert not match.known and match.device_id.startswith("dev_") and match.device_id != "dev_x"


def test_a_look_alike_machine_in_another_timezone_or_with_other_fonts_is_another_device() -> None:
    """Same model, same canvas and WebGL renderings: similar enough by weight, but no update moves a
    machine's timezone or swaps its whole font set, so neither is the stored device."""
    stored = signature_of(desktop(), "t1")
    elsewhere = signature_of(desktop(timezone="America/New_York"), "t1")
    assert similarity(stored, elsewhere) >= 0.8
    assert not match_device(elsewhere, [("dev_x", stored)], tenant="t1", min_similarity=0.8).known
    other_fonts = signature_of(desktop(fonts=("Comic Sans MS", "Impact", "Wingdings")), "t1")
    assert not match_device(other_fonts, [("dev_x", stored)], tenant="t1", min_similarity=0.8).known


def test_ids_and_digests_are_keyed_by_tenant_and_hold_no_raw_value() -> None:
    a, b = signature_of(desktop(), "t1"), signature_of(desktop(), "t2")
    assert a != b and not set(band_keys(a, "t1")) & set(band_keys(b, "t2"))
    text = repr(a)
    assert "NVIDIA" not in text and "Berlin" not in text and "1920" not in text
    first = match_device(a, [], tenant="t1", min_similarity=0.8).device_id
    assert first == match_device(a, [], tenant="t1", min_similarity=0.8).device_id  # deterministic mint


def test_the_check_remembers_a_device_across_a_browser_update() -> None:
    store = MemoryDeviceReputation()
    check = _check(store)
    first = check.run(evidence(desktop(), subject="alice"))
    for f in check.follow_ups(evidence(desktop(), subject="alice"), first):
        store.apply_follow_up(f, reference="v1", session=None, tenant="t1")
    updated = evidence(
        desktop(user_agent=CHROME_UA.format(v=131), fonts=(*FONTS, "Fira Code")), subject="alice"
    )
    second = check.run(updated)
    assert second.details["known_device"] and second.details["device_id"] == first.details["device_id"]
    assert second.details["counts"]["accounts_24h"] == 1  # the same account is not counted twice


# -------------------------------------------------------------------------------------------- signals


def test_a_real_desktop_chrome_raises_nothing() -> None:
    result = _check().run(evidence(desktop()))
    assert result.status == Status.OK and result.score == 0.0 and result.reason_codes == ()
    assert result.details["flags"] == [] and result.details["reputation_source"] == "memory"


def test_playwright_headless_chromium_is_automation() -> None:
    names = _names(playwright_headless(), country=None)
    assert {"webdriver", "headless", "driver_globals", "no_plugins", "no_chrome_object"} <= names
    assert "software_renderer" in names  # SwiftShader: no GPU
    result = _check().run(evidence(playwright_headless(), country=None))
    assert "DEVICE_AUTOMATION" in result.reason_codes and result.score is not None and result.score > 0.99
    flags = {f["name"]: f for f in result.details["flags"]}
    assert "navigator.webdriver" in flags["webdriver"]["explanation"]


def test_each_automation_flag_alone() -> None:
    assert "webdriver" in _names(desktop(automation={"webdriver": True}))
    assert "driver_globals" in _names(
        desktop(automation={"driver_globals": ("cdc_adoQpoasnfa76pfcZLmcfl_",)})
    )
    assert "headless" in _names(
        desktop(user_agent=CHROME_UA.format(v=130).replace("Chrome/", "HeadlessChrome/"))
    )
    weak = _names(
        desktop(automation={"plugins": 0, "chrome_object": False, "permissions_inconsistent": True})
    )
    assert {"no_plugins", "no_chrome_object", "permissions_inconsistent"} <= weak
    result = _check().run(evidence(desktop(automation={"plugins": 0})))
    assert result.reason_codes == ("DEVICE_INCONSISTENT",)  # a weak hint is never DEVICE_AUTOMATION


@pytest.mark.parametrize(
    ("renderer", "model", "flag"),
    [
        ("Google SwiftShader", None, "software_renderer"),
        ("llvmpipe (LLVM 15.0.7, 256 bits)", None, "software_renderer"),
        ("VMware SVGA 3D", None, "virtual_machine"),
        ("Chromium (VirtualBox Graphics Adapter)", None, "virtual_machine"),
        ("Adreno (TM) 640", "sdk_gphone64_x86_64", "android_emulator"),
        ("Adreno (TM) 640", "Android SDK built for x86", "android_emulator"),
    ],
)
def test_emulator_and_vm_signs(renderer: str, model: str | None, flag: str) -> None:
    hints = {"mobile": False, "platform": "Windows", "model": model}
    device = desktop(webgl_renderer=renderer, client_hints=hints)
    assert flag in _names(device)
    assert "DEVICE_EMULATOR" in _check().run(evidence(device)).reason_codes


def test_a_phone_user_agent_on_a_desktop_gpu_is_an_emulator() -> None:
    spoofed = iphone(webgl_renderer="ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)")
    assert "mobile_desktop_gpu" in _names(spoofed)
    assert "mobile_desktop_gpu" not in _names(iphone()) and "mobile_desktop_gpu" not in _names(desktop())


def test_user_agent_against_platform_and_client_hints() -> None:
    assert "ua_platform_mismatch" in _names(desktop(platform="MacIntel"))
    assert "ua_client_hints_mismatch" in _names(desktop(client_hints={"platform": "macOS", "mobile": False}))
    assert "ua_client_hints_mismatch" in _names(desktop(client_hints={"platform": "Windows", "mobile": True}))
    result = _check().run(evidence(desktop(platform="MacIntel")))
    assert (
        result.reason_codes == ("DEVICE_INCONSISTENT",)
        and "MacIntel" in result.details["flags"][0]["explanation"]
    )


def test_mobile_claims_against_screen_touch_and_pointer() -> None:
    assert _names(iphone()) == set()
    assert "mobile_without_touch" in _names(iphone(max_touch_points=0, touch_support=False))
    assert "mobile_desktop_screen" in _names(iphone(screen={"width": 2560, "height": 1440}))
    mouse = tuple(Event(t=float(i), type="move", x=i, y=i, pointer="mouse") for i in range(10))
    assert "mobile_mouse_pointer" in _names(iphone(), events=mouse)
    touches = tuple(Event(t=float(i), type="touch_move", x=i, y=i) for i in range(10))
    assert "mobile_mouse_pointer" not in _names(iphone(), events=touches)
    assert {"touch_without_touch_points", "desktop_ua_touch_only"} <= _names(desktop(), events=touches)


def test_an_ipad_with_a_mac_user_agent_is_consistent() -> None:
    ipad = desktop(
        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        platform="MacIntel",
        client_hints=None,
        max_touch_points=5,
        touch_support=True,
    )
    touches = tuple(Event(t=float(i), type="touch_move", x=i, y=i) for i in range(10))
    assert _names(ipad, events=touches) == set()


def test_timezone_against_declared_country_from_the_tz_database() -> None:
    assert "DE" in countries_of("Europe/Berlin") and "US" in countries_of("America/New_York")
    assert "timezone_country_mismatch" not in _names(desktop(), country="DE")
    assert "timezone_country_mismatch" in _names(desktop(timezone="Asia/Shanghai"), country="DE")
    assert "timezone_country_mismatch" not in _names(
        desktop(timezone="Mars/Olympus"), country="DE"
    )  # unknown
    assert "no_languages" in _names(desktop(languages=()))


def test_user_agent_reader() -> None:
    ua = parse_user_agent(CHROME_UA.format(v=130))
    assert ua is not None and (ua.os, ua.browser, ua.major, ua.mobile) == ("Windows", "Chrome", 130, False)
    phone = parse_user_agent(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36"
    )
    assert phone is not None and phone.os == "Android" and phone.mobile and phone.family == "Chrome/Android"


# -------------------------------------------------------------------------------------- score, codes


def test_score_is_a_noisy_or_of_the_policy_weights() -> None:
    assert noisy_or([]) == 0.0 and noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    device = desktop(platform="MacIntel", languages=())
    default = _check().run(evidence(device)).score
    assert default == pytest.approx(1 - (1 - 0.6) * (1 - 0.3))
    heavier = _check(weights={"ua_platform_mismatch": 0.9, "no_languages": 0.3}).run(evidence(device)).score
    assert heavier is not None and default is not None and heavier > default  # monotone in each weight
    off = _check(weights={"ua_platform_mismatch": 0.6, "no_languages": 0.0}).run(evidence(device))
    assert off.score == pytest.approx(0.6) and off.details["ignored_flags"] == ["no_languages"]
    expat = _check(weights={"timezone_country_mismatch": 0.0}).run(evidence(desktop(timezone="Asia/Tokyo")))
    assert expat.reason_codes == () and expat.score == 0.0  # a flag switched off raises no code
    with pytest.raises(ConfigurationError, match="weights"):
        _check(weights={"webdriver": 1.5})


def test_no_device_attributes_is_device_unknown() -> None:
    result = _check().run(evidence(None))
    assert result.status == Status.FAILED_TO_ACQUIRE and result.reason_codes == ("DEVICE_UNKNOWN",)
    empty = _check().run(evidence(DeviceAttributes()))
    assert empty.status == Status.FAILED_TO_ACQUIRE and empty.reason_codes == ("DEVICE_UNKNOWN",)


def test_too_few_attributes_give_signals_but_no_identity() -> None:
    store = MemoryDeviceReputation()
    check = _check(store, max_accounts_per_day=1)
    thin = DeviceAttributes(user_agent=CHROME_UA.format(v=130), platform="MacIntel", languages=("en",))
    for n in range(3):  # thin browsers must not pool their counts under one id
        ev = evidence(thin, subject=f"s{n}")
        result = check.run(ev)
        assert result.status == Status.OK and result.details["device_id"] is None
        assert result.reason_codes == ("DEVICE_INCONSISTENT",)  # Windows UA on MacIntel still seen
        assert check.follow_ups(ev, result) == ()


def test_velocity_accounts_per_device_per_day() -> None:
    store = MemoryDeviceReputation()
    check = _check(store, max_accounts_per_day=3)
    results = []
    for n in range(5):
        ev = evidence(desktop(), subject=f"account-{n}")
        result = check.run(ev)
        results.append(result)
        for f in check.follow_ups(ev, result):
            store.apply_follow_up(f, reference=f"v{n}", session=None, tenant="t1")
    assert [r.details["counts"]["accounts_24h"] for r in results] == [1, 2, 3, 4, 5]
    assert ["DEVICE_VELOCITY" in r.reason_codes for r in results] == [False, False, False, True, True]
    assert "4 distinct accounts" in next(f for f in results[3].details["flags"])["explanation"]
    # the window slides: sightings older than 24 h do not count
    later = store.lookup(
        band_keys(signature_of(desktop(), "t1"), "t1"),
        tenant="t1",
        account=None,
        now=time.time() + 2 * 86_400,
        window_s=30 * 86_400,
    )
    assert later.candidates[0].accounts_24h == 0 and later.candidates[0].accounts_total == 5


def test_a_returning_account_is_not_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryDeviceReputation()
    check = _check(store)
    for n in range(3):
        ev = evidence(desktop(), subject=f"account-{n}")
        for f in check.follow_ups(ev, check.run(ev)):
            store.apply_follow_up(f, reference=f"v{n}", session=None, tenant="t1")
    two_days_later = time.time() + 2 * 86_400
    monkeypatch.setattr("openidv.checks.device.device_check.time.time", lambda: two_days_later)
    back = check.run(evidence(desktop(), subject="account-0")).details["counts"]
    assert back["accounts_24h"] == 1 and back["accounts_total"] == 3
    new = check.run(evidence(desktop(), subject="account-9")).details["counts"]
    assert new["accounts_24h"] == 1 and new["accounts_total"] == 4


def test_velocity_countries_and_failures() -> None:
    store = MemoryDeviceReputation()
    check = _check(store, max_countries=2, max_failures=1)
    for n, country in enumerate(("DE", "FR", "ES")):
        ev = evidence(desktop(timezone=None), subject="same", country=country)
        result = check.run(ev)
        for f in check.follow_ups(ev, result):
            store.apply_follow_up(f.decided("reject"), reference=f"v{n}", session=None, tenant="t1")
    result = check.run(evidence(desktop(timezone=None), subject="same", country="IT"))
    counts = result.details["counts"]
    assert counts["countries"] == 4 and counts["failures"] == 3 and counts["accounts_24h"] == 1
    names = {f["name"] for f in result.details["flags"]}
    assert {"velocity_countries", "velocity_failures"} <= names and "velocity_accounts" not in names


def test_tenants_do_not_see_each_others_devices() -> None:
    store = MemoryDeviceReputation()
    check = _check(store, max_accounts_per_day=1)
    for n in range(3):
        ev = evidence(desktop(), subject=f"a{n}", tenant="t1")
        for f in check.follow_ups(ev, check.run(ev)):
            store.apply_follow_up(f, reference=f"v{n}", session=None, tenant="t1")
    other = check.run(evidence(desktop(), subject="b", tenant="t2"))
    assert not other.details["known_device"] and other.details["counts"]["accounts_24h"] == 1
    assert "DEVICE_VELOCITY" not in other.reason_codes


# ------------------------------------------------------------------------------------ follow-ups


def test_follow_up_writes_only_after_commit(tmp_path: Path) -> None:
    store = MemoryDeviceReputation()
    check = _check(store)
    ev = evidence(desktop(), subject="alice")
    (follow_up,) = check.follow_ups(ev, check.run(ev))
    assert isinstance(follow_up, RecordDevice) and follow_up.on_reject
    engine = make_engine(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    with Session(engine) as session:
        store.apply_follow_up(follow_up, reference="rolled-back", session=session, tenant="t1")
        session.rollback()
    assert not check.run(ev).details["known_device"]
    with Session(engine) as session, session.begin():
        store.apply_follow_up(follow_up, reference="committed", session=session, tenant="t1")
        assert not check.run(ev).details["known_device"]  # not before the commit
    assert check.run(ev).details["known_device"]


POLICY = """
version: test-device
default: approve
checks:
  device: {}
rules:
  - name: device-automation
    when: {check: device, reason_code: DEVICE_AUTOMATION}
    outcome: reject
  - name: device-velocity
    when: {check: device, reason_code: DEVICE_VELOCITY}
    outcome: review
"""


def test_rejected_verifications_are_counted_as_failures(tmp_path: Path) -> None:
    import yaml

    memory = MemoryDeviceReputation()
    store = Store(make_engine(f"sqlite:///{tmp_path / 'v.sqlite3'}"))
    verifier = Verifier(parse_policy(yaml.safe_load(POLICY)), Services(device_reputation=memory), store)
    bot = playwright_headless()
    first = verifier.verify(evidence(bot, subject="bot-1", country=None))
    assert first.decision.outcome.value == "reject"
    second = verifier.verify(evidence(bot, subject="bot-2", country=None))
    device = next(c for c in second.checks if c.check == "device")
    assert device.details["known_device"] and device.details["counts"]["failures"] == 1
    assert "signature" not in device.details  # no digests stored with the verification
    human = verifier.verify(evidence(desktop(), subject="h"))
    assert human.decision.outcome.value == "approve"
    store.engine.dispose()


def test_params_and_default_policy() -> None:
    assert params_model("device").__name__ == "DeviceParams"
    policy = load_policy()
    assert "device" in policy.checks


def test_the_in_process_store_is_bounded() -> None:
    store = MemoryDeviceReputation(max_devices=20)
    check = _check(store)
    for n in range(40):
        ev = evidence(
            desktop(
                canvas_hash=f"{n:064x}",
                webgl_hash=f"{n + 1000:064x}",
                screen={"width": 1000 + n, "height": 700},
            ),
            subject=f"s{n}",
        )
        for f in check.follow_ups(ev, check.run(ev)):
            store.apply_follow_up(f, reference=f"v{n}", session=None, tenant="t1")
    assert len(store._devices) <= 20
    latest = evidence(
        desktop(canvas_hash=f"{39:064x}", webgl_hash=f"{1039:064x}", screen={"width": 1039, "height": 700})
    )
    assert check.run(latest).details["known_device"]


def test_a_band_shared_by_too_many_devices_is_skipped() -> None:
    from openidv.services.device_reputation import MAX_BAND

    store = MemoryDeviceReputation()
    check = _check(store)
    for n in range(MAX_BAND + 5):  # one popular configuration, many distinct devices
        ev = evidence(
            desktop(canvas_hash=f"{n:064x}", webgl_hash=f"{n + 999:064x}", audio_hash=f"{n + 5000:064x}"),
            subject=f"s{n}",
        )
        for f in check.follow_ups(ev, check.run(ev)):
            store.apply_follow_up(f, reference=f"v{n}", session=None, tenant="t1")
    newcomer = desktop(canvas_hash="0" * 63 + "f", webgl_hash="e" * 64, audio_hash="b" * 64, fonts=("Arial",))
    result = check.run(evidence(newcomer))
    assert result.details["candidates"] == 0 and not result.details["known_device"]
    again = check.run(
        evidence(desktop(canvas_hash=f"{3:064x}", webgl_hash=f"{1002:064x}", audio_hash=f"{5003:064x}"))
    )
    assert again.details["known_device"] and again.details["candidates"] >= 1  # found by its own bands
