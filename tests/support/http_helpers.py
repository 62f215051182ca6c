"""Small HTTP helpers for tests that talk to running Recorda processes."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Optional, Tuple


def call(method: str, url: str, body: Any = None, form: Optional[dict] = None,
         headers: Optional[dict] = None) -> Tuple[int, Any]:
    """(status, body): JSON decoded when the answer is JSON, text otherwise.
    `body` is sent as JSON, `form` as an HTML form."""
    data, sent_headers = None, {}
    if body is not None:
        data, sent_headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        sent_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    req = urllib.request.Request(url, data=data, method=method, headers={**sent_headers, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, _decode(resp)
    except urllib.error.HTTPError as err:
        return err.code, _decode(err)


def _decode(resp) -> Any:
    raw = resp.read()
    if resp.headers.get_content_type() == "application/json":
        return json.loads(raw or b"null")
    return raw.decode()


def wait_for(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.2) -> Any:
    """The first truthy value of `check()`; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")
