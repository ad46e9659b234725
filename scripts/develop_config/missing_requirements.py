"""Print the pip requirements Home Assistant would install at start-up for a config dir.

scripts/develop installs them up front, so the first start needs no network and shows no
half-loaded integrations.
"""

from collections.abc import Iterable, Iterator
import json
from pathlib import Path
import sys
from typing import Any

from homeassistant import bootstrap, components
from homeassistant.util.package import is_installed
from homeassistant.util.yaml import Secrets, load_yaml_dict

CORE_COMPONENTS = Path(components.__file__).parent


def read_manifest(config_dir: Path, domain: str) -> dict[str, Any]:
    """Return a domain's manifest, preferring a custom integration over a core one."""
    for root in (config_dir / "custom_components", CORE_COMPONENTS):
        path = root / domain / "manifest.json"
        if path.is_file():
            manifest: dict[str, Any] = json.loads(path.read_text())
            return manifest
    return {}


def configured_domains(config_dir: Path) -> set[str]:
    """Return the domains Home Assistant sets up for this config dir."""
    config = load_yaml_dict(config_dir / "configuration.yaml", Secrets(config_dir))
    domains = {key.split(" ")[0] for key in config if key != "homeassistant"}
    domains |= bootstrap.CORE_INTEGRATIONS | bootstrap.DEFAULT_INTEGRATIONS
    custom = config_dir / "custom_components"
    if custom.is_dir():
        domains |= {path.parent.name for path in custom.glob("*/manifest.json")}
    return domains


def requirements(config_dir: Path, domains: Iterable[str]) -> Iterator[str]:
    """Yield the requirements of the domains and of everything they depend on."""
    pending, seen = list(domains), set[str]()
    while pending:
        domain = pending.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = read_manifest(config_dir, domain)
        yield from manifest.get("requirements", [])
        pending.extend(manifest.get("dependencies", []))


def main() -> None:
    """Print each requirement that is not installed yet, one per line."""
    config_dir = Path(sys.argv[1])
    wanted = sorted(set(requirements(config_dir, configured_domains(config_dir))))
    for requirement in wanted:
        if not is_installed(requirement):
            print(requirement)


if __name__ == "__main__":
    main()
