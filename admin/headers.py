"""Security headers on every response: a Content-Security-Policy with a per-request nonce, and friends.

Our pages run no JavaScript at all. rq-dashboard's pages need their one inline script (it carries
the nonce, see templates/rq_dashboard/base.html), `'unsafe-eval'` for underscore's templates
(`_.template` compiles with `new Function`), and a handful of fixed inline style attributes,
allowed by hash only.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from flask import Flask, Response, g, request

DASHBOARD_BLUEPRINT = "rq_dashboard"
# Every style="..." attribute left in rq-dashboard 0.9.0's templates (jobs.html, job.html).
DASHBOARD_STYLE_ATTRIBUTES = ("float: right", "float: right; margin-right: 8px;", "", "display: none")
COMMON_POLICY = (
    "default-src 'none'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
)
FIXED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def init_app(app: Flask) -> None:
    """Add the headers to every response; give templates `csp_nonce`."""
    app.after_request(add_security_headers)
    app.context_processor(lambda: {"csp_nonce": nonce()})


def nonce() -> str:
    """This request's CSP nonce."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def style_hash(value: str) -> str:
    """A CSP source expression matching one inline style text."""
    digest = base64.b64encode(hashlib.sha256(value.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def content_security_policy(for_dashboard: bool, request_nonce: str) -> str:
    """The policy for our pages, or the (looser, still nonce-bound) one for rq-dashboard's."""
    if for_dashboard:
        styles = " ".join(style_hash(s) for s in DASHBOARD_STYLE_ATTRIBUTES)
        own = (
            f"script-src 'self' 'nonce-{request_nonce}' 'unsafe-eval'",
            f"style-src 'self' 'unsafe-hashes' {styles}",
            "connect-src 'self'",
        )
    else:
        own = (f"style-src 'self' 'nonce-{request_nonce}'",)
    return "; ".join(COMMON_POLICY + own)


def add_security_headers(response: Response) -> Response:
    """Set CSP, framing, sniffing, referrer and caching headers."""
    policy = content_security_policy(request.blueprint == DASHBOARD_BLUEPRINT, nonce())
    response.headers["Content-Security-Policy"] = policy
    for name, value in FIXED_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint not in ("static", "rq_dashboard.static"):
        response.headers["Cache-Control"] = "no-store"
    return response
