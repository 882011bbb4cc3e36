"""The issue's Python snippet for the simple API, run unchanged against the real binary.

Starts `deepkb serve` (DEEPKB_BIN) on stories260K with the API key "KEY", then runs exactly
    requests.post(url, headers={"Authorization": "Bearer KEY"}, json={"prompt": "...",
        "temperature": 0.7, "max_tokens": 300}).json()["choices"][0]["text"]
with Debian's python3-requests. Run by CTest as `python_snippet`.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

import requests

fixtures = os.environ.get("DKB_FIXTURES") or os.path.join(os.path.dirname(__file__), "../../../shared/fixtures")
model = os.path.join(fixtures, "models", "stories260K.gguf")
if not os.path.exists(model):
    print(f"SKIP: fixture missing: {model}", file=sys.stderr)
    sys.exit(1 if os.environ.get("CI") == "true" else 0)

data = tempfile.mkdtemp(prefix="dkb_py_")
server = subprocess.Popen([os.environ["DEEPKB_BIN"], "serve", "-m", model, "--api-key", "KEY", "--port", "0",
                           "--data", data, "--threads", "2"], stdout=subprocess.PIPE, text=True)
try:
    out = ""
    while "deepkb: ready" not in out:
        line = server.stdout.readline()
        assert line, f"server exited before it was ready: {out}"
        out += line
    url = re.search(r"listening on (http://\S+)", out).group(1) + "/v1/chat"

    # --- the snippet, unchanged ---
    text = requests.post(url, headers={"Authorization": "Bearer KEY"}, json={"prompt": "...", "temperature": 0.7, "max_tokens": 300}).json()["choices"][0]["text"]
    # ---
    assert isinstance(text, str), repr(text)

    full = requests.post(url, headers={"Authorization": "Bearer KEY"}, json={"prompt": "...", "temperature": 0.7, "max_tokens": 300}).json()
    assert full["usage"]["completion_tokens"] <= 300 and full["choices"][0]["finish_reason"] in ("stop", "length"), full
    bad = requests.post(url, headers={"Authorization": "Bearer WRONG"}, json={"prompt": "...", "max_tokens": 3})
    assert bad.status_code == 401 and "error" in bad.json(), bad.text
    too_hot = requests.post(url, headers={"Authorization": "Bearer KEY"}, json={"prompt": "...", "temperature": 1.5})
    assert too_hot.status_code == 400 and "temperature" in too_hot.json()["error"]["message"], too_hot.text
    print(f"ok: {text[:60]!r}...")
finally:
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    shutil.rmtree(data, ignore_errors=True)
assert code == 0, f"server exit status {code}"
