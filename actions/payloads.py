"""Intent payloads for the buttons Recorda sends (the connector maps a tap
back to exactly this text)."""
import json


def payload(intent: str, appointment_id: str) -> str:
    return "/" + intent + json.dumps({"appointment_id": appointment_id}, separators=(",", ":"))


def confirm(appointment_id: str) -> str:
    return payload("confirm_appointment", appointment_id)


def cancel(appointment_id: str) -> str:
    return payload("cancel_appointment", appointment_id)


def keep(appointment_id: str) -> str:
    """"No, keep it": leaves the appointment as it is."""
    return payload("keep_appointment", appointment_id)
