"""README.md documents every setting the code reads, so the configuration table stays true."""

from pathlib import Path

from services.runtime.settings import RuntimeSettings

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [
        f"SINGLEPOT_{name.upper()}"
        for name in RuntimeSettings.model_fields
        if f"SINGLEPOT_{name.upper()}" not in README
    ]
    assert missing == [], f"README.md does not document: {', '.join(missing)}"
