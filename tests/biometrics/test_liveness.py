"""Liveness decisions on the seeded synthetic corpus; image attacks go through real dlib."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from server.biometrics import corpus, liveness, quality
from server.biometrics.liveness import ACTIONS, Challenge, LivenessPolicy, LivenessResult

SEED = 2024
CHECKS = {"face_present", "timing", "same_person", "actions", "planarity"}


def make(label: str, i: int = 0) -> corpus.CorpusSample:
    return corpus.sample(label, np.random.default_rng([SEED, corpus.LABELS.index(label), i]))


def run(s: corpus.CorpusSample, **kwargs: object) -> LivenessResult:
    return liveness.evaluate(s.challenge, s.frames, s.timestamps, s.template, **kwargs)  # type: ignore[arg-type]


def failing(result: LivenessResult) -> set[str]:
    return {c.name for c in result.checks if not c.passed}


@pytest.fixture(scope="module")
def genuine() -> corpus.CorpusSample:
    return make("bona_fide")


@pytest.mark.parametrize("i", range(4))
def test_bona_fide_passes(i: int) -> None:
    result = run(make("bona_fide", i))
    assert {c.name for c in result.checks} == CHECKS
    assert result.decision == "pass", result.as_dict()


def test_actions_in_the_wrong_order_fail_alone() -> None:
    result = run(make("replay_order"))
    assert result.decision == "fail"
    assert failing(result) == {"actions"}
    assert "order" in result.check("actions").reason


def test_missing_action_fails_alone(genuine: corpus.CorpusSample) -> None:
    rng = np.random.default_rng(7)
    asked = genuine.challenge.actions
    frames, times = corpus.render_head(rng, asked[:-1], corpus.SAME_PERSON)
    result = liveness.evaluate(genuine.challenge, frames, times, genuine.template)
    assert failing(result) == {"actions"} and result.decision == "fail"
    assert asked[-1] in result.check("actions").reason


def test_borderline_action_goes_to_review(genuine: corpus.CorpusSample) -> None:
    # Ask for a turn 15% larger than the one performed: borderline, not a failure.
    pts = [f.landmarks68 for f in genuine.frames if f is not None]
    peak = max(abs(quality.yaw_deg(p)) for p in pts)
    policy = LivenessPolicy(turn_deg=peak * 1.15, planarity_min_turn_deg=0)
    result = run(genuine, policy=policy)
    assert result.check("actions").status == "review"
    assert result.decision == "review"


def test_mirrored_frames_swap_left_and_right(genuine: corpus.CorpusSample) -> None:
    assert any(a.startswith("turn") for a in genuine.challenge.actions)
    assert run(genuine, mirrored=True).check("actions").status == "fail"


def test_printed_photo_fails_planarity_through_real_dlib() -> None:
    attack = make("photo")
    assert len(attack.images) == len(attack.frames)  # rendered and analysed by dlib
    result = run(attack)
    assert result.decision == "fail"
    assert result.check("planarity").status == "fail", result.check("planarity")
    assert result.check("same_person").passed  # it *is* the victim's face


def test_screen_replay_does_not_pass() -> None:
    result = run(make("screen"))
    assert result.decision == "fail"
    assert not result.check("planarity").passed


def test_cutout_mask_passes_actions_but_fails_planarity() -> None:
    result = run(make("cutout"))
    assert result.check("actions").passed  # eyes and mouth really move
    assert failing(result) == {"planarity"} and result.decision == "fail"


def test_different_person_fails_same_person_alone() -> None:
    result = run(make("wrong_person"))
    assert failing(result) == {"same_person"} and result.decision == "fail"
    check = result.check("same_person")
    assert check.value is not None and check.threshold is not None
    assert check.value > check.threshold


def retimed(s: corpus.CorpusSample, times: np.ndarray) -> LivenessResult:
    return liveness.evaluate(s.challenge, s.frames, list(times), s.template)


def test_implausible_timing_fails_alone(genuine: corpus.CorpusSample) -> None:
    t = np.array(genuine.timestamps)
    swapped = t.copy()
    swapped[[5, 6]] = swapped[[6, 5]]
    compressed = t[0] + (t - t[0]) * 0.1  # the whole challenge in half a second
    late = t + 40.0  # captured after the deadline
    for times in (swapped, compressed, late):
        result = retimed(genuine, times)
        assert failing(result) == {"timing"} and result.decision == "fail"
    assert run(genuine, elapsed_s=45.0).check("timing").status == "fail"


def test_missing_faces_review_then_fail(genuine: corpus.CorpusSample) -> None:
    frames = list(genuine.frames)
    frames[10] = None  # one motion-blurred frame
    few = liveness.evaluate(genuine.challenge, frames, genuine.timestamps, genuine.template)
    assert failing(few) == {"face_present"} and few.decision == "review"
    for i in range(10, len(frames), 3):
        frames[i] = None
    many = liveness.evaluate(genuine.challenge, frames, genuine.timestamps, genuine.template)
    assert many.check("face_present").status == "fail"


def test_second_face_in_a_frame_is_not_a_pass(genuine: corpus.CorpusSample) -> None:
    frames = list(genuine.frames)
    first = frames[4]
    assert first is not None
    frames[4] = replace(first, face_count=2)
    result = liveness.evaluate(genuine.challenge, frames, genuine.timestamps, genuine.template)
    assert result.check("face_present").status == "review"


def test_geometry_follows_the_conventions() -> None:
    face = corpus.mean_face()
    front = corpus.project(face, 400, np.zeros(2))
    left = corpus.project(face @ corpus.rotation(25, 0, 0).T, 400, np.zeros(2))
    assert quality.yaw_deg(left) > 15 > 0 > quality.yaw_deg(left, mirrored=True)
    closed = face.copy()
    closed[[37, 38, 43, 44]] = face[[41, 40, 47, 46]]
    shut = corpus.project(closed, 400, np.zeros(2))
    assert quality.eye_aspect_ratio(shut) < 0.5 * quality.eye_aspect_ratio(front)
    assert liveness.planar_residual(front, front) < 1e-6


def test_challenges() -> None:
    for _ in range(20):
        ch = liveness.make_challenge()
        assert len(set(ch.actions)) == 3 and set(ch.actions) <= set(ACTIONS)
        assert {"turn_left", "turn_right"} & set(ch.actions)
    with pytest.raises(ValueError):
        Challenge(("blink", "smile"))


def test_corpus_is_reproducible() -> None:
    a, b = make("bona_fide", 3), make("bona_fide", 3)
    assert a.challenge == b.challenge and a.timestamps == b.timestamps
    assert all(
        np.array_equal(x.landmarks68, y.landmarks68)
        for x, y in zip(a.frames, b.frames, strict=True)
        if x is not None and y is not None
    )
