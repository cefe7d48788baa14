"""The proof's htu is taken from the request without rebuilding its URL where
nothing needs quoting: it must equal normalize_htu(request.url) for every request."""

from __future__ import annotations

import pytest
from flask import request

from server.identity.authn import request_htu
from shared.proof import normalize_htu

CASES = [
    ("http://localhost", "/api/me"),
    ("https://API.Example.com", "/api/evidence/ab12/chunks/3"),
    ("http://localhost:8080", "/a/b;c=d/e:f@g!$&'()*+,="),
    ("http://localhost:80", "/x"),
    ("https://h:443", "/x"),
    ("http://h:0080", "/x"),
    ("http://h:65535", "/x"),
    ("http://127.0.0.1:41523", "/x"),  # an ephemeral port: five digits
    ("http://[::1]:5000", "/x"),
    ("http://xn--n3h.net", "/x"),
    ("http://XN--N3H.net", "/x"),
    ("http://localhost", "/a%20b"),
    ("http://localhost", "/%C3%BC"),
    ("http://localhost", "/a%2Fb"),
    ("http://localhost", "/q%3Fx%23y"),
    ("http://localhost", "//double//slash"),
    ("http://localhost", "/with?query=1#frag"),
    ("http://localhost/mount", "/x"),
    ("http://localhost/mo%20unt/", "/x"),
]


@pytest.mark.parametrize(("base", "path"), CASES)
def test_request_htu_agrees_with_request_url(app, base, path):
    with app.test_request_context(path, base_url=base):
        assert request_htu() == normalize_htu(request.url)


@pytest.mark.parametrize("host", ["h:65536", "h:99999", "h:0", "h:123456"])
def test_a_host_header_out_of_range_agrees_too(app, host):
    with app.test_request_context("/x", headers={"Host": host}):
        assert request_htu() == normalize_htu(request.url)
