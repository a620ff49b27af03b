""".env.example cannot disagree with Settings: every variable is listed, with the default it has."""

import re
from pathlib import Path

from pipeline.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
LINE = re.compile(r"^#\s*([A-Z][A-Z0-9_]+)=(\S*)")


def env_names() -> dict[str, str]:
    """Settings field → its environment variable (the first alias)."""
    names = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None) or ([alias] if isinstance(alias, str) else [])
        if choices:
            names[field] = str(choices[0])
    return names


def test_every_setting_is_in_env_example_with_its_default():
    listed = {m.group(1): m.group(2) for line in EXAMPLE.read_text().splitlines() if (m := LINE.match(line))}
    names = env_names()
    missing = sorted(set(names.values()) - set(listed))
    assert not missing, f".env.example lacks {missing}"
    for field, env in names.items():
        default, written = Settings.model_fields[field].default, listed[env]
        if written and isinstance(default, (int, float, bool)) and not isinstance(default, bool):
            assert float(written) == float(default), f"{env}: .env.example says {written}, Settings {default}"
        elif written and isinstance(default, bool):
            assert written.lower() == str(default).lower(), f"{env}: .env.example says {written}, Settings {default}"
