"""The stores by name: ``qa.config.STORES`` names each one's module, whose ``BACKEND`` says where a build
is served from. The folder store is the index folder itself; any other store is published to from the
folder's build and loads that build back (txtai's ``ann/dense/factory.py`` does the same for its backends).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, cast

from ..config import STORES, Settings
from .tables import Stored


class Backend(Protocol):
    """Where a store's builds live, beside the searching a :class:`~qa.store.Store` does."""

    title: str  # for messages: "published to {title}"
    local: bool  # True: the index folder is the store (nothing is published or loaded elsewhere)

    def current(self, settings: Settings) -> str | None:
        """The name of the build the store serves (None: none yet); raises :class:`StoreError`."""

    def publish(self, settings: Settings, build: Stored) -> None:
        """Copy ``build`` (a folder build) into the store and make it the current one."""

    def load(self, settings: Settings, path: Path | None) -> Stored:
        """The store's current build, searched by the store; ``path`` is the folder build it came from.
        Raises :class:`IndexNotBuiltError` when the store holds none."""

    def release(self, settings: Settings) -> None:
        """Let go of what serving started in this process (a server of its own)."""


def backend(name: str) -> Backend:
    """The backend of the store ``name`` (one of ``qa.config.STORES``)."""
    return cast(Backend, importlib.import_module(STORES[name]).BACKEND)
