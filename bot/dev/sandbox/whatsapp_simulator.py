"""WhatsApp platform simulator: a local stand-in for MessageBird or for
Meta's WhatsApp Cloud API (`--provider`).

As MessageBird (the default) it speaks the subset of the Conversations API
that Recorda uses (`POST /v1/send`, `GET /v1/messages/{id}`,
`Authorization: AccessKey ...`, the error envelope) and calls the bot back
with signed `message.created` / `message.updated` webhooks, so the connector
runs the same code here as against https://conversations.messagebird.com/v1/.
As the Cloud API (`--provider whatsapp_cloud`) it serves
`POST /{version}/{phone_number_id}/messages` behind a Bearer token and sends
`whatsapp_business_account` webhooks signed with `X-Hub-Signature-256`, as
https://graph.facebook.com does. Either way, and the same for both:

* `POST /messages` is the SMS API, for the SMS fallback (bot.dev.sandbox.sms_center);
* `/sim/reply` is the citizen's phone: write, tap a button, send media;
* `/sim/...` is a test and inspection API (faults, no-WhatsApp numbers, logs);
* `/sim/behaviour` switches the citizens from manual to a behaviour profile
  (bot.dev.sandbox.citizen_behaviour) that reads and answers like a real town;
* `/` is a phone-like page for demos.

The webhooks go to `--webhook-url`; with `--status-webhook-url` the statuses
go there instead, signed for that URL, as a deployment with Recorda's status
receiver (bot/apps/status_receiver.py) subscribes them.

Everything is kept in memory. This module is its command line (`python -m
bot.dev.sandbox.whatsapp_simulator --help`); the app is
bot/dev/sandbox/whatsapp_app.py, the state bot/dev/sandbox/whatsapp_platform.py,
the providers' edges bot/dev/sandbox/messagebird_api.py and
bot/dev/sandbox/cloud_api.py.
"""
from __future__ import annotations

import argparse
import logging
from typing import List, Optional, Tuple

from sanic import Sanic

from bot.dev.sandbox.citizen_behaviour import ProfileError, load_profile, with_overrides
from bot.dev.sandbox.cloud_api import CloudAccount, CloudEdge
from bot.dev.sandbox.messagebird_api import MessageBirdEdge
from bot.dev.sandbox.provider_edge import ProviderEdge
from bot.dev.sandbox.whatsapp_app import create_app
from bot.foundation.settings import WHATSAPP_CHANNELS

PROVIDERS = WHATSAPP_CHANNELS  # the simulator plays each provider Recorda has a channel for
WEBHOOK_URLS = {provider: f"http://127.0.0.1:5005/webhooks/{provider}/webhook" for provider in PROVIDERS}


def _delays(text: str) -> Tuple[float, float, float]:
    delays = tuple(float(part) for part in text.split(","))
    if len(delays) != 3 or any(d < 0 for d in delays) or list(delays) != sorted(delays):
        raise argparse.ArgumentTypeError("three increasing seconds: sent,delivered,read")
    return delays


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line; `profile` is the citizens' behaviour profile it names."""
    cloud = CloudAccount()
    parser = argparse.ArgumentParser(description="WhatsApp platform simulator (MessageBird or Meta Cloud API subset).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--provider", choices=PROVIDERS, default="messagebird",
                        help="the WhatsApp API it speaks (default messagebird); the SMS API is MessageBird's")
    parser.add_argument("--access-key", default="sandbox-access-key",
                        help="MessageBird's access key (WhatsApp and SMS APIs)")
    parser.add_argument("--signing-key", default="sandbox-signing-key-for-the-local-demo")
    parser.add_argument("--channel-id", default="sandbox-whatsapp-channel")
    parser.add_argument("--cloud-access-token", default=cloud.access_token, help="Cloud API: the Bearer token")
    parser.add_argument("--cloud-app-secret", default=cloud.app_secret,
                        help="Cloud API: the key of the webhooks' X-Hub-Signature-256")
    parser.add_argument("--cloud-phone-number-id", default=cloud.phone_number_id,
                        help="Cloud API: the business phone number's id, in the send URL")
    parser.add_argument("--webhook-url", help="where the webhooks go (default: the local Rasa's "
                                              "/webhooks/<provider>/webhook)")
    parser.add_argument("--status-webhook-url",
                        help="where the statuses' webhooks go, signed for it (Recorda's status receiver, "
                             "/webhooks/<provider>/statuses); default: --webhook-url")
    parser.add_argument("--redeliver", action="store_true",
                        help="deliver again, over about two minutes, a webhook the bot did not take "
                             "(5xx, 429 or unreachable), as providers do; default: each webhook once")
    parser.add_argument("--status-delays", type=_delays, default=(0.5, 1.5, 4.0),
                        help="seconds after a send until sent, delivered, read (default 0.5,1.5,4)")
    parser.add_argument("--citizens", default="manual", metavar="PROFILE",
                        help="what citizens do with a reminder or the offer of a freed slot: manual "
                             "(default: only what the phone page or /sim/reply does), realistic, or a "
                             "JSON/YAML profile file")
    parser.add_argument("--time-scale", type=float, metavar="FACTOR",
                        help="real seconds per simulated second of the citizens' delays (0.001: 2 h "
                             "last 7.2 s); default the profile's")
    parser.add_argument("--seed", type=int, help="seed of the citizens' behaviours; default the profile's")
    args = parser.parse_args(argv)
    try:
        args.profile = with_overrides(load_profile(args.citizens), args.seed, args.time_scale)
    except (ProfileError, ValueError) as exc:
        parser.error(f"--citizens: {exc}")
    return args


def app_from(args: argparse.Namespace) -> Sanic:
    """The simulator app that the command line `args` describe."""
    edge: ProviderEdge
    if args.provider == "whatsapp_cloud":
        edge = CloudEdge(CloudAccount(access_token=args.cloud_access_token, app_secret=args.cloud_app_secret,
                                      phone_number_id=args.cloud_phone_number_id))
    else:
        edge = MessageBirdEdge(args.signing_key, args.channel_id)
    return create_app(args.access_key, edge, args.webhook_url or WEBHOOK_URLS[args.provider],
                      args.status_delays, name="whatsapp_simulator", citizens=args.profile,
                      status_webhook_url=args.status_webhook_url, redeliver=args.redeliver)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app_from(args).run(host=args.host, port=args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
