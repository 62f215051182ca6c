"""(being written)"""
from sanic import Blueprint

from bot.web.console.services import ConsoleServices


def register(bp: Blueprint, services: ConsoleServices) -> None:
    pass
