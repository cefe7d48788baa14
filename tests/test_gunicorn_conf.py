"""gunicorn.conf.py's worker hook: the face pipeline is loaded before a worker
serves (so no check-in pays for it), unless the deployment opts out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import runpy, sys; conf = runpy.run_path('gunicorn.conf.py'); "
         "assert 'face_recognition' not in sys.modules; conf['post_worker_init'](None); "
         "print('face_recognition' in sys.modules, 'dlib' in sys.modules)")


def _loaded(**env: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,  # noqa: S603
                          text=True, timeout=120, env={**os.environ, **env}, check=True)
    return done.stdout.strip()


def test_a_worker_loads_the_face_pipeline_before_it_serves():
    assert _loaded(SHOUWANG_WARM_FACES="1") == "True True"


def test_a_deployment_without_faces_can_skip_it():
    assert _loaded(SHOUWANG_WARM_FACES="0") == "False False"
