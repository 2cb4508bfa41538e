"""What the app holds open for every request: the knowledge base and its catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from kb.config import Config
from kb.site.catalog import Catalog
from kb.workspace import Workspace


@dataclass
class SiteState:
    """What the app holds open: the knowledge base and its catalogue."""

    cfg: Config
    workspace: Workspace
    catalog: Catalog
    build: str  # changes when templates or assets change, so cached pages are not reused

    def close(self) -> None:
        self.workspace.close()


def state() -> SiteState:
    return current_app.extensions["kb"]


def catalog() -> Catalog:
    return state().catalog


def cfg() -> Config:
    return state().cfg
