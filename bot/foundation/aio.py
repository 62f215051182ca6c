"""Blocking work off the event loop. Rasa, its channels, the action server,
the web app and the worker each run one asyncio loop; SQLAlchemy 1.4 (as
used here) and a few libraries are synchronous, and a loop that waits on them
stops answering everyone else."""
from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, TypeVar

T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs) in the loop's default thread pool."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))
