"""`python -m bot.apps.web --host 127.0.0.1 --port 8080`: Recorda's web app."""
from __future__ import annotations

import argparse

from bot import patches
from bot.apps.operations import start_process
from bot.apps.web.app import create_app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Recorda's web app: the citizen's page of a "
                                                 "personal link (/c/...) and the staff console.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    start_process("web", text_format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(name="recorda_web")
    # No access log: the path of a personal link is a credential.
    patches.apply_to_sanic()
    app.run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
