"""Key-service fixtures: the same database under other deployments.

`profile_app` runs a test under both algorithm profiles (intl: the session
app; gm: a second app on the same database), `kek_app` under both KEK
providers (file: the session app; pkcs11: a second app on a SoftHSM2 token).
The PKCS#11 tests use the token from `.ci/softhsm.sh`'s variables when they
are set (CI), otherwise they run the script on a temporary directory when
SoftHSM2 is installed, and otherwise skip, saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_SECONDARY: list[Flask] = []


def make_app(overrides: dict[str, str]) -> Flask:
    """Another app on the session app's database and key file, with `overrides`."""
    from server.app import create_app
    from server.extensions import api

    # flask-smorest's Api is one object: keep it pointing at the session app.
    saved = (api._app, api.config, api.spec)
    try:
        application = create_app(overrides)
    finally:
        api._app, api.config, api.spec = saved
    application.config["TESTING"] = True
    _SECONDARY.append(application)
    return application


@pytest.fixture(autouse=True)
def _forget_secondary_caches() -> Iterator[None]:
    # The session's _clean empties the tables; a cached key of a deleted row
    # must not outlive them in the other apps either.
    yield
    for application in _SECONDARY:
        application.extensions["shouwang.keyring"]._cache.clear()


@pytest.fixture(scope="session")
def gm_app(app: Flask) -> Flask:
    return make_app({"SHOUWANG_CRYPTO_PROFILE": "gm"})


@pytest.fixture(params=["intl", "gm"])
def profile_app(request: pytest.FixtureRequest, app: Flask) -> Flask:
    return app if request.param == "intl" else request.getfixturevalue("gm_app")


@pytest.fixture(scope="session")
def hsm_env() -> dict[str, str]:
    names = ("SOFTHSM2_CONF", "SHOUWANG_PKCS11_MODULE", "SHOUWANG_PKCS11_TOKEN",
             "SHOUWANG_PKCS11_PIN")
    if os.environ.get("SHOUWANG_PKCS11_MODULE"):
        env = {name: os.environ.get(name, "") for name in names}
    elif shutil.which("softhsm2-util") and Path(SOFTHSM_MODULE).exists():
        out = subprocess.run(["bash", str(ROOT / ".ci/softhsm.sh"),
                              tempfile.mkdtemp(prefix="shouwang-hsm-")],
                             capture_output=True, text=True, check=True).stdout
        env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    else:
        pytest.skip("SoftHSM2 is not installed: run `bash .ci/softhsm.sh` "
                    "(apt-get install softhsm2) to run the PKCS#11 KEK tests")
    if not Path(env["SHOUWANG_PKCS11_MODULE"]).exists():
        pytest.skip(f"PKCS#11 module {env['SHOUWANG_PKCS11_MODULE']} is missing")
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")
    # SoftHSM2 reads its configuration once, at C_Initialize: set it first.
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]
    return env


@pytest.fixture(scope="session")
def pkcs11_app(app: Flask, hsm_env: dict[str, str]) -> Flask:
    return make_app({"SHOUWANG_KEK_PROVIDER": "pkcs11",
                     **{k: v for k, v in hsm_env.items() if k.startswith("SHOUWANG_")}})


@pytest.fixture(params=["file", "pkcs11"])
def kek_app(request: pytest.FixtureRequest, app: Flask) -> Flask:
    return app if request.param == "file" else request.getfixturevalue("pkcs11_app")


@pytest.fixture()
def profile_demo(profile_app: Flask) -> dict[str, str | None]:
    """The demo seeded by the profile's own app, so its keys are of that profile."""
    from tests.support import make_demo

    return make_demo(profile_app)
