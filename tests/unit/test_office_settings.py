"""offices.yml as a town writes it: every setting read, and each mistake
stopped with the office and the setting named."""
from datetime import time, timedelta

import pytest

from bot.offices.settings import DAY_BEFORE, OfficeSettings, OfficeSettingsError, QuietHours


def test_an_office_that_says_nothing_has_one_touch_the_day_before_and_no_waiting_list():
    settings = OfficeSettings.from_dict({})
    assert [(t.name, t.days_before, t.template) for t in settings.touches] == [
        (DAY_BEFORE, 1, "appointment_reminder")]
    assert settings.reply_window == timedelta(hours=23, minutes=40)
    assert settings.quiet_hours is None and settings.experiment is None
    assert settings.send_at == time(17, 0) and not settings.waiting_list.enabled


def test_touches_take_the_offices_reply_window_unless_they_set_their_own():
    settings = OfficeSettings.from_dict({"reply_window": "20h", "touches": [
        {"name": "early", "days_before": 3, "reply_window": "2h"}, {"name": "day_before", "days_before": 1}]})
    assert [t.reply_window for t in settings.touches] == [timedelta(hours=2), timedelta(hours=20)]
    assert settings.touch("early").days_before == 3 and settings.touch(None).name == "day_before"
    assert settings.touch_rank("early") == 0 and settings.touch_rank("other") == -1


@pytest.mark.parametrize("moment, quiet", [(time(21, 0), True), (time(23, 59), True), (time(0, 0), True),
                                           (time(8, 59), True), (time(9, 0), False), (time(20, 59), False)])
def test_quiet_hours_across_midnight(moment, quiet):
    assert QuietHours(time(21, 0), time(9, 0)).contains(moment) is quiet


def test_quiet_hours_within_a_day():
    hours = QuietHours(time(14, 0), time(16, 0))
    assert hours.contains(time(15, 0)) and not hours.contains(time(16, 0)) and not hours.contains(time(9, 0))


def test_a_variant_takes_its_template_for_the_touches_it_names_and_the_touchs_own_for_the_others():
    settings = OfficeSettings.from_dict({
        "touches": [{"name": "early", "days_before": 3, "template": "appointment_reminder_early"},
                    {"name": "day_before", "days_before": 1}],
        "experiment": {"name": "cost", "variants": {"plain": {}, "cost": {"day_before": "appointment_reminder_cost"}}}})
    assert settings.template("day_before", "cost") == "appointment_reminder_cost"
    assert settings.template("early", "cost") == "appointment_reminder_early"
    assert settings.template("day_before", "plain") == "appointment_reminder"
    assert settings.template("day_before", None) == "appointment_reminder"


@pytest.mark.parametrize("data, message", [
    ({"touches": []}, "touches: a list of at least one touch"),
    ({"touches": [{"name": "x", "days_before": 0}]}, r"touches\[0\].days_before"),
    ({"touches": [{"name": "X Y", "days_before": 1}]}, r"touches\[0\].name"),
    ({"touches": [{"name": "a", "days_before": 1}, {"name": "a", "days_before": 2}]}, "share a name"),
    ({"touches": [{"name": "a", "days_before": 1, "when": "now"}]}, "unknown setting"),
    ({"quiet_hours": "21:00"}, "quiet_hours: '21:00' is not a range"),
    ({"quiet_hours": "25:00-09:00"}, "not a time like 21:00"),
    ({"send_at": "5pm"}, "send_at: '5pm' is not a time"),
    ({"reply_window": "a day"}, "reply_window: not a duration"),
    ({"experiment": {"name": "x", "variants": {"only": {}}}}, "at least two variants"),
    ({"experiment": {"name": "x", "variants": {"a": {}, "b": {"early": "t"}}}}, "variants.b: a template per touch"),
    ({"experiment": {"name": "x", "variants": {"a": {}, "b": {}}, "retired": ["a", "b"]}}, "leaving at least one"),
    ({"waiting_list": {"offers_at_once": 0}}, "waiting_list.offers_at_once"),
    ({"waiting_list": {"min_notice": "soon"}}, "waiting_list.min_notice"),
    ({"sms_fallbak": True}, "unknown setting.*sms_fallbak"),
])
def test_each_mistake_names_its_setting(data, message):
    with pytest.raises(OfficeSettingsError, match=message):
        OfficeSettings.from_dict(data, "offices.oac-centre")


def test_the_waiting_list_once_named_is_on_with_its_defaults():
    settings = OfficeSettings.from_dict({"waiting_list": {}}).waiting_list
    assert settings.enabled and settings.min_notice == timedelta(hours=3) and settings.offers_at_once == 3
    assert settings.offer_valid_for == timedelta(minutes=45) and settings.max_offers_per_day == 2
