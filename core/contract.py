"""Import paths that Redis stores with every queued job and schedule: the upgrade contract.

RQ keeps a job's function and callbacks as dotted paths, and rq-scheduler keeps its periodic
jobs the same way, so a job queued by the old code runs on the new code after a restart only
if these paths still import. Rename a function here and a test fails, not a running install.
"""

from __future__ import annotations

JOB_FUNC = "jobs.convert.convert_video"
ON_SUCCESS = "jobs.delivery.send_gif"
ON_FAILURE = "jobs.delivery.report_failure"
ON_STOPPED = "jobs.delivery.report_stopped"
JOB_DESCRIPTION = "convert a video to a GIF"  # fixed text: the dashboard renders it

RECOVER_ABANDONED = "jobs.maintenance.recover_abandoned"
SAMPLE_DEPTH = "jobs.maintenance.sample_depth"
SWEEP_TEMP = "jobs.maintenance.sweep_temp"

STORED_PATHS = (JOB_FUNC, ON_SUCCESS, ON_FAILURE, ON_STOPPED, RECOVER_ABANDONED, SAMPLE_DEPTH, SWEEP_TEMP)
