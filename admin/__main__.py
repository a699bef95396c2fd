"""Run the admin panel on Flask's development server: `python -m admin` (gunicorn in production)."""

from __future__ import annotations

from admin import context, create_app
from core.settings import Settings


def main() -> None:
    """Serve the panel on ADMIN_HOST:ADMIN_PORT until interrupted."""
    app = create_app()
    settings: Settings = context.settings(app)
    app.run(host=settings.admin_host, port=settings.admin_port)


if __name__ == "__main__":
    main()
