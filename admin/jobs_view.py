"""The job search page: any user's recent jobs by user, job id, status and time window."""

from __future__ import annotations

import time

from flask import Blueprint, render_template, request

from admin import context, jobsearch

bp = Blueprint("jobs", __name__)


@bp.get("/jobs")
def search() -> str:
    """Jobs of every user, newest first; ?user=&job=&status=&window=&from=&to=&page= narrow them."""
    query = jobsearch.JobQuery.from_args(request.args)
    found = jobsearch.find_jobs(context.redis(), query, time.time())
    return render_template(
        "jobs.html",
        query=query,
        result=found,
        statuses=jobsearch.STATUSES,
        windows=jobsearch.WINDOWS,
        cap=jobsearch.SCAN_CAP,
    )
