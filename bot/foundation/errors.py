"""The base of the errors that a person must be told about in their own
language: what they typed or asked for cannot be used, and why.

    CodedError(code, message="", **values)
        code     names the text that explains the error to the user (the
                 console's texts, bot/apps/web/console/texts/*.yml)
        values   fill that text's placeholders
        message  for logs and the command line; the code when there is none
"""
from __future__ import annotations


class CodedError(ValueError):
    """Something a user typed or asked for that cannot be used; `code` and
    `values` say why in words the user's language has a text for."""

    def __init__(self, code: str, message: str = "", **values: object):
        super().__init__(message or code)
        self.code = code
        self.values = values
