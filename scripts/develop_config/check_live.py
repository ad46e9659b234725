"""Check a running scripts/develop: log in as dev/dev and list inverter_hub's entities.

Usage: .venv/bin/python scripts/develop_config/check_live.py [--wait SECONDS]
Exits 1 unless every entry of the integration is loaded and each of its devices has a sensor
with a numeric state.
"""

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import urlencode
from urllib.request import Request, urlopen

BASE = "http://127.0.0.1:8123"
CLIENT_ID = "http://localhost:8123/"


def call(path: str, body: Any = None, *, token: str = "", form: bool = False) -> Any:
    """Send one request to Home Assistant and return the decoded JSON answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if form:
        data = urlencode(body).encode()
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    with urlopen(Request(BASE + path, data=data, headers=headers), timeout=10) as answer:
        return json.load(answer)


def log_in() -> str:
    """Walk the login flow as the dev user and return an access token."""
    flow = call(
        "/auth/login_flow",
        {
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": f"{CLIENT_ID}?auth_callback=1",
        },
    )
    login = {"client_id": CLIENT_ID, "username": "dev", "password": "dev"}
    code = call(f"/auth/login_flow/{flow['flow_id']}", login)["result"]
    grant = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID}
    token: str = call("/auth/token", grant, form=True)["access_token"]
    return token


def is_number(text: str) -> bool:
    """Tell whether a state string is a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def check() -> bool:
    """Print the integration's entries, entities and devices; tell whether all are live."""
    token = log_in()
    entries = call("/api/config/config_entries/entry?domain=inverter_hub", token=token)
    for entry in entries:
        print(f"entry {entry['title']}: {entry['state']}")
    # Each template renders a JSON list, so the answer decodes like any other.
    ours = "integration_entities('inverter_hub')"
    entities = call("/api/template", {"template": f"{{{{ {ours} | tojson }}}}"}, token=token)
    names = call(
        "/api/template",
        {"template": f"{{{{ {ours} | map('device_attr', 'name') | list | tojson }}}}"},
        token=token,
    )
    device_of = {entity: str(name) for entity, name in zip(entities, names, strict=True)}
    counts = {name: [0, 0] for name in device_of.values()}
    for state in call("/api/states", token=token):
        if state["entity_id"] not in device_of:
            continue
        unit = state["attributes"].get("unit_of_measurement", "")
        print(f"{state['entity_id']:60} {state['state']} {unit}".rstrip())
        count = counts[device_of[state["entity_id"]]]
        count[0] += 1
        if state["entity_id"].startswith("sensor.") and is_number(state["state"]):
            count[1] += 1
    print()
    for name, (total, numeric) in sorted(counts.items()):
        print(f"{name:40} {total:4} entities, {numeric:3} sensors with a number")
    live = sum(1 for _, numeric in counts.values() if numeric)
    print(f"{len(entities)} entities of inverter_hub on {len(counts)} devices, {live} of them live")
    loaded = all(entry["state"] == "loaded" for entry in entries)
    return bool(entries) and loaded and live == len(counts)


def main() -> int:
    """Check once, or until every device is live when --wait allows time for it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to keep trying")
    deadline = time.monotonic() + parser.parse_args().wait
    started = time.monotonic()
    while True:
        try:
            if check():
                print(f"every device live after {time.monotonic() - started:.0f} s of checking")
                return 0
        except (OSError, KeyError) as err:
            print(f"Home Assistant is not ready: {err}")
        if time.monotonic() >= deadline:
            return 1
        time.sleep(5)


if __name__ == "__main__":
    sys.exit(main())
