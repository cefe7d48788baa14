"""Bounds, settings and fixed texts of the biometrics web layer (no Flask routes here).

Settings are read from the Flask config first, then the environment, so a test or a
deployment can set them either way:

    SHOUWANG_FACE_THRESHOLD     1:1 distance threshold (default 0.6, the library's own)
    SHOUWANG_FACE_KEEP_FRAMES   decisions whose frames are kept as evidence, comma-
                                separated from {pass, review, fail}; default none
    SHOUWANG_FACE_OFFLINE_TTL_S validity of an offline check-in challenge (default 72 h,
                                server.biometrics.offline)
    SHOUWANG_FACE_KEYFRAMES_FOR purposes whose challenges are captured as keyframes,
                                comma-separated; default "verify,checkin_offline" (the
                                daily check-in); "none": every purpose captures video
"""

from __future__ import annotations

import os

from flask import current_app

from shared.enums import Capture

# The library's own tolerance (pipeline.DEFAULT_THRESHOLD), repeated here because this
# module must not import the pipeline: loading dlib's models takes seconds, and only
# requests that analyse faces should pay for it (server.biometrics.analysis).
DEFAULT_THRESHOLD = 0.6
CHALLENGE_TTL_S = 60
# A phone sends 480x640 JPEGs at ~10 fps for the 4-8 s of a challenge. 90 frames of
# at most 120 kB stay under the app's 16 MiB body limit even as base64.
MAX_FRAMES = 90
MAX_FRAME_BYTES = 120_000
# Frames are small; a frame header announcing more pixels than this is refused
# before any decoding (a 20000x20000 JPEG can be a few kB).
FRAME_MAX_PIXELS = 4_000_000
MAX_PHOTOS = 5
MAX_PHOTO_BYTES = 2_000_000  # five, as base64, stay under the 16 MiB body limit
# Frames encoded for the same-person check (the most frontal of the first and the
# last half of the capture): one encoding costs ~60 ms, as much as tracking the face
# through a whole 4-second capture. In between, the tracker follows one face from
# frame to frame and the periodic full-frame pass counts any second face, so a
# swapped face must survive both halves' encodings and the tracker.
ENCODED_FRAMES = 2

# How the phone captures a challenge. Capture.VIDEO: 10 fps through the whole guided sequence,
# judged frame by frame with tracking (enrolment and face login: a template is made,
# or an account opened, so they get the stronger evidence). Capture.KEYFRAMES: the same guided
# sequence on the phone, but only one frame per step is sent: still, each action at
# its hold, still again. The daily check-in of every subject lands in the same
# morning hour; five frames and one encoding are what lets two cores take 300 of them
# a minute (bench/bench_spike.py), at the cost of the temporal checks a video allows
# (server.biometrics.liveness.LivenessPolicy.for_keyframes says which). The names and
# the steps are the protocol's: shared.enums.Capture, shared.enums.keyframe_steps.
KEYFRAME_ACTIONS = 3  # still + 3 actions + still = 5 frames
KEYFRAME_ENCODED = 1  # the more frontal still frame
# Keyframes are searched on a copy this long (a 640 px frame at half size): a selfie
# face of >= 160 px stays above HOG's 80 px window, at a quarter of the full-size cost.
KEYFRAME_DETECT_SIDE = 320
# Face login: this many failed challenges in the window lock the account's face login.
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW_S = 15 * 60

FRAME_HINTS = {
    "format": "JPEG, unmirrored (as the sensor captured it) unless mirrored=true",
    "size": "480x640 portrait (at most 2000x2000)",
    "fps": 10, "min_frames": 15, "max_frames": MAX_FRAMES,
    "max_frame_bytes": MAX_FRAME_BYTES,
    "t_ms": "milliseconds since the phone received this challenge, strictly increasing",
    "how": "Start with the face still and straight for half a second, then do the "
           "actions in the order given, each clearly (turn about 30 degrees).",
}
KEYFRAME_HINTS = {
    **FRAME_HINTS,
    "min_frames": KEYFRAME_ACTIONS + 2, "max_frames": KEYFRAME_ACTIONS + 2,
    "steps": "one frame per step, in order: still, each action while it is held, still",
    "how": "Run the same guided sequence as for video (10 fps preview, the face still, "
           "then each action in order), but send only one frame per step: the last "
           "still frame before the first prompt, each action at its hold (~0.7 s after "
           "its prompt) and a still frame after the last action.",
}

# Lawful bases an officer may record for enrolling without consent.
LEGAL_BASES = {
    "criminal_procedure_law_art_71": "刑事诉讼法第七十一条: obligations of a person on bail "
                                     "(取保候审), including reporting as required",
    "criminal_procedure_law_art_77": "刑事诉讼法第七十七条: obligations of a person under "
                                     "residential surveillance (监视居住)",
}
# Roles that enrol themselves through a liveness session, with consent.
CONSENT_ROLES = frozenset({"resident", "business_owner", "business_staff"})
# Roles that may log in by face.
FACE_LOGIN_ROLES = frozenset({"subject", "resident"})
# Roles whose own devices take liveness challenges.
DEVICE_ROLES = ("subject", "resident", "business_owner", "business_staff")

CONSENT_VERSION = "face-consent-v1"
CONSENTS = {
    CONSENT_VERSION: (
        "我同意守望平台采集并保存我的人脸特征值（不保存照片），仅用于本人身份核验与人脸登录；"
        "我可以随时要求删除。I agree that Shouwang derives and keeps a numeric template of "
        "my face (never the photos), used only to check that it is me and to log me in; "
        "I may ask for it to be deleted at any time."),
}


def _setting(name: str, default: str) -> str:
    value = current_app.config.get(name) or os.environ.get(name)
    return str(value) if value not in (None, "") else default


setting = _setting  # for sibling modules' settings (server.biometrics.offline)


def threshold() -> float:
    value = float(_setting("SHOUWANG_FACE_THRESHOLD", str(DEFAULT_THRESHOLD)))
    if not 0.0 < value < 2.0:  # 128-d unit-scale encodings: distances lie in [0, 2)
        raise ValueError("SHOUWANG_FACE_THRESHOLD must be between 0 and 2")
    return value


def capture_for(purpose: str) -> Capture:
    """How a new challenge of `purpose` is captured (SHOUWANG_FACE_KEYFRAMES_FOR)."""
    raw = _setting("SHOUWANG_FACE_KEYFRAMES_FOR", "verify,checkin_offline")
    keyframes = purpose in {p.strip() for p in raw.split(",")}
    return Capture.KEYFRAMES if keyframes else Capture.VIDEO


def keep_frames_for() -> frozenset[str]:
    """Which decisions keep (three of) their frames as evidence. By default only the
    doubtful ones ("review"): the officer who decides must see the face, and nothing
    else is kept (data minimisation). "none" keeps nothing; "review,fail" also keeps
    refusals."""
    raw = _setting("SHOUWANG_FACE_KEEP_FRAMES", "review")
    return frozenset(p.strip() for p in raw.split(",") if p.strip() and p.strip() != "none")
