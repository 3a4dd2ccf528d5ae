"""`python -m services.api`: serve the REST API on HOST:API_PORT."""

from services.api.app import create_app
from shared.runner import serve
from shared.settings import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings, settings.api_port)


if __name__ == "__main__":
    main()
