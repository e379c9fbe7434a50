"""Fixtures of the zoo tests: a loopback file server and a user zoo file (nothing here reaches the network)."""
import pytest
import yaml
from loopback_server import start_server

from basicsr_nafnet.inference.zoo import ZOO_ENV


@pytest.fixture
def server():
    httpd = start_server()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def user_zoo(tmp_path, monkeypatch):
    """Writes a user zoo file and points BASICSR_NAFNET_ZOO at it."""
    def write(entries):
        path = tmp_path / 'zoo.yml'
        path.write_text(yaml.safe_dump(entries))
        monkeypatch.setenv(ZOO_ENV, str(path))
        return str(path)
    return write
