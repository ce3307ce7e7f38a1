"""A plain, non-editable install into a fresh virtualenv works: the wheel
carries the templates, static files and corpus, `trac-admin initenv` sets
TracLearn up, and tracd serves its page and stylesheet."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(*args, **kwargs):
    result = subprocess.run(list(args), capture_output=True, text=True,
                            timeout=600, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode('utf-8')
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_fresh_virtualenv_install_serves_tracl_pages(tmp_path):
    venv = tmp_path / 'venv'
    run(sys.executable, '-m', 'venv', str(venv))
    python = str(venv / 'bin' / 'python')
    # Without the harness's PYTHONPATH: only what was installed is seen.
    clean_env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    run(python, '-m', 'pip', 'install', '-q', 'setuptools<82', 'wheel',
        env=clean_env)
    run(python, '-m', 'pip', 'install', '-q', '--no-build-isolation',
        str(REPO_ROOT), env=clean_env, cwd=str(tmp_path))
    installed = run(python, '-c', 'import tracl, os; '
                    'print(os.path.dirname(tracl.__file__))',
                    env=clean_env, cwd=str(tmp_path)).strip()
    assert installed.startswith(str(venv))
    for resource in ('templates/tracl_learning.html', 'htdocs/css/tracl.css'):
        assert os.path.isfile(os.path.join(installed, resource)), resource
    assert os.listdir(os.path.join(installed, 'data', 'corpus'))

    env_path = str(tmp_path / 'env')
    config = tmp_path / 'enable.ini'
    config.write_text('[components]\ntracl.* = enabled\n')
    run(str(venv / 'bin' / 'trac-admin'), env_path, 'initenv', 'Fresh',
        'sqlite:db/trac.db', '--config=%s' % config, env=clean_env,
        cwd=str(tmp_path))

    port = free_port()
    server = subprocess.Popen(
        [str(venv / 'bin' / 'tracd'), '--single-env', '--hostname',
         '127.0.0.1', '--port', str(port), env_path],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env,
        cwd=str(tmp_path))
    try:
        base = 'http://127.0.0.1:%d' % port
        status, page = wait_for(base + '/learning')
        assert status == 200
        assert 'My learning' in page
        status, css = wait_for(base + '/chrome/tracl/css/tracl.css')
        assert status == 200 and '.tracl-completion' in css
    finally:
        server.terminate()
        server.wait(timeout=30)
