"""The profiles known to this installation: the shipped ones, then the user's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
import logging
from pathlib import Path

from ..errors import ProfileError
from .loader import load_profile
from .profile import LinkRules, Profile

_LOGGER = logging.getLogger(__name__)

SHIPPED_PROFILES = Path(__file__).parent / "profiles"


def profile_files(directory: Path) -> list[Path]:
    """Return the profile files of a directory in name order (none if it does not exist)."""
    if not directory.is_dir():
        return []
    return sorted(
        path for path in directory.iterdir() if path.suffix in (".yaml", ".yml") and path.is_file()
    )


class ProfileRegistry:
    """Profiles by id; a later directory's profile replaces an earlier one of the same id."""

    def __init__(self, profiles: Iterable[Profile] = ()) -> None:
        """Hold these profiles (later ones win on equal ids)."""
        self._profiles: dict[str, Profile] = {}
        self.problems: list[str] = []
        for profile in profiles:
            self.add(profile)

    def add(self, profile: Profile) -> None:
        """Add a profile, replacing one of the same id."""
        if profile.id in self._profiles:
            _LOGGER.debug("profile %s replaced by %s", profile.id, profile.source)
        self._profiles[profile.id] = profile

    @classmethod
    def load(
        cls,
        user_dirs: Iterable[Path] = (),
        *,
        shipped: Path | None = SHIPPED_PROFILES,
        skip_invalid: bool = False,
    ) -> ProfileRegistry:
        """Read the shipped profiles, then each user directory (blocking file reads).

        A broken shipped profile always raises. A broken user profile raises too, unless
        `skip_invalid` is set: then it is left out and its error kept in `problems`.
        """
        registry = cls()
        if shipped is not None:
            for path in profile_files(shipped):
                registry.add(load_profile(path))
        for directory in user_dirs:
            for path in profile_files(directory):
                try:
                    registry.add(load_profile(path))
                except ProfileError as err:
                    if not skip_invalid:
                        raise
                    _LOGGER.warning("skipping profile: %s", err)
                    registry.problems.append(str(err))
        return registry

    @classmethod
    async def async_load(
        cls,
        user_dirs: Iterable[Path] = (),
        *,
        shipped: Path | None = SHIPPED_PROFILES,
        skip_invalid: bool = False,
    ) -> ProfileRegistry:
        """Read the profiles in the executor, keeping file reads off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: cls.load(user_dirs, shipped=shipped, skip_invalid=skip_invalid)
        )

    def get(self, profile_id: str) -> Profile:
        """Return the profile of `profile_id`, or raise ProfileError."""
        try:
            return self._profiles[profile_id]
        except KeyError:
            known = ", ".join(sorted(self._profiles)) or "none"
            raise ProfileError(
                f"no Modbus profile {profile_id!r} (known: {known})", profile=profile_id
            ) from None

    def all(self) -> tuple[Profile, ...]:
        """Return every profile, in detection order: highest priority first, then by id."""
        return tuple(sorted(self._profiles.values(), key=lambda p: (-p.priority, p.id)))

    @staticmethod
    def link_rules(profiles: Iterable[Profile]) -> LinkRules:
        """Return link rules every profile on one bus can live with.

        The serial line is the first profile's (a bus has one); the gap and timeout are the
        longest any device needs; a read asks no more than the strictest device allows.
        """
        chosen = list(profiles)
        if not chosen:
            return LinkRules()
        first = chosen[0].link
        for profile in chosen[1:]:
            if profile.link.serial != first.serial:
                _LOGGER.warning(
                    "%s wants %s but the bus runs %s", profile.id, profile.link.serial, first.serial
                )
        return replace(
            first,
            gap=max(profile.link.gap for profile in chosen),
            timeout=max(profile.link.timeout for profile in chosen),
            max_registers=min(profile.link.max_registers for profile in chosen),
            even_alignment=any(profile.link.even_alignment for profile in chosen),
        )

    def __contains__(self, profile_id: object) -> bool:
        """Return whether a profile of that id is known."""
        return profile_id in self._profiles

    def __len__(self) -> int:
        """Return how many profiles are known."""
        return len(self._profiles)
