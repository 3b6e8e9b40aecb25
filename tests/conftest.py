"""The session: markers, the shared folders, the workers' groups, the budget, and the model fixtures.

Importing tf_transformer first keeps TensorFlow's start-up noise out. What test modules import
lives in ``tests/helpers/``; no test module imports this file or another test module.
"""

import tf_transformer  # noqa: F401, I001  (first: it quiets TensorFlow's start-up logs)

import os
import shutil
import tempfile

import keras
import numpy as np
import pytest
from helpers import models, shared, suite


def pytest_addoption(parser):
    group = parser.getgroup("tf_transformer")
    group.addoption(
        "--suite-budget",
        action="store_true",
        help="fail when the whole run passes its CPU-time budget or wall-time limit (make test)",
    )
    group.addoption(
        "--write-durations",
        action="store_true",
        help=f"write every test's seconds to tests/{suite.DURATIONS.name} (make test-durations)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a subprocess, a training, a wheel or a notebook (make test-fast leaves it out)"
    )
    config.addinivalue_line(
        "markers", "independent: the module's tests share no fixture, so each may run on any xdist worker"
    )
    config.addinivalue_line(
        "markers", "shared(*names): the shared artifacts (tests/helpers/build.py) the tests read"
    )
    config.pluginmanager.register(suite.Bookkeeper(config), "tf_transformer_suite")
    if os.environ.get(shared.ENV):  # an xdist worker: the controller made the folders
        return
    # The controller (or plain pytest): one folder for the session's shared artifacts, and a TFDS
    # data dir of its own, so that no test writes into ~/tensorflow_datasets and every run starts
    # from nothing prepared, as CI does. The workers and every child process inherit both.
    config.suite_shared_root = tempfile.mkdtemp(prefix="tf_transformer_tests_")
    os.environ[shared.ENV] = config.suite_shared_root
    os.environ["TFDS_DATA_DIR"] = os.path.join(config.suite_shared_root, "tensorflow_datasets")


def pytest_unconfigure(config):
    root = getattr(config, "suite_shared_root", None)
    if root:
        shutil.rmtree(root, ignore_errors=True)
        os.environ.pop(shared.ENV, None)


def pytest_report_header(config):
    return f"machine: {suite.describe_cpu()}; load average {suite.load_average()}"


@pytest.hookimpl(tryfirst=True)  # before xdist turns the groups into node id suffixes
def pytest_collection_modifyitems(config, items):
    items[:] = suite.longest_groups_first(items, suite.read_durations())
    for item in items:
        item.add_marker(pytest.mark.xdist_group(suite.group_of(item)))


def pytest_sessionstart(session):
    """The controller (or plain pytest) has TFDS prepare the embedded corpus before any worker
    starts: test modules read it as they are collected, and two workers preparing it at once
    would delete each other's files."""
    if hasattr(session.config, "workerinput"):
        return
    import contextlib
    import io

    import tensorflow_datasets as tfds

    from tf_transformer.data._paths import data_root
    from tf_transformer.data.tfds_embedded import prepared_builder

    tfds.disable_progress_bar()  # (its bars and lines would open the test report)
    with contextlib.redirect_stdout(io.StringIO()):
        prepared_builder(str(data_root()))
    tfds.enable_progress_bar()


def pytest_collection_finish(session):
    """Start building the shared artifacts the selected tests read, before the first test runs."""
    names = {name for item in session.items for mark in item.iter_markers("shared") for name in mark.args}
    unknown = names - set(shared.RECIPES)
    if unknown:
        raise pytest.UsageError(f"pytest.mark.shared names no artifact: {sorted(unknown)}")
    shared.prefetch(names)


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    # Keras's name counters and TensorFlow's graph state start afresh for every test. Without its
    # gc.collect(): in a process that holds the suite's models, one full collection after every
    # test cost 1-2 s (half the time of some modules); Python's own collector still runs.
    keras.backend.clear_session(free_memory=False)


# -- models --------------------------------------------------------------------------------------


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def tiny_model():
    return models.make_model()
