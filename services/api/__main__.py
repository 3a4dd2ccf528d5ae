"""`python -m services.api`: serve the REST API on HOST:API_PORT."""

from services.api.app import create_app
from shared.runner import process_settings, serve


def main() -> None:
    settings = process_settings()
    serve(create_app(settings), settings, settings.api_port, "REST API")


if __name__ == "__main__":
    main()
