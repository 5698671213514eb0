"""Download names built from a source id: ids that could break the header are refused where they enter
(4xx, the service keeps answering); the header is RFC 6266 / 5987 for any name."""

from __future__ import annotations

import email.message
import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from common.disposition import attachment
from services.distributor.app import create_app
from services.distributor.config import DistributorConfig
from services.distributor.settings import DistributorSettings
from services.generator.config import GeneratorConfig
from tests.servers import serve

pytestmark = pytest.mark.integration

HOSTILE = ["caméra", 'a"b', "a\r\nSet-Cookie: x=1", "a;b", "a b", "", "-x"]


def raw_get(url: str, target: str) -> int:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = sock.recv(65536)
    return int(data.split(b" ", 2)[1]) if data else 0


def test_export_refuses_ids_that_would_break_the_header(tmp_path: Path) -> None:
    settings = DistributorSettings(work_dir=tmp_path / "work")
    with serve(create_app(settings, DistributorConfig(feedback=False))) as url, httpx.Client(timeout=10) as client:
        for bad in HOSTILE:
            response = client.get(f"{url}/export", params={"source_id": bad})
            assert response.status_code == 422, (bad, response.status_code)
            assert response.json()["error"]["code"] == "invalid_input"
        # percent-encoded CR LF, as the probe sent it: an answer, not a dropped connection
        assert raw_get(url, "/export?source_id=a%0d%0aX:%20y") == 422
        ok = client.get(f"{url}/export", params={"source_id": "cam-1.a_b"})
        assert ok.status_code == 200
        assert ok.headers["content-disposition"] == 'attachment; filename="dayu-results-cam-1.a_b.jsonl.gz"'


@pytest.mark.unit
@pytest.mark.parametrize("name", ["dayu-results-caméra.jsonl.gz", 'a"b\r\n.gz', "plain.gz", "東京.gz", "a;b c"])
def test_attachment_header_is_safe_and_keeps_the_exact_name(name: str) -> None:
    value = attachment(name)
    value.encode("ascii")  # any header value must be ASCII here
    assert not any(c in value for c in "\r\n") and value.count('"') == 2
    message = email.message.Message()
    message["Content-Disposition"] = value
    assert message.get_filename() == name or unquote(value.split("filename*=UTF-8''")[1]) == name


@pytest.mark.unit
@pytest.mark.parametrize("bad", HOSTILE)
def test_a_generator_refuses_a_source_id_that_is_not_plain(bad: str) -> None:
    with pytest.raises(ValidationError):
        GeneratorConfig.model_validate({"source_id": bad})
