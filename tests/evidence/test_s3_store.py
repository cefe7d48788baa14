"""The S3 evidence store against a real S3 HTTP API: moto's server on the loopback.

Every request goes from boto3 over HTTP to moto's S3 implementation, as it would
to AWS S3, MinIO or Ceph RGW; uploads and downloads are driven through our API
the way the phone drives them (tests.evidence.phone_side). Nothing of ours is
mocked: only the S3 service is a local one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from flask import Flask
from moto.server import ThreadedMotoServer

from server.dbtypes import utcnow
from server.evidence.finish import RUNNING
from server.evidence.models import Evidence
from server.evidence.service import cleanup_stale_uploads
from server.evidence.storage import S3Store, missing_key
from server.extensions import db
from tests.evidence.phone_side import (
    MARKER,
    EvidencePhone,
    content,
    pdf_begun,
    pdf_bytes,
    photo_with_gps,
    resume,
    views,
)

BUCKET = "shouwang-evidence-test"
PREFIX = "evidence/"
STORE_KEY = "shouwang.evidence_store"  # where get_store() keeps the app's store
COMMIT_EVERY = "SHOUWANG_EVIDENCE_COMMIT_EVERY_MS"


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[str, Any]]:
    """moto's S3 server on a free loopback port, its bucket, and a boto3 client to it."""
    with pytest.MonkeyPatch.context() as mp:
        # Dummy credentials, and nothing from this machine's AWS setup.
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                     "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            client = boto3.client("s3", endpoint_url=endpoint)
            client.create_bucket(Bucket=BUCKET)
            yield endpoint, client
        finally:
            server.stop()


@pytest.fixture()
def s3_store(app: Flask, s3: tuple[str, Any]) -> Iterator[S3Store]:
    """The app's evidence store is an S3Store on the moto server for one test."""
    endpoint, client = s3
    store = S3Store(BUCKET, PREFIX, endpoint_url=endpoint)
    had, previous = STORE_KEY in app.extensions, app.extensions.get(STORE_KEY)
    app.extensions[STORE_KEY] = store
    yield store
    if had:
        app.extensions[STORE_KEY] = previous
    else:
        app.extensions.pop(STORE_KEY, None)
    keys = [{"Key": key} for key in _keys(client)]
    if keys:  # every test starts from an empty bucket
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})


def _keys(client: Any, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _body(client: Any, key: str) -> bytes:
    data: bytes = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return data


def test_round_trip_through_the_api_is_stored_in_the_bucket(app, demo, s3, s3_store):
    endpoint, client = s3
    officer, sealed = pdf_begun(app, 6)  # all six acknowledged: complete
    assert officer.status(sealed.object_id).get_json()["state"] == "complete"

    keys = _keys(client, f"{PREFIX}{sealed.object_id}/")
    assert keys == [f"{PREFIX}{sealed.object_id}/orig/{i:010d}" for i in range(6)]
    # The bytes are in the server, read over plain HTTP too: not in some client-side stub.
    url = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": keys[2]})
    assert url.startswith(f"{endpoint}/")
    with urllib.request.urlopen(url) as response:
        assert response.read() == sealed.chunks[2]

    info = officer.phone.get(f"/api/evidence/{sealed.object_id}").get_json()
    assert info["sha256"] == hashlib.sha256(sealed.plaintext).hexdigest()
    response = content(officer.phone, sealed.object_id)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == sealed.plaintext
    assert hashlib.sha256(response.data).hexdigest() == info["sha256"]


def test_objects_in_the_bucket_hold_ciphertext_only(app, demo, s3, s3_store):
    _, client = s3
    officer = EvidencePhone.login(app, "officer")
    document = officer.seal(pdf_bytes(), "application/pdf")
    photo = officer.seal(photo_with_gps(), "image/jpeg")
    for sealed in (document, photo):
        assert officer.upload(sealed).get_json()["state"] == "complete"

    orig = [_body(client, k) for k in _keys(client, f"{PREFIX}{document.object_id}/orig/")]
    assert orig == document.chunks  # the phone's ciphertext, one object per chunk
    photo_orig = b"".join(_body(client, k)
                          for k in _keys(client, f"{PREFIX}{photo.object_id}/orig/"))
    view_keys = _keys(client, f"{PREFIX}{photo.object_id}/view/")
    assert view_keys  # the server-made viewer copy is stored, encrypted, too
    photo_view = b"".join(_body(client, k) for k in view_keys)
    assert photo_orig == b"".join(photo.chunks)
    every = [_body(client, k) for k in _keys(client)]
    assert len(every) == len(document.chunks) + len(photo.chunks) + len(view_keys)
    for blob in every:
        assert MARKER not in blob and b"%PDF" not in blob
    for blob in (photo_orig, photo_view):
        assert b"Exif" not in blob and b"TestPhone" not in blob and b"JFIF" not in blob
        assert photo.plaintext[:64] not in blob
    assert content(officer.phone, photo.object_id).mimetype == "image/jpeg"


@pytest.mark.parametrize("elsewhere", [False, True], ids=["same-process", "other-process"])
def test_upload_resumes_after_a_cut(app, demo, s3, s3_store, elsewhere):
    _, client = s3
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(sealed).status_code == 201
    for i in range(3):
        assert officer.put(sealed, i).get_json()["next_chunk"] == i + 1
    if elsewhere:
        # The rest goes to another worker process (test_resume._elsewhere): progress is
        # recovered, and the plaintext hash taken, by reading the chunks back from S3.
        RUNNING.take(sealed.object_id, -1)
    resume(officer, sealed, 3)
    assert len(_keys(client, f"{PREFIX}{sealed.object_id}/orig/")) == len(sealed.chunks)
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_abort_deletes_the_chunk_objects(app, demo, s3, s3_store):
    _, client = s3
    officer, sealed = pdf_begun(app, 2)
    prefix = f"{PREFIX}{sealed.object_id}/"
    assert len(_keys(client, prefix)) == 2
    assert list(s3_store.objects()) == [(sealed.object_id, "orig")]
    assert officer.phone.signed("DELETE", f"/api/evidence/{sealed.object_id}").status_code == 204
    assert _keys(client, prefix) == []
    assert list(s3_store.objects()) == []
    assert officer.status(sealed.object_id).get_json()["state"] == "aborted"


def test_cleanup_expires_stale_uploads_and_sweeps_orphans(app, demo, s3, s3_store):
    _, client = s3
    officer = EvidencePhone.login(app, "officer")
    stale, fresh = (officer.seal(pdf_bytes(), "application/pdf") for _ in range(2))
    for sealed in (stale, fresh):
        officer.declare(sealed)
        officer.put(sealed, 0)
    photo = officer.seal(photo_with_gps(), "image/jpeg")
    assert officer.upload(photo).get_json()["state"] == "complete"
    orphan = uuid.uuid4().hex  # bytes no row owns, e.g. a delete that failed
    with app.app_context():
        s3_store.write_chunk(orphan, "orig", 0, 0, b"\x00" * 64)
        s3_store.write_chunk(orphan, "orig", 1, 64, b"\x00" * 64)
        assert set(s3_store.objects()) == {
            (stale.object_id, "orig"), (fresh.object_id, "orig"), (orphan, "orig"),
            (photo.object_id, "orig"), (photo.object_id, "view")}
        db.session.get(Evidence, stale.object_id).updated_at = utcnow() - timedelta(hours=30)
        db.session.commit()
        assert cleanup_stale_uploads(timedelta(hours=24)) == 1
        assert db.session.get(Evidence, stale.object_id).state == "expired"
        assert set(s3_store.objects()) == {
            (fresh.object_id, "orig"), (photo.object_id, "orig"), (photo.object_id, "view")}
    assert _keys(client, f"{PREFIX}{stale.object_id}/") == []
    assert _keys(client, f"{PREFIX}{orphan}/") == []
    assert officer.put(fresh, 1).status_code == 200


def test_a_chunk_deleted_behind_the_service_fails_the_download_clearly(app, demo, s3,
                                                                        s3_store):
    _, client = s3
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.upload(sealed).get_json()["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext
    client.delete_object(Bucket=BUCKET, Key=f"{PREFIX}{sealed.object_id}/orig/{0:010d}")

    response = content(officer.phone, sealed.object_id)
    assert response.status_code == 409
    body = response.get_json()
    assert body["errors"] == {"reason": "storage_integrity", "index": 0}
    assert "Chunk 0 of the stored evidence is missing" in body["message"]


def test_a_later_chunk_deleted_behind_the_service_is_refused_before_the_view(
        app, demo, s3, s3_store):
    """The listing finds it before the status line goes out: a 409 naming the chunk,
    not a stream cut short of its Content-Length, and no view is recorded."""
    _, client = s3
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.upload(sealed).get_json()["state"] == "complete"
    client.delete_object(Bucket=BUCKET, Key=f"{PREFIX}{sealed.object_id}/orig/{3:010d}")

    response = content(officer.phone, sealed.object_id)
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"reason": "storage_integrity", "index": 3}
    assert views(app, sealed.object_id) == 0


# -- a store that loses chunks, refuses, or is down -----------------------------------

@pytest.fixture()
def row_commits_every_chunk(app: Flask) -> Iterator[None]:
    """The row knows every acknowledged chunk, so a lost one is found by reading back."""
    app.config[COMMIT_EVERY] = 0
    yield
    app.config.pop(COMMIT_EVERY, None)


def _chunk_key(object_id: str, index: int) -> str:
    return f"{PREFIX}{object_id}/orig/{index:010d}"




def test_a_chunk_deleted_from_the_bucket_before_completion_is_asked_for_again(
        app, demo, s3, s3_store, row_commits_every_chunk, caplog):
    _, client = s3
    officer, sealed = pdf_begun(app, 5)
    client.delete_object(Bucket=BUCKET, Key=_chunk_key(sealed.object_id, 3))  # NoSuchKey
    RUNNING.forget(sealed.object_id)  # completion hashes from the bucket
    with caplog.at_level(logging.ERROR, logger="server.evidence"):
        last = officer.put(sealed, 5)
    assert last.status_code == 409, last.get_json()
    assert last.get_json()["errors"] == {"reason": "chunk_missing", "next_chunk": 3}
    assert f"{sealed.object_id}.orig/3 is missing" in last.get_json()["message"]
    assert any("chunk 3 is no longer stored" in r.getMessage() for r in caplog.records)
    status = officer.status(sealed.object_id).get_json()
    assert status["state"] == "uploading" and status["next_chunk"] == 3
    assert officer.send(sealed, 3)["state"] == "complete"
    assert len(_keys(client, f"{PREFIX}{sealed.object_id}/orig/")) == len(sealed.chunks)
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_the_fast_path_looks_that_every_chunk_is_in_the_bucket(
        app, demo, s3, s3_store, row_commits_every_chunk):
    """The worker hashed every chunk itself, so nothing is read back; the listing
    still finds the lost one before the evidence is sealed and the phone lets go."""
    _, client = s3
    officer, sealed = pdf_begun(app, 5)
    client.delete_object(Bucket=BUCKET, Key=_chunk_key(sealed.object_id, 2))
    last = officer.put(sealed, 5)
    assert last.status_code == 409, last.get_json()
    assert last.get_json()["errors"] == {"reason": "chunk_missing", "next_chunk": 2}
    assert officer.send(sealed, 2)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_resent_chunk_deleted_from_the_bucket_is_stored_again(app, demo, s3, s3_store):
    _, client = s3
    officer, sealed = pdf_begun(app, 4)
    client.delete_object(Bucket=BUCKET, Key=_chunk_key(sealed.object_id, 1))
    resent = officer.put(sealed, 1)
    assert resent.status_code == 200, resent.get_json()
    assert resent.get_json()["next_chunk"] == 2 and resent.get_json()["duplicate"] is False
    assert _body(client, _chunk_key(sealed.object_id, 1)) == sealed.chunks[1]
    assert officer.send(sealed, 2)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def _reset_auth(endpoint: str, count: str) -> str:
    """Set how many more requests moto serves before it enforces IAM; the old value."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request) as response:
        return str(json.load(response)["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@contextmanager
def _iam_enforced(endpoint: str) -> Iterator[None]:
    """moto checks every request's signature and IAM policy, as S3 does (moto-wide)."""
    previous = _reset_auth(endpoint, "0")
    try:
        yield
    finally:
        _reset_auth(endpoint, previous)


def _role_client(endpoint: str, statements: list[dict[str, Any]]) -> Any:
    """A boto3 S3 client for a new IAM user allowed just `statements` (no s3:ListBucket)."""
    iam = boto3.client("iam", endpoint_url=endpoint)
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="evidence", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"])


def test_a_403_for_a_chunk_that_is_not_there_is_a_missing_chunk(
        app, demo, s3, s3_store, row_commits_every_chunk):
    """AWS answers GetObject on a key that does not exist with 403 AccessDenied when
    the role lacks s3:ListBucket. moto answers NoSuchKey whatever the role, so this
    role is also denied s3:GetObject on the lost key: the answer on the wire, a 403
    AccessDenied for GetObject from the S3 server, is the same."""
    endpoint, client = s3
    officer, sealed = pdf_begun(app, 5)
    lost = _chunk_key(sealed.object_id, 2)
    client.delete_object(Bucket=BUCKET, Key=lost)
    role = _role_client(endpoint, [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{BUCKET}/{PREFIX}*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{lost}"}])
    RUNNING.forget(sealed.object_id)
    with _iam_enforced(endpoint):
        with pytest.raises(ClientError) as denied:  # the premise: S3's own 403
            role.get_object(Bucket=BUCKET, Key=lost)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        app.extensions[STORE_KEY] = S3Store(BUCKET, PREFIX, client=role)
        last = officer.put(sealed, 5)
        assert last.status_code == 409, last.get_json()
        body = last.get_json()
        assert body["errors"] == {"reason": "chunk_missing", "next_chunk": 2}
        assert "403 AccessDenied" in body["message"] and "s3:ListBucket" in body["message"]

        # Another 403 (credentials S3 does not know) says nothing about the object: 503.
        app.extensions[STORE_KEY] = s3_store
        assert officer.status(sealed.object_id).get_json()["next_chunk"] == 2  # the row's
        refused = officer.put(sealed, 2)
        assert refused.status_code == 503, refused.get_json()
        assert refused.get_json()["errors"]["reason"] == "storage_unavailable"
        assert "InvalidAccessKeyId" in refused.get_json()["message"]
        assert refused.headers["Retry-After"] == "5"
    assert officer.send(sealed, 2)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_store_that_is_down_is_503_and_status_still_answers(app, demo, s3, s3_store,
                                                              caplog):
    app.config[COMMIT_EVERY] = 10**9  # the row lags: status would read the bucket
    try:
        officer = EvidencePhone.login(app, "officer")
        done = officer.seal(pdf_bytes(), "application/pdf")
        assert officer.upload(done).get_json()["state"] == "complete"
        sealed = officer.seal(pdf_bytes(), "application/pdf")
        officer.declare(sealed)
        for i in range(4):
            assert officer.put(sealed, i).status_code == 200
        RUNNING.forget(sealed.object_id)
        down = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{_closed_port()}",
                            config=Config(retries={"mode": "standard", "max_attempts": 1},
                                          connect_timeout=2, read_timeout=2))
        app.extensions[STORE_KEY] = S3Store(BUCKET, PREFIX, client=down)
        with caplog.at_level(logging.ERROR, logger="server.evidence"):
            status = officer.status(sealed.object_id)
            assert status.status_code == 200, status.get_json()
            assert status.get_json()["next_chunk"] == 1  # what the row knows, no more
            refused = officer.put(sealed, 4)
        assert refused.status_code == 503, refused.get_json()
        body = refused.get_json()
        assert body["errors"] == {"reason": "storage_unavailable"}
        assert "EndpointConnectionError" in body["message"]
        assert "send the same request again after Retry-After" in body["message"]
        assert refused.headers["Retry-After"] == "5"
        assert any("evidence store" in r.getMessage() and r.levelno == logging.ERROR
                   for r in caplog.records)
        download = content(officer.phone, done.object_id)
        assert download.status_code == 503 and download.headers["Retry-After"] == "5"
        assert download.get_json()["errors"] == {"reason": "storage_unavailable"}

        app.extensions[STORE_KEY] = s3_store  # the store is back
        assert officer.status(sealed.object_id).get_json()["next_chunk"] == 4
        assert officer.send(sealed, 4)["state"] == "complete"
        assert content(officer.phone, sealed.object_id).data == sealed.plaintext
    finally:
        app.config.pop(COMMIT_EVERY, None)


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize(("code", "status", "missing"), [
    ("NoSuchKey", 404, True),
    ("404", 404, True),  # a bare status, as HEAD and some S3-compatible stores answer
    ("AccessDenied", 403, True),  # a missing key without s3:ListBucket
    ("NoSuchBucket", 404, False),  # the deployment is wrong, not the object
    ("InvalidAccessKeyId", 403, False),
    ("SlowDown", 503, False),
    ("InternalError", 500, False),
    ("ServiceUnavailable", 503, False),
    ("RequestTimeout", 400, False),
])
def test_which_getobject_errors_mean_the_chunk_is_missing(code, status, missing):
    why = missing_key(_client_error(code, status).response)
    assert (why is not None) is missing
    if code == "AccessDenied":
        assert why is not None and "s3:ListBucket" in why
