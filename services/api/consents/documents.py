"""The legal documents file (LEGAL_DOCUMENTS_FILE): which documents exist, their current
versions and which are required. Versions and URLs only; the legal text lives at the URL."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

# The kinds the app knows; `required` in the file says which ones sign-up needs.
KINDS = ("terms", "privacy", "location_terms", "marketing")


class LegalDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = Field(pattern="^(terms|privacy|location_terms|marketing)$")
    version: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=2048)
    required: bool


class LegalDocuments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    documents: tuple[LegalDocument, ...]


@cache
def load_documents(path: str) -> dict[str, LegalDocument]:
    """The documents by kind, read once a process: publishing a version may need a restart."""
    parsed = LegalDocuments.model_validate_json(Path(path).read_bytes())
    return {doc.kind: doc for doc in parsed.documents}


def required_kinds(documents: dict[str, LegalDocument]) -> tuple[str, ...]:
    return tuple(kind for kind, doc in documents.items() if doc.required)
