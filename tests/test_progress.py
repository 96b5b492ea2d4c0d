"""Progress of long demo sections: stage lines and periodic 'still running' lines off a terminal."""

import io
import time

from stochthermo.commands._progress import Heartbeat, stage


def test_heartbeat_prints_stages_and_keeps_a_log_alive():
    buf = io.StringIO()  # not a terminal: lines, no bar
    with Heartbeat("fig41", total=2, every=0.05, stream=buf) as hb:
        stage("batch size 1")
        time.sleep(0.2)
        stage("batch size 10")
    text = buf.getvalue()
    assert "fig41: batch size 1" in text and "fig41: batch size 10" in text
    assert "still running" in text and "batch size 1" in text.split("still running")[1]
    assert len(repr(hb)) < 100
    n = text.count("\n")
    time.sleep(0.15)
    assert buf.getvalue().count("\n") == n  # the thread stopped with the section


def test_stage_without_heartbeat_is_silent(capsys):
    stage("nothing listens")
    assert capsys.readouterr() == ("", "")
