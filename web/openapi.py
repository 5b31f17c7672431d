"""The OpenAPI 3 document of the console's JSON API (served at ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from planner.scenario import MAX_DRONES, MAX_SEED
from web.db import AUDIT_PAGE_MAX
from web.scenario_edit import CONSOLE_MAX_TIME_LIMIT_S, MAX_ZONE_VERTICES, MAX_ZONES

_ERROR = {"description": "error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body = schema or {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _op(summary: str, *, ok: str = "200", body: dict[str, Any] | None = None,
        errors: tuple[str, ...] = ("401",), params: tuple[str, ...] = (),
        multipart: dict[str, Any] | None = None, ok_type: str = "application/json",
        public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary,
                          "responses": {ok: _ok(summary) if ok_type == "application/json" else
                                        {"description": summary,
                                         "content": {ok_type: {"schema": {"type": "string"}}}},
                                        **{code: _ERROR for code in errors}}}
    if public:
        op["security"] = []
    if params:
        op["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    if multipart is not None:
        op["requestBody"] = {"required": True,
                             "content": {"multipart/form-data": {"schema": multipart}}}
    return op


_WRITE = ("400", "401", "403", "404", "409")
#: The faults of the built-in simulator (an attached simulator lists its own).
SIM_FAULTS = ("loss", "latency", "duplicate", "reorder", "link_ok", "cut", "battery", "gps",
              "motor")
_VERB = {"name": "verb", "in": "path", "required": True,
         "schema": {"type": "string", "enum": ["pause", "resume", "rtl", "land"]}}
#: Largest id a path segment takes (a 64-bit database integer).
_MAX_ID = 2**63 - 1
_ID = {"type": "integer", "minimum": 0, "maximum": _MAX_ID}
_VERSION = {"name": "number", "in": "path", "required": True,
            "description": "a version number of the plan, from 1",
            "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_ID}}
_ROLE = {"type": "string", "enum": ["operator", "crew", "engineer", "admin"]}
_DEM_ID = {"type": "string", "pattern": "^[0-9a-f]{16}$",
           "description": "the id of a DEM uploaded to this plan (POST .../uploads with kind "
                          "dem sets it; it is never a path, and PUT .../edits keeps the "
                          "plan's own)"}
_EDITS = {
    "type": "object", "additionalProperties": False,
    "description": "map edits, each optional; depots and nofly replace the scenario's",
    "properties": {
        "depots": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["id", "lat_deg", "lon_deg"], "properties": {
                "id": {"type": "string"},
                "lat_deg": {"type": "number", "minimum": -90, "maximum": 90},
                "lon_deg": {"type": "number", "minimum": -180, "maximum": 180},
                "drones": {"type": "object", "description": f"drones per drone type of the "
                           f"scenario; at most {MAX_DRONES} over every depot",
                           "additionalProperties": {"type": "integer", "minimum": 0,
                                                    "maximum": MAX_DRONES}}}}},
        "nofly": {"type": "array", "maxItems": MAX_ZONES, "items": {
            "type": "object", "required": ["polygon"], "properties": {
                "name": {"type": "string"},
                "polygon": {"type": "array", "minItems": 3, "maxItems": MAX_ZONE_VERTICES,
                            "description": "[lon_deg, lat_deg] vertices",
                            "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                      "items": {"type": "number"}}}}}},
        "drop_ids": {"type": "array", "items": {"type": "string"},
                     "description": "plan only these drops of the scenario"},
        "time_limit_s": {"type": "number", "exclusiveMinimum": True, "minimum": 0,
                         "maximum": CONSOLE_MAX_TIME_LIMIT_S},
        "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED,
                 "description": "the planner's random seed"},
        "strict": {"type": "boolean", "description": "refuse a drops list with a parcel "
                   "heavier than every drone type (by default it is planned as unserved)"},
        "dem": _DEM_ID}}
_QUERY_INT = {"type": "string", "pattern": "^[0-9]+$"}


def openapi_document() -> dict[str, Any]:
    """The whole document, as a dict ready for JSON."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "dropline console API", "version": "1",
                 "description": "Plans, fleet, deliveries and flights. Log in with POST "
                                "/api/login; send the token of GET /api/csrf in the "
                                "X-CSRFToken header with every POST, PUT, PATCH and DELETE."},
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie",
                                            "name": "session"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"}, "file": {"type": "string", "nullable": True},
                "line": {"type": "integer", "nullable": True},
                "item": {"type": "string", "nullable": True},
                "field": {"type": "string", "nullable": True}}}},
            "parameters": {
                "plan_id": {"name": "plan_id", "in": "path", "required": True,
                            "schema": {"type": "string"}},
                "flight_id": {"name": "flight_id", "in": "path", "required": True,
                              "schema": _ID},
                "sysid": {"name": "sysid", "in": "path", "required": True,
                          "schema": {"type": "integer", "minimum": 0, "maximum": 255}},
                "notification_id": {"name": "notification_id", "in": "path",
                                    "required": True, "schema": _ID},
                "notification_state": {"name": "state", "in": "query", "required": False,
                                       "schema": {"type": "string",
                                                  "enum": ["pending", "sent", "dead"]}},
                "limit": {"name": "limit", "in": "query", "required": False,
                          "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                "alert_id": {"name": "alert_id", "in": "path", "required": True,
                             "schema": _ID},
                "user_id": {"name": "user_id", "in": "path", "required": True,
                            "schema": _ID},
                "token": {"name": "token", "in": "path", "required": True,
                          "schema": {"type": "string"}},
                "verb": _VERB}},
        "security": [{"session": []}],
        "paths": {
            "/api/openapi.json": {"get": _op("this document", errors=(), public=True)},
            "/api/csrf": {"get": _op("a CSRF token for this session", errors=(), public=True)},
            "/api/login": {"post": _op("log in", body={
                "type": "object", "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
                errors=("400", "401", "429"), public=True)},
            "/api/logout": {"post": _op("log out", errors=("400",), public=True)},
            "/api/me": {"get": _op("who is logged in")},
            "/api/users": {"get": _op("every user", errors=("401", "403")),
                           "post": _op("create a user", ok="201", errors=_WRITE, body={
                               "type": "object", "required": ["username", "password", "role"],
                               "properties": {"username": {"type": "string"},
                                              "password": {"type": "string"},
                                              "role": _ROLE}})},
            "/api/me/password": {"post": _op(
                "change one's own password (other sessions end)", errors=("400", "401", "429"),
                body={"type": "object", "required": ["current_password", "new_password"],
                      "properties": {"current_password": {"type": "string"},
                                     "new_password": {"type": "string", "minLength": 8}}})},
            "/api/users/{user_id}": {
                "patch": _op("change a user's role or disable/enable it", errors=_WRITE,
                             params=("user_id",), body={
                                 "type": "object",
                                 "properties": {"role": _ROLE,
                                                "disabled": {"type": "boolean"}}}),
                "delete": _op("delete a user and end its sessions", errors=_WRITE,
                              params=("user_id",))},
            "/api/users/{user_id}/password": {"post": _op(
                "set a user's password (its sessions end)", errors=_WRITE, params=("user_id",),
                body={"type": "object", "required": ["password"],
                      "properties": {"password": {"type": "string", "minLength": 8}}})},
            "/api/audit": {"get": {**_op("the audit log, newest first, a page at a time",
                                         errors=("400", "401", "403")),
                                   "parameters": [
                {"name": "limit", "in": "query", "description": "rows per page (default 100)",
                 "schema": {"type": "integer", "minimum": 1, "maximum": AUDIT_PAGE_MAX}},
                {"name": "before", "in": "query", "description": "the next_before of the "
                 "previous page: rows older than it",
                 "schema": {"type": "integer", "minimum": 1, "maximum": _MAX_ID}},
                {"name": "user", "in": "query", "description": "one user's rows",
                 "schema": {"type": "string"}},
                {"name": "action", "in": "query", "description": "rows whose action starts "
                 "with it", "schema": {"type": "string"}}]}},
            "/api/scenarios": {"get": _op("scenario folders to plan from")},
            "/api/plans": {"get": _op("every plan"),
                           "post": _op("a new plan from a scenario", ok="201", errors=_WRITE,
                                       body={"type": "object", "required": ["scenario"],
                                             "properties": {"scenario": {"type": "string"},
                                                            "edits": _EDITS}})},
            "/api/plans/{plan_id}": {"get": _op("a plan with its scenario and sorties",
                                                errors=("401", "404"), params=("plan_id",))},
            "/api/plans/{plan_id}/edits": {"put": _op(
                "replace depots, zones, drop choice, time limit, seed, strict",
                errors=_WRITE, params=("plan_id",), body=_EDITS)},
            "/api/plans/{plan_id}/uploads": {"post": _op(
                "upload a drops CSV, no-fly GeoJSON or DEM", errors=_WRITE, params=("plan_id",),
                multipart={"type": "object", "required": ["kind", "file"], "properties": {
                    "kind": {"type": "string", "enum": ["drops", "nofly", "dem"]},
                    "file": {"type": "string", "format": "binary"}}})},
            "/api/plans/{plan_id}/run": {"post": _op("start planning", ok="202", errors=(
                *_WRITE, "422"), params=("plan_id",))},
            "/api/plans/{plan_id}/replan": {"post": _op(
                "plan again what is not done yet: a new version without delivered, "
                "on-their-way and cancelled drops and grounded vehicles; audited", ok="202",
                errors=(*_WRITE, "422"), params=("plan_id",), body={
                    "type": "object", "additionalProperties": False, "properties": {
                        "cancel": {"type": "array", "items": {"type": "string"}},
                        "ground": {"type": "array", "items": {"type": "string"},
                                   "description": "vehicles as the plan names them "
                                                  "(depot/type/n)"},
                        "add": {"type": "array", "items": {"type": "string"},
                                "description": "more drops of the plan's drops file"}}})},
            "/api/plans/{plan_id}/files/{name}": {"get": {**_op(
                "a file of a planned plan", errors=("401", "404", "409"),
                ok_type="application/octet-stream"), "parameters": [
                {"$ref": "#/components/parameters/plan_id"},
                {"name": "name", "in": "path", "required": True,
                 "description": "plan.json, routes.geojson or sorties/<sortie>.plan|.waypoints",
                 "schema": {"type": "string"}}]}},
            "/api/plans/{plan_id}/versions/{number}": {"get": {**_op(
                "one version of a plan (read-only once flown)", errors=("401", "404")),
                "parameters": [{"$ref": "#/components/parameters/plan_id"}, _VERSION]}},
            "/api/plans/{plan_id}/versions/{number}/files/{name}": {"get": {**_op(
                "a file of one planned version of a plan", errors=("401", "404", "409"),
                ok_type="application/octet-stream"), "parameters": [
                {"$ref": "#/components/parameters/plan_id"}, _VERSION,
                {"name": "name", "in": "path", "required": True,
                 "description": "plan.json, routes.geojson or sorties/<sortie>.plan|.waypoints",
                 "schema": {"type": "string"}}]}},
            "/api/fleet": {"get": _op("vehicles, tracks, run, drops and alerts; vehicles "
                                      "waiting to be accepted (unconfirmed) and warnings "
                                      "about the links (link_flags)")},
            "/api/events": {"get": {**_op(
                "live events (Server-Sent Events) after Last-Event-ID", errors=("401", "429"),
                ok_type="text/event-stream"), "parameters": [
                {"name": "Last-Event-ID", "in": "header", "schema": _QUERY_INT},
                {"name": "last_event_id", "in": "query", "schema": _QUERY_INT}]}},
            "/api/fleet/live": {"get": {**_op(
                "the crew view's live stream (Server-Sent Events): the present state, then "
                "the vehicle fields that changed, rate_hz times a second; gzip or deflate "
                "when accepted", errors=("400", "401", "429"), ok_type="text/event-stream"),
                "parameters": [{"name": "rate_hz", "in": "query", "schema": {
                    "type": "number", "minimum": 0.1, "maximum": 5, "default": 1}}]}},
            "/api/fleet/upload": {"post": _op("upload and verify a plan on the vehicles",
                                              errors=(*_WRITE, "504"), body={
                "type": "object", "required": ["plan_id"],
                "properties": {"plan_id": {"type": "string"},
                               "resend_delivered": {"type": "boolean"}}})},
            "/api/fleet/start": {"post": _op("fly the uploaded plan", errors=_WRITE)},
            "/api/fleet/vehicles/{sysid}/{verb}": {"post": _op(
                "pause, resume, RTL or land one vehicle", errors=(*_WRITE, "504"),
                params=("sysid", "verb"))},
            "/api/fleet/vehicles/{sysid}/accept": {"post": _op(
                "accept a vehicle waiting to be confirmed (a new system id first heard on a "
                "listening link); audited", errors=_WRITE, params=("sysid",))},
            "/api/fleet/all/{verb}": {"post": _op("the same command to every vehicle",
                                                  errors=(*_WRITE, "504"), params=("verb",))},
            "/api/alerts/{alert_id}/ack": {"post": _op("acknowledge an alert", errors=_WRITE,
                                                       params=("alert_id",))},
            "/api/simulator": {"get": _op("the attached simulator's vehicles and faults",
                                          errors=("401", "403", "404"))},
            "/api/simulator/faults": {"post": _op(
                "inject a fault into a simulated vehicle", errors=_WRITE, body={
                    "type": "object", "required": ["vehicle", "fault"],
                    "properties": {
                        "vehicle": {"type": "integer", "minimum": 1},
                        "fault": {"type": "string", "enum": list(SIM_FAULTS)},
                        "value": {"type": "string", "description": "the fault's value: a "
                                  "share 0..1, seconds, 'off' or 'on', or nothing"}}})},
            "/api/deliveries": {"get": _op("every drop's state and ETA",
                                           errors=("401", "404", "409"))},
            "/api/track/{token}": {"get": _op("a parcel's public status", errors=("404",),
                                              params=("token",), public=True)},
            "/api/notifications": {"get": _op(
                "recipient notifications, newest first (recipients' addresses: operators "
                "only)", errors=("400", "401", "403"),
                params=("notification_state", "limit"))},
            "/api/notifications/{notification_id}/retry": {"post": _op(
                "queue a dead-letter notification again; audited", errors=_WRITE,
                params=("notification_id",))},
            "/api/flights": {"get": _op("recorded flights")},
            "/api/flights/cost": {"get": {**_op(
                "what flying cost on one day (UTC): each run priced as flown, and the totals",
                errors=("400", "401")), "parameters": [{
                    "name": "day", "in": "query", "required": False,
                    "schema": {"type": "string", "format": "date"}}]}},
            "/api/flights/{flight_id}/replay": {"get": _op(
                "a flight's track, planned route and figures", errors=("401", "403", "404"),
                params=("flight_id",))},
        },
    }
