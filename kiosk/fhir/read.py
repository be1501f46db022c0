"""FHIR JSON as we read it back, from a file someone gives us or from a server others write to: the
parts we read, typed (other elements are ignored). Shapes that are not FHIR's (a string where FHIR has
a list, a number for a date, an element missing) are pydantic's ValidationError, which :func:`said`
puts in words at its place in the resource: read by hand, they were AttributeError or KeyError
tracebacks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import codes


class Fhir(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Coding(Fhir):
    system: str | None = None
    code: str | None = None


class Concept(Fhir):
    coding: list[Coding] = []

    def has(self, code: str) -> bool:
        """Whether one of our codes (codes.CODE_SYSTEM_URL) is among the codings."""
        return any(c.system == codes.CODE_SYSTEM_URL and c.code == code for c in self.coding)


class Identifier(Fhir):
    system: str | None = None
    value: str | None = None


class Reference(Fhir):
    reference: str | None = None
    identifier: Identifier | None = None


class Resource(Fhir):
    """Any resource, as far as a reference to it is resolved: its type, id and identifiers."""

    resource_type: str = Field(alias="resourceType")
    id: str | None = None
    identifier: list[Identifier] = []

    def ident(self, *systems: str) -> str | None:
        """The value of its first identifier in one of ``systems``."""
        return next((i.value for i in self.identifier if i.system in systems), None)

    def our_id(self) -> str | None:
        return self.ident(codes.REFERRAL_ID_SYSTEM, codes.RESULT_ID_SYSTEM)

    @property
    def url(self) -> str:
        """Its relative URL (Observation/123), as a Reference names it."""
        return f"{self.resource_type}/{self.id}"


class Entry(Fhir):
    """A Bundle's entry; its resource read by the model the reader picks from its type."""

    full_url: str | None = Field(default=None, alias="fullUrl")
    resource: dict[str, Any] | None = None


class Link(Fhir):
    relation: str
    url: str


class SearchPage(Fhir):
    """One page of a search's answer: a searchset Bundle."""

    resource_type: Literal["Bundle"] = Field(alias="resourceType")
    entry: list[Entry] = []
    link: list[Link] = []


def said(exc: ValidationError) -> str:
    """Pydantic's first complaint, at its place in the resource (``basedOn.0``: Input should be ...)."""
    e = exc.errors()[0]
    msg = "a JSON object is expected" if e["type"] == "model_type" else e["msg"]  # not our class's name
    return ".".join(map(str, e["loc"])) + ": " + msg if e["loc"] else msg
