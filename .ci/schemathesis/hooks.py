"""Schemathesis hooks for Holdfast: a client sends a fresh Idempotency-Key with each new
request, as the API asks; the generator alone would reuse one key ("0") for different bodies,
which the API rightly refuses (422 idempotency_key_reused)."""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers
    if headers and isinstance(headers.get("Idempotency-Key"), str):
        if VALID_KEY.match(headers["Idempotency-Key"]):
            headers["Idempotency-Key"] = str(uuid.uuid4())
