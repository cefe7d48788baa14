"""The README's command-line lines work as written, against a live server."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from mobile.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_cli_lines() -> list[list[str]]:
    lines = re.findall(r"^\.venv/bin/shouwang (.+?)(?:\s+#.*)?$", README.read_text(), re.M)
    return [shlex.split(line) for line in lines]


def test_readme_officer_lines_work(live_server, demo, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SHOUWANG_SERVER", live_server)
    monkeypatch.chdir(README.parent)  # the README's paths are from the repository's root
    commands = _readme_cli_lines()
    assert [c[0] for c in commands] == ["login", "get", "get", "upload", "logout"]
    outputs = []
    for argv in commands:
        assert main(argv) == 0, argv
        outputs.append(capsys.readouterr().out)
    assert "logged in as officer" in outputs[0]
    assert '"username": "officer"' in outputs[1]
    assert '"role": "subject"' in outputs[2]
    assert "sealed tests/fixtures/faces/obama.jpg as" in outputs[3]
    assert "uploaded " in outputs[3]
    assert not list((tmp_path / ".shouwang").glob("*/evidence/*"))  # nothing left queued
    # After logout the stored session no longer works.
    assert main(["get", "/api/me"]) == 1
    assert "sign" in capsys.readouterr().err.lower()


def test_subject_enrolls_with_the_activation_code(live_server, demo, tmp_path, capsys):
    profile = str(tmp_path / "subject")
    args = ["--server", live_server, "--profile", profile]
    assert main(args + ["activate", demo["subject"]]) == 0
    assert main(args + ["get", "/api/me"]) == 0
    assert '"role": "subject"' in capsys.readouterr().out
    # The key store on disk holds no plaintext token or key.
    stored = (tmp_path / "subject" / "keystore.json").read_text()
    assert "eyJ" not in stored  # no JWT in the clear


def test_readme_curl_lines_point_at_real_routes(app):
    urls = re.findall(r"^curl (http://127\.0\.0\.1:5000\S+)", README.read_text(), re.M)
    assert urls
    client = app.test_client()
    for url in urls:
        path = url.replace("http://127.0.0.1:5000", "")
        assert client.get(path).status_code in (200, 401), path
