"""Small helpers several test modules share."""

import importlib.util
import json
import pathlib
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_example(*parts):
    """An example script under examples/ as a module (they are scripts, not packages)."""
    path = ROOT.joinpath("examples", *parts)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def admin_request(url, method="GET", path="/restapis", body=None, headers=None, timeout=5.0):
    """(status, JSON body) of one admin-endpoint call; `body` is a dict (sent as JSON) or raw bytes."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
