import pathlib

import pytest

from controller.lflow.flows import read_lflow_list

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def capture_flows():
    """The 278 logical flows northd wrote for two switches and a router."""
    return read_lflow_list((DATA / "lflows-two-chassis.txt").read_text())
