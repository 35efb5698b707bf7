"""Shared fixtures: a moto server and a fresh world per test, for the modules that drive AWS directly
(the traffic gate's provider, the guardian's handler). A module that needs other fixtures under these
names defines its own, which pytest prefers."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests.moto_server import MotoServer, World, build_world, patched_env


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """One moto server per module on 127.0.0.1, with fake credentials pointed at it."""
    server = MotoServer().start()
    with patched_env(server.env()):
        yield server
    server.stop()


@pytest.fixture
def world(moto: MotoServer) -> World:
    """A fresh ALB, listener, target groups and instances for each test."""
    moto.reset()
    return build_world(moto.endpoint)


@pytest.fixture
def no_gc_callbacks() -> Iterator[None]:
    """For tests that deliver a signal: a KeyboardInterrupt raised while a gc callback runs (hypothesis
    installs one once a property test has run in the process) is reported as unraisable and lost, so
    the test would wait for an interrupt that never comes. The tool installs no gc callbacks."""
    saved = list(gc.callbacks)
    gc.callbacks.clear()
    try:
        yield
    finally:
        gc.callbacks[:] = saved
