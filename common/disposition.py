"""``Content-Disposition`` for downloads, per RFC 6266 with the RFC 5987 ``filename*`` form.

A file name built from user input (a source id) may hold anything: quotes, CR/LF, non-ASCII. The header
gets a plain ASCII fallback (anything else replaced) and the exact name percent-encoded as UTF-8.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def attachment(file_name: str) -> str:
    """The header value offering ``file_name`` as a download; never contains a quote, CR, LF or non-ASCII."""
    fallback = _UNSAFE.sub("_", file_name) or "download"
    encoded = quote(file_name, safe="")
    if encoded == fallback:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
