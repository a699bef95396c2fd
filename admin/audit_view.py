"""The audit log page: who did what, when and from where, newest first."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from admin import audit, context

bp = Blueprint("audit", __name__)


@bp.get("/audit")
def log() -> str:
    """Every admin action of the last 90 days, 100 per page (?page=)."""
    page = request.args.get("page", "1")
    found = audit.entries(context.redis(), int(page) if page.isdigit() else 1)
    return render_template("audit.html", result=found, keep_days=audit.KEEP_DAYS)
