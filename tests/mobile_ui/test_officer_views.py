"""The officer's screens' arithmetic and wording, without a window: the map projection
and scale bar, the set-up forms' checks, alerts, reasons and filed items in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mobile.miniprograms.supervise import words
from mobile.miniprograms.supervise.setup import court_body, rule_body, zone_body
from mobile.miniprograms.supervise.trackmap import Frame, scale_bar, scale_label
from shared.geo import distance_m

HOME = (21.48, 109.12)


def tr(key: str, **params: object) -> str:
    return key + (repr(sorted(params.items())) if params else "")


def test_the_frame_fits_a_zone_and_keeps_distances_in_proportion():
    frame = Frame.fit([HOME], [(HOME[0], HOME[1], 2000.0)], (0, 0), (400, 600), margin=10)
    cx, cy = frame.to_px(*HOME)
    assert (cx, cy) == pytest.approx((200, 300))
    assert 2000 * frame.scale == pytest.approx(190)  # the circle fills the narrow side
    east = (HOME[0], HOME[1] + 0.02)
    ex, ey = frame.to_px(*east)
    assert ey == pytest.approx(cy)
    assert (ex - cx) / frame.scale == pytest.approx(distance_m(*HOME, *east), rel=1e-3)


@pytest.mark.parametrize(("px_per_m", "max_px", "metres"), [
    (0.0475, 140, 2000), (1.0, 140, 100), (0.001, 140, 100_000)])
def test_the_scale_bar_is_a_round_length_that_fits(px_per_m, max_px, metres):
    length, px = scale_bar(px_per_m, max_px)
    assert length == metres and px <= max_px


def test_scale_labels():
    assert (scale_label(500), scale_label(2000), scale_label(2500)) == (
        "500 m", "2 km", "2.5 km")


def test_the_set_up_forms_explain_a_typo_before_any_round_trip():
    assert rule_body("scheduled", "8:00", "10:00", "")[1] == "supervise.setup.bad_time"
    assert rule_body("scheduled", "08:00", "10:00", "")[0] == {
        "kind": "scheduled", "start_local": "08:00", "end_local": "10:00", "grace_minutes": 0}
    assert rule_body("random", "09:00", "21:00", "7")[1] == "supervise.setup.bad_per_day"
    assert zone_body("inclusion", "home", "91", "109", "100", "", "")[1] == (
        "supervise.setup.bad_centre")
    assert zone_body("inclusion", "home", "21.48", "109.12", "5", "", "")[1] == (
        "supervise.setup.bad_radius")
    assert zone_body("curfew", "home", "21.48", "109.12", "300", "22:00", "")[1] == (
        "supervise.setup.bad_time")
    body, problem = zone_body("exclusion", " victim ", "21.48", "109.12", "300", "", "")
    assert problem == "" and body == {"kind": "exclusion", "name": "victim", "shape": "circle",
                                      "center": {"lat": 21.48, "lon": 109.12},
                                      "radius_m": 300.0}
    assert court_body("2026-13-01 09:00", "court")[1] == "supervise.setup.bad_date"
    assert court_body("2026-12-01 09:00", " ")[1] == "supervise.setup.need_place"


def test_an_alert_in_words():
    alert = {"rule": "inclusion_exit", "parameters": {"zone": "北海市区"},
             "evidence": {"max_depth_m": 1414.2}}
    assert words.what_happened(tr, alert) == (
        "supervise.what.inclusion_exit[('metres', '1414'), ('zone', '北海市区')]")
    assert words.what_happened(tr, {"rule": "missed_checkin"}) == (
        "supervise.rule.missed_checkin")
    assert words.what_happened(tr, {"rule": "a_future_rule"}) == "a_future_rule"


def test_ages_and_reasons():
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    at = (now - timedelta(minutes=90)).isoformat()
    assert words.age(tr, at, now) == "supervise.age.hours[('n', 1)]"
    assert words.age(tr, (now - timedelta(seconds=20)).isoformat(), now) == "supervise.age.now"
    assert words.attention_reason(tr, "late:offline") == (
        "supervise.reason.late[('detail', 'offline')]")
    assert words.attention_reason(tr, "outside_zone") == "supervise.reason.outside_zone"
    assert words.attention_reason(tr, "something_new") == "something_new"


@pytest.mark.parametrize(("content_type", "kind"), [
    ("image/jpeg", "photo"), ("image/png", "photo"), ("application/pdf", "pdf"),
    ("audio/mp4", "audio"), ("audio/wav", "audio"), ("video/mp4", "video"),
    ("Application/PDF; charset=binary", "pdf"), ("application/zip", "file"), (None, "file")])
def test_a_filed_item_is_named_by_its_kind(content_type, kind):
    assert words.evidence_kind(content_type) == kind


@pytest.mark.parametrize(("size", "said"), [
    (0, "0 B"), (None, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (12_788, "12.5 KB"),
    (279_552, "273 KB"), (5 * 1024 ** 2 + 300_000, "5.3 MB"), (3 * 1024 ** 3, "3.0 GB")])
def test_a_file_size_in_the_unit_a_person_reads(size, said):
    assert words.file_size(size) == said


def test_keys_built_at_run_time_exist_in_both_languages():
    from mobile.miniprograms.supervise import MINIPROGRAM
    from mobile.miniprograms.supervise.travel import STATUS_LEVEL

    built = ([f"supervise.rule.{r}" for r in words.RULES]
             + [f"supervise.severity.{s}" for s in words.SEVERITY_LEVEL]
             + [f"supervise.alert_status.{s}" for s in words.STATUS_LEVEL]
             + [f"supervise.what.{r}" for r in (*words.ZONE_RULES, "implausible_fix")]
             + [words.case_colour_key(c) for c in ("green", "yellow", "red")]
             + [f"supervise.travel.{s}" for s in STATUS_LEVEL]
             + [f"supervise.zone_kind.{k}" for k in ("inclusion", "exclusion", "curfew")]
             + [f"supervise.checkin.{s}" for s in ("ok", "late", "failed", "unscheduled")]
             + [f"supervise.reason.{r}" for r in ("late", "flag", "answer", "liveness_review",
                                                  "capture_time_mismatch", "outside_zone",
                                                  "liveness_failed")]
             + [f"supervise.casefile.kind.{k}" for k in words.EVIDENCE_KINDS])
    for lang in ("en", "zh_CN"):
        assert [k for k in built if k not in MINIPROGRAM.strings[lang]] == [], lang
