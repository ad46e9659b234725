"""Check a running scripts/develop: log in as dev/dev and list inverter_hub's entities.

Usage: .venv/bin/python scripts/develop_config/check_live.py
Exits 1 unless at least one sensor of the integration has a numeric state.
"""

import json
import sys
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


def main() -> int:
    """Print each entity of the integration with its state; fail if no sensor is numeric."""
    token = log_in()
    template = {"template": "{{ integration_entities('inverter_hub') | tojson }}"}
    # The template renders a JSON list, so the answer decodes like any other.
    ours = set(call("/api/template", template, token=token))
    numeric = 0
    for state in call("/api/states", token=token):
        if state["entity_id"] not in ours:
            continue
        unit = state["attributes"].get("unit_of_measurement", "")
        print(f"{state['entity_id']:60} {state['state']} {unit}".rstrip())
        if state["entity_id"].startswith("sensor.") and is_number(state["state"]):
            numeric += 1
    print(f"{len(ours)} entities of inverter_hub, {numeric} sensors with a numeric state")
    return 0 if numeric else 1


if __name__ == "__main__":
    sys.exit(main())
