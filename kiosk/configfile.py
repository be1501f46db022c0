"""The base of the kiosk's configuration objects that an operator can give as a JSON file
(``--quality-config``, ``--find-config``): frozen, and a misspelt key is an error, not a default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from facescreen.edge.textfile import read_text

C = TypeVar("C", bound="FileConfig")


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_file(cls: type[C], path: str | Path) -> C:
        """Load from a JSON object whose keys are the field names (missing keys keep their defaults).
        UTF-8, with or without the byte-order mark Windows editors write. A file that cannot be read,
        or is not such an object, is a ValueError naming the file, each wrong key and why."""
        try:
            text = read_text(path)
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return cls.model_validate(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not JSON: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the file'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{path} is not a valid {cls.__name__}: {problems}") from None
