"""`lab scan`'s requests from an OpenAPI schema: valid for the schema, examples first, values given by hand win."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from lab.errors import LabError
from lab.load.openapi import Choices, parse_body, parse_param, plan_requests, resolve

ORDER = {
    "type": "object",
    "required": ["customer", "kind", "lines"],
    "properties": {
        "customer": {"$ref": "#/components/schemas/Customer"},
        "kind": {"type": "string", "enum": ["retail", "wholesale"]},
        "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Line"}},
        "note": {"type": "string"},
    },
}
COMPONENTS = {
    "Customer": {
        "type": "object",
        "required": ["name", "tier"],
        "properties": {"name": {"type": "string", "minLength": 3}, "tier": {"type": "integer", "minimum": 2}},
    },
    "Line": {
        "type": "object",
        "required": ["sku", "quantity"],
        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"}, "quantity": {"type": "integer"}},
    },
}
SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/shops/{shop_id}/orders": {
            "post": {
                "operationId": "create_order_shops__shop_id__orders_post",
                "parameters": [
                    {"name": "shop_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 7}},
                    {"name": "region", "in": "query", "required": True, "schema": {"enum": ["eu", "us"]}},
                    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
                    {"name": "x-tenant", "in": "header", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}},
                },
            },
            "get": {
                "operationId": "list_orders_shops__shop_id__orders_get",
                "parameters": [
                    {"name": "shop_id", "in": "path", "required": True, "schema": {"type": "integer"}, "example": 42}
                ],
            },
        },
        "/upload": {
            "put": {
                "operationId": "upload_upload_put",
                "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
            }
        },
        "/lab/stats": {"get": {"operationId": "stats_lab_stats_get"}},
    },
    "components": {"schemas": {**COMPONENTS, "Order": ORDER}},
}
ALL = Choices(methods=("GET", "HEAD", "POST", "PUT"))


def _one(plan_choices: Choices, method: str) -> Any:
    plan = plan_requests(SCHEMA, plan_choices)
    return next(r for r in plan.requests if r.method == method)


def test_a_generated_request_is_valid_for_required_fields_enums_nested_objects_and_path_parameters() -> None:
    request = _one(ALL, "POST")
    jsonschema.validate(request.json_body, resolve(ORDER, SCHEMA["components"]["schemas"]))
    parts = urlsplit(request.url_path)
    shop_id = int(parts.path.split("/")[2])
    assert shop_id >= 7
    assert set(parse_qs(parts.query)) == {"region"}  # the optional `limit` is left out
    assert parse_qs(parts.query)["region"][0] in ("eu", "us")
    assert request.headers["x-tenant"]  # a required header: present and not empty
    assert request.endpoint == "create_order"
    assert set(request.generated) == {"shop_id", "region", "x-tenant", "body"}


def test_generation_is_deterministic() -> None:
    assert _one(ALL, "POST") == _one(ALL, "POST")


def test_the_schemas_example_comes_first_and_values_given_by_hand_win() -> None:
    assert _one(ALL, "GET").url_path == "/shops/42/orders"
    assert _one(ALL, "GET").generated == ()
    given = Choices(methods=ALL.methods, params={"shop_id": "9", "limit": "5"})
    assert urlsplit(_one(given, "POST").url_path).path == "/shops/9/orders"
    assert parse_qs(urlsplit(_one(given, "POST").url_path).query)["limit"] == ["5"]  # optional, but given
    body = Choices(methods=ALL.methods, bodies=dict([parse_body('POST /shops/{shop_id}/orders {"x": 1}')]))
    assert _one(body, "POST").json_body == {"x": 1}


def test_get_and_head_by_default_others_listed_as_skipped_with_the_option_that_adds_them() -> None:
    plan = plan_requests(SCHEMA, Choices())
    assert [(r.method, r.path) for r in plan.requests] == [("GET", "/shops/{shop_id}/orders")]
    reasons = {(s.method, s.path): s.reason for s in plan.skipped}
    assert "--methods POST" in reasons[("POST", "/shops/{shop_id}/orders")]
    assert plan.operations == 3  # the lab's own /lab/stats is not the app's


def test_a_body_that_is_not_json_is_skipped_with_how_to_pass_one() -> None:
    plan = plan_requests(SCHEMA, ALL)
    reason = next(s.reason for s in plan.skipped if s.path == "/upload")
    assert "multipart/form-data" in reason and "--body 'PUT /upload" in reason


def test_only_and_skip_take_path_patterns() -> None:
    plan = plan_requests(SCHEMA, Choices(methods=ALL.methods, skip=("/shops/*",)))
    assert [r.path for r in plan.requests] == []
    plan = plan_requests(SCHEMA, Choices(methods=ALL.methods, only=("/shops/*",)))
    assert {r.method for r in plan.requests} == {"GET", "POST"}


@pytest.mark.parametrize(
    ("choices", "words"),
    [
        (Choices(only=("/nothing/*",)), "--only '/nothing/*' matches no route"),
        (Choices(skip=("/nope",)), "--skip '/nope' matches no route"),
        (Choices(params={"colour": "red"}), "no scanned route has a parameter named 'colour'"),
        (Choices(bodies={"POST /nowhere": {}}), "no scanned route is POST /nowhere"),
    ],
)
def test_choices_that_match_nothing_are_usage_errors(choices: Choices, words: str) -> None:
    with pytest.raises(LabError) as caught:
        plan_requests(SCHEMA, choices)
    assert caught.value.usage and words in str(caught.value)


@pytest.mark.parametrize("text", ["shop_id", "=3", ""])
def test_a_bad_param_is_a_usage_error(text: str) -> None:
    with pytest.raises(LabError, match="name=value") as caught:
        parse_param(text)
    assert caught.value.usage


@pytest.mark.parametrize("text", ["/items {}", "POST items {}", "POST /items {not json"])
def test_a_bad_body_is_a_usage_error(text: str) -> None:
    with pytest.raises(LabError) as caught:
        parse_body(text)
    assert caught.value.usage


def test_recursive_references_are_cut() -> None:
    components = {"Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}}}
    assert resolve({"$ref": "#/components/schemas/Node"}, components)["type"] == "object"
