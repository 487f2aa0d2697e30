"""Dependencies of the knowledge-base routes: the live index and its refresher."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.deps import provide
from app.kb.knowledge import KnowledgeIndex
from app.kb.refresher import IndexRefresher

KnowledgeDep = Annotated[KnowledgeIndex, Depends(provide("knowledge"))]
RefresherDep = Annotated[IndexRefresher | None, Depends(provide("refresher"))]
