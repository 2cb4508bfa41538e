"""The staff workspace: triage, feed health, overdue reviews, recent changes, the editor."""

from __future__ import annotations

from flask import Blueprint, render_template

from kb.web.auth import staff_required

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
@staff_required
def dashboard():  # type: ignore[no-untyped-def]
    return render_template("staff/dashboard.html")
