"""Run requests and run progress on the bus: their payloads both ways, the malformed ones
refused with the field named, their topics, and the ACL letting only consoles request runs and
only the hub's workers report on them (a real Mosquitto)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from gcs.bus.errors import MalformedMessage
from gcs.bus.messages import MAX_RUN_REQUEST_BYTES, RunProgress, RunRequest
from gcs.bus.topics import TopicParts, parse_topic, run_topic
from tests.gcs.bus.test_acl import Listener, _sent_and_marker
from tests.helpers.mosquitto import running_mosquitto

REQUEST = RunRequest(id="r1", plan_id="p1-v2", plan_key="abc", plan_json='{"format": "x"}',
                     vehicles={"hub/heavy_octo/1": 1, "hub/heavy_octo/2": 2}, console="c1",
                     user="ops", sent_at_s=1.5, plan_path="/data/plans/p1/plan.json",
                     reset_battery=True, delivered_before={"P014": "run 3"},
                     resend_delivered=True)


def test_a_run_request_and_its_progress_read_back_equal() -> None:
    """Both messages survive the round trip, optional fields included."""
    assert RunRequest.from_payload("t", REQUEST.to_payload()) == REQUEST
    progress = RunProgress(worker="w1", at_s=2.0, state="gained", run_id=3, sysid=2)
    assert RunProgress.from_payload("t", progress.to_payload()) == progress
    bare = RunProgress(worker="w1", at_s=2.0, state="refused", detail="no plan")
    assert RunProgress.from_payload("t", bare.to_payload()) == bare
    upload = dataclasses.replace(REQUEST, upload=True, delivered_before={},
                                 resend_delivered=False)
    assert RunRequest.from_payload("t", upload.to_payload()) == upload
    verified = RunProgress(worker="w1", at_s=2.0, state="verified", sysid=1,
                           detail="sortie S001: mission 12, fence 5, rally 1 items verified")
    assert RunProgress.from_payload("t", verified.to_payload()) == verified


@pytest.mark.parametrize(("payload", "field"), [
    (REQUEST.to_payload().replace(b'"hub/heavy_octo/2":2', b'"hub/heavy_octo/2":0'),
     "vehicles"),
    (REQUEST.to_payload().replace(b'"reset_battery":true', b'"reset_battery":"yes"'),
     "reset_battery"),
    (REQUEST.to_payload().replace(b'"id":"r1"', b'"id":"r/1"'), "id"),
    (REQUEST.to_payload().replace(b'"plan":"{', b'"planx":"{'), "plan"),
    (REQUEST.to_payload().replace(b'"upload":false', b'"upload":1'), "upload"),
    (REQUEST.to_payload().replace(b'"resend_delivered":true', b'"resend_delivered":"y"'),
     "resend_delivered"),
    (REQUEST.to_payload().replace(b'"run 3"', b'3'), "delivered_before"),
])
def test_a_malformed_run_request_names_its_field(payload: bytes, field: str) -> None:
    """A request with a bad field is refused, the field named."""
    with pytest.raises(MalformedMessage, match=f"field '{field}'"):
        RunRequest.from_payload("t", payload)


def test_a_run_request_is_bounded() -> None:
    """A request longer than the bound is refused before it is parsed."""
    with pytest.raises(MalformedMessage, match="at most"):
        RunRequest.from_payload("t", b" " * (MAX_RUN_REQUEST_BYTES + 1))


def test_run_topics_parse() -> None:
    """Run topics name the hub and the request; a bad request id is not a topic."""
    assert parse_topic(run_topic("north", "r1", "progress")) == TopicParts(
        hub="north", kind="run_progress", sysid=None, worker=None, run="r1")
    with pytest.raises(MalformedMessage):
        parse_topic("dropline/v1/hub/north/run/r1/delete")


@pytest.mark.slow
def test_only_consoles_request_runs_and_only_workers_report(tmp_path: Path) -> None:
    """A worker's login cannot publish a run request, nor a console's a run's progress; a
    console's request reaches the hub's worker and the worker's progress the console."""
    with running_mosquitto(tmp_path / "broker", ["north"]) as broker:
        worker = Listener(broker, "worker-north", [run_topic("north", "+", "request")],
                          "w-north")
        console = Listener(broker, "console", [run_topic("north", "+", "progress")], "c-1")
        try:
            time.sleep(0.2)
            _sent_and_marker(worker, worker, run_topic("north", "r1", "request"),
                             run_topic("north", "r2", "request"), console)
            assert [t for t, _ in worker.heard] == [run_topic("north", "r2", "request")]
            _sent_and_marker(console, console, run_topic("north", "r1", "progress"),
                             run_topic("north", "r2", "progress"), worker)
            assert [t for t, _ in console.heard] == [run_topic("north", "r2", "progress")]
        finally:
            worker.close()
            console.close()
