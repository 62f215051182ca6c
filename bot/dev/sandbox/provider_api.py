"""What the simulator's two provider APIs (WhatsApp through the
Conversations API, and SMS) share: MessageBird's error envelope, its
`AccessKey` authorisation, and the checks of a JSON request body."""
from __future__ import annotations

import hmac
import json
from typing import Optional

from sanic import response


class ApiError(Exception):
    """A refused request, answered with MessageBird's error envelope."""

    def __init__(self, status: int, code: int, description: str,
                 parameter: Optional[str] = None, headers: Optional[dict] = None):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description
        self.parameter, self.headers = parameter, headers or {}

    def response(self):
        error = {"code": self.code, "description": self.description, "parameter": self.parameter}
        return response.json({"errors": [error]}, status=self.status, headers=self.headers)


def missing(parameter: str) -> ApiError:
    return ApiError(422, 9, f"{parameter} is required", parameter)


def invalid(parameter: Optional[str], description: str) -> ApiError:
    return ApiError(422, 10, description, parameter)


_KIND_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer"}


def field(obj: dict, key: str, parameter: str, kind: type = dict, required: bool = True):
    """obj[key] if present and of the right JSON kind, else a 422."""
    value = obj.get(key)
    if value is None:
        if required:
            raise missing(parameter)
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid(parameter, f"{parameter} must be {_KIND_NAMES[kind]}")
    return value


def text(obj: dict, key: str, parameter: str, max_len: Optional[int] = None,
         required: bool = True) -> Optional[str]:
    """A non-empty string field, at most max_len characters (the platform's limits)."""
    value = field(obj, key, parameter, str, required)
    if value is not None and (not value.strip() or (max_len and len(value) > max_len)):
        limit = f"1-{max_len} characters" if max_len else "non-empty"
        raise invalid(parameter, f"{parameter} must be {limit}")
    return value


def json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(422, 21, "the request body must be a JSON object")
    return body


def authorize(request) -> None:
    """The app's access key (`app.ctx.access_key`) in `Authorization: AccessKey ...`."""
    expected = "AccessKey " + request.app.ctx.access_key
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, 2, "Request not allowed (incorrect access_key)", "access_key")
